// tests/heads/pretraining_test.cpp mirrors include/foundry/heads/pretraining.hpp: Hugging Face's
// BertForPreTraining names, PyTorch's logits, both losses and every gradient (tests/fixtures/heads/
// pretraining.safetensors from tests/reference/make_head_fixtures.py), with and without the
// labelled-rows-only MLM path.
#include "foundry/heads/pretraining.hpp"
#include "support/bert_fixtures.hpp"

namespace foundry {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using Fixture = support::FloatFixture;
using support::config_of;
using support::inputs_of;
using support::parameters_of;

models::BertConfig tiny_config() { return support::tiny_bert_config(13); }

void expect_near_scalar(const Tensor<float>& got, const Tensor<float>& want, const char* what) {
  EXPECT_NEAR(got.item(), want.item(), 1e-5 + 1e-4 * std::abs(want.item())) << what;
}

TEST(BertForPreTraining, ParameterNamesAreHuggingFaces) {
  Generator g(1);
  heads::BertForPreTraining<float> model(tiny_config(), g);
  std::vector<std::string> names;
  for (const auto& [name, p] : model.named_parameters()) names.push_back(name);
  models::BertModel<float> bert(tiny_config(), g);
  EXPECT_EQ(names.size(), bert.named_parameters().size() + 7);
  const std::vector<std::string> tail(names.end() - 9, names.end());
  EXPECT_EQ(tail, (std::vector<std::string>{"bert.pooler.dense.weight", "bert.pooler.dense.bias", "cls.predictions.bias",
                                            "cls.predictions.transform.dense.weight", "cls.predictions.transform.dense.bias",
                                            "cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.LayerNorm.bias",
                                            "cls.seq_relationship.weight", "cls.seq_relationship.bias"}));
  EXPECT_EQ(model.cls()->seq_relationship->weight().shape(), Shape({2, 8}));
  EXPECT_TRUE(model.cls()->predictions->decoder_weight().same(model.bert()->embeddings()->word_embeddings()->weight()));
}

TEST(BertForPreTraining, MatchesPyTorchLogitsLossesAndEveryGradient) {
  for (bool masked_only : {false, true}) {
    SCOPED_TRACE(masked_only ? "predict_masked_only" : "full logits");
    const auto f = support::load_fixture<float>("heads/pretraining.safetensors");
    const auto ints = support::load_fixture<std::int64_t>("heads/pretraining.safetensors");
    heads::BertForPreTraining<float> model(config_of("heads/pretraining.safetensors"));
    model.load_state_dict(parameters_of(f), /*strict=*/true);
    model.eval();
    const models::BertInputs in{ints.at("input.input_ids"), ints.at("input.attention_mask"), ints.at("input.token_type_ids")};
    const auto out = model.forward(in, ints.at("input.labels"), ints.at("input.next_sentence_label"), masked_only);
    if (masked_only) {
      const Tensor<float> all = f.at("output.prediction_logits").reshape({14, 50});
      ASSERT_EQ(out.prediction_logits.shape(), Shape({5, 50}));
      for (Index i = 0; i < 5; ++i)
        EXPECT_TRUE(support::allclose(out.prediction_logits.select(0, i), all.select(0, out.positions.data()[i]), 1e-5, 1e-4));
    } else {
      EXPECT_TRUE(support::allclose(out.prediction_logits, f.at("output.prediction_logits"), 1e-5, 1e-4));
    }
    EXPECT_TRUE(support::allclose(out.seq_relationship_logits, f.at("output.seq_relationship_logits"), 1e-5, 1e-4));
    expect_near_scalar(out.mlm_loss, f.at("output.mlm_loss"), "mlm_loss");
    expect_near_scalar(out.nsp_loss, f.at("output.nsp_loss"), "nsp_loss");
    expect_near_scalar(out.loss, f.at("output.loss"), "loss");
    out.loss.backward();
    for (const auto& [name, p] : model.named_parameters()) {
      ASSERT_TRUE(p.grad().defined()) << name;
      EXPECT_TRUE(support::allclose(p.grad(), f.at("grad." + name), 1e-5, 1e-4)) << "gradient of " << name;
    }
  }
}

TEST(BertForPreTraining, LossesAreDefinedOnlyForTheLabelsGiven) {
  Generator g(2);
  heads::BertForPreTraining<float> model(tiny_config(), g);
  model.eval();  // dropout off, so the calls agree
  const auto ids = randint(1, 13, {2, 4}, g);
  auto labels = Tensor<std::int64_t>::full({2, 4}, -100);
  labels(0, 2) = 5;
  const auto none = model.forward(inputs_of(ids));
  EXPECT_FALSE(none.loss.defined() || none.mlm_loss.defined() || none.nsp_loss.defined());
  EXPECT_EQ(none.prediction_logits.shape(), Shape({2, 4, 13}));
  EXPECT_EQ(none.seq_relationship_logits.shape(), Shape({2, 2}));
  const auto mlm_only = model.forward(inputs_of(ids), labels);
  EXPECT_TRUE(mlm_only.mlm_loss.defined());
  EXPECT_FALSE(mlm_only.loss.defined() || mlm_only.nsp_loss.defined());
  const auto nsp_only = model.forward(inputs_of(ids), {}, Tensor<std::int64_t>::from({1, 0}));
  EXPECT_TRUE(nsp_only.nsp_loss.defined());
  EXPECT_FALSE(nsp_only.loss.defined() || nsp_only.mlm_loss.defined());
  const auto both = model.forward(inputs_of(ids), labels, Tensor<std::int64_t>::from({1, 0}));
  EXPECT_NEAR(both.loss.item(), mlm_only.mlm_loss.item() + nsp_only.nsp_loss.item(), 1e-5);
}

TEST(BertForPreTraining, BadNextSentenceLabelsNameTheValues) {
  Generator g(3);
  heads::BertForPreTraining<float> model(tiny_config(), g);
  const auto ids = randint(1, 13, {2, 4}, g);
  EXPECT_THAT([&] { model.forward(inputs_of(ids), {}, Tensor<std::int64_t>::from({1, 0, 1})); },
              ThrowsMessage<ShapeError>(HasSubstr("next_sentence_label shape [3] must be [B] = [2] for input_ids [2, 4]")));
  EXPECT_THAT([&] { model.forward(inputs_of(ids), {}, Tensor<std::int64_t>::from({1, 2})); },
              ThrowsMessage<IndexError>(HasSubstr("next_sentence_label: target 2 at position [1] is out of range for 2 classes")));
  EXPECT_THAT([&] { model.forward(inputs_of(ids), Tensor<std::int64_t>::full({2, 4}, 13)); },
              ThrowsMessage<IndexError>(HasSubstr("BertForPreTraining: target 13 at position [0, 0] is out of range for 13 classes")));
}

}  // namespace
}  // namespace foundry
