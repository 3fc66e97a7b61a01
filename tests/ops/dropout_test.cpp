// tests/ops/dropout_test.cpp mirrors include/foundry/ops/dropout.hpp
#include "foundry/ops/dropout.hpp"

#include <cmath>

#include "support/testing.hpp"

namespace foundry {
namespace {

using support::allclose;
using support::random_tensor;
using ::testing::ThrowsMessage;

TEST(DropoutOp, IdentityInEvalModeAndForZeroP) {
  Generator rng(1);
  const auto x = random_tensor<double>({3, 4}, rng).requires_grad_();
  Generator gen(5);
  EXPECT_TRUE(ops::dropout(x, 0.5, false, gen).same(x));
  EXPECT_TRUE(ops::dropout(x, 0.0, true, gen).same(x));
  EXPECT_EQ(gen.offset(), 0u);  // nothing drawn
}

TEST(DropoutOp, POneGivesZerosAndZeroGradient) {
  Generator rng(2);
  const auto x = random_tensor<double>({2, 3}, rng).requires_grad_();
  const auto y = ops::dropout(x, 1.0);
  EXPECT_EQ(y.detach(), Tensor<double>::zeros({2, 3}));
  y.backward(Tensor<double>::ones({2, 3}));
  EXPECT_EQ(x.grad(), Tensor<double>::zeros({2, 3}));
}

TEST(DropoutOp, KeptElementsAreScaledAndTheRestZero) {
  const auto x = Tensor<float>::full({1000}, 2.0f);
  Generator gen(3);
  const auto y = ops::dropout(x, 0.2, true, gen);
  int kept = 0;
  for (float v : y.to_vector()) {
    EXPECT_TRUE(v == 0.0f || v == 2.0f / 0.8f) << v;
    kept += v != 0.0f;
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 1000);
  EXPECT_EQ(gen.offset(), 250u);  // one Philox block per four elements
}

TEST(DropoutOp, DeterministicForASeed) {
  Generator rng(4);
  const auto x = random_tensor<float>({17, 33}, rng);
  Generator a(42), b(42), c(43);
  const auto ya = ops::dropout(x, 0.5, true, a), yb = ops::dropout(x, 0.5, true, b), yc = ops::dropout(x, 0.5, true, c);
  EXPECT_EQ(ya, yb);
  EXPECT_NE(ya.to_vector(), yc.to_vector());
  // The generator moves on: a second draw from it gives a different mask.
  EXPECT_NE(ops::dropout(x, 0.5, true, a).to_vector(), ya.to_vector());
  // The global generator is reproducible through manual_seed.
  manual_seed(42);
  EXPECT_EQ(ops::dropout(x, 0.5), ya);
}

TEST(DropoutOp, SameMaskForOneAndTwoThreads) {
  Generator rng(6);
  const auto x = random_tensor<float>({512, 300}, rng);  // enough elements to fork
  const int saved = get_num_threads();
  auto run = [&](int threads) {
    set_num_threads(threads);
    Generator gen(7);
    const auto xr = x.clone_data().requires_grad_();
    const auto y = ops::dropout(xr, 0.3, true, gen);
    y.backward(Tensor<float>::ones(x.shape()));
    return std::pair{y.detach(), xr.grad()};
  };
  const auto [y1, g1] = run(1);
  const auto [y2, g2] = run(2);
  set_num_threads(saved);
  EXPECT_EQ(y1, y2);
  EXPECT_EQ(g1, g2);
}

TEST(DropoutOp, KeepFractionIsCloseToOneMinusP) {
  const Index n = 1 << 20;
  const auto x = Tensor<float>::ones({n});
  for (double p : {0.1, 0.5, 0.9}) {
    Generator gen(11);
    const auto y = ops::dropout(x, p, true, gen);
    Index kept = 0;
    double total = 0;
    for (Index i = 0; i < n; ++i) {
      kept += y.data()[i] != 0.0f;
      total += y.data()[i];
    }
    const double frac = static_cast<double>(kept) / n, sigma = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(frac, 1 - p, 5 * sigma) << "p = " << p;
    // Inverted dropout preserves the expectation: mean(y) ≈ mean(x) = 1.
    EXPECT_NEAR(total / n, 1.0, 5 * sigma / (1 - p)) << "p = " << p;
  }
}

TEST(DropoutOp, GradientIsTheScaledMask) {
  Generator rng(12);
  const auto x = random_tensor<double>({40, 70}, rng).requires_grad_();
  const auto gy = random_tensor<double>({40, 70}, rng);
  Generator gen(13);
  const auto y = ops::dropout(x, 0.25, true, gen);
  y.backward(gy);
  const auto yv = y.detach().to_vector(), xv = x.detach().to_vector(), gv = gy.to_vector(), gx = x.grad().to_vector();
  for (std::size_t i = 0; i < yv.size(); ++i) {
    const bool kept = yv[i] != 0.0;
    EXPECT_DOUBLE_EQ(yv[i], kept ? xv[i] / 0.75 : 0.0);
    EXPECT_DOUBLE_EQ(gx[i], kept ? gv[i] / 0.75 : 0.0);
  }
}

TEST(DropoutOp, GradientsMatchFiniteDifferencesWithAFixedMask) {
  Generator rng(14);
  // A fresh Generator(seed) per call: every evaluation of the function draws the same mask.
  const auto fn = [](const Tensor<double>& x) {
    Generator gen(99);
    return ops::dropout(x, 0.4, true, gen);
  };
  EXPECT_TRUE(gradcheck(fn, random_tensor<double>({5, 6}, rng)));
  EXPECT_TRUE(gradcheck(fn, random_tensor<double>({6, 5}, rng).t()));  // non-contiguous input
}

TEST(DropoutOp, NonContiguousInputUsesRowMajorOrder) {
  Generator rng(15);
  const auto base = random_tensor<float>({8, 9}, rng);
  Generator a(3), b(3);
  EXPECT_EQ(ops::dropout(base.t(), 0.5, true, a), ops::dropout(base.t().clone_data(), 0.5, true, b));
}

TEST(DropoutOp, PoutsideUnitIntervalIsAValueError) {
  const auto x = Tensor<float>::ones({4});
  EXPECT_THAT([&] { ops::dropout(x, 1.5); }, ThrowsMessage<ValueError>(testing::StrEq("dropout: p must be in [0, 1], got 1.5")));
  EXPECT_THAT([&] { ops::dropout(x, -0.1, false); }, ThrowsMessage<ValueError>(testing::StrEq("dropout: p must be in [0, 1], got -0.1")));
  EXPECT_THAT([&] { ops::dropout(x, std::nan("")); }, ThrowsMessage<ValueError>(testing::HasSubstr("dropout: p must be in [0, 1], got nan")));
}

}  // namespace
}  // namespace foundry
