// tests/ops/elementwise_test.cpp mirrors include/foundry/ops/elementwise.hpp: arithmetic with
// broadcasting, powers and logs, clamp/where/masked_fill, the in-place forms and the operators.
#include <cmath>
#include <limits>
#include <type_traits>

#include "foundry/ops/elementwise.hpp"
#include "support/fixtures.hpp"
#include "support/testing.hpp"

namespace foundry {
namespace {

using ::testing::HasSubstr;
using ::testing::StrEq;
using ::testing::ThrowsMessage;
using D = Tensor<double>;
using F = Tensor<float>;

// Inputs for gradchecks: broadcast partners, and [3, 4] views that are not contiguous.
class ElementwiseGrad : public ::testing::Test {
 protected:
  Generator rng{5};
  D a314 = support::random_tensor<double>({3, 1, 4}, rng);
  D b24 = support::random_tensor<double>({2, 4}, rng);
  D xt = support::random_tensor<double>({4, 3}, rng).t();                  // [3, 4] transposed
  D xs = support::random_tensor<double>({3, 8}, rng).slice(1, 0, 8, 2);    // [3, 4] every other column
  D col = support::random_tensor<double>({3, 2}, rng).slice(1, 1, 2);      // [3, 1] with stride 2
  D pos = support::random_uniform<double>({4, 3}, rng, 0.5, 2.0).t();      // [3, 4] positive, transposed
  D pos24 = support::random_uniform<double>({2, 4}, rng, 0.5, 2.0);
};

// ---- arithmetic: values ----------------------------------------------------------------------

TEST(ElementwiseValues, BinaryOpsBroadcastRowsAndColumns) {
  auto m = D::from({{1, 2, 3}, {4, 5, 6}});
  auto row = D::from({10, 20, 30});
  auto column = D::from({{2}, {4}});
  EXPECT_EQ(ops::add(m, row), D::from({{11, 22, 33}, {14, 25, 36}}));
  EXPECT_EQ(ops::sub(m, column), D::from({{-1, 0, 1}, {0, 1, 2}}));
  EXPECT_EQ(ops::mul(column, row), D::from({{20, 40, 60}, {40, 80, 120}}));
  EXPECT_EQ(ops::div(m, column), D::from({{0.5, 1, 1.5}, {1, 1.25, 1.5}}));
  EXPECT_EQ(ops::add(m, D::scalar(1)), D::from({{2, 3, 4}, {5, 6, 7}}));  // a rank-0 tensor broadcasts
  EXPECT_EQ(ops::add(D::from({1, 2}), D::from({{1}, {2}, {3}})).shape(), Shape({3, 2}));
}

TEST(ElementwiseValues, ScalarOnEitherSide) {
  auto x = D::from({1, 2, 4});
  EXPECT_EQ(ops::add(x, 1), D::from({2, 3, 5}));
  EXPECT_EQ(ops::add(1.5, x), D::from({2.5, 3.5, 5.5}));
  EXPECT_EQ(ops::sub(x, 1), D::from({0, 1, 3}));
  EXPECT_EQ(ops::sub(1, x), D::from({0, -1, -3}));
  EXPECT_EQ(ops::mul(x, 3), D::from({3, 6, 12}));
  EXPECT_EQ(ops::mul(0.5f, x), D::from({0.5, 1, 2}));
  EXPECT_EQ(ops::div(x, 2), D::from({0.5, 1, 2}));
  EXPECT_EQ(ops::div(4, x), D::from({4, 2, 1}));
  EXPECT_EQ(ops::neg(x), D::from({-1, -2, -4}));
}

TEST(ElementwiseValues, OperatorsTakeNumbersOfAnyTypeOnEitherSide) {
  auto f = F::from({1, 2, 4});
  static_assert(std::is_same_v<decltype(f * 2.0), F>);
  static_assert(std::is_same_v<decltype(2 * f), F>);
  static_assert(std::is_same_v<decltype(1.0f - f), F>);
  EXPECT_EQ(f * 2.0, F::from({2, 4, 8}));
  EXPECT_EQ(2 * f, F::from({2, 4, 8}));
  EXPECT_EQ(f / 2, F::from({0.5f, 1, 2}));
  EXPECT_EQ(8.0 / f, F::from({8, 4, 2}));
  EXPECT_EQ(1 - f, F::from({0, -1, -3}));
  EXPECT_EQ(f + 0.5, F::from({1.5f, 2.5f, 4.5f}));
  EXPECT_EQ(-f, F::from({-1, -2, -4}));
  auto d = D::from({1, 2});
  EXPECT_EQ(d * 2.0f + d / 2 - 1, D::from({1.5, 4}));
  EXPECT_EQ(d * d - d + D::from({{1}, {2}}), D::from({{1, 3}, {2, 4}}));
  EXPECT_EQ(3 / d, D::from({3, 1.5}));
  // the converted number is rounded to float before the op, like a Python number with a float32 tensor
  EXPECT_EQ((f * 0.1).to_vector()[0], 0.1f);
}

TEST(ElementwiseValues, IntegerTensorsAddMultiplyNegateAndClamp) {
  using I = Tensor<std::int64_t>;
  auto ids = I::from({1, -2, 3});
  EXPECT_EQ(ids + I::from({10, 10, 10}), I::from({11, 8, 13}));
  EXPECT_EQ(ids * 2, I::from({2, -4, 6}));
  EXPECT_EQ(-ids, I::from({-1, 2, -3}));
  EXPECT_EQ(ops::abs(ids), I::from({1, 2, 3}));
  EXPECT_EQ(ops::clamp(ids, 0, 2), I::from({1, 0, 2}));
  EXPECT_EQ(ops::where(Tensor<bool>::from({true, false, true}), ids, 0), I::from({1, 0, 3}));
}

TEST(ElementwiseValues, NonContiguousInputsGiveTheSameValuesAsTheirCopies) {
  Generator rng(3);
  auto xt = support::random_tensor<double>({5, 4}, rng).t();          // [4, 5]
  auto ys = support::random_tensor<double>({4, 10}, rng).slice(1, 1, 10, 2);  // [4, 5]
  auto row = support::random_tensor<double>({2, 5}, rng).select(0, 1);        // [5], offset view
  EXPECT_EQ(xt * ys, xt.contiguous() * ys.contiguous());
  EXPECT_EQ(xt - row, xt.contiguous() - row.contiguous());
  EXPECT_EQ(ops::exp(xt), ops::exp(xt.contiguous()));
  EXPECT_EQ(ops::pow(ys, 3), ops::pow(ys.contiguous(), 3));
  EXPECT_EQ(ops::clamp(xt, -0.5, 0.5), ops::clamp(xt.contiguous(), -0.5, 0.5));
}

// Large enough to be split over threads (parallel_for forks from 2 * 32768 elements).
TEST(ElementwiseValues, LargeBroadcastsMatchAPlainLoop) {
  set_num_threads(2);
  Generator rng(4);
  auto a = support::random_tensor<float>({300, 257}, rng);
  auto row = support::random_tensor<float>({257}, rng);
  auto column = support::random_tensor<float>({300, 1}, rng);
  auto at = support::random_tensor<float>({257, 300}, rng).t();
  const auto y1 = (a + row).to_vector(), y2 = (a * column).to_vector(), y3 = (a - at).to_vector();
  for (Index i = 0; i < 300; ++i)
    for (Index j = 0; j < 257; ++j) {
      const auto k = static_cast<std::size_t>(i * 257 + j);
      ASSERT_EQ(y1[k], a(i, j) + row(j));
      ASSERT_EQ(y2[k], a(i, j) * column(i, 0));
      ASSERT_EQ(y3[k], a(i, j) - at(i, j));
    }
}

TEST(ElementwiseValues, ExpAndLogOfFloatAreWithinOneUlp) {
  auto x = arange<float>(-87, 88, 0.0025);  // 70000 values: blocks spread over threads
  const auto e = ops::exp(x).to_vector(), l = ops::log(ops::abs(x)).to_vector(), xv = x.to_vector();
  for (std::size_t i = 0; i < xv.size(); ++i) {
    if (xv[i] == 0) continue;
    const float want_e = static_cast<float>(std::exp(static_cast<double>(xv[i])));
    const float want_l = static_cast<float>(std::log(std::abs(static_cast<double>(xv[i]))));
    ASSERT_LE(std::abs(e[i] - want_e), std::nextafter(want_e, INFINITY) - want_e) << "exp(" << xv[i] << ")";
    ASSERT_LE(std::abs(l[i] - want_l), std::nextafter(std::abs(want_l), INFINITY) - std::abs(want_l)) << "log|" << xv[i] << "|";
  }
}

TEST(ElementwiseValues, PowSpecialCasesAreExact) {
  auto x = D::from({0, 2, -3, 4});
  EXPECT_EQ(ops::pow(x, 2), D::from({0, 4, 9, 16}));
  EXPECT_EQ(ops::pow(x, 3), D::from({0, 8, -27, 64}));
  EXPECT_EQ(ops::pow(x, 0), D::from({1, 1, 1, 1}));  // 0^0 = 1, as std::pow and PyTorch
  EXPECT_EQ(ops::pow(x, 1), x);
  EXPECT_EQ(ops::pow(D::from({4, 0.25}), 0.5), D::from({2, 0.5}));
  EXPECT_EQ(ops::pow(D::from({4, 0.25}), -0.5), D::from({0.5, 2}));
  EXPECT_EQ(ops::pow(D::from({4, 0.5}), -1), D::from({0.25, 2}));
  EXPECT_EQ(ops::pow(D::from({4, 0.5}), -2), D::from({0.0625, 4}));
  EXPECT_TRUE(support::allclose(ops::pow(D::from({2, 9}), 1.5), D::from({std::sqrt(8.0), 27}), 0, 1e-15));
  EXPECT_TRUE(std::isnan(ops::pow(D::from({-8}), 1.0 / 3).item()));  // real powers of negatives are NaN
}

TEST(ElementwiseValues, ExpLogSqrtRsqrtAbsAtTheEdges) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(ops::exp(D::from({0, 1000, -1000, -inf})), D::from({1, inf, 0, 0}));
  EXPECT_EQ(ops::exp(F::from({0, 100, -200})), F::from({1, INFINITY, 0}));
  // subnormal results and inputs, where Eigen's vectorised exp and log clamp
  EXPECT_EQ(ops::exp(F::from({-95, -103.5f})), F::from({std::exp(-95.0f), std::exp(-103.5f)}));
  EXPECT_EQ(ops::exp(D::from({-710, -745})), D::from({std::exp(-710.0), std::exp(-745.0)}));
  EXPECT_EQ(ops::log(F::from({1e-40f, 1e-45f})), F::from({std::log(1e-40f), std::log(1e-45f)}));
  EXPECT_EQ(ops::log(D::from({1e-310})), D::from({std::log(1e-310)}));
  EXPECT_EQ(ops::log(D::from({1, 0, inf})), D::from({0, -inf, inf}));
  EXPECT_TRUE(std::isnan(ops::log(D::from({-1})).item()));
  EXPECT_TRUE(std::isnan(ops::exp(F::from({NAN})).item()));
  EXPECT_EQ(ops::sqrt(D::from({0, 4, 2.25})), D::from({0, 2, 1.5}));
  EXPECT_EQ(ops::rsqrt(D::from({4, 0.25, 0})), D::from({0.5, 2, inf}));
  EXPECT_EQ(ops::abs(D::from({-2, 0, 3})), D::from({2, 0, 3}));
  EXPECT_EQ(ops::sqrt(F::from({2})).item(), std::sqrt(2.0f));  // exactly rounded, not an rsqrt estimate
}

// ---- arithmetic: gradients -------------------------------------------------------------------

TEST_F(ElementwiseGrad, BinaryOpsWithBroadcastOperands) {
  // [3, 1, 4] with [2, 4] -> [3, 2, 4]: each gradient is summed back to its operand's shape.
  EXPECT_TRUE(gradcheck([](const D& a, const D& b) { return ops::add(a, b); }, a314, b24));
  EXPECT_TRUE(gradcheck([](const D& a, const D& b) { return ops::sub(a, b); }, a314, b24));
  EXPECT_TRUE(gradcheck([](const D& a, const D& b) { return ops::sub(b, a); }, a314, b24));
  EXPECT_TRUE(gradcheck([](const D& a, const D& b) { return ops::mul(a, b); }, a314, b24));
  EXPECT_TRUE(gradcheck([](const D& a, const D& b) { return ops::div(a, b); }, a314, pos24));
  EXPECT_TRUE(gradcheck([](const D& a, const D& b) { return ops::div(b, a); }, pos24, a314));
}

TEST_F(ElementwiseGrad, BinaryOpsWithNonContiguousOperands) {
  EXPECT_TRUE(gradcheck([](const D& a, const D& b) { return a + b; }, xt, xs));
  EXPECT_TRUE(gradcheck([](const D& a, const D& b) { return a - b; }, xs, col));
  EXPECT_TRUE(gradcheck([](const D& a, const D& b) { return a * b; }, xt, col));
  EXPECT_TRUE(gradcheck([](const D& a, const D& b) { return a / b; }, xs, pos));
  EXPECT_TRUE(gradcheck([](const D& a, const D& b) { return a * b; }, xt, xt));  // one tensor twice
  EXPECT_TRUE(gradcheck([](const D& a) { return a * a * a; }, xs));
}

TEST_F(ElementwiseGrad, ScalarVariantsAndOperators) {
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::add(a, 2.5); }, xt));
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::sub(3, a); }, xs));
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::sub(a, 3); }, xs));
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::mul(-1.5, a); }, xt));
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::div(a, 4); }, xs));
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::div(2, a); }, pos));
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::neg(a); }, xt));
  EXPECT_TRUE(gradcheck([](const D& a, const D& b) { return 2.0 * a * b - a / 3 + 1 - (-b); }, a314, b24));
}

TEST_F(ElementwiseGrad, PowForEveryExponentKind) {
  for (double p : {2.0, 3.0, 0.5, -0.5, -1.0, -2.0, 2.5, 1.0, 0.0, -1.7})
    EXPECT_TRUE(gradcheck([p](const D& a) { return ops::pow(a, p); }, pos)) << "exponent " << p;
  for (double p : {2.0, 3.0, 4.0, -1.0})  // integer exponents of negative bases
    EXPECT_TRUE(gradcheck([p](const D& a) { return ops::pow(a, p); }, xt)) << "exponent " << p;
}

TEST(ElementwiseGradValues, PowAtZeroAndExponentZero) {
  auto x = D::from({0, 3}).requires_grad_();
  ops::pow(x, 2).backward(D::ones({2}));
  EXPECT_EQ(x.grad(), D::from({0, 6}));  // 2·0 = 0, not 2·0·0^-1 = NaN
  x.zero_grad();
  ops::pow(x, 0).backward(D::ones({2}));
  EXPECT_EQ(x.grad(), D::from({0, 0}));  // x^0 is constant, also at 0
  x.zero_grad();
  ops::pow(x, 1).backward(D::ones({2}));
  EXPECT_EQ(x.grad(), D::from({1, 1}));
}

TEST_F(ElementwiseGrad, ExpLogSqrtRsqrtAbs) {
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::exp(a); }, xt));
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::log(a); }, pos));
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::sqrt(a); }, pos));
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::rsqrt(a); }, pos));
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::abs(a); }, xs));
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::exp(ops::log(a) * 0.5); }, pos));  // saved output and input together
}

TEST(ElementwiseGradValues, AbsHasZeroGradientAtZero) {
  auto x = D::from({-2, 0, 3}).requires_grad_();
  ops::abs(x).backward(D::ones({3}));
  EXPECT_EQ(x.grad(), D::from({-1, 0, 1}));
}

// ---- selection -------------------------------------------------------------------------------

TEST(ClampOp, MatchesHandWorkedValues) {
  auto x = D::from({-2, -1, 0, 1, 2});
  EXPECT_EQ(ops::clamp(x, -1, 1), D::from({-1, -1, 0, 1, 1}));
  EXPECT_EQ(ops::clamp(x, 0.5, std::nullopt), D::from({0.5, 0.5, 0.5, 1, 2}));
  EXPECT_EQ(ops::clamp(x, {}, 0), D::from({-2, -1, 0, 0, 0}));
  EXPECT_EQ(ops::clamp_min(x, 0), D::from({0, 0, 0, 1, 2}));
  EXPECT_EQ(ops::clamp_max(x, -1), D::from({-2, -1, -1, -1, -1}));
  EXPECT_EQ(ops::clamp(x, 1, -1), D::from({-1, -1, -1, -1, -1}));  // min > max: everything is max
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(ops::clamp(D::from({-inf, inf}), 0, std::nullopt), D::from({0, inf}));  // a missing bound clips nothing
  EXPECT_TRUE(std::isnan(ops::clamp(D::from({NAN}), -1, 1).item()));
}

TEST(ClampOp, GradientPassesWhereMinLeXLeMaxIncludingTheBounds) {
  auto x = D::from({-2, -1, 0, 1, 2}).requires_grad_();
  ops::clamp(x, -1, 1).backward(D::ones({5}));
  EXPECT_EQ(x.grad(), D::from({0, 1, 1, 1, 0}));
  x.zero_grad();
  ops::clamp_min(x, 0).backward(D::ones({5}));
  EXPECT_EQ(x.grad(), D::from({0, 0, 1, 1, 1}));
}

TEST_F(ElementwiseGrad, Clamp) {
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::clamp(a, -0.5, 0.7); }, xt));
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::clamp(a, std::nullopt, 0.1); }, xs));
}

TEST(ClampOp, NeedsABound) {
  EXPECT_THAT([] { ops::clamp(D::zeros({2}), std::nullopt, std::nullopt); },
              ThrowsMessage<ValueError>(StrEq("clamp: at least one of min and max must be given")));
}

TEST(WhereOp, BroadcastsAllThreeOperands) {
  auto cond = Tensor<bool>::from({{true, false, true}});  // [1, 3]
  auto a = D::from({{1}, {2}});                           // [2, 1]
  auto b = D::from({10, 20, 30});                         // [3]
  EXPECT_EQ(ops::where(cond, a, b), D::from({{1, 20, 1}, {2, 20, 2}}));
  EXPECT_EQ(ops::where(cond, a, -1), D::from({{1, -1, 1}, {2, -1, 2}}));
  EXPECT_EQ(ops::where(cond, 0.5, b), D::from({{0.5, 20, 0.5}}));
}

TEST_F(ElementwiseGrad, WhereRoutesGradientByCondition) {
  auto cond = Tensor<bool>::from({{{true, false, false, true}}, {{false, true, true, false}}});  // [2, 1, 4]
  auto a31 = support::random_tensor<double>({3, 1}, rng);
  auto b4 = support::random_tensor<double>({4}, rng);
  EXPECT_TRUE(gradcheck([&](const D& a, const D& b) { return ops::where(cond, a, b); }, a31, b4));  // -> [2, 3, 4]
  EXPECT_TRUE(gradcheck([&](const D& a, const D& b) { return ops::where(cond, a, b); }, xt, xs));
  EXPECT_TRUE(gradcheck([&](const D& a) { return ops::where(cond, a, 0.0); }, xt));
}

TEST(MaskedFillOp, FillsWhereMaskIsTrue) {
  auto scores = D::from({{1, 2, 3}, {4, 5, 6}});
  auto keep_last = Tensor<bool>::from({true, true, false});
  const double ninf = -std::numeric_limits<double>::infinity();
  EXPECT_EQ(ops::masked_fill(scores, keep_last, ninf), D::from({{ninf, ninf, 3}, {ninf, ninf, 6}}));
  EXPECT_EQ(ops::masked_fill(D::from({1, 2}), Tensor<bool>::from({{true, false}, {false, false}}), 0),
            D::from({{0, 2}, {1, 2}}));  // x broadcasts too, as torch.masked_fill
  EXPECT_EQ(scores, D::from({{1, 2, 3}, {4, 5, 6}}));  // out of place
}

TEST_F(ElementwiseGrad, MaskedFill) {
  auto mask = Tensor<bool>::from({{false, true, false, true}});  // [1, 4] over [3, 4]
  EXPECT_TRUE(gradcheck([&](const D& a) { return ops::masked_fill(a, mask, 7.0); }, xt));
  auto attention_mask = Tensor<bool>::from({false, false, true, false, true, true}, {2, 1, 1, 3});
  auto scores = support::random_tensor<double>({2, 2, 3, 3}, rng);
  EXPECT_TRUE(gradcheck([&](const D& s) { return ops::masked_fill(s, attention_mask, -3.0); }, scores));
  auto small = support::random_tensor<double>({4}, rng);
  EXPECT_TRUE(gradcheck([&](const D& a) { return ops::masked_fill(a, mask.expand({3, 4}), 0); }, small));  // x broadcast
}

// ---- errors --------------------------------------------------------------------------------------

TEST(ElementwiseErrors, IncompatibleShapesNameOpAndBothShapes) {
  auto a = D::zeros({2, 3}), b = D::zeros({4});
  const auto msg = [](const char* op) {
    return ThrowsMessage<ShapeError>(StrEq(std::string(op) + ": shapes [2, 3] and [4] cannot be broadcast (axis 1: 3 vs 4)"));
  };
  EXPECT_THAT([&] { ops::add(a, b); }, msg("add"));
  EXPECT_THAT([&] { ops::sub(a, b); }, msg("sub"));
  EXPECT_THAT([&] { ops::mul(a, b); }, msg("mul"));
  EXPECT_THAT([&] { ops::div(a, b); }, msg("div"));
  EXPECT_THAT([&] { (void)(a + b); }, msg("add"));
  EXPECT_THAT([&] { ops::where(Tensor<bool>::zeros({3}), a, b); }, msg("where"));
  EXPECT_THAT([&] { ops::where(Tensor<bool>::zeros({5}), a, a); },
              ThrowsMessage<ShapeError>(StrEq("where: shapes [5] and [2, 3] cannot be broadcast (axis 1: 5 vs 3)")));
  EXPECT_THAT([&] { ops::masked_fill(a, Tensor<bool>::zeros({2, 2}), 0); },
              ThrowsMessage<ShapeError>(HasSubstr("masked_fill: shapes [2, 3] and [2, 2] cannot be broadcast")));
}

// ---- in place ------------------------------------------------------------------------------------

TEST(InPlace, AddBroadcastsOtherIntoTheTensorAndBumpsTheVersion) {
  auto x = D::zeros({2, 3});
  const auto v0 = x.storage()->version();
  auto same = ops::add_(x, D::from({1, 2, 3}));
  EXPECT_TRUE(same.same(x) || same.shares_storage_with(x));
  EXPECT_EQ(x, D::from({{1, 2, 3}, {1, 2, 3}}));
  EXPECT_EQ(x.storage()->version(), v0 + 1);
  ops::add_(x, D::from({{1}, {2}}), -2);  // alpha
  EXPECT_EQ(x, D::from({{-1, 0, 1}, {-3, -2, -1}}));
  ops::add_(x, 1);
  EXPECT_EQ(x, D::from({{0, 1, 2}, {-2, -1, 0}}));
  EXPECT_EQ(x.storage()->version(), v0 + 3);
}

TEST(InPlace, SubMulDivMaskedFillClamp) {
  auto x = D::from({{1, 2}, {3, 4}});
  ops::sub_(x, D::from({1, 1}), 0.5);
  EXPECT_EQ(x, D::from({{0.5, 1.5}, {2.5, 3.5}}));
  ops::sub_(x, 0.5);
  EXPECT_EQ(x, D::from({{0, 1}, {2, 3}}));
  ops::mul_(x, 2);
  EXPECT_EQ(x, D::from({{0, 2}, {4, 6}}));
  ops::mul_(x, D::from({{1}, {0.5}}));
  EXPECT_EQ(x, D::from({{0, 2}, {2, 3}}));
  ops::div_(x, D::from({2, 4}));
  EXPECT_EQ(x, D::from({{0, 0.5}, {1, 0.75}}));
  ops::div_(x, 0.25);
  EXPECT_EQ(x, D::from({{0, 2}, {4, 3}}));
  ops::masked_fill_(x, Tensor<bool>::from({false, true}), -1);
  EXPECT_EQ(x, D::from({{0, -1}, {4, -1}}));
  ops::clamp_(x, -0.5, 3);
  EXPECT_EQ(x, D::from({{0, -0.5}, {3, -0.5}}));
  auto f = F::from({1, 2});
  ops::mul_(f, 0.5);  // a double number into a float tensor
  EXPECT_EQ(f, F::from({0.5f, 1}));
}

TEST(InPlace, WritesThroughNonContiguousViews) {
  auto x = D::zeros({3, 4});
  ops::add_(x.t(), D::from({1, 2, 3}));  // [4, 3] view: column i of the view is row i of x
  EXPECT_EQ(x, D::from({{1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}}));
  ops::mul_(x.slice(1, 0, 4, 2), 10);  // every other column
  EXPECT_EQ(x, D::from({{10, 1, 10, 1}, {20, 2, 20, 2}, {30, 3, 30, 3}}));
  ops::masked_fill_(x.select(0, 1), Tensor<bool>::from({true, false, false, true}), 0);
  EXPECT_EQ(x, D::from({{10, 1, 10, 1}, {0, 2, 20, 0}, {30, 3, 30, 3}}));
}

TEST(InPlace, OperandAliasingTheTargetIsReadBeforeAnyWrite) {
  auto m = D::from({{1, 2}, {3, 4}});
  ops::add_(m, m.t());
  EXPECT_EQ(m, D::from({{2, 5}, {5, 8}}));
  ops::mul_(m, m);
  EXPECT_EQ(m, D::from({{4, 25}, {25, 64}}));
}

TEST(InPlace, RefusesTensorsThatRequireGradUnlessGradModeIsOff) {
  auto w = D::from({1, 2}).requires_grad_();
  auto one = D::ones({2});
  EXPECT_THAT([&] { ops::add_(w, one); }, ThrowsMessage<AutogradError>(HasSubstr(
      "add_: in-place operation on a tensor that requires grad; ")));
  EXPECT_THAT([&] { ops::mul_(w, 2); }, ThrowsMessage<AutogradError>(HasSubstr("mul_: in-place operation on a tensor")));
  EXPECT_THAT([&] { ops::clamp_(w * 1, 0, 1); }, ThrowsMessage<AutogradError>(HasSubstr("clamp_:")));  // non-leaf too
  EXPECT_THAT([&] { ops::add_(one, w); }, ThrowsMessage<AutogradError>(HasSubstr("add_: in-place operation with an operand that requires grad")));
  {
    NoGradGuard no_grad;  // what an optimizer step does
    ops::sub_(w, D::from({0.5, 0.5}), 2.0);
  }
  EXPECT_EQ(w, D::from({0, 1}));
  EXPECT_TRUE(w.requires_grad());
  EXPECT_TRUE(w.is_leaf());
}

TEST(InPlace, ChangingATensorSavedForBackwardMakesBackwardThrow) {
  auto x = D::from({1, 2});
  auto w = D::from({3, 4}).requires_grad_();
  auto y = ops::mul(x, w);  // backward needs x's values for grad_w
  ops::add_(x, 1);
  EXPECT_THAT([&] { y.backward(D::ones({2})); }, ThrowsMessage<AutogradError>(HasSubstr("modified by an in-place operation")));
  auto z = ops::mul(x.clone(), w);  // clone() first and backward works
  ops::add_(x, 1);
  z.backward(D::ones({2}));
  EXPECT_EQ(w.grad(), D::from({2, 3}));
}

TEST(InPlace, ShapeAndLayoutErrors) {
  EXPECT_THAT([] { ops::add_(D::zeros({3}), D::zeros({2, 3})); }, ThrowsMessage<ShapeError>(StrEq(
      "add_: other of shape [2, 3] cannot be broadcast to the shape [3] of the tensor written in place")));
  EXPECT_THAT([] { ops::mul_(D::zeros({2, 3}), D::zeros({4})); },
              ThrowsMessage<ShapeError>(StrEq("mul_: shapes [2, 3] and [4] cannot be broadcast (axis 1: 3 vs 4)")));
  EXPECT_THAT([] { ops::masked_fill_(D::zeros({2}), Tensor<bool>::zeros({3, 2}), 1); },
              ThrowsMessage<ShapeError>(HasSubstr("masked_fill_: mask of shape [3, 2] cannot be broadcast")));
  EXPECT_THAT([] { ops::add_(D::from({1, 2}).expand({3, 2}), 1); }, ThrowsMessage<ValueError>(StrEq(
      "add_: cannot write in place into an expanded tensor (shape [3, 2], strides [0, 1]); clone() it first")));
}

// ---- against PyTorch -------------------------------------------------------------------------------

// float64 gradients of two broadcast expressions, from tests/reference/make_elementwise_fixtures.py.
TEST(ElementwiseTorch, BroadcastGradientsMatchFloat64) {
  const auto fx = support::load_fixture<double>("ops/elementwise.safetensors");
  auto get = [&](const std::string& name) { return support::fixture_tensor(fx, name).clone_data(); };
  {  // y = a * b / c - b, a [3, 1, 4], b [2, 4], c [3, 2, 1]
    auto a = get("broadcast.a").requires_grad_(), b = get("broadcast.b").requires_grad_(), c = get("broadcast.c").requires_grad_();
    auto y = a * b / c - b;
    EXPECT_TRUE(support::allclose(y, get("broadcast.y"), 1e-14, 1e-13));
    y.backward(get("broadcast.grad_y"));
    EXPECT_TRUE(support::allclose(a.grad(), get("broadcast.grad_a"), 1e-14, 1e-13));
    EXPECT_TRUE(support::allclose(b.grad(), get("broadcast.grad_b"), 1e-14, 1e-13));
    EXPECT_TRUE(support::allclose(c.grad(), get("broadcast.grad_c"), 1e-14, 1e-13));
  }
  {  // y = where(cond, x.pow(3), clamp(z, -0.5, 0.5)).masked_fill(mask, 0), x [2, 1, 3], z [4, 3]
    auto x = get("select.x").requires_grad_(), z = get("select.z").requires_grad_();
    auto cond = get("select.cond").to<bool>(), mask = get("select.mask").to<bool>();
    auto y = ops::masked_fill(ops::where(cond, ops::pow(x, 3), ops::clamp(z, -0.5, 0.5)), mask, 0);
    EXPECT_TRUE(support::allclose(y, get("select.y"), 1e-14, 1e-13));
    y.backward(get("select.grad_y"));
    EXPECT_TRUE(support::allclose(x.grad(), get("select.grad_x"), 1e-14, 1e-13));
    EXPECT_TRUE(support::allclose(z.grad(), get("select.grad_z"), 1e-14, 1e-13));
  }
}

// float32 forward values over a range of inputs: torch's float32 result, and the float64 result
// rounded to float32 (the exact answer).
TEST(ElementwiseTorch, Float32ValuesMatch) {
  const auto fx = support::load_fixture<float>("ops/elementwise.safetensors");
  auto get = [&](const std::string& name) { return support::fixture_tensor(fx, name); };
  const F x = get("values.x"), p = get("values.positive");
  const std::vector<std::pair<std::string, F>> cases = {
      {"exp", ops::exp(x)},           {"log", ops::log(p)},         {"sqrt", ops::sqrt(p)},
      {"rsqrt", ops::rsqrt(p)},       {"pow2", ops::pow(x, 2)},     {"pow3", ops::pow(x, 3)},
      {"pow2_5", ops::pow(p, 2.5)},   {"pow-0_5", ops::pow(p, -0.5)}, {"pow-1_7", ops::pow(p, -1.7)},
      {"recip", 1 / x},               {"abs", ops::abs(x)},
  };
  for (const auto& [name, got] : cases) {
    // Within 1e-6 relative (a few ulp) of both; denormal results only to an absolute 1e-37.
    EXPECT_TRUE(support::allclose(got, get(name + ".torch32"), 1e-37, 1e-6)) << name << " vs torch float32";
    EXPECT_TRUE(support::allclose(got, get(name + ".ref"), 1e-37, 1e-6)) << name << " vs float64 rounded";
  }
}

}  // namespace
}  // namespace foundry
