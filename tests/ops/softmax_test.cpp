// tests/ops/softmax_test.cpp mirrors include/foundry/ops/softmax.hpp
#include "foundry/ops/softmax.hpp"

#include <cmath>
#include <limits>

#include "support/fixtures.hpp"
#include "support/testing.hpp"

namespace foundry {
namespace {

using support::allclose;
using support::random_tensor;
using testing::StrEq;
using testing::ThrowsMessage;

// softmax / log_softmax along `axis` by the textbook formula in long double.
Tensor<double> reference_softmax(const Tensor<double>& x, int axis, bool log) {
  const auto v = x.to_vector();
  Index outer = 1, n = x.shape()[axis], inner = 1;
  for (int i = 0; i < axis; ++i) outer *= x.shape()[i];
  for (int i = axis + 1; i < x.dim(); ++i) inner *= x.shape()[i];
  Tensor<double> y = Tensor<double>::empty(x.shape());
  for (Index o = 0; o < outer; ++o)
    for (Index i = 0; i < inner; ++i) {
      const auto at = [&](Index r) { return static_cast<std::size_t>((o * n + r) * inner + i); };
      long double m = -INFINITY, s = 0;
      for (Index r = 0; r < n; ++r) m = std::max<long double>(m, v[at(r)]);
      for (Index r = 0; r < n; ++r) s += std::exp(v[at(r)] - m);
      for (Index r = 0; r < n; ++r)
        y.data()[at(r)] = static_cast<double>(log ? v[at(r)] - m - std::log(s) : std::exp(v[at(r)] - m) / s);
    }
  return y;
}

TEST(SoftmaxOp, MatchesHandWorkedValues) {
  const auto x = Tensor<double>::from({{1, 2, 3}, {0, 0, 0}});
  // e / Σe for [1, 2, 3]: [0.0900306, 0.2447285, 0.6652410]
  EXPECT_TRUE(allclose(ops::softmax(x, -1),
                       Tensor<double>::from({{0.09003057317038046, 0.24472847105479764, 0.6652409557748219},
                                             {1.0 / 3, 1.0 / 3, 1.0 / 3}}),
                       1e-15));
  EXPECT_TRUE(allclose(ops::log_softmax(x, 1),
                       Tensor<double>::from({{-2.4076059644443806, -1.4076059644443804, -0.4076059644443803},
                                             {-std::log(3.0), -std::log(3.0), -std::log(3.0)}}),
                       1e-15));
  // Along axis 0 each column of two values: softmax([1, 0]) = [e/(e+1), 1/(e+1)].
  const double p = std::exp(1.0) / (std::exp(1.0) + 1);
  EXPECT_TRUE(allclose(ops::softmax(x, 0).slice(1, 0, 1), Tensor<double>::from({{p}, {1 - p}}), 1e-15));
}

TEST(SoftmaxOp, LargeMagnitudesDoNotOverflow) {
  // Subtracting the row max makes these exactly softmax([0, 1, 2]) rather than inf / inf.
  const auto big = Tensor<float>::from({{1000, 1001, 1002}, {-1000, -1001, -1002}});
  const auto y = ops::softmax(big, -1);
  EXPECT_TRUE(allclose(y.slice(0, 0, 1), ops::softmax(Tensor<float>::from({{0, 1, 2}}), -1), 1e-7, 1e-6));
  EXPECT_TRUE(allclose(y.slice(0, 1, 2), ops::softmax(Tensor<float>::from({{0, -1, -2}}), -1), 1e-7, 1e-6));
  // log_softmax stays finite where softmax underflows to 0.
  const auto l = ops::log_softmax(Tensor<float>::from({-1000, 0}), 0);
  EXPECT_TRUE(allclose(l, Tensor<float>::from({-1000, 0}), 1e-6));
  EXPECT_EQ(ops::softmax(Tensor<float>::from({-1000, 0}), 0), Tensor<float>::from({0, 1}));
}

TEST(SoftmaxOp, MaskedEntriesGetZero) {
  const float inf = std::numeric_limits<float>::infinity();
  const auto x = Tensor<float>::from({{0, -inf, 0}, {-inf, 2, -inf}});
  EXPECT_EQ(ops::softmax(x, -1), Tensor<float>::from({{0.5f, 0, 0.5f}, {0, 1, 0}}));
  const auto l = ops::log_softmax(x, -1);
  EXPECT_EQ(l.data()[1], -inf);
  EXPECT_FLOAT_EQ(l.data()[0], -std::log(2.0f));
}

TEST(SoftmaxOp, EveryAxisAndLayoutMatchesReference) {
  Generator rng(1);
  const auto base = random_tensor<double>({3, 4, 5}, rng, 3.0);
  const std::vector<Tensor<double>> inputs = {base, base.permute({2, 0, 1}), base.slice(1, 0, 4, 2)};
  for (const auto& x : inputs)
    for (int axis = 0; axis < 3; ++axis) {
      const auto xc = x.contiguous();
      EXPECT_TRUE(allclose(ops::softmax(x, axis), reference_softmax(xc, axis, false), 1e-15, 1e-13)) << axis;
      EXPECT_TRUE(allclose(ops::log_softmax(x, axis - 3), reference_softmax(xc, axis, true), 1e-14, 1e-13)) << axis;
    }
}

TEST(SoftmaxOp, WideAndTallInputsUseThreadsAndStayNormalised) {
  // A 30k-wide row (a vocabulary) and a softmax over axis 0 of [3000, 300] take the threaded paths.
  Generator rng(2);
  const auto rows = random_tensor<float>({8, 30000}, rng, 4.0);
  const auto cols = random_tensor<float>({3000, 300}, rng, 4.0);
  const auto sr = ops::softmax(rows, -1), sc = ops::softmax(cols, 0);
  EXPECT_TRUE(allclose(sr.to<double>(), reference_softmax(rows.to<double>(), 1, false), 1e-9, 1e-5));
  EXPECT_TRUE(allclose(sc.to<double>(), reference_softmax(cols.to<double>(), 0, false), 1e-9, 1e-5));
  EXPECT_TRUE(allclose(ops::log_softmax(cols, 0).to<double>(), reference_softmax(cols.to<double>(), 0, true), 1e-5, 1e-5));
  for (Index r = 0; r < 8; ++r) {
    double s = 0;
    for (Index c = 0; c < 30000; ++c) s += sr.data()[r * 30000 + c];
    EXPECT_NEAR(s, 1.0, 1e-5);
  }
}

TEST(SoftmaxOp, ScalarAndEmptyInputs) {
  EXPECT_EQ(ops::softmax(Tensor<double>::scalar(5), 0), Tensor<double>::scalar(1));
  EXPECT_EQ(ops::log_softmax(Tensor<double>::scalar(5), -1), Tensor<double>::scalar(0));
  EXPECT_EQ(ops::softmax(Tensor<double>::zeros({0, 4}), -1).shape(), (Shape{0, 4}));
}

TEST(SoftmaxOp, GradientsMatchFiniteDifferences) {
  Generator rng(3);
  const auto x = random_tensor<double>({3, 4, 5}, rng);
  for (Index axis : {0, 1, 2, -1}) {
    EXPECT_TRUE(autograd::gradcheck([&](const Tensor<double>& a) { return ops::softmax(a, axis); }, x)) << axis;
    EXPECT_TRUE(autograd::gradcheck([&](const Tensor<double>& a) { return ops::log_softmax(a, axis); }, x)) << axis;
  }
  // Non-contiguous inputs: a transpose and a strided slice.
  const auto t = random_tensor<double>({6, 4}, rng).t();
  const auto s = random_tensor<double>({4, 9}, rng).slice(1, 0, 9, 2);
  for (const auto& v : {t, s})
    for (Index axis : {0, 1}) {
      EXPECT_TRUE(autograd::gradcheck([&](const Tensor<double>& a) { return ops::softmax(a, axis); }, v)) << axis;
      EXPECT_TRUE(autograd::gradcheck([&](const Tensor<double>& a) { return ops::log_softmax(a, axis); }, v)) << axis;
    }
}

TEST(SoftmaxOp, BackwardAccumulatesIntoExistingGradient) {
  // softmax of a row of equal logits: y = 1/n; with grad_y = onehot(0), grad_x = y ⊙ (g - y₀) = [1/n - 1/n², -1/n², ...].
  const auto x = Tensor<double>::zeros({1, 4}).requires_grad_();
  const auto g = Tensor<double>::from({{1, 0, 0, 0}});
  ops::softmax(x, -1).backward(g);
  ops::softmax(x, -1).backward(g);
  EXPECT_TRUE(allclose(x.grad(), Tensor<double>::from({{2 * (0.25 - 0.0625), -0.125, -0.125, -0.125}}), 1e-15));
}

TEST(SoftmaxOp, BadAxisNamesOpAndRank) {
  const auto x = Tensor<double>::zeros({2, 3});
  EXPECT_THAT([&] { ops::softmax(x, 2); },
              ThrowsMessage<IndexError>(StrEq("softmax: axis 2 out of range for a tensor of rank 2")));
  EXPECT_THAT([&] { ops::log_softmax(x, -3); },
              ThrowsMessage<IndexError>(StrEq("log_softmax: axis -3 out of range for a tensor of rank 2")));
}

// ---- against PyTorch (tests/reference/make_reduce_fixtures.py) -------------------------------------

TEST(SoftmaxFixture, LargeMagnitudeRowsMatchPyTorch) {
  // Rows scaled up to |x| ~ 3000 and one shifted by 5000: exp would overflow without the max shift.
  const auto f = support::load_fixture<float>("ops/softmax.safetensors");
  const auto at = [&](const std::string& name) { return support::fixture_tensor(f, name); };
  struct Case {
    std::string name, input;
    bool log;
    Index axis;
  };
  for (const Case& c : {Case{"softmax.last", "x", false, -1}, Case{"log_softmax.last", "x", true, -1},
                        Case{"softmax.axis0", "x", false, 0}, Case{"log_softmax.axis0", "x", true, 0},
                        Case{"softmax.mid", "x3", false, 1}}) {
    const auto x = at(c.input).clone_data().requires_grad_();
    const auto y = c.log ? ops::log_softmax(x, c.axis) : ops::softmax(x, c.axis);
    y.backward(at(c.name + ".grad_y"));
    EXPECT_TRUE(allclose(y, at(c.name + ".y"), 1e-6, 1e-5)) << c.name;
    EXPECT_TRUE(allclose(x.grad(), at(c.name + ".grad_x"), 1e-6, 1e-4)) << c.name;
    for (Index i = 0; i < y.numel(); ++i) EXPECT_TRUE(std::isfinite(y.data()[i])) << c.name;
  }
}

}  // namespace
}  // namespace foundry
