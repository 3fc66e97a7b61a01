// tests/io/fill_mask_test.cpp mirrors include/foundry/heads/fill_mask.hpp, end to end as
// examples/fill_mask.cpp runs it: a small random BertForMaskedLM saved with io::save_pretrained plus a
// vocab.txt is loaded back from the directory, tokenized text goes through heads::fill_mask, and the
// proposals are checked against a softmax over the full model's logits.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <set>

#include "foundry/heads/fill_mask.hpp"
#include "foundry/io/pretrained.hpp"
#include "foundry/text/bert_tokenizer.hpp"
#include "support/testing.hpp"

namespace foundry::fill_mask_test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

const std::vector<std::string> kFmTokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the",  "capital", "of",
                                            "france", "is",   "paris", "berlin", ".",    "##s",   "city"};
constexpr std::int32_t kFmParis = 10;

models::BertConfig fm_config() {
  models::BertConfig c;
  c.vocab_size = static_cast<std::int64_t>(kFmTokens.size());
  c.hidden_size = 8;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.intermediate_size = 16;
  c.max_position_embeddings = 16;
  return c;
}

// A model directory as Hugging Face lays it out, written by foundry, then loaded the way the example
// loads it. The decoder bias favours "paris" strongly, so the expected winner is known.
class FillMaskDir : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() / ("foundry_fill_mask_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    text::Vocab(kFmTokens).save(root_ / "vocab.txt");
    Generator g(5);
    heads::BertForMaskedLM<float> random(fm_config(), g);
    random.cls()->predictions->bias().data()[kFmParis] = 8.0f;
    io::save_pretrained(random, fm_config(), root_ / "model", "BertForMaskedLM", root_ / "vocab.txt");

    const fs::path dir = root_ / "model";
    model_ = std::make_unique<heads::BertForMaskedLM<float>>(io::read_bert_config(dir));
    const nn::LoadResult report = io::load_pretrained_weights(*model_, dir);
    EXPECT_TRUE(report.missing_keys.empty());
    EXPECT_TRUE(report.unexpected_keys.empty());
    model_->eval();
    tokenizer_ = std::make_unique<text::BertTokenizer>(text::BertTokenizer::from_file(dir / "vocab.txt", {.lowercase = true}));
  }
  void TearDown() override { fs::remove_all(root_); }

  // Probabilities over the whole vocabulary at `position`, from the model's own full [1, S, V] logits.
  std::vector<double> full_softmax(std::string_view text, std::size_t position) const {
    const std::vector<std::int32_t> ids = tokenizer_->encode(text).ids;
    models::BertInputs inputs;
    inputs.input_ids = Tensor<std::int64_t>::from(std::vector<std::int64_t>(ids.begin(), ids.end()),
                                                  {1, static_cast<Index>(ids.size())});
    NoGradGuard no_grad;
    const Tensor<float> logits = model_->forward(inputs).logits;
    std::vector<double> p;
    double total = 0;
    for (Index v = 0; v < logits.size(2); ++v) total += p.emplace_back(std::exp(static_cast<double>(logits(0, static_cast<Index>(position), v))));
    for (double& x : p) x /= total;
    return p;
  }

  fs::path root_;
  std::unique_ptr<heads::BertForMaskedLM<float>> model_;
  std::unique_ptr<text::BertTokenizer> tokenizer_;
};

TEST_F(FillMaskDir, SingleMaskGivesTheTopProbabilitiesOfTheFullLogits) {
  const std::string text = "The capital of France is [MASK].";
  const auto out = heads::fill_mask(*model_, *tokenizer_, text, {.top_k = 3});
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].size(), 3u);

  const std::vector<double> p = full_softmax(text, 6);  // [CLS] the capital of france is [MASK] . [SEP]
  std::vector<std::int32_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) { return p[a] > p[b]; });
  for (std::size_t r = 0; r < 3; ++r) {
    EXPECT_EQ(out[0][r].token, order[r]) << r;
    EXPECT_NEAR(out[0][r].score, p[order[r]], 1e-6) << r;
    EXPECT_EQ(out[0][r].token_str, kFmTokens[order[r]]) << r;  // none of the top three is a "##" piece here
  }
  EXPECT_EQ(out[0][0].token, kFmParis);
  EXPECT_GT(out[0][0].score, 0.9);
  EXPECT_GT(out[0][0].score, out[0][1].score);
  EXPECT_GE(out[0][1].score, out[0][2].score);
  EXPECT_EQ(out[0][0].token_str, "paris");
  EXPECT_EQ(out[0][0].sequence, "the capital of france is paris.");  // special tokens dropped, " ." cleaned up
}

TEST_F(FillMaskDir, SeveralMasksKeepSpecialTokensInTheSequenceAsHuggingFaceDoes) {
  const auto out = heads::fill_mask(*model_, *tokenizer_, "[MASK] is the capital of [MASK].", {.top_k = 2});
  ASSERT_EQ(out.size(), 2u);
  ASSERT_EQ(out[0].size(), 2u);
  EXPECT_EQ(out[0][0].token, kFmParis);
  EXPECT_EQ(out[0][0].sequence, "[CLS] paris is the capital of [MASK]. [SEP]");
  EXPECT_EQ(out[1][0].token, kFmParis);
  EXPECT_EQ(out[1][0].sequence, "[CLS] [MASK] is the capital of paris. [SEP]");
  EXPECT_NEAR(out[1][0].score, full_softmax("[MASK] is the capital of [MASK].", 6)[kFmParis], 1e-6);
}

TEST_F(FillMaskDir, TopKBeyondTheVocabularyGivesEveryTokenOnce) {
  const auto out = heads::fill_mask(*model_, *tokenizer_, "paris is the [MASK] of france.", {.top_k = 100});
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].size(), kFmTokens.size());
  std::set<std::int32_t> seen;
  double total = 0;
  for (const auto& c : out[0]) {
    seen.insert(c.token);
    total += c.score;
  }
  EXPECT_EQ(seen.size(), kFmTokens.size());
  EXPECT_NEAR(total, 1.0, 1e-12);
}

TEST_F(FillMaskDir, MissingMaskTrainingModeBadTopKAndLongTextAreErrors) {
  EXPECT_THAT([&] { heads::fill_mask(*model_, *tokenizer_, "the capital of france."); },
              ThrowsMessage<ValueError>(HasSubstr("fill_mask: no [MASK] in \"the capital of france.\"")));
  EXPECT_THAT([&] { heads::fill_mask(*model_, *tokenizer_, "[MASK].", {.top_k = 0}); },
              ThrowsMessage<ValueError>(HasSubstr("top_k must be >= 1, got 0")));
  std::string long_text = "[MASK]";
  for (int i = 0; i < 16; ++i) long_text += " the";
  EXPECT_THAT([&] { heads::fill_mask(*model_, *tokenizer_, long_text); },
              ThrowsMessage<ValueError>(HasSubstr("the text is 19 tokens long, more than the model's 16 positions")));
  model_->train();
  EXPECT_THAT([&] { heads::fill_mask(*model_, *tokenizer_, "[MASK]."); },
              ThrowsMessage<ValueError>(HasSubstr("the model is in training mode")));
}

TEST(TopKProbabilities, HandWorkedValuesWithTiesByLowerId) {
  // exp of the logits: 1, 3, 3, 1 -> probabilities 1/8, 3/8, 3/8, 1/8.
  const auto top = heads::top_k_probabilities(Tensor<double>::from({0.0, std::log(3.0), std::log(3.0), 0.0}), 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].token, 1);
  EXPECT_EQ(top[1].token, 2);
  EXPECT_EQ(top[2].token, 0);
  EXPECT_NEAR(top[0].score, 0.375, 1e-15);
  EXPECT_NEAR(top[1].score, 0.375, 1e-15);
  EXPECT_NEAR(top[2].score, 0.125, 1e-15);
  EXPECT_THAT([] { heads::top_k_probabilities(Tensor<double>::zeros({2, 2}), 1); },
              ThrowsMessage<ShapeError>(HasSubstr("logits must be one row [V], got shape [2, 2]")));
}

}  // namespace
}  // namespace foundry::fill_mask_test
