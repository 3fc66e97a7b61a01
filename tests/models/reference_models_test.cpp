// tests/models/reference_models_test.cpp mirrors include/foundry/models/{bert,gpt}.hpp: each model,
// loaded with the weights of tests/reference/make_model_fixtures.py, reproduces PyTorch's outputs and
// the gradient of a scalar loss with respect to every parameter (fp32, dropout off).
#include "support/fixtures.hpp"

namespace foundry {
namespace {

using Fixture = std::map<std::string, Tensor<float>>;

// The parameters of a fixture: every tensor not named input.*, output.*, loss.* or grad.*.
Fixture parameters_of(const Fixture& f) {
  Fixture out;
  for (const auto& [name, t] : f)
    if (name.rfind("input.", 0) && name.rfind("output.", 0) && name.rfind("loss.", 0) && name.rfind("grad.", 0)) out.emplace(name, t);
  return out;
}

std::string config_of(const std::string& fixture) {
  return io::SafetensorsFile::open(support::fixture_path(fixture)).metadata().at("config");
}

void expect_all_gradients_match(const nn::Module<float>& model, const Fixture& f) {
  int checked = 0;
  for (const auto& [name, p] : model.named_parameters()) {
    const auto it = f.find("grad." + name);
    ASSERT_NE(it, f.end()) << "fixture lacks grad." << name;
    ASSERT_TRUE(p.grad().defined()) << name << " received no gradient";
    EXPECT_TRUE(support::allclose(p.grad(), it->second, 1e-5, 1e-4)) << "gradient of " << name;
    ++checked;
  }
  EXPECT_GT(checked, 30);
}

TEST(BertModelReference, MatchesPyTorchOutputsAndEveryGradient) {
  const auto f = support::load_fixture<float>("models/bert.safetensors");
  const auto ids = support::load_fixture<std::int64_t>("models/bert.safetensors");
  const auto config = models::BertConfig::from_json(io::Json::parse(config_of("models/bert.safetensors")));
  models::BertModel<float> bert(config);
  const auto loaded = bert.load_state_dict(parameters_of(f), /*strict=*/true);
  EXPECT_TRUE(loaded.missing_keys.empty());
  bert.eval();
  models::BertInputs in{ids.at("input.input_ids"), ids.at("input.attention_mask"), ids.at("input.token_type_ids")};
  in.output_attentions = true;
  const auto out = bert.forward(in);
  EXPECT_TRUE(support::allclose(out.last_hidden_state, f.at("output.last_hidden_state"), 1e-5, 1e-4));
  EXPECT_TRUE(support::allclose(out.pooler_output, f.at("output.pooler_output"), 1e-5, 1e-4));
  EXPECT_TRUE(support::allclose(out.attentions.at(0), f.at("output.attentions.0"), 1e-6, 1e-4));
  const Tensor<float> loss = (out.last_hidden_state * f.at("loss.r_hidden")).sum() + (out.pooler_output * f.at("loss.r_pooled")).sum();
  EXPECT_NEAR(loss.item(), f.at("output.loss").item(), 1e-4 * std::abs(f.at("output.loss").item()) + 1e-4);
  loss.backward();
  expect_all_gradients_match(bert, f);
}

TEST(GptModelReference, MatchesPyTorchOutputsLossAndEveryGradient) {
  const auto f = support::load_fixture<float>("models/gpt.safetensors");
  const auto ints = support::load_fixture<std::int64_t>("models/gpt.safetensors");
  const auto config = models::GptConfig::from_json(io::Json::parse(config_of("models/gpt.safetensors")));
  models::GptModel<float> gpt(config);
  gpt.load_state_dict(parameters_of(f), /*strict=*/true);
  gpt.eval();
  const auto& ids = ints.at("input.input_ids");
  const Tensor<float> h = gpt.forward(ids, ints.at("input.attention_mask"));
  EXPECT_TRUE(support::allclose(h, f.at("output.last_hidden_state"), 1e-5, 1e-4));
  const Tensor<float> logits = gpt.logits(h);
  EXPECT_TRUE(support::allclose(logits, f.at("output.logits"), 1e-5, 1e-4));
  const Index B = ids.size(0), S = ids.size(1), V = config.vocab_size;
  const Tensor<float> shifted = logits.slice(1, 0, S - 1).reshape({B * (S - 1), V});
  const Tensor<float> loss = (h * f.at("loss.r_hidden")).sum() + cross_entropy(shifted, ints.at("loss.targets").reshape({-1}));
  EXPECT_NEAR(loss.item(), f.at("output.loss").item(), 1e-4 * std::abs(f.at("output.loss").item()) + 1e-4);
  loss.backward();
  expect_all_gradients_match(gpt, f);
}

}  // namespace
}  // namespace foundry
