// tests/heads/mlm_head_test.cpp mirrors include/foundry/heads/mlm_head.hpp: Hugging Face's parameter
// names with the tied decoder, PyTorch's logits, loss and every gradient (tests/fixtures/heads/
// masked_lm.safetensors from tests/reference/make_head_fixtures.py), and the labelled-rows-only path
// giving the same loss and gradients as the full [B, S, V] logits.
#include "foundry/heads/mlm_head.hpp"
#include "foundry/optim/adam.hpp"
#include "support/bert_fixtures.hpp"

namespace foundry {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using Fixture = support::FloatFixture;
using support::config_of;
using support::inputs_of;
using support::parameters_of;

models::BertConfig tiny_config() { return support::tiny_bert_config(11, 0.3); }

struct Loaded {
  std::unique_ptr<heads::BertForMaskedLM<float>> model;
  Fixture f;
  models::BertInputs inputs;
  Tensor<std::int64_t> labels;
};

Loaded load_masked_lm() {
  Loaded l;
  l.f = support::load_fixture<float>("heads/masked_lm.safetensors");
  const auto ints = support::load_fixture<std::int64_t>("heads/masked_lm.safetensors");
  l.model = std::make_unique<heads::BertForMaskedLM<float>>(config_of("heads/masked_lm.safetensors"));
  l.model->load_state_dict(parameters_of(l.f), /*strict=*/true);
  l.model->eval();
  l.inputs = {ints.at("input.input_ids"), ints.at("input.attention_mask"), ints.at("input.token_type_ids")};
  l.labels = ints.at("input.labels");
  return l;
}

void expect_gradients_match(const nn::Module<float>& model, const Fixture& f) {
  for (const auto& [name, p] : model.named_parameters()) {
    ASSERT_TRUE(f.count("grad." + name)) << "fixture lacks grad." << name;
    ASSERT_TRUE(p.grad().defined()) << name << " received no gradient";
    EXPECT_TRUE(support::allclose(p.grad(), f.at("grad." + name), 1e-5, 1e-4)) << "gradient of " << name;
  }
}

TEST(BertForMaskedLM, ParameterNamesAreHuggingFacesWithTheDecoderTied) {
  Generator g(1);
  heads::BertForMaskedLM<float> mlm(tiny_config(), g);
  const auto named = mlm.named_parameters();
  std::vector<std::string> names;
  for (const auto& [name, p] : named) names.push_back(name);
  EXPECT_EQ(names.front(), "bert.embeddings.word_embeddings.weight");
  const std::vector<std::string> head(names.end() - 5, names.end());
  EXPECT_EQ(head, (std::vector<std::string>{"cls.predictions.bias", "cls.predictions.transform.dense.weight",
                                            "cls.predictions.transform.dense.bias", "cls.predictions.transform.LayerNorm.weight",
                                            "cls.predictions.transform.LayerNorm.bias"}));
  models::BertModel<float> bare(tiny_config(), g, /*add_pooler=*/false);
  EXPECT_EQ(named.size(), bare.named_parameters().size() + 5);  // no pooler, no separate decoder weight
  for (const auto& name : names) {
    EXPECT_EQ(name.find("pooler"), std::string::npos) << name;
    EXPECT_EQ(name.find("decoder"), std::string::npos) << name;
  }
  EXPECT_TRUE(mlm.cls()->predictions->decoder_weight().same(mlm.bert()->embeddings()->word_embeddings()->weight()));
  EXPECT_EQ(mlm.cls()->predictions->bias().shape(), Shape({11}));
}

TEST(BertForMaskedLM, OutputShapesWithAndWithoutLabels) {
  Generator g(2);
  heads::BertForMaskedLM<float> mlm(tiny_config(), g);
  mlm.eval();  // dropout off, so the three calls see the same hidden states
  const auto ids = randint(1, 11, {2, 5}, g);
  auto labels = Tensor<std::int64_t>::full({2, 5}, -100);
  labels(0, 1) = 3;
  labels(1, 4) = 0;
  labels(1, 2) = 10;
  const auto plain = mlm.forward(inputs_of(ids));
  EXPECT_EQ(plain.logits.shape(), Shape({2, 5, 11}));
  EXPECT_FALSE(plain.loss.defined());
  EXPECT_FALSE(plain.positions.defined());
  const auto masked = mlm.forward(inputs_of(ids), labels);
  EXPECT_EQ(masked.logits.shape(), Shape({3, 11}));
  EXPECT_EQ(masked.positions, Tensor<std::int64_t>::from({1, 7, 9}));
  EXPECT_EQ(masked.loss.shape(), Shape({}));
  const auto full = mlm.forward(inputs_of(ids), labels, /*predict_masked_only=*/false);
  EXPECT_EQ(full.logits.shape(), Shape({2, 5, 11}));
  EXPECT_FALSE(full.positions.defined());
  EXPECT_TRUE(support::allclose(masked.logits.select(0, 1), full.logits.select(0, 1).select(0, 2), 1e-6, 1e-5));
}

TEST(BertForMaskedLM, MatchesPyTorchLogitsLossAndEveryGradient) {
  Loaded l = load_masked_lm();
  const auto out = l.model->forward(l.inputs, l.labels, /*predict_masked_only=*/false);
  EXPECT_TRUE(support::allclose(out.logits, l.f.at("output.logits"), 1e-5, 1e-4));
  EXPECT_NEAR(out.loss.item(), l.f.at("output.loss").item(), 1e-5 + 1e-4 * std::abs(l.f.at("output.loss").item()));
  out.loss.backward();
  expect_gradients_match(*l.model, l.f);
}

TEST(BertForMaskedLM, LabelledRowsOnlyGiveTheSameLossAndGradients) {
  Loaded l = load_masked_lm();
  const auto out = l.model->forward(l.inputs, l.labels);  // predict_masked_only by default
  const Index N = 5, V = 50;
  ASSERT_EQ(out.logits.shape(), Shape({N, V}));
  const Tensor<float> all = l.f.at("output.logits").reshape({14, V});
  for (Index i = 0; i < N; ++i)
    EXPECT_TRUE(support::allclose(out.logits.select(0, i), all.select(0, out.positions.data()[i]), 1e-5, 1e-4)) << "row " << i;
  EXPECT_NEAR(out.loss.item(), l.f.at("output.loss").item(), 1e-5 + 1e-4 * std::abs(l.f.at("output.loss").item()));
  out.loss.backward();
  expect_gradients_match(*l.model, l.f);

  // And against the full path directly, tighter than the fixture's float32 tolerance.
  std::map<std::string, Tensor<float>> masked_grads;
  for (const auto& [name, p] : l.model->named_parameters()) masked_grads.emplace(name, p.grad().clone_data());
  l.model->zero_grad();
  const auto full = l.model->forward(l.inputs, l.labels, /*predict_masked_only=*/false);
  EXPECT_NEAR(full.loss.item(), out.loss.item(), 1e-6);
  full.loss.backward();
  for (const auto& [name, p] : l.model->named_parameters())
    EXPECT_TRUE(support::allclose(p.grad(), masked_grads.at(name), 1e-6, 1e-5)) << name;
}

TEST(BertForMaskedLM, PredictionHeadGradientsMatchFiniteDifferences) {
  Generator g(3);
  heads::BertForMaskedLM<double> mlm(tiny_config(), g);
  const auto& head = *mlm.cls()->predictions;
  nn::init::fill_from(head.bias(), support::random_tensor<double>({11}, g, 0.1));
  const auto h = support::random_tensor<double>({3, 8}, g);
  EXPECT_TRUE(autograd::gradcheck_vector([&](std::vector<Tensor<double>>& in) { return head.forward(in[0]); },
                                         {h, head.decoder_weight(), head.bias()}));
}

TEST(BertForMaskedLM, NoLabelledPositionGivesNanLossLikePyTorch) {
  Generator g(4);
  heads::BertForMaskedLM<float> mlm(tiny_config(), g);
  const auto out = mlm.forward(inputs_of(randint(1, 11, {1, 4}, g)), Tensor<std::int64_t>::full({1, 4}, -100));
  EXPECT_EQ(out.logits.shape(), Shape({0, 11}));
  EXPECT_TRUE(std::isnan(out.loss.item()));
}

TEST(BertForMaskedLM, AFewStepsOnTwoSentencesLowerTheLoss) {
  Generator g(5);
  auto config = tiny_config();
  config.hidden_dropout_prob = 0;
  config.attention_probs_dropout_prob = 0;
  heads::BertForMaskedLM<float> mlm(config, g);
  const auto ids = Tensor<std::int64_t>::from({{2, 5, 4, 7, 3}, {2, 9, 8, 3, 0}});
  const auto mask = Tensor<std::int64_t>::from({{1, 1, 1, 1, 1}, {1, 1, 1, 1, 0}});
  auto labels = Tensor<std::int64_t>::full({2, 5}, -100);
  labels(0, 2) = 4;
  labels(1, 1) = 9;
  auto masked = ids.clone_data();
  masked(0, 2) = 1;  // [MASK]
  masked(1, 1) = 1;
  optim::AdamW<float> opt(mlm.parameters(), {.lr = 1e-2, .weight_decay = 0});
  float first = 0, last = 0;
  for (int step = 0; step < 10; ++step) {
    mlm.zero_grad();
    const auto out = mlm.forward(inputs_of(masked, mask), labels);
    out.loss.backward();
    opt.step();
    (step == 0 ? first : last) = out.loss.item();
  }
  EXPECT_LT(last, 0.5f * first);
}

TEST(BertForMaskedLM, BadLabelsNameTheValues) {
  Generator g(6);
  heads::BertForMaskedLM<float> mlm(tiny_config(), g);
  const auto ids = randint(1, 11, {2, 5}, g);
  EXPECT_THAT([&] { mlm.forward(inputs_of(ids), Tensor<std::int64_t>::zeros({2, 4})); },
              ThrowsMessage<ShapeError>(HasSubstr("BertForMaskedLM: labels shape [2, 4] must equal input_ids shape [2, 5]")));
  auto labels = Tensor<std::int64_t>::full({2, 5}, -100);
  labels(1, 3) = 11;
  EXPECT_THAT([&] { mlm.forward(inputs_of(ids), labels); },
              ThrowsMessage<IndexError>(HasSubstr("BertForMaskedLM: target 11 at position [1, 3] is out of range for 11 classes")));
  labels(1, 3) = -1;
  EXPECT_THAT([&] { mlm.forward(inputs_of(ids), labels, /*predict_masked_only=*/false); },
              ThrowsMessage<IndexError>(HasSubstr("target -1 at position [1, 3]")));
}

}  // namespace
}  // namespace foundry
