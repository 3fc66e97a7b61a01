// tests/ops/matmul_test.cpp mirrors include/foundry/ops/matmul.hpp and linear.hpp
#include "support/testing.hpp"

namespace foundry {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// Reference product by triple loop, for any layout.
Tensor<double> naive_matmul(const Tensor<double>& a, const Tensor<double>& b) {
  Tensor<double> c = zeros<double>({a.size(0), b.size(1)});
  for (Index i = 0; i < a.size(0); ++i)
    for (Index j = 0; j < b.size(1); ++j)
      for (Index k = 0; k < a.size(1); ++k) c.at({i, j}) += a.at({i, k}) * b.at({k, j});
  return c;
}

TEST(Matmul, HandWorkedValue) {
  auto a = Tensor<double>::from({{1, 2}, {3, 4}}), b = Tensor<double>::from({{5, 6}, {7, 8}});
  EXPECT_EQ(matmul(a, b), Tensor<double>::from({{19, 22}, {43, 50}}));
  EXPECT_EQ(matmul(a, Tensor<double>::from({1, 1})), Tensor<double>::from({3, 7}));
  EXPECT_EQ(matmul(Tensor<double>::from({1, 1}), b), Tensor<double>::from({12, 14}));
  EXPECT_EQ(matmul(Tensor<double>::from({1, 2}), Tensor<double>::from({3, 4})).item(), 11);
}

TEST(Matmul, EveryLayoutOfOperandsMatchesNaive) {
  Generator rng(3);
  auto a = support::random_tensor<double>({5, 7}, rng), b = support::random_tensor<double>({7, 4}, rng);
  auto at = support::random_tensor<double>({7, 5}, rng).t(), bt = support::random_tensor<double>({4, 7}, rng).t();
  auto as = support::random_tensor<double>({5, 14}, rng).slice(1, 0, 14, 2);  // neither stride is 1: copied
  for (const auto& x : {a, at, as})
    for (const auto& y : {b, bt}) EXPECT_TRUE(support::allclose(matmul(x, y), naive_matmul(x, y), 1e-12));
}

// Products above ~4 MFLOP run as one independent GEMM per thread over blocks of the result's rows
// (or columns, when it is wide and short); values and gradients match the naive product.
TEST(Matmul, ProductsSplitAcrossThreadsMatchNaive) {
  const int threads = get_num_threads();
  set_num_threads(2);
  Generator rng(5);
  auto tall = support::random_tensor<double>({160, 130}, rng), b = support::random_tensor<double>({130, 110}, rng);  // by rows
  auto wide = support::random_tensor<double>({40, 300}, rng).requires_grad_(true);
  auto w = support::random_tensor<double>({400, 300}, rng).requires_grad_(true);  // used as wᵀ: column-major
  EXPECT_TRUE(support::allclose(matmul(tall, b), naive_matmul(tall, b), 1e-12));
  EXPECT_TRUE(support::allclose(matmul(tall.t().contiguous().t(), b), naive_matmul(tall, b), 1e-12));
  auto y = matmul(wide, w.t());  // [40, 400]: split by columns
  EXPECT_TRUE(support::allclose(y, naive_matmul(wide, w.t()), 1e-12));
  auto g = support::random_tensor<double>({40, 400}, rng);
  y.backward(g);
  EXPECT_TRUE(support::allclose(wide.grad(), naive_matmul(g, w), 1e-12));       // [40, 300] = g·w
  EXPECT_TRUE(support::allclose(w.grad(), naive_matmul(g.t(), wide), 1e-12));   // [400, 300] = gᵀ·x
  set_num_threads(threads);
}

TEST(Matmul, BatchedWithBroadcastBatchAxes) {
  Generator rng(4);
  auto a = support::random_tensor<double>({2, 1, 3, 4}, rng), b = support::random_tensor<double>({3, 4, 5}, rng);
  auto c = matmul(a, b);
  ASSERT_EQ(c.shape(), (Shape{2, 3, 3, 5}));
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 3; ++j)
      EXPECT_TRUE(support::allclose(c.select(0, i).select(0, j), naive_matmul(a.select(0, i).select(0, 0), b.select(0, j)), 1e-12));
  auto folded = matmul(a.squeeze(1), b.select(0, 1));  // [2, 3, 4]·[4, 5]: one folded GEMM
  EXPECT_TRUE(support::allclose(folded.select(0, 1), naive_matmul(a.select(0, 1).select(0, 0), b.select(0, 1)), 1e-12));
}

TEST(Matmul, GradientsMatchFiniteDifferences) {
  Generator rng(5);
  auto mm = [](const Tensor<double>& x, const Tensor<double>& y) { return matmul(x, y); };
  EXPECT_TRUE(gradcheck(mm, support::random_tensor<double>({3, 4}, rng), support::random_tensor<double>({4, 2}, rng)));
  EXPECT_TRUE(gradcheck(mm, support::random_tensor<double>({4, 3}, rng).t(), support::random_tensor<double>({2, 4}, rng).t()));
  EXPECT_TRUE(gradcheck(mm, support::random_tensor<double>({4}, rng), support::random_tensor<double>({4, 2}, rng)));
  EXPECT_TRUE(gradcheck(mm, support::random_tensor<double>({3, 4}, rng), support::random_tensor<double>({4}, rng)));
  EXPECT_TRUE(gradcheck(mm, support::random_tensor<double>({4}, rng), support::random_tensor<double>({4}, rng)));
  EXPECT_TRUE(gradcheck(mm, support::random_tensor<double>({2, 3, 4}, rng), support::random_tensor<double>({4, 2}, rng)));
  EXPECT_TRUE(gradcheck(mm, support::random_tensor<double>({2, 1, 3, 4}, rng), support::random_tensor<double>({3, 4, 2}, rng)));
  EXPECT_TRUE(gradcheck(mm, support::random_tensor<double>({3, 4}, rng), support::random_tensor<double>({2, 4, 5}, rng)));
  // attention-like: k transposed as a view
  auto k = support::random_tensor<double>({2, 5, 3}, rng);
  EXPECT_TRUE(gradcheck(mm, support::random_tensor<double>({2, 4, 3}, rng), k.transpose(1, 2)));
}

TEST(Matmul, MismatchNamesBothShapes) {
  auto a = zeros<float>({2, 3}), b = zeros<float>({4, 5});
  EXPECT_THAT([&] { matmul(a, b); }, ThrowsMessage<ShapeError>(HasSubstr("matmul: cannot multiply [2, 3] by [4, 5]")));
  EXPECT_THAT([&] { matmul(zeros<float>({2, 2, 3}), zeros<float>({3, 3, 2})); },
              ThrowsMessage<ShapeError>(HasSubstr("matmul: shapes [2] and [3] cannot be broadcast")));
  EXPECT_THAT([&] { matmul(scalar_tensor(1.f), b); }, ThrowsMessage<ShapeError>(HasSubstr("at least 1 dimension")));
}

TEST(Linear, MatchesHandWorkedValue) {
  auto y = linear(Tensor<double>::from({{1, 2}}), Tensor<double>::from({{3, 4}, {5, 6}}), Tensor<double>::from({10, 20}));
  EXPECT_EQ(y, Tensor<double>::from({{21, 37}}));
  auto y3 = linear(Tensor<double>::from({{{1, 2}}, {{0, 1}}}), Tensor<double>::from({{3, 4}, {5, 6}}));
  EXPECT_EQ(y3, Tensor<double>::from({{{11, 17}}, {{4, 6}}}));
}

TEST(Linear, GradientsMatchFiniteDifferences) {
  Generator rng(7);
  auto x = support::random_tensor<double>({3, 4}, rng), w = support::random_tensor<double>({2, 4}, rng);
  EXPECT_TRUE(gradcheck(ops::linear<double>, x, w, support::random_tensor<double>({2}, rng)));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& a, const Tensor<double>& b) { return linear(a, b); },
                        support::random_tensor<double>({2, 3, 4}, rng), w));
  auto xt = support::random_tensor<double>({4, 3, 2}, rng).permute({2, 1, 0});  // non-contiguous [2, 3, 4]
  auto wt = support::random_tensor<double>({4, 2}, rng).t();
  EXPECT_TRUE(gradcheck(ops::linear<double>, xt, wt, support::random_tensor<double>({2}, rng)));
}

TEST(Linear, MismatchNamesOpAndBothShapes) {
  auto x = zeros<double>({3, 4}), w = zeros<double>({2, 5}), b = zeros<double>({2});
  EXPECT_THAT([&] { linear(x, w, b); }, ThrowsMessage<ShapeError>(::testing::StrEq(
      "linear: x axis 1 (4) must equal weight axis 1 (5); x is [3, 4], weight is [2, 5]")));
  EXPECT_THAT([&] { linear(zeros<double>({3, 5}), w, zeros<double>({3})); },
              ThrowsMessage<ShapeError>(HasSubstr("linear: bias must be [2] for weight [2, 5], got [3]")));
}

TEST(Linear, FloatMatchesDoubleOnLargerShapes) {
  Generator rng(9);
  auto x = support::random_tensor<double>({64, 96}, rng), w = support::random_tensor<double>({48, 96}, rng);
  auto b = support::random_tensor<double>({48}, rng);
  auto yd = linear(x, w, b);
  auto yf = linear(x.to<float>(), w.to<float>(), b.to<float>());
  EXPECT_TRUE(support::allclose(yf.to<double>(), yd, 1e-4, 1e-4));
}

// linear_of_gelu(z, w, b) is linear(gelu(z), w, b) keeping only z: finite differences in double for both
// GELU forms, and in float the same bits as the composition, forward and every gradient (the same
// kernels run in the same order; only when gelu(z) is computed differs).
TEST(LinearOfGelu, GradientsMatchFiniteDifferences) {
  Generator rng(11);
  for (auto approx : {GeluApproximation::kNone, GeluApproximation::kTanh}) {
    auto fn = [approx](const Tensor<double>& z, const Tensor<double>& w, const Tensor<double>& b) {
      return ops::linear_of_gelu(z, w, b, approx);
    };
    EXPECT_TRUE(gradcheck(fn, support::random_tensor<double>({2, 3, 4}, rng), support::random_tensor<double>({5, 4}, rng),
                          support::random_tensor<double>({5}, rng)));
    auto zt = support::random_tensor<double>({4, 3}, rng).t();  // non-contiguous z, transposed weight
    EXPECT_TRUE(gradcheck(fn, zt, support::random_tensor<double>({4, 2}, rng).t(), support::random_tensor<double>({2}, rng)));
  }
}

TEST(LinearOfGelu, SameBitsAsTheComposition) {
  Generator rng(12);
  for (auto approx : {GeluApproximation::kNone, GeluApproximation::kTanh}) {
    const auto z0 = randn<float>({3, 40, 96}, rng), w0 = randn<float>({64, 96}, rng), b0 = randn<float>({64}, rng);
    const auto g = randn<float>({3, 40, 64}, rng);
    Tensor<float> grads[2][3], ys[2];
    for (int fused = 0; fused < 2; ++fused) {
      auto z = z0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true), b = b0.clone().requires_grad_(true);
      const auto zz = z * 1.0f;  // a non-leaf z, as in a network
      ys[fused] = fused ? ops::linear_of_gelu(zz, w, b, approx) : linear(gelu(zz, approx), w, b);
      ys[fused].backward(g);
      grads[fused][0] = z.grad(), grads[fused][1] = w.grad(), grads[fused][2] = b.grad();
    }
    EXPECT_EQ(ys[1], ys[0]);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(grads[1][i], grads[0][i]) << "gradient " << i;
  }
  EXPECT_THAT([] { ops::linear_of_gelu(zeros<float>({3, 4}), zeros<float>({2, 5})); },
              ThrowsMessage<ShapeError>(HasSubstr("linear_of_gelu: x axis 1 (4) must equal weight axis 1 (5)")));
}

}  // namespace
}  // namespace foundry
