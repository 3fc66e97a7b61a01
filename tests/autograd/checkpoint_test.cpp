// tests/autograd/checkpoint_test.cpp mirrors include/foundry/autograd/checkpoint.hpp
#include "support/testing.hpp"

namespace foundry {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// A block with parameters, dropout and an input used twice (residual): y = x + dropout(gelu(x·w1ᵀ)·w2ᵀ).
template <class T>
struct Block {
  Tensor<T> w1, w2;
  Generator* gen;
  double p;
  Tensor<T> operator()(const Tensor<T>& x) const { return x + dropout(linear(gelu(linear(x, w1)), w2), p, true, *gen); }
};

template <class T>
struct Grads {
  Tensor<T> x, w1, w2;
  Tensor<T> y;
};

// Two blocks in a row, the first and second checkpointed or not; loss = Σ y·r.
template <class T>
Grads<T> run(bool checkpointed, double p) {
  Generator init(3);
  auto x = randn<T>({3, 5, 8}, init).requires_grad_(true);
  auto w1 = randn<T>({16, 8}, init).requires_grad_(true);
  auto w2 = randn<T>({8, 16}, init).requires_grad_(true);
  const auto r = randn<T>({3, 5, 8}, init);
  Generator gen(11);
  const Block<T> block{w1, w2, &gen, p};
  Tensor<T> h = x;
  for (int i = 0; i < 2; ++i)
    h = checkpointed ? checkpoint<T>([block](const std::vector<Tensor<T>>& in) { return block(in[0]); }, {h}, {&gen}) : block(h);
  (h * r).sum().backward();
  return {x.grad(), w1.grad(), w2.grad(), h.detach()};
}

TEST(Checkpoint, SameBitsAsWithoutWithDropout) {
  const auto plain = run<float>(false, 0.3), ckpt = run<float>(true, 0.3);
  EXPECT_EQ(ckpt.y, plain.y);
  EXPECT_EQ(ckpt.x, plain.x);
  EXPECT_EQ(ckpt.w1, plain.w1);
  EXPECT_EQ(ckpt.w2, plain.w2);
  // The dropout really drew masks: without dropout the gradient differs.
  EXPECT_NE(run<float>(true, 0.0).w1, ckpt.w1);
}

TEST(Checkpoint, FiniteDifferencesThroughTheRecomputation) {
  Generator init(5);
  const auto w = randn<double>({6, 4}, init).requires_grad_(true);
  const auto x = randn<double>({3, 4}, init).requires_grad_(true);
  auto f = [&w](const Tensor<double>& a) {
    const Tensor<double> wt = w;
    return checkpoint<double>([wt](const std::vector<Tensor<double>>& in) { return tanh(linear(in[0], wt)) * in[0].sum(); }, {a});
  };
  EXPECT_TRUE(gradcheck([&](const Tensor<double>& a) { return f(a).pow(2.0).sum(); }, x));
  // And the parameter's gradient, which flows through the recomputed graph, as a leaf.
  auto g = [&x](const Tensor<double>& wv) {
    return checkpoint<double>([wv](const std::vector<Tensor<double>>& in) { return tanh(linear(in[0], wv)); }, {x.detach()}).pow(2.0).sum();
  };
  EXPECT_TRUE(gradcheck(g, w));
}

TEST(Checkpoint, GeneratorIsPutBackAfterTheRecomputation) {
  Generator gen(7);
  auto x = randn<float>({64}, gen).requires_grad_(true);
  auto y = checkpoint<float>([&gen](const std::vector<Tensor<float>>& in) { return dropout(in[0], 0.5, true, gen); }, {x}, {&gen});
  const std::uint64_t after_forward = gen.offset();
  const float next = gen.uniform();  // a draw between forward and backward
  const std::uint64_t before_backward = gen.offset();
  y.sum().backward();
  EXPECT_EQ(gen.offset(), before_backward);
  EXPECT_GT(after_forward, 0u);
  EXPECT_NE(next, 0.0f);
  // The recomputed mask is forward's: the gradient is 2 where y kept x, 0 where it dropped it.
  for (Index i = 0; i < 64; ++i) EXPECT_EQ(x.grad().data()[i], y.data()[i] != 0.0f ? 2.0f : 0.0f) << i;
}

TEST(Checkpoint, HoldsOnlyInputsAndOutputBetweenForwardAndBackward) {
  if (!detail::kBufferCacheEnabled) GTEST_SKIP() << "buffer accounting is off under AddressSanitizer";
  Generator g(1);
  auto w = randn<float>({1024, 256}, g).requires_grad_(true);
  const auto x = randn<float>({64, 256}, g).requires_grad_(true);
  // Four [64, 1024] intermediates that a plain graph keeps for backward (1 MiB in all).
  auto body = [w](const Tensor<float>& a) { return tanh(tanh(tanh(tanh(linear(a, w))))).sum(Shape{1}); };
  const std::size_t base = buffer_bytes_in_use();
  std::size_t plain_held = 0, ckpt_held = 0;
  {
    auto y = body(x);
    plain_held = buffer_bytes_in_use() - base;
  }
  {
    auto y = checkpoint<float>([body](const std::vector<Tensor<float>>& in) { return body(in[0]); }, {x});
    ckpt_held = buffer_bytes_in_use() - base;
    y.sum().backward();
  }
  EXPECT_GE(plain_held, 4u * 64 * 1024 * sizeof(float));
  EXPECT_LE(ckpt_held, 64 * sizeof(float) + 1024);  // the output (64 floats), nothing of the graph
  EXPECT_TRUE(w.grad().defined());
}

TEST(Checkpoint, NoGradModeAndNoGradientsNeededJustRunTheFunction) {
  Generator g(2);
  const auto x = randn<float>({4, 4}, g);
  int calls = 0;
  auto fn = [&calls](const std::vector<Tensor<float>>& in) {
    ++calls;
    return in[0] * 2.0f;
  };
  EXPECT_FALSE(checkpoint<float>(fn, {x}).requires_grad());
  {
    NoGradGuard guard;
    EXPECT_EQ(checkpoint<float>(fn, {x.detach().requires_grad_(true)}), x * 2.0f);
  }
  EXPECT_EQ(calls, 2);
}

TEST(Checkpoint, CheckpointIfSwitchesBetweenCheckpointAndAPlainCall) {
  Generator g(4);
  auto w = randn<float>({4, 4}, g).requires_grad_(true);
  int calls = 0;
  auto fn = [&calls, w](const std::vector<Tensor<float>>& in) {
    ++calls;
    return matmul(in[0], w);
  };
  const auto x = randn<float>({3, 4}, g);
  const auto plain = checkpoint_if<float>(false, fn, {x});
  const auto ckpt = checkpoint_if<float>(true, fn, {x});
  EXPECT_EQ(ckpt, plain);
  ASSERT_TRUE(plain.grad_fn() && ckpt.grad_fn());
  EXPECT_STRNE(plain.grad_fn()->name(), "checkpoint");
  EXPECT_STREQ(ckpt.grad_fn()->name(), "checkpoint");
  EXPECT_EQ(calls, 2);
  ckpt.sum().backward();  // the recomputation: a third call
  EXPECT_EQ(calls, 3);
  const auto g_ckpt = w.grad().clone();
  w.zero_grad();
  plain.sum().backward();
  EXPECT_EQ(w.grad(), g_ckpt);
  EXPECT_EQ(calls, 3);
}

TEST(Checkpoint, RetainGraphRecomputesEachTime) {
  Generator g(3);
  auto x = randn<double>({5}, g).requires_grad_(true);
  auto y = checkpoint<double>([](const std::vector<Tensor<double>>& in) { return (in[0] * in[0]).sum(); }, {x});
  y.backward({}, /*retain_graph=*/true);
  y.backward();
  for (Index i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ(x.grad().data()[i], 4 * x.data()[i]);
}

TEST(Checkpoint, ANonDeterministicFunctionIsNamed) {
  Generator g(4);
  auto x = randn<float>({6}, g).requires_grad_(true);
  int calls = 0;
  auto y = checkpoint<float>([&calls](const std::vector<Tensor<float>>& in) { return in[0].slice(0, 0, ++calls + 2); }, {x});
  EXPECT_THAT([&] { y.sum().backward(); },
              ThrowsMessage<AutogradError>(HasSubstr("checkpoint: the recomputation gave shape [4], forward gave [3]")));
  EXPECT_THAT([] { checkpoint<float>([](const std::vector<Tensor<float>>& in) { return in[0]; }, {Tensor<float>()}); },
              ThrowsMessage<ValueError>(HasSubstr("checkpoint: input 0 is undefined")));
}

TEST(Checkpoint, AnInputChangedInPlaceBeforeBackwardIsCaught) {
  Generator g(5);
  auto w = randn<float>({3, 3}, g).requires_grad_(true);
  auto x = randn<float>({2, 3}, g);
  auto y = checkpoint<float>([w](const std::vector<Tensor<float>>& in) { return linear(in[0], w); }, {x});
  x.fill_(1.0f);
  EXPECT_THAT([&] { y.sum().backward(); }, ThrowsMessage<AutogradError>(HasSubstr("modified by an in-place operation")));
}

}  // namespace
}  // namespace foundry
