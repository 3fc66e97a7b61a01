// tests/ops/attention_test.cpp mirrors include/foundry/ops/attention.hpp
#include "support/testing.hpp"

namespace foundry {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// softmax(q·kᵀ·scale + bias, keys masked) · v composed from separate ops, as the reference.
Tensor<double> naive_attention(const Tensor<double>& q, const Tensor<double>& k, const Tensor<double>& v,
                               const Tensor<bool>& keep /* [B, H, Sq, Sk] or undefined */, const Tensor<double>& bias = {}) {
  Tensor<double> s = matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  if (bias.defined()) s = s + bias;
  if (keep.defined()) s = masked_fill(s, logical_not(keep), -1e30);
  return matmul(softmax(s, -1), v);
}

struct Qkv {
  Tensor<double> q, k, v;
};
Qkv random_qkv(Generator& g, Index B, Index H, Index Sq, Index Sk, Index D) {
  return {randn<double>({B, H, Sq, D}, g), randn<double>({B, H, Sk, D}, g), randn<double>({B, H, Sk, D}, g)};
}

TEST(Attention, MatchesComposedOpsWithoutMask) {
  Generator g(1);
  auto [q, k, v] = random_qkv(g, 2, 3, 4, 5, 6);
  EXPECT_TRUE(support::allclose(scaled_dot_product_attention(q, k, v), naive_attention(q, k, v, {}), 1e-12));
}

TEST(Attention, KeyPaddingMaskAndLengthsAgree) {
  Generator g(2);
  auto [q, k, v] = random_qkv(g, 2, 2, 3, 4, 5);
  AttentionOptions<double> by_mask, by_len;
  by_mask.key_mask = Tensor<bool>::from({{true, true, true, true}, {true, true, false, false}});
  by_len.key_lengths = Tensor<std::int64_t>::from({4, 2});
  auto keep = by_mask.key_mask.reshape({2, 1, 1, 4}).expand({2, 2, 3, 4});
  auto expected = naive_attention(q, k, v, keep);
  EXPECT_TRUE(support::allclose(scaled_dot_product_attention(q, k, v, by_mask), expected, 1e-12));
  EXPECT_TRUE(support::allclose(scaled_dot_product_attention(q, k, v, by_len), expected, 1e-12));
  // Padded keys carry exactly zero probability.
  auto w = scaled_dot_product_attention_with_weights(q, k, v, by_mask).weights;
  EXPECT_EQ(w.at({1, 0, 2, 3}), 0.0);
  EXPECT_NEAR(w.select(0, 1).sum({-1}).mean().item(), 1.0, 1e-12);
}

TEST(Attention, CausalMaskAlignsToTheEndForCachedPrefixes) {
  Generator g(3);
  auto [q, k, v] = random_qkv(g, 1, 2, 2, 5, 4);  // 2 new queries over 5 keys: query i sees keys <= i + 3
  AttentionOptions<double> opt;
  opt.causal = true;
  auto keep = Tensor<bool>::from({{true, true, true, true, false}, {true, true, true, true, true}}).expand({1, 2, 2, 5});
  EXPECT_TRUE(support::allclose(scaled_dot_product_attention(q, k, v, opt), naive_attention(q, k, v, keep), 1e-12));
}

TEST(Attention, AdditiveBiasBroadcasts) {
  Generator g(4);
  auto [q, k, v] = random_qkv(g, 2, 2, 3, 3, 4);
  AttentionOptions<double> opt;
  opt.bias = randn<double>({1, 2, 3, 3}, g);
  EXPECT_TRUE(support::allclose(scaled_dot_product_attention(q, k, v, opt), naive_attention(q, k, v, {}, opt.bias), 1e-12));
}

TEST(Attention, FullyMaskedRowsGiveZerosNotNaN) {
  Generator g(5);
  auto [q, k, v] = random_qkv(g, 2, 1, 3, 3, 2);
  q.requires_grad_(true);
  AttentionOptions<double> opt;
  opt.key_mask = Tensor<bool>::from({{true, true, true}, {false, false, false}});
  auto out = scaled_dot_product_attention(q, k, v, opt);
  EXPECT_EQ(out.select(0, 1).contiguous(), zeros<double>({1, 3, 2}));
  out.sum().backward();
  for (double x : q.grad().to_vector()) EXPECT_TRUE(std::isfinite(x));
}

TEST(Attention, GradientsMatchFiniteDifferencesWithMasks) {
  Generator g(6);
  auto [q, k, v] = random_qkv(g, 2, 2, 3, 4, 3);
  auto bias = randn<double>({2, 1, 3, 4}, g);
  auto run = [](AttentionOptions<double> opt) {
    return [opt](const Tensor<double>& a, const Tensor<double>& b, const Tensor<double>& c) {
      return scaled_dot_product_attention(a, b, c, opt);
    };
  };
  AttentionOptions<double> padded, causal;
  padded.key_mask = Tensor<bool>::from({{true, true, true, false}, {true, false, true, true}});
  causal.causal = true;
  causal.key_lengths = Tensor<std::int64_t>::from({4, 3});
  EXPECT_TRUE(gradcheck(run(padded), q, k, v));
  EXPECT_TRUE(gradcheck(run(causal), q, k, v));
  EXPECT_TRUE(gradcheck(
      [&](const Tensor<double>& a, const Tensor<double>& b, const Tensor<double>& c, const Tensor<double>& bb) {
        AttentionOptions<double> opt;
        opt.bias = bb;
        return scaled_dot_product_attention(a, b, c, opt);
      },
      q, k, v, bias));
  // Strided heads, as MultiHeadAttention passes them: [B, S, H, D] permuted to [B, H, S, D].
  auto qs = randn<double>({2, 3, 2, 3}, g).permute({0, 2, 1, 3}), ks = randn<double>({2, 4, 2, 3}, g).permute({0, 2, 1, 3});
  EXPECT_TRUE(gradcheck(run(padded), qs, ks, v));
}

TEST(Attention, DropoutIsSeededAndBackwardReplaysTheSameMask) {
  Generator g(7);
  auto [q, k, v] = random_qkv(g, 1, 2, 4, 4, 3);
  auto with_dropout = [](const Tensor<double>& a, const Tensor<double>& b, const Tensor<double>& c) {
    Generator gen(99);  // same mask on every call
    AttentionOptions<double> opt;
    opt.dropout = 0.3;
    opt.generator = &gen;
    return scaled_dot_product_attention(a, b, c, opt);
  };
  EXPECT_EQ(with_dropout(q, k, v), with_dropout(q, k, v));
  EXPECT_FALSE(with_dropout(q, k, v) == scaled_dot_product_attention(q, k, v));
  EXPECT_TRUE(gradcheck(with_dropout, q, k, v));
}

// scaled_dot_product_attention keeps no probabilities and recomputes them in backward; the
// _with_weights form keeps them. Same output and gradients, bit for bit, with every option on.
TEST(Attention, RecomputedProbabilitiesGiveTheSameBitsAsKeptOnes) {
  Generator g(8);
  const auto q0 = randn<float>({2, 3, 40, 16}, g), k0 = randn<float>({2, 3, 48, 16}, g), v0 = randn<float>({2, 3, 48, 8}, g);
  const auto bias0 = randn<float>({1, 3, 40, 48}, g);
  const auto key_mask = Tensor<bool>::ones({2, 48});
  key_mask.data()[48 + 40] = false, key_mask.data()[48 + 47] = false;
  const auto grad_out = randn<float>({2, 3, 40, 8}, g);
  for (bool causal : {false, true}) {
    Tensor<float> outs[2], grads[2][4];
    for (int kept = 0; kept < 2; ++kept) {
      const auto q = q0.clone().requires_grad_(), k = k0.clone().requires_grad_(), v = v0.clone().requires_grad_(),
                 bias = bias0.clone().requires_grad_();
      Generator gen(5);
      AttentionOptions<float> opt;
      opt.key_mask = key_mask;
      opt.causal = causal;
      opt.bias = bias;
      opt.dropout = 0.2;
      opt.generator = &gen;
      outs[kept] = kept ? scaled_dot_product_attention_with_weights(q, k, v, opt).output : scaled_dot_product_attention(q, k, v, opt);
      outs[kept].backward(grad_out);
      grads[kept][0] = q.grad(), grads[kept][1] = k.grad(), grads[kept][2] = v.grad(), grads[kept][3] = bias.grad();
    }
    EXPECT_EQ(outs[0], outs[1]) << causal;
    for (int i = 0; i < 4; ++i) EXPECT_EQ(grads[0][i], grads[1][i]) << "gradient " << i << ", causal " << causal;
  }
}

TEST(Attention, OutputAloneKeepsNoProbabilityTensor) {
  if (!detail::kBufferCacheEnabled) GTEST_SKIP() << "buffer accounting is off under AddressSanitizer";
  Generator g(9);
  const auto q = randn<float>({2, 4, 128, 32}, g).requires_grad_(), k = randn<float>({2, 4, 128, 32}, g).requires_grad_(),
             v = randn<float>({2, 4, 128, 32}, g).requires_grad_();
  const std::size_t probs_bytes = 2 * 4 * 128 * 128 * sizeof(float);  // 512 KiB
  auto held_after_forward = [&](bool with_weights) {
    const std::size_t before = buffer_bytes_in_use();
    Tensor<float> out = with_weights ? scaled_dot_product_attention_with_weights(q, k, v).output : scaled_dot_product_attention(q, k, v);
    return buffer_bytes_in_use() - before;  // the output and what its graph node holds
  };
  const std::size_t kept = held_after_forward(true), recomputed = held_after_forward(false);
  EXPECT_EQ(kept - recomputed, probs_bytes);
}

TEST(Attention, BadShapesNameEveryOperand) {
  auto q = zeros<float>({2, 4, 3, 8}), k = zeros<float>({2, 4, 5, 8}), v = zeros<float>({2, 4, 5, 8});
  EXPECT_THAT([&] { scaled_dot_product_attention(q, zeros<float>({2, 4, 5, 7}), v); },
              ThrowsMessage<ShapeError>(HasSubstr("q [2, 4, 3, 8], k [2, 4, 5, 7] and v [2, 4, 5, 8] disagree")));
  EXPECT_THAT([&] { scaled_dot_product_attention(q.select(0, 0), k, v); }, ThrowsMessage<ShapeError>(HasSubstr("must be [B, H, S, D]")));
  AttentionOptions<float> opt;
  opt.key_mask = Tensor<bool>::zeros({2, 4});
  EXPECT_THAT([&] { scaled_dot_product_attention(q, k, v, opt); }, ThrowsMessage<ShapeError>(HasSubstr("key_mask must be [B, Sk] = [2, 5], got [2, 4]")));
  AttentionOptions<float> len;
  len.key_lengths = Tensor<std::int64_t>::from({5, 6});
  EXPECT_THAT([&] { scaled_dot_product_attention(q, k, v, len); }, ThrowsMessage<ValueError>(HasSubstr("key_lengths[1] = 6 outside [0, 5]")));
}

}  // namespace
}  // namespace foundry
