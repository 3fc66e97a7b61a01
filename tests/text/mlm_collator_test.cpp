// tests/text/mlm_collator_test.cpp mirrors include/foundry/text/mlm_collator.hpp: exact picks where the
// probabilities make them certain, the 15% / 80-10-10 proportions checked statistically over ~200k
// tokens, whole-word picks, seeding, errors, and a collated batch feeding heads::BertForMaskedLM.
#include "foundry/text/mlm_collator.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "foundry/core/print.hpp"
#include "foundry/heads/mlm_head.hpp"
#include "foundry/heads/pretraining.hpp"
#include "foundry/ops/tensor_methods.hpp"

namespace foundry::text {
namespace mlm_collator_test {

using I64 = Tensor<std::int64_t>;
using testing::StrEq;
using testing::ThrowsMessage;

constexpr std::int64_t kPad = 0, kUnk = 1, kCls = 2, kSep = 3, kMask = 4;
constexpr std::int32_t kWords = 100, kPieces = 20;  // ids 5..104 are words "w*", 105..124 pieces "##p*"
constexpr std::int32_t kVocab = 5 + kWords + kPieces;

const BertTokenizer& word_tokenizer() {
  static const BertTokenizer tok = [] {
    std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (int i = 0; i < kWords; ++i) tokens.push_back(std::string("w").append(std::to_string(i)));
    for (int i = 0; i < kPieces; ++i) tokens.push_back(std::string("##p").append(std::to_string(i)));
    return BertTokenizer(Vocab(std::move(tokens)));
  }();
  return tok;
}

// Rows [CLS] text [SEP] [PAD]...: row r has S - r % 64 real tokens; text ids uniform over words and
// pieces. Built straight as tensors: a quarter of a million tokens in a few milliseconds.
BatchEncoding random_text_batch(Index B, Index S, std::uint64_t seed) {
  Generator g(seed);
  BatchEncoding b;
  b.input_ids = I64::full({B, S}, kPad);
  b.attention_mask = I64::zeros({B, S});
  b.token_type_ids = I64::zeros({B, S});
  b.special_tokens_mask = I64::ones({B, S});
  for (Index r = 0; r < B; ++r) {
    const Index real = S - r % 64;
    for (Index j = 0; j < real; ++j) {
      b.attention_mask(r, j) = 1;
      b.input_ids(r, j) = j == 0 ? kCls : j == real - 1 ? kSep : 5 + static_cast<std::int64_t>(g.randint(kWords + kPieces));
      b.special_tokens_mask(r, j) = j == 0 || j == real - 1;
    }
  }
  return b;
}

TEST(MlmCollator, PicksOnlyTextTokensAndLabelsThemWhenCertain) {
  // No special_tokens_mask: as HF, the ids of [UNK] [SEP] [PAD] [CLS] [MASK] are special.
  BatchEncoding b;
  b.input_ids = I64::from({{kCls, 7, kUnk, 9, kMask, kSep}});
  Generator g(0);
  const BatchEncoding all_masked = MlmCollator(word_tokenizer(), {.mlm_probability = 1.0, .mask_replace_prob = 1.0,
                                                                  .random_replace_prob = 0.0})(b, g);
  EXPECT_EQ(all_masked.input_ids, I64::from({{kCls, kMask, kUnk, kMask, kMask, kSep}}));
  EXPECT_EQ(all_masked.labels, I64::from({{-100, 7, -100, 9, -100, -100}}));
  EXPECT_EQ(b.input_ids, I64::from({{kCls, 7, kUnk, 9, kMask, kSep}}));  // the input is not touched
  const BatchEncoding all_kept = MlmCollator(word_tokenizer(), {.mlm_probability = 1.0, .mask_replace_prob = 0.0,
                                                                .random_replace_prob = 0.0})(b, g);
  EXPECT_EQ(all_kept.input_ids, b.input_ids);
  EXPECT_EQ(all_kept.labels, all_masked.labels);
  const BatchEncoding none = MlmCollator(word_tokenizer(), {.mlm_probability = 0.0})(b, g);
  EXPECT_EQ(none.labels, I64::full({1, 6}, -100));
  // Encodings are padded to the longest; [PAD] is never picked, a text [UNK] (mask 0) can be.
  const std::vector<Encoding> encodings = {assemble(std::vector<std::int32_t>{5, 1}, nullptr, true, 2, 3),
                                           assemble(std::vector<std::int32_t>{6}, nullptr, true, 2, 3)};
  const BatchEncoding padded = MlmCollator(word_tokenizer(), {.mlm_probability = 1.0, .mask_replace_prob = 1.0,
                                                              .random_replace_prob = 0.0})(encodings, g);
  EXPECT_EQ(padded.input_ids, I64::from({{kCls, kMask, kMask, kSep}, {kCls, kMask, kSep, kPad}}));
  EXPECT_EQ(padded.labels, I64::from({{-100, 5, 1, -100}, {-100, 6, -100, -100}}));
  EXPECT_EQ(padded.attention_mask, I64::from({{1, 1, 1, 1}, {1, 1, 1, 0}}));
}

TEST(MlmCollator, ProportionsMatchFifteenAndEightyTenTenOverTwoHundredThousandTokens) {
  const BatchEncoding b = random_text_batch(400, 512, 11);
  Generator g(2024);
  const BatchEncoding out = MlmCollator(word_tokenizer())(b, g);
  const auto ids = b.input_ids.to_vector(), masked = out.input_ids.to_vector(), labels = out.labels.to_vector();
  const auto special = b.special_tokens_mask.to_vector(), attention = b.attention_mask.to_vector();
  double eligible = 0, picked = 0, to_mask = 0, kept = 0, random_other = 0, random_special = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const bool can = special[i] == 0 && attention[i] == 1;
    eligible += can;
    if (labels[i] == -100) {
      ASSERT_EQ(masked[i], ids[i]) << "an unpicked token changed at " << i;
      continue;
    }
    ASSERT_TRUE(can) << "a special or padding position was picked at " << i;
    ASSERT_EQ(labels[i], ids[i]);
    ++picked;
    if (masked[i] == kMask) {
      ++to_mask;
    } else if (masked[i] == ids[i]) {
      ++kept;
    } else {
      ++random_other;
      random_special += masked[i] < 5;
    }
  }
  ASSERT_GT(eligible, 190000);
  // Binomial counts: within 5 standard deviations of their means (the seed is fixed, so this is a
  // check of the algorithm, not a flaky test). A random draw equals the original or [MASK] with 1/V each.
  const auto expect_binomial = [](double count, double n, double p, const char* what) {
    EXPECT_NEAR(count, n * p, 5 * std::sqrt(n * p * (1 - p))) << what << ": " << count << " of " << n;
  };
  expect_binomial(picked, eligible, 0.15, "picked");
  expect_binomial(to_mask, picked, 0.8 + 0.1 / kVocab, "[MASK]");
  expect_binomial(kept, picked, 0.1 + 0.1 / kVocab, "kept");
  expect_binomial(random_other, picked, 0.1 * (kVocab - 2.0) / kVocab, "random");
  // Uniform over the whole vocabulary, as HF: the four specials other than [MASK] come up too.
  expect_binomial(random_special, random_other, 4.0 / (kVocab - 2.0), "random special");
  EXPECT_GT(random_special, 0);
}

TEST(MlmCollator, RandomTokensCanExcludeSpecials) {
  const BatchEncoding b = random_text_batch(40, 256, 3);
  const MlmOptions all_random{.mlm_probability = 0.5, .mask_replace_prob = 0.0, .random_replace_prob = 1.0,
                              .random_excludes_special = true};
  Generator g(9);
  const BatchEncoding out = MlmCollator(word_tokenizer(), all_random)(b, g);
  const auto masked = out.input_ids.to_vector(), labels = out.labels.to_vector();
  int random = 0;
  for (std::size_t i = 0; i < masked.size(); ++i) {
    if (labels[i] == -100) continue;
    ++random;
    ASSERT_GE(masked[i], 5) << "a special token was drawn at " << i;
    ASSERT_LT(masked[i], kVocab);
  }
  EXPECT_GT(random, 2000);
}

TEST(MlmCollator, SameSeedSameBatchOtherSeedOtherBatch) {
  const BatchEncoding b = random_text_batch(8, 64, 5);
  const MlmCollator collate(word_tokenizer());
  Generator g1(7), g2(7), g3(8);
  const BatchEncoding x = collate(b, g1), y = collate(b, g2), z = collate(b, g3);
  EXPECT_EQ(x.input_ids, y.input_ids);
  EXPECT_EQ(x.labels, y.labels);
  EXPECT_NE(x.labels, z.labels);
  // The generator moves on, so the next batch differs; its state replays it.
  const std::uint64_t offset = g1.offset();
  const BatchEncoding next = collate(b, g1);
  EXPECT_NE(next.labels, x.labels);
  Generator replay(0);
  replay.set_state(7, offset);
  EXPECT_EQ(collate(b, replay).labels, next.labels);
  EXPECT_TRUE(x.attention_mask.same(b.attention_mask));  // untouched tensors are shared, not copied
}

// Rows [CLS] words [SEP] [PAD]...: a word is "w*" followed by 0-3 "##p*" pieces; returns encodings.
std::vector<Encoding> random_word_rows(int B, int S, std::uint64_t seed) {
  Generator g(seed);
  std::vector<Encoding> rows;
  for (int r = 0; r < B; ++r) {
    const auto text = static_cast<std::size_t>(S - 2 - r % 32);
    std::vector<std::int32_t> ids;
    while (ids.size() < text) {
      ids.push_back(5 + static_cast<std::int32_t>(g.randint(kWords)));
      for (std::uint64_t k = g.randint(4); k > 0 && ids.size() < text; --k) ids.push_back(105 + static_cast<std::int32_t>(g.randint(kPieces)));
    }
    rows.push_back(assemble(ids, nullptr, true, kCls, kSep));
  }
  return rows;
}

TEST(MlmCollator, WholeWordMaskPicksWordsWithAllTheirPiecesUpToFifteenPercent) {
  const std::vector<Encoding> rows = random_word_rows(200, 128, 21);
  const BatchEncoding b = to_batch(rows, word_tokenizer());
  const MlmCollator collate(word_tokenizer(), {.whole_word_mask = true});
  Generator g(33);
  const BatchEncoding out = collate(b, g);
  const Index S = b.seq_length();
  const auto ids = b.input_ids.to_vector(), masked = out.input_ids.to_vector(), labels = out.labels.to_vector();
  double picked = 0, budget = 0, to_mask = 0;
  for (Index r = 0; r < b.batch_size(); ++r) {
    const auto real = static_cast<Index>(rows[static_cast<std::size_t>(r)].size());
    const auto row_budget = static_cast<Index>(std::nearbyint(0.15 * static_cast<double>(real)));
    Index row_picked = 0;
    for (Index j = 0; j < S; ++j) {
      const auto i = static_cast<std::size_t>(r * S + j);
      const bool is_picked = labels[i] != -100;
      if (j == 0 || j >= real - 1) {
        ASSERT_FALSE(is_picked) << "special or padding picked in row " << r;
      }
      // A piece is picked exactly when the token before it (its word) is.
      if (ids[i] >= 105 && j > 1) {
        ASSERT_EQ(is_picked, labels[i - 1] != -100) << "word split in row " << r << " at " << j;
      }
      if (is_picked) {
        ASSERT_EQ(labels[i], ids[i]);
        to_mask += masked[i] == kMask;
      } else {
        ASSERT_EQ(masked[i], ids[i]);
      }
      row_picked += is_picked;
    }
    EXPECT_LE(row_picked, row_budget) << "row " << r;
    picked += static_cast<double>(row_picked);
    budget += static_cast<double>(row_budget);
  }
  // Words that would overshoot are skipped, and one-token words fill the gap: the budget is met.
  EXPECT_GE(picked, 0.99 * budget);
  EXPECT_NEAR(to_mask, 0.8 * picked, 5 * std::sqrt(picked * 0.16));
  // Word ids from to_batch and the "##" rule define the same words, so the same seed gives the same batch.
  BatchEncoding without_word_ids = b;
  without_word_ids.word_ids = I64();
  Generator again(33);
  EXPECT_EQ(collate(without_word_ids, again).labels, out.labels);
}

TEST(MlmCollator, WholeWordMaskFollowsGivenWordIdsAndMaxPredictions) {
  // Word ids group tokens the "##" rule would not (e.g. a Chinese word segmenter): w5 w6 w7 is one word.
  BatchEncoding b;
  b.input_ids = I64::from({{kCls, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, kSep}});
  b.special_tokens_mask = I64::from({{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}});
  b.word_ids = I64::from({{-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, -1}});
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    Generator g(seed);
    const auto labels = MlmCollator(word_tokenizer(), {.whole_word_mask = true})(b, g).labels.to_vector();
    // round(20 * 0.15) = 3 picks: the three-token word alone or three one-token words.
    EXPECT_EQ(std::count_if(labels.begin(), labels.end(), [](std::int64_t l) { return l != -100; }), 3);
    EXPECT_TRUE((labels[1] != -100) == (labels[2] != -100) && (labels[2] != -100) == (labels[3] != -100));
    Generator h(seed);
    const auto capped = MlmCollator(word_tokenizer(), {.whole_word_mask = true, .max_predictions = 1})(b, h).labels.to_vector();
    EXPECT_EQ(std::count_if(capped.begin(), capped.end(), [](std::int64_t l) { return l != -100; }), 1);
    EXPECT_EQ(capped[1], -100);  // the three-token word never fits one pick
  }
}

TEST(MlmCollator, ErrorsNameTheOptionShapeOrId) {
  const BertTokenizer& tok = word_tokenizer();
  EXPECT_THAT([&] { (void)MlmCollator(tok, {.mlm_probability = 1.5}); },
              ThrowsMessage<ValueError>(StrEq("MlmCollator: mlm_probability must be in [0, 1], got 1.5")));
  EXPECT_THAT([&] { (void)MlmCollator(tok, {.mask_replace_prob = 0.8, .random_replace_prob = 0.3}); },
              ThrowsMessage<ValueError>(StrEq("MlmCollator: mask_replace_prob 0.8 + random_replace_prob 0.3 exceeds 1")));
  EXPECT_THAT([&] { (void)MlmCollator(BertTokenizer(Vocab({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "w"}))); },
              ThrowsMessage<ValueError>(StrEq("BertTokenizer: special token '[MASK]' is not in the vocabulary")));
  const MlmCollator collate(tok);
  Generator g(0);
  BatchEncoding b;
  b.input_ids = I64::from({5, 6, 7, 8});
  EXPECT_THAT([&] { collate(b, g); }, ThrowsMessage<ShapeError>(StrEq("MlmCollator: input_ids must be [B, S], got [4]")));
  b.input_ids = I64::from({{5, 6, 7, 8}, {5, 6, 500, 8}});
  b.attention_mask = I64::ones({2, 3});
  EXPECT_THAT([&] { collate(b, g); },
              ThrowsMessage<ShapeError>(StrEq("MlmCollator: attention_mask shape [2, 3] does not match input_ids [2, 4]")));
  b.attention_mask = I64();
  EXPECT_THAT([&] { collate(b, g); },
              ThrowsMessage<ValueError>(StrEq("MlmCollator: input_ids[1, 2] = 500 is outside the vocabulary of 125 tokens")));
}

TEST(MlmCollator, CollatedBatchFeedsBertForMaskedLM) {
  models::BertConfig config;
  config.vocab_size = kVocab;
  config.hidden_size = 8;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 2;
  config.intermediate_size = 16;
  config.max_position_embeddings = 16;
  Generator g(4);
  heads::BertForMaskedLM<float> model(config, g);
  const BatchEncoding b = MlmCollator(word_tokenizer(), {.mlm_probability = 0.5})(random_word_rows(4, 16, 8), g);
  const models::BertInputs in{.input_ids = b.input_ids, .attention_mask = b.attention_mask, .token_type_ids = b.token_type_ids};
  const auto out = model.forward(in, b.labels);
  const auto labels = b.labels.to_vector();
  const auto n = std::count_if(labels.begin(), labels.end(), [](std::int64_t l) { return l != -100; });
  ASSERT_GT(n, 0);
  EXPECT_EQ(out.logits.shape(), Shape({n, kVocab}));
  EXPECT_TRUE(std::isfinite(out.loss.item()));
  EXPECT_GT(out.loss.item(), 0.0f);
}

}  // namespace mlm_collator_test
}  // namespace foundry::text
