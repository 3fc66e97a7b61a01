// tests/models/bert_test.cpp mirrors include/foundry/models/{bert,bert_config,gpt}.hpp: configs,
// names, outputs, bad input and gradient checkpointing (the numerical match with PyTorch is in
// reference_models_test.cpp).
#include <filesystem>
#include <fstream>

#include "support/testing.hpp"

namespace foundry {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

models::BertConfig tiny_bert() {
  models::BertConfig c;
  c.vocab_size = 30;
  c.hidden_size = 16;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 32;
  c.max_position_embeddings = 12;
  return c;
}

TEST(BertConfig, DefaultsAreBertBase) {
  models::BertConfig c;
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_EQ(c.hidden_size, 768);
  EXPECT_EQ(c.num_hidden_layers, 12);
  EXPECT_EQ(c.num_attention_heads, 12);
  EXPECT_EQ(c.intermediate_size, 3072);
  EXPECT_EQ(c.hidden_act, "gelu");
  EXPECT_EQ(c.layer_norm_eps, 1e-12);
  EXPECT_EQ(c.max_position_embeddings, 512);
}

TEST(BertConfig, JsonRoundTripKeepsUnknownFields) {
  const auto j = io::Json::parse(R"({"vocab_size": 100, "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128,
    "num_hidden_layers": 3, "hidden_act": "gelu_new", "architectures": ["BertForMaskedLM"], "torch_dtype": "float32"})");
  const auto c = models::BertConfig::from_json(j);
  EXPECT_EQ(c.vocab_size, 100);
  EXPECT_EQ(c.num_hidden_layers, 3);
  EXPECT_EQ(c.type_vocab_size, 2);  // default kept
  const auto path = std::filesystem::temp_directory_path() / ("foundry_config_" + std::to_string(::getpid()) + ".json");
  c.save(path.string());
  const auto back = models::BertConfig::load(path.string());
  std::filesystem::remove(path);
  EXPECT_EQ(back.hidden_act, "gelu_new");
  EXPECT_EQ(back.to_json().at("architectures").at(std::size_t{0}).as_string(), "BertForMaskedLM");
  EXPECT_EQ(back.to_json().dump(), c.to_json().dump());
}

TEST(BertConfig, InconsistentSizesAreRejected) {
  auto c = tiny_bert();
  c.num_attention_heads = 5;
  EXPECT_THAT([&] { c.validate(); }, ThrowsMessage<ValueError>(HasSubstr("hidden_size 16 is not a multiple of num_attention_heads 5")));
  EXPECT_THAT([] { models::BertConfig::load("/nonexistent/config.json"); }, ThrowsMessage<IoError>(HasSubstr("/nonexistent/config.json")));
  EXPECT_THAT([] { models::BertConfig::from_json(io::Json::parse(R"({"vocab_size": "many"})")); }, ThrowsMessage<ValueError>(HasSubstr("vocab_size")));
}

TEST(BertModel, HuggingFaceParameterNamesAndInit) {
  Generator g(1);
  models::BertModel<float> bert(tiny_bert(), g);
  std::vector<std::string> names;
  for (const auto& [n, p] : bert.named_parameters()) names.push_back(n);
  EXPECT_EQ(names.front(), "embeddings.word_embeddings.weight");
  EXPECT_THAT(names, ::testing::Contains("encoder.layer.1.attention.self.query.weight"));
  EXPECT_THAT(names, ::testing::Contains("encoder.layer.0.attention.output.LayerNorm.bias"));
  EXPECT_THAT(names, ::testing::Contains("encoder.layer.0.intermediate.dense.weight"));
  EXPECT_THAT(names, ::testing::Contains("encoder.layer.1.output.LayerNorm.weight"));
  EXPECT_EQ(names.back(), "pooler.dense.bias");
  EXPECT_EQ(names.size(), 5u + 2 * 16 + 2);
  // normal(0, 0.02) weights, zero biases, LayerNorm 1 / 0, zero padding row.
  const auto sd = bert.state_dict();
  EXPECT_EQ(sd.at("encoder.layer.0.attention.self.query.bias"), zeros<float>({16}));
  EXPECT_EQ(sd.at("embeddings.LayerNorm.weight"), ones<float>({16}));
  EXPECT_EQ(sd.at("embeddings.word_embeddings.weight").select(0, 0), zeros<float>({16}));
  const auto w = sd.at("encoder.layer.0.intermediate.dense.weight").to<double>();
  EXPECT_NEAR(std::sqrt(ops::var(w).item()), 0.02, 0.003);
}

TEST(BertModel, OutputsShapesHiddenStatesAndPaddingInvariance) {
  Generator g(2);
  models::BertModel<double> bert(tiny_bert(), g);
  bert.eval();
  models::BertInputs in;
  in.input_ids = Tensor<std::int64_t>::from({{2, 5, 7, 9}, {3, 4, 0, 0}});
  in.attention_mask = Tensor<std::int64_t>::from({{1, 1, 1, 1}, {1, 1, 0, 0}});
  in.output_hidden_states = true;
  in.output_attentions = true;
  const auto out = bert.forward(in);
  EXPECT_EQ(out.last_hidden_state.shape(), (Shape{2, 4, 16}));
  EXPECT_EQ(out.pooler_output.shape(), (Shape{2, 16}));
  EXPECT_EQ(out.hidden_states.size(), 3u);
  EXPECT_EQ(out.attentions.size(), 2u);
  EXPECT_EQ(out.attentions[0].at({1, 0, 0, 3}), 0.0);  // padded key
  // Changing padded ids changes nothing at the real positions.
  in.input_ids.at({1, 3}) = 17;
  const auto again = bert.forward(in);
  EXPECT_TRUE(support::allclose(again.last_hidden_state.select(0, 1).slice(0, 0, 2), out.last_hidden_state.select(0, 1).slice(0, 0, 2), 1e-12));
  EXPECT_TRUE(support::allclose(again.pooler_output, out.pooler_output, 1e-12));
}

TEST(BertModel, BadInputNamesTheValueAndTheLimit) {
  Generator g(3);
  models::BertModel<float> bert(tiny_bert(), g);
  EXPECT_THAT([&] { bert.forward(Tensor<std::int64_t>::zeros({1, 13})); },
              ThrowsMessage<ValueError>(HasSubstr("sequence length 13 exceeds max_position_embeddings 12")));
  EXPECT_THAT([&] { bert.forward(Tensor<std::int64_t>::from({{1, 30}})); }, ThrowsMessage<IndexError>(HasSubstr("30")));
  EXPECT_THAT([&] { bert.forward(Tensor<std::int64_t>::zeros({2, 3}), Tensor<std::int64_t>::ones({2, 4})); },
              ThrowsMessage<ShapeError>(HasSubstr("attention_mask shape [2, 4] does not match input_ids [2, 3]")));
  EXPECT_THAT([&] { bert.forward(Tensor<std::int64_t>::zeros({3})); }, ThrowsMessage<ShapeError>(HasSubstr("input_ids must be [B, S], got [3]")));
  EXPECT_THAT([&] { bert.forward(Tensor<std::int64_t>::zeros({1, 2}), {}, Tensor<std::int64_t>::from({{0, 2}})); },
              ThrowsMessage<IndexError>(HasSubstr("2")));
}

models::GptConfig tiny_gpt(Index positions, Index layers) {
  models::GptConfig c;
  c.vocab_size = 20;
  c.n_positions = positions;
  c.n_embd = 12;
  c.n_layer = layers;
  c.n_head = 3;
  return c;
}

TEST(GptModel, NamesAndBadInput) {
  auto c = tiny_gpt(8, 1);
  Generator g(4);
  models::GptModel<float> gpt(c, g);
  std::vector<std::string> names;
  for (const auto& [n, p] : gpt.named_parameters()) names.push_back(n);
  EXPECT_EQ(names.front(), "wte.weight");
  EXPECT_THAT(names, ::testing::Contains("h.0.attn.query.weight"));
  EXPECT_THAT(names, ::testing::Contains("h.0.mlp.c_proj.bias"));
  EXPECT_EQ(names.back(), "ln_f.bias");
  EXPECT_THAT([&] { gpt.forward(Tensor<std::int64_t>::zeros({1, 9})); }, ThrowsMessage<ValueError>(HasSubstr("positions up to 9 exceed n_positions 8")));
  c.n_head = 5;
  EXPECT_THAT([&] { models::GptModel<float> bad(c); }, ThrowsMessage<ValueError>(HasSubstr("n_embd 12 is not a multiple of n_head 5")));
}

// Activation checkpointing: the same loss and the same gradient bits with dropout on, and less held
// between forward and backward.
TEST(BertModel, GradientCheckpointingGivesTheSameBitsAndHoldsLess) {
  auto c = tiny_bert();
  c.num_hidden_layers = 3;
  c.hidden_size = 64;  // activations above the buffer cache's 64 KiB, so that they are counted
  c.intermediate_size = 256;
  c.max_position_embeddings = 64;
  Generator data(9);
  const auto ids = randint(1, c.vocab_size, {4, 64}, data);
  auto mask = Tensor<std::int64_t>::ones({4, 64});
  for (Index s = 40; s < 64; ++s) mask.data()[64 + s] = 0;
  auto run = [&](bool checkpointed, std::size_t* held) {
    Generator g(5);
    models::BertModel<float> bert(c, g);
    bert.train();
    bert.set_gradient_checkpointing(checkpointed);
    EXPECT_EQ(bert.gradient_checkpointing(), checkpointed);
    const std::size_t base = buffer_bytes_in_use();
    const auto out = bert.forward(ids, mask);
    *held = buffer_bytes_in_use() - base;
    const auto r = randn<float>(out.last_hidden_state.shape(), data);
    (out.last_hidden_state * r).sum().backward();
    std::vector<Tensor<float>> grads{out.last_hidden_state.detach()};
    for (const auto& [name, p] : bert.named_parameters()) grads.push_back(p.grad().defined() ? p.grad() : Tensor<float>());
    return grads;
  };
  std::size_t plain_held = 0, ckpt_held = 0;
  const auto plain = run(false, &plain_held);
  data.manual_seed(9);
  randint(1, c.vocab_size, {4, 64}, data);
  const auto ckpt = run(true, &ckpt_held);
  ASSERT_EQ(plain.size(), ckpt.size());
  for (std::size_t i = 0; i < plain.size(); ++i) {
    ASSERT_EQ(ckpt[i].defined(), plain[i].defined()) << "tensor " << i;  // the pooler gets no gradient
    if (plain[i].defined()) {
      EXPECT_EQ(ckpt[i], plain[i]) << "tensor " << i;
    }
  }
  if (detail::kBufferCacheEnabled) {
    EXPECT_LT(2 * ckpt_held, plain_held);
  }  // 3 layers' activations -> their inputs
}

TEST(GptModel, GradientCheckpointingGivesTheSameBits) {
  const auto c = tiny_gpt(16, 2);
  Generator data(1);
  const auto ids = randint(0, c.vocab_size, {2, 16}, data);
  auto run = [&](bool checkpointed) {
    Generator g(4);
    models::GptModel<float> gpt(c, g);
    gpt.train();
    gpt.set_gradient_checkpointing(checkpointed);
    const auto h = gpt.forward(ids);
    gpt.logits(h).pow(2.0f).mean().backward();
    std::vector<Tensor<float>> grads{h.detach()};
    for (const auto& [name, p] : gpt.named_parameters()) grads.push_back(p.grad());
    return grads;
  };
  const auto plain = run(false), ckpt = run(true);
  for (std::size_t i = 0; i < plain.size(); ++i) EXPECT_EQ(ckpt[i], plain[i]) << "tensor " << i;
}

}  // namespace
}  // namespace foundry
