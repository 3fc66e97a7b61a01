// tests/heads/token_classification_test.cpp mirrors include/foundry/heads/token_classification.hpp:
// Hugging Face's names, PyTorch's logits, loss and every gradient (tests/fixtures/heads/
// token_classification.safetensors from tests/reference/make_head_fixtures.py), padding never
// counting, and the CRF variant's loss, gradients and decoding.
#include "foundry/heads/token_classification.hpp"
#include "support/bert_fixtures.hpp"

namespace foundry {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using Fixture = support::FloatFixture;
using support::config_of;
using support::inputs_of;
using support::parameters_of;

models::BertConfig tiny_config() { return support::tiny_bert_config(13, 0.5); }

struct Loaded {
  std::unique_ptr<heads::BertForTokenClassification<float>> model;
  Fixture f;
  models::BertInputs inputs;
  Tensor<std::int64_t> labels;
};

Loaded load_token_classification() {
  const std::string file = "heads/token_classification.safetensors";
  Loaded l;
  l.f = support::load_fixture<float>(file);
  const auto ints = support::load_fixture<std::int64_t>(file);
  const auto meta = io::SafetensorsFile::open(support::fixture_path(file)).metadata();
  const auto config = models::BertConfig::from_json(io::Json::parse(meta.at("config")));
  l.model = std::make_unique<heads::BertForTokenClassification<float>>(config, std::stoll(meta.at("num_labels")));
  l.model->load_state_dict(parameters_of(l.f), /*strict=*/true);
  l.model->eval();
  l.inputs = {ints.at("input.input_ids"), ints.at("input.attention_mask"), ints.at("input.token_type_ids")};
  l.labels = ints.at("input.labels");
  return l;
}

TEST(BertForTokenClassification, ParameterNamesAreHuggingFacesPlusTheCrf) {
  Generator g(1);
  heads::BertForTokenClassification<float> plain(tiny_config(), 5, /*use_crf=*/false, g);
  heads::BertForTokenClassification<float> with_crf(tiny_config(), 5, /*use_crf=*/true, g);
  const auto a = plain.named_parameters(), b = with_crf.named_parameters();
  EXPECT_EQ(a[a.size() - 2].first, "classifier.weight");
  EXPECT_EQ(a.back().first, "classifier.bias");
  for (const auto& [name, p] : a) EXPECT_EQ(name.find("pooler"), std::string::npos) << name;
  ASSERT_EQ(b.size(), a.size() + 3);
  EXPECT_EQ(b[b.size() - 3].first, "crf.start_transitions");
  EXPECT_EQ(b[b.size() - 2].first, "crf.end_transitions");
  EXPECT_EQ(b.back().first, "crf.transitions");
  EXPECT_FALSE(plain.has_crf());
  EXPECT_TRUE(with_crf.has_crf());
}

TEST(BertForTokenClassification, MatchesPyTorchLogitsLossAndEveryGradient) {
  Loaded l = load_token_classification();
  const auto out = l.model->forward(l.inputs, l.labels);
  EXPECT_TRUE(support::allclose(out.logits, l.f.at("output.logits"), 1e-5, 1e-4));
  EXPECT_NEAR(out.loss.item(), l.f.at("output.loss").item(), 1e-5 + 1e-4 * std::abs(l.f.at("output.loss").item()));
  out.loss.backward();
  for (const auto& [name, p] : l.model->named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_TRUE(support::allclose(p.grad(), l.f.at("grad." + name), 1e-5, 1e-4)) << "gradient of " << name;
  }
}

TEST(BertForTokenClassification, PaddingNeverCountsWhateverItsLabel) {
  Loaded l = load_token_classification();
  auto labels = l.labels.clone_data();
  for (Index s = 4; s < 7; ++s) labels(1, s) = 2;  // real classes at row 2's padding: still ignored
  const float loss = l.model->forward(l.inputs, labels).loss.item();
  EXPECT_NEAR(loss, l.f.at("output.loss").item(), 1e-5 + 1e-4 * std::abs(l.f.at("output.loss").item()));
}

TEST(BertForTokenClassification, DecodeWithoutCrfIsTheArgmaxOfEachRealToken) {
  Loaded l = load_token_classification();
  const auto tags = l.model->decode(l.inputs);
  const auto& logits = l.f.at("output.logits");
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags[0].size(), 7u);
  EXPECT_EQ(tags[1].size(), 4u);
  for (Index b = 0; b < 2; ++b)
    for (std::size_t t = 0; t < tags[b].size(); ++t) {
      Index best = 0;
      for (Index k = 1; k < 5; ++k)
        if (logits(b, static_cast<Index>(t), k) > logits(b, static_cast<Index>(t), best)) best = k;
      EXPECT_EQ(tags[b][t], best) << b << ", " << t;
    }
}

TEST(BertForTokenClassification, CrfLossIsTheMeanSequenceNllAndTrainsEveryPart) {
  Generator g(2);
  heads::BertForTokenClassification<double> model(tiny_config(), 4, /*use_crf=*/true, g);
  model.eval();
  const auto ids = randint(1, 13, {2, 6}, g);
  const auto mask = Tensor<std::int64_t>::from({{1, 1, 1, 1, 1, 1}, {1, 1, 1, 0, 0, 0}});
  auto labels = randint(0, 4, {2, 6}, g);
  for (Index s = 3; s < 6; ++s) labels(1, s) = -100;  // padding may hold -100
  const auto out = model.forward(inputs_of(ids, mask), labels);
  ASSERT_EQ(out.logits.shape(), Shape({2, 6, 4}));
  const auto nll = model.crf()->forward(out.logits.detach(), labels, mask, Reduction::None);
  EXPECT_NEAR(out.loss.item(), (nll.data()[0] + nll.data()[1]) / 2, 1e-12);
  out.loss.backward();
  for (const auto& [name, p] : model.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    if (name.rfind("bert.embeddings.word_embeddings", 0) == 0) continue;  // only the rows of the ids used
    EXPECT_GT(p.grad().abs().sum().item(), 0.0) << name;
  }
  const auto tags = model.decode(inputs_of(ids, mask));
  EXPECT_EQ(tags, model.crf()->decode(out.logits.detach(), mask));
  EXPECT_EQ(tags[1].size(), 3u);
}

TEST(BertForTokenClassification, BadLabelsAndSizesNameTheValues) {
  Generator g(3);
  using Model = heads::BertForTokenClassification<float>;
  EXPECT_THAT([&] { Model(tiny_config(), 0, false, g); },
              ThrowsMessage<ValueError>(HasSubstr("BertForTokenClassification: num_labels must be at least 1, got 0")));
  Model model(tiny_config(), 3, /*use_crf=*/false, g);
  const auto ids = randint(1, 13, {2, 5}, g);
  EXPECT_THAT([&] { model.forward(inputs_of(ids), Tensor<std::int64_t>::zeros({2, 6})); },
              ThrowsMessage<ShapeError>(HasSubstr("labels shape [2, 6] must equal input_ids shape [2, 5]")));
  auto labels = Tensor<std::int64_t>::zeros({2, 5});
  labels(0, 4) = 3;
  EXPECT_THAT([&] { model.forward(inputs_of(ids), labels); },
              ThrowsMessage<IndexError>(HasSubstr("target 3 at position [0, 4] is out of range for 3 classes")));
  Model crf_model(tiny_config(), 3, /*use_crf=*/true, g);
  labels(0, 4) = -100;
  EXPECT_THAT([&] { crf_model.forward(inputs_of(ids), labels); },
              ThrowsMessage<ValueError>(HasSubstr("label -100 at [0, 4] is on a real token (attention_mask 1)")));
  const auto mask = Tensor<std::int64_t>::from({{1, 1, 1, 1, 1}, {0, 1, 1, 0, 0}});
  EXPECT_THAT([&] { crf_model.decode(inputs_of(ids, mask)); }, ThrowsMessage<ValueError>(HasSubstr("mask[1, 0] is off")));
}

}  // namespace
}  // namespace foundry
