// tests/nn/transformer_test.cpp mirrors include/foundry/nn/{multi_head_attention,transformer_layer,transformer}.hpp
#include "support/testing.hpp"

namespace foundry {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// Checks the gradient of fn w.r.t. x and every parameter of the module in one gradcheck.
template <class F>
autograd::GradcheckResult gradcheck_module(const nn::Module<double>& m, const Tensor<double>& x, F&& fn) {
  std::vector<Tensor<double>> inputs{x};
  for (const auto& p : m.parameters()) inputs.push_back(p);
  return autograd::gradcheck_vector([&](std::vector<Tensor<double>>& in) { return fn(in[0]); }, inputs);
}

nn::TransformerLayerOptions small_options(bool norm_first) {
  nn::TransformerLayerOptions o;
  o.dim = 8;
  o.heads = 2;
  o.ff_dim = 12;
  o.dropout = 0.0;
  o.attention_dropout = 0.0;
  o.norm_first = norm_first;
  return o;
}

TEST(MultiHeadAttention, HeadsAreSplitAndMergedWithoutCopies) {
  Generator g(1);
  nn::MultiHeadAttention<double> mha(8, 2, {}, g);
  auto x = randn<double>({2, 3, 8}, g);
  auto heads = mha.split_heads(x);
  EXPECT_EQ(heads.shape(), (Shape{2, 2, 3, 4}));
  EXPECT_TRUE(heads.shares_storage_with(x));
  EXPECT_EQ(nn::MultiHeadAttention<double>::merge_heads(heads), x);
  Tensor<double> weights;
  auto y = mha.forward(x, {}, &weights);
  EXPECT_EQ(y.shape(), (Shape{2, 3, 8}));
  EXPECT_EQ(weights.shape(), (Shape{2, 2, 3, 3}));
}

TEST(MultiHeadAttention, SelfAndCrossAttentionGradients) {
  Generator g(2);
  nn::MultiHeadAttention<double> self(8, 2, {}, g);
  nn::AttentionMask<double> mask;
  mask.key_mask = Tensor<bool>::from({{true, true, true}, {true, true, false}});
  EXPECT_TRUE(gradcheck_module(self, randn<double>({2, 3, 8}, g), [&](const Tensor<double>& x) { return self.forward(x, mask); }));
  nn::MultiHeadAttention<double>::Options o;
  o.kv_dim = 6;
  nn::MultiHeadAttention<double> cross(8, 2, o, g);
  auto memory = randn<double>({2, 3, 6}, g);
  EXPECT_TRUE(gradcheck_module(cross, randn<double>({2, 4, 8}, g), [&](const Tensor<double>& x) { return cross.forward(x, memory, mask); }));
  EXPECT_THAT([&] { nn::MultiHeadAttention<float>(10, 4); },
              ThrowsMessage<ValueError>(HasSubstr("hidden size 10 is not a multiple of the number of heads 4")));
}

TEST(TransformerEncoderLayer, PostAndPreLnGradients) {
  for (bool pre : {false, true}) {
    Generator g(3);
    nn::TransformerEncoderLayer<double> layer(small_options(pre), g);
    layer.eval();
    nn::AttentionMask<double> mask;
    mask.key_lengths = Tensor<std::int64_t>::from({3, 2});
    EXPECT_TRUE(gradcheck_module(layer, randn<double>({2, 3, 8}, g), [&](const Tensor<double>& x) { return layer.forward(x, mask); }))
        << (pre ? "pre-LN" : "post-LN");
  }
}

TEST(TransformerEncoderLayer, PostLnOutputIsNormalisedPreLnIsNot) {
  Generator g(4);
  nn::TransformerEncoderLayer<double> post(small_options(false), g), pre(small_options(true), g);
  post.eval();
  pre.eval();
  auto x = randn<double>({1, 3, 8}, g) * 5.0;
  EXPECT_TRUE(support::allclose(ops::var(post.forward(x), {-1}, false), ones<double>({1, 3}), 1e-4));
  EXPECT_FALSE(support::allclose(ops::var(pre.forward(x), {-1}, false), ones<double>({1, 3}), 1e-2));
}

TEST(TransformerDecoderLayer, GradientsWithCausalSelfAttentionAndCrossAttention) {
  for (bool pre : {false, true}) {
    Generator g(5);
    nn::TransformerDecoderLayer<double> layer(small_options(pre), g);
    layer.eval();
    auto memory = randn<double>({2, 4, 8}, g);
    nn::AttentionMask<double> self_mask, memory_mask;
    self_mask.causal = true;
    memory_mask.key_lengths = Tensor<std::int64_t>::from({4, 2});
    EXPECT_TRUE(gradcheck_module(layer, randn<double>({2, 3, 8}, g),
                                 [&](const Tensor<double>& y) { return layer.forward(y, memory, self_mask, memory_mask); }));
  }
}

TEST(TransformerDecoderLayer, CausalMaskHidesTheFuture) {
  Generator g(6);
  nn::TransformerDecoderLayer<double> layer(small_options(false), g);
  layer.eval();
  auto memory = randn<double>({1, 2, 8}, g), y = randn<double>({1, 4, 8}, g);
  nn::AttentionMask<double> causal;
  causal.causal = true;
  auto a = layer.forward(y, memory, causal);
  auto y2 = y.clone();
  y2.select(1, 3).fill_(7.0);  // change only the last position
  auto b = layer.forward(y2, memory, causal);
  EXPECT_TRUE(support::allclose(a.slice(1, 0, 3), b.slice(1, 0, 3), 1e-12));
  EXPECT_FALSE(support::allclose(a.select(1, 3), b.select(1, 3), 1e-3));
}

TEST(EncoderDecoder, NamesShapesAndSourcePaddingInvariance) {
  Generator g(7);
  nn::EncoderDecoder<double> model(small_options(false), 2, 2, g);
  model.eval();
  EXPECT_EQ(model.named_parameters().front().first, "encoder.layers.0.self_attn.query.weight");
  EXPECT_EQ(model.named_parameters().back().first, "decoder.layers.1.norm3.bias");
  auto src = randn<double>({1, 4, 8}, g), tgt = randn<double>({1, 3, 8}, g);
  auto src_mask = Tensor<bool>::from({{true, true, false, false}});
  auto out = model.forward(src, tgt, src_mask);
  EXPECT_EQ(out.shape(), (Shape{1, 3, 8}));
  auto src2 = src.clone();
  src2.slice(1, 2, 4).fill_(-3.0);  // padded source positions do not matter
  EXPECT_TRUE(support::allclose(model.forward(src2, tgt, src_mask), out, 1e-12));
  nn::TransformerEncoder<double> pre(small_options(true), 2, g);
  EXPECT_EQ(pre.named_parameters().back().first, "norm.bias");  // pre-LN stacks end in a LayerNorm
}

// Checkpointed stacks: dropout on, the same output and gradients (bits for the encoder; the decoder's
// memory gradient sums its contributions in another order).
TEST(TransformerStacks, GradientCheckpointingGivesTheSameGradients) {
  auto o = small_options(false);
  o.dropout = 0.2;
  o.attention_dropout = 0.1;
  auto run = [&](bool checkpointed) {
    Generator g(3);
    nn::EncoderDecoder<float> model(o, 2, 2, g);
    model.train();
    model.set_gradient_checkpointing(checkpointed);
    EXPECT_EQ(model.encoder()->gradient_checkpointing(), checkpointed);
    EXPECT_EQ(model.decoder()->gradient_checkpointing(), checkpointed);
    Generator data(8);
    auto src = randn<float>({2, 5, 8}, data).requires_grad_(true), tgt = randn<float>({2, 4, 8}, data).requires_grad_(true);
    const auto out = model.forward(src, tgt, Tensor<bool>::from({{true, true, true, true, false}, {true, true, true, true, true}}));
    (out * randn<float>(out.shape(), data)).sum().backward();
    std::vector<Tensor<float>> r{out.detach(), src.grad(), tgt.grad()};
    for (const auto& p : model.parameters()) r.push_back(p.grad());
    return r;
  };
  const auto plain = run(false), ckpt = run(true);
  ASSERT_EQ(plain.size(), ckpt.size());
  EXPECT_EQ(ckpt[0], plain[0]);
  EXPECT_TRUE(support::allclose(ckpt[1], plain[1], 1e-6, 1e-5));  // src: through the decoders' memory
  EXPECT_EQ(ckpt[2], plain[2]);                                   // tgt: one consumer per layer
  for (std::size_t i = 3; i < plain.size(); ++i) EXPECT_TRUE(support::allclose(ckpt[i], plain[i], 1e-6, 1e-5)) << i;
  // The encoder alone has no input with more than two consumers in a layer: the same bits.
  auto encoder_grads = [&](bool checkpointed) {
    Generator g(4);
    nn::TransformerEncoder<float> enc(o, 3, g);
    enc.train();
    enc.set_gradient_checkpointing(checkpointed);
    Generator data(9);
    auto x = randn<float>({2, 6, 8}, data).requires_grad_(true);
    enc.forward(x).pow(2.0f).sum().backward();
    std::vector<Tensor<float>> r{x.grad()};
    for (const auto& p : enc.parameters()) r.push_back(p.grad());
    return r;
  };
  const auto e0 = encoder_grads(false), e1 = encoder_grads(true);
  for (std::size_t i = 0; i < e0.size(); ++i) EXPECT_EQ(e1[i], e0[i]) << i;
}

}  // namespace
}  // namespace foundry
