// tests/ops/reduce_test.cpp mirrors include/foundry/ops/reduce.hpp
#include "foundry/ops/reduce.hpp"

#include <cmath>
#include <functional>
#include <tuple>
#include <limits>

#include "support/fixtures.hpp"
#include "support/testing.hpp"

namespace foundry {
namespace {

using support::allclose;
using support::random_tensor;
using testing::HasSubstr;
using testing::StrEq;
using testing::ThrowsMessage;

// Σ over `axes` computed element by element in double: the reference every fast path must match.
Tensor<double> reference_sum(const Tensor<double>& x, const std::vector<int>& axes) {
  Shape keep = x.shape();
  for (int a : axes) keep[a] = 1;
  Tensor<double> out = Tensor<double>::zeros(keep);
  const Strides ks = contiguous_strides(keep);
  const auto v = x.to_vector();
  for (Index flat = 0; flat < x.numel(); ++flat) {
    Index rem = flat, off = 0;
    for (int a = x.dim() - 1; a >= 0; --a) {
      const Index i = rem % x.shape()[a];
      rem /= x.shape()[a];
      if (keep[a] != 1 || x.shape()[a] == 1) off += i * ks[a];
    }
    out.data()[off] += v[static_cast<std::size_t>(flat)];
  }
  return out;
}

Tensor<double> arange3(Index a, Index b, Index c) { return arange<double>(0, static_cast<double>(a * b * c)).reshape({a, b, c}); }

// ---- sum, mean ---------------------------------------------------------------------------------------

TEST(SumOp, MatchesHandWorkedValues) {
  const auto x = Tensor<double>::from({{1, 2, 3}, {4, 5, 6}});
  EXPECT_EQ(ops::sum(x), Tensor<double>::scalar(21));
  EXPECT_EQ(ops::sum(x, {0}), Tensor<double>::from({5, 7, 9}));
  EXPECT_EQ(ops::sum(x, {1}), Tensor<double>::from({6, 15}));
  EXPECT_EQ(ops::sum(x, {-1}, true), Tensor<double>::from({{6}, {15}}));
  EXPECT_EQ(ops::sum(x, {0}, true), Tensor<double>::from({{5, 7, 9}}));
  EXPECT_EQ(ops::sum(x, {1, 0}), Tensor<double>::scalar(21));
  EXPECT_EQ(ops::sum(x, {0, 1}, true), Tensor<double>::from({{21}}));
}

TEST(SumOp, EmptyAxesReduceNothing) {
  const auto x = Tensor<double>::from({{1, 2}, {3, 4}});
  EXPECT_EQ(ops::sum(x, {}), x);
  EXPECT_EQ(ops::mean(x, {}, true), x);
}

TEST(SumOp, ScalarInputAcceptsAxisZero) {
  const auto x = Tensor<double>::scalar(2.5);
  EXPECT_EQ(ops::sum(x), x);
  EXPECT_EQ(ops::sum(x, {0}), x);
  EXPECT_EQ(ops::sum(x, {-1}, true), x);
  EXPECT_EQ(ops::max(x, 0).values, x);
}

TEST(SumOp, EveryAxisSetMatchesElementwiseReference) {
  // Covers the row path (last axes), column path (leading axes), middle block and the general
  // permute-and-copy path ({0, 2}), on contiguous and on permuted / sliced inputs.
  Generator rng(1);
  const auto base = random_tensor<double>({4, 5, 6}, rng);
  const std::vector<std::vector<int>> sets = {{0}, {1}, {2}, {0, 1}, {1, 2}, {0, 2}, {0, 1, 2}};
  const std::vector<Tensor<double>> inputs = {base, base.permute({2, 0, 1}).contiguous(), base.permute({2, 0, 1}),
                                              base.slice(2, 0, 6, 2), base.transpose(0, 1)};
  for (const auto& x : inputs)
    for (const auto& axes : sets) {
      Shape ax;
      for (int a : axes) ax.push_back(a);
      const auto want = reference_sum(x, axes);
      EXPECT_TRUE(allclose(ops::sum(x, ax, true), want, 1e-12, 1e-12)) << x.shape() << " axes " << ax;
      double count = 1;
      for (int a : axes) count *= static_cast<double>(x.shape()[a]);
      auto want_mean = want.clone_data();
      for (Index i = 0; i < want_mean.numel(); ++i) want_mean.data()[i] /= count;
      EXPECT_TRUE(allclose(ops::mean(x, ax, true), want_mean, 1e-12, 1e-12)) << x.shape() << " axes " << ax;
      EXPECT_TRUE(allclose(ops::sum(x, ax), want.reshape(ops::sum(x, ax).shape()), 1e-12, 1e-12));
    }
}

TEST(MeanOp, MatchesHandWorkedValues) {
  const auto x = Tensor<double>::from({{1, 2, 3}, {4, 5, 9}});
  EXPECT_EQ(ops::mean(x), Tensor<double>::scalar(4));
  EXPECT_EQ(ops::mean(x, {0}), Tensor<double>::from({2.5, 3.5, 6}));
  EXPECT_EQ(ops::mean(x, {-1}, true), Tensor<double>::from({{2}, {6}}));
  const auto y = arange3(2, 3, 2);  // mean over the middle axis: [[2, 3], [8, 9]]
  EXPECT_EQ(ops::mean(y, {1}), Tensor<double>::from({{2, 3}, {8, 9}}));
}

TEST(MeanOp, OfNothingIsNan) {
  EXPECT_TRUE(std::isnan(ops::mean(Tensor<double>::zeros({0, 3})).item()));
  EXPECT_EQ(ops::sum(Tensor<double>::zeros({0, 3}), {0}), Tensor<double>::zeros({3}));
  EXPECT_EQ(ops::sum(Tensor<double>::zeros({0, 3}), {1}), Tensor<double>::zeros({0}));
}

TEST(SumOp, GradientsMatchFiniteDifferences) {
  Generator rng(2);
  const auto x = random_tensor<double>({3, 4, 5}, rng);
  for (const Shape& axes : {Shape{0}, Shape{1}, Shape{-1}, Shape{0, 2}, Shape{1, 2}, Shape{0, 1, 2}, Shape{}})
    for (bool keepdim : {false, true}) {
      EXPECT_TRUE(autograd::gradcheck([&](const Tensor<double>& a) { return ops::sum(a, axes, keepdim); }, x))
          << axes << keepdim;
      EXPECT_TRUE(autograd::gradcheck([&](const Tensor<double>& a) { return ops::mean(a, axes, keepdim); }, x))
          << axes << keepdim;
    }
  EXPECT_TRUE(autograd::gradcheck([](const Tensor<double>& a) { return ops::sum(a); }, x));
  EXPECT_TRUE(autograd::gradcheck([](const Tensor<double>& a) { return ops::mean(a); }, x));
}

TEST(SumOp, GradientsOfNonContiguousInputs) {
  Generator rng(3);
  const auto t = random_tensor<double>({4, 3}, rng).t();             // [3, 4], transposed
  const auto p = random_tensor<double>({5, 3, 4}, rng).permute({1, 2, 0});  // [3, 4, 5]
  const auto s = random_tensor<double>({3, 8}, rng).slice(1, 1, 8, 2);      // [3, 4], step 2
  for (const auto& x : {t, s}) {
    EXPECT_TRUE(autograd::gradcheck([](const Tensor<double>& a) { return ops::sum(a, {0}); }, x));
    EXPECT_TRUE(autograd::gradcheck([](const Tensor<double>& a) { return ops::mean(a, {1}, true); }, x));
    EXPECT_TRUE(autograd::gradcheck([](const Tensor<double>& a) { return ops::sum(a); }, x));
  }
  for (const Shape& axes : {Shape{0}, Shape{2}, Shape{0, 2}, Shape{1, 2}})
    EXPECT_TRUE(autograd::gradcheck([&](const Tensor<double>& a) { return ops::mean(a, axes); }, p)) << axes;
}

TEST(SumOp, LongFloatSumsKeepPrecision) {
  // 2^22 copies of 0.1f: a naive float loop is off by several percent; blocked summation stays within float rounding.
  const Index n = Index{1} << 22;
  const auto x = Tensor<float>::full({n}, 0.1f);
  const double exact = static_cast<double>(0.1f) * static_cast<double>(n);
  EXPECT_NEAR(ops::sum(x).item(), exact, exact * 1e-6);
  EXPECT_NEAR(ops::mean(x).item(), 0.1f, 1e-7);
  // A long column reduction: [2^20, 2] summed over rows.
  const auto c = Tensor<float>::full({Index{1} << 20, 2}, 0.1f);
  const auto cs = ops::sum(c, {0});
  EXPECT_NEAR(cs.data()[0], exact / 4, exact / 4 * 1e-6);
  EXPECT_NEAR(cs.data()[1], exact / 4, exact / 4 * 1e-6);
}

TEST(SumOp, ResultsDoNotDependOnThreadCount) {
  Generator rng(4);
  const auto rows = random_tensor<float>({3, 200000}, rng), cols = random_tensor<float>({70000, 9}, rng);
  const int saved = get_num_threads();
  set_num_threads(1);
  const auto a = ops::sum(rows), b = ops::sum(rows, {1}), c = ops::sum(cols, {0}), d = ops::var(rows, {1});
  set_num_threads(4);
  EXPECT_EQ(ops::sum(rows), a);
  EXPECT_EQ(ops::sum(rows, {1}), b);
  EXPECT_EQ(ops::sum(cols, {0}), c);
  EXPECT_EQ(ops::var(rows, {1}), d);
  set_num_threads(saved);
  // And the threaded paths agree with a double-precision reference.
  EXPECT_TRUE(allclose(c.to<double>(), reference_sum(cols.to<double>(), {0}).reshape({9}), 1e-3, 1e-5));
  EXPECT_TRUE(allclose(b.to<double>(), reference_sum(rows.to<double>(), {1}).reshape({3}), 1e-3, 1e-5));
}

TEST(SumOp, BadAxesNameOpAndRank) {
  const auto x = Tensor<double>::zeros({2, 3});
  EXPECT_THAT([&] { ops::sum(x, {2}); },
              ThrowsMessage<IndexError>(StrEq("sum: axis 2 out of range for a tensor of rank 2")));
  EXPECT_THAT([&] { ops::mean(x, {-3}); },
              ThrowsMessage<IndexError>(StrEq("mean: axis -3 out of range for a tensor of rank 2")));
  EXPECT_THAT([&] { ops::sum(x, {1, -1}); },
              ThrowsMessage<ValueError>(StrEq("sum: axis -1 appears more than once in axes [1, -1] (shape [2, 3])")));
  EXPECT_THAT([&] { ops::var(x, {0, 0}); }, ThrowsMessage<ValueError>(HasSubstr("var: axis 0 appears more than once")));
}

// ---- var ----------------------------------------------------------------------------------------------

TEST(VarOp, MatchesHandWorkedValues) {
  const auto x = Tensor<double>::from({{1, 2, 3, 4}, {2, 2, 2, 2}});
  EXPECT_TRUE(allclose(ops::var(x, {1}), Tensor<double>::from({5.0 / 3, 0}), 1e-15));
  EXPECT_TRUE(allclose(ops::var(x, {1}, false), Tensor<double>::from({1.25, 0}), 1e-15));
  EXPECT_TRUE(allclose(ops::var(x, {0}, true, true), Tensor<double>::from({{0.5, 0, 0.5, 2}}), 1e-15));
  // all elements: mean 2.25, Σ(x - mean)² = 5.5
  EXPECT_TRUE(allclose(ops::var(x), Tensor<double>::scalar(5.5 / 7), 1e-15));
  EXPECT_TRUE(allclose(ops::var(x, false), Tensor<double>::scalar(5.5 / 8), 1e-15));
  EXPECT_TRUE(allclose(ops::var(x, {0, 1}, false), Tensor<double>::scalar(5.5 / 8), 1e-15));
}

// var(x, {1}) is axis 1 and var(x, false) is the biased flag; var(x, 0) does not compile at all.
template <class X>
concept VarTakesAnInt = requires(X x) { ops::var(x, 0); };
static_assert(!VarTakesAnInt<Tensor<double>>);

TEST(VarOp, IsStableForLargeOffsets) {
  // E[x²] - E[x]² in float would return garbage here; two passes return the exact 5/3.
  const auto x = Tensor<float>::from({1e6f + 1, 1e6f + 2, 1e6f + 3, 1e6f + 4});
  EXPECT_FLOAT_EQ(ops::var(x).item(), 5.0f / 3);
  const auto cols = Tensor<float>::from({{1e6f + 1, -3}, {1e6f + 2, -3}, {1e6f + 3, -3}, {1e6f + 4, -3}});
  EXPECT_TRUE(allclose(ops::var(cols, {0}), Tensor<float>::from({5.0f / 3, 0}), 1e-6, 1e-6));
}

TEST(VarOp, SingleElementUnbiasedIsNan) {
  const auto x = Tensor<double>::from({{3}, {4}});
  EXPECT_TRUE(std::isnan(ops::var(x, {1}).data()[0]));
  EXPECT_EQ(ops::var(x, {1}, false), Tensor<double>::from({0, 0}));
}

TEST(VarOp, GradientsMatchFiniteDifferences) {
  Generator rng(5);
  const auto x = random_tensor<double>({3, 4, 5}, rng);
  for (const Shape& axes : {Shape{0}, Shape{1}, Shape{-1}, Shape{0, 2}, Shape{0, 1, 2}})
    for (bool unbiased : {true, false})
      for (bool keepdim : {false, true})
        EXPECT_TRUE(autograd::gradcheck([&](const Tensor<double>& a) { return ops::var(a, axes, unbiased, keepdim); }, x))
            << axes << unbiased << keepdim;
  EXPECT_TRUE(autograd::gradcheck([](const Tensor<double>& a) { return ops::var(a); }, x));
  EXPECT_TRUE(autograd::gradcheck([](const Tensor<double>& a) { return ops::var(a, false); }, x));
  const auto t = random_tensor<double>({5, 3}, rng).t();
  EXPECT_TRUE(autograd::gradcheck([](const Tensor<double>& a) { return ops::var(a, {1}); }, t));
  EXPECT_TRUE(autograd::gradcheck([](const Tensor<double>& a) { return ops::var(a, {0}, false, true); }, t));
}

// ---- max, min, argmax, argmin ---------------------------------------------------------------------

TEST(MaxOp, AlongAxisReturnsValuesAndFirstIndices) {
  const auto x = Tensor<double>::from({{1, 3, 3, 2}, {5, 5, 1, 0}});
  auto [values, indices] = ops::max(x, 1);
  EXPECT_EQ(values, Tensor<double>::from({3, 5}));
  EXPECT_EQ(indices, Tensor<std::int64_t>::from({1, 0}));
  const auto m = ops::max(x, 0, true);
  EXPECT_EQ(m.values, Tensor<double>::from({{5, 5, 3, 2}}));
  EXPECT_EQ(m.indices, Tensor<std::int64_t>::from({{1, 1, 0, 0}}));
  const auto lo = ops::min(x, -1);
  EXPECT_EQ(lo.values, Tensor<double>::from({1, 0}));
  EXPECT_EQ(lo.indices, Tensor<std::int64_t>::from({0, 3}));
  const auto y = arange3(2, 3, 2);  // along the middle axis the last row wins
  EXPECT_EQ(ops::max(y, 1).indices, Tensor<std::int64_t>::from({{2, 2}, {2, 2}}));
  EXPECT_EQ(ops::min(y, 1).values, Tensor<double>::from({{0, 1}, {6, 7}}));
}

TEST(MaxOp, NanPropagatesLikePyTorch) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto x = Tensor<double>::from({{1, nan, 3, nan}, {2, 1, 0, 4}});
  const auto m = ops::max(x, 1);
  EXPECT_TRUE(std::isnan(m.values.data()[0]));
  EXPECT_EQ(m.indices, Tensor<std::int64_t>::from({1, 3}));
  EXPECT_EQ(ops::min(x, 1).indices, Tensor<std::int64_t>::from({1, 2}));
  EXPECT_EQ(ops::max(x, 0).indices, Tensor<std::int64_t>::from({1, 0, 0, 0}));  // column path
  EXPECT_EQ(ops::min(x, 0).indices, Tensor<std::int64_t>::from({0, 0, 1, 0}));
  EXPECT_TRUE(std::isnan(ops::max(x).item()));
  EXPECT_EQ(ops::argmax(x).item(), 1);
}

TEST(MaxOp, GradientGoesToFirstMaximumOnly) {
  const auto x = Tensor<double>::from({{1, 3, 3, 2}, {5, 5, 1, 0}}).requires_grad_();
  ops::sum(ops::max(x, 1).values).backward();
  EXPECT_EQ(x.grad(), Tensor<double>::from({{0, 1, 0, 0}, {1, 0, 0, 0}}));
  x.zero_grad();
  ops::sum(ops::min(x, 0, true).values).backward();
  EXPECT_EQ(x.grad(), Tensor<double>::from({{1, 1, 0, 0}, {0, 0, 1, 1}}));
}

TEST(MaxOp, AlongAxisGradientsMatchFiniteDifferences) {
  Generator rng(6);  // random values: no ties, so max is differentiable
  const auto x = random_tensor<double>({3, 4, 5}, rng);
  for (Index axis : {0, 1, 2, -1})
    for (bool keepdim : {false, true}) {
      EXPECT_TRUE(autograd::gradcheck([&](const Tensor<double>& a) { return ops::max(a, axis, keepdim).values; }, x)) << axis;
      EXPECT_TRUE(autograd::gradcheck([&](const Tensor<double>& a) { return ops::min(a, axis, keepdim).values; }, x)) << axis;
    }
  const auto t = random_tensor<double>({5, 3}, rng).t();
  const auto s = random_tensor<double>({4, 10}, rng).slice(1, 0, 10, 3);
  for (const auto& v : {t, s})
    for (Index axis : {0, 1}) {
      EXPECT_TRUE(autograd::gradcheck([&](const Tensor<double>& a) { return ops::max(a, axis).values; }, v));
      EXPECT_TRUE(autograd::gradcheck([&](const Tensor<double>& a) { return ops::min(a, axis, true).values; }, v));
    }
}

TEST(MaxOp, OverAllElementsSplitsGradientAmongTies) {
  // As torch.max(x): ties share the gradient evenly (what the symmetric finite difference sees too).
  const auto x = Tensor<double>::from({1, 3, 3, 2}).requires_grad_();
  const auto m = ops::max(x);
  EXPECT_EQ(m, Tensor<double>::scalar(3));
  m.backward();
  EXPECT_EQ(x.grad(), Tensor<double>::from({0, 0.5, 0.5, 0}));
  x.zero_grad();
  ops::min(x).backward();
  EXPECT_EQ(x.grad(), Tensor<double>::from({1, 0, 0, 0}));
  const auto ties = Tensor<double>::from({{4, 1, 4}, {0, 3, -2}});  // two tied maxima
  EXPECT_TRUE(autograd::gradcheck([](const Tensor<double>& a) { return ops::max(a); }, ties));
  EXPECT_TRUE(autograd::gradcheck([](const Tensor<double>& a) { return ops::min(a); }, ties.t()));
  Generator rng(7);
  EXPECT_TRUE(autograd::gradcheck([](const Tensor<double>& a) { return ops::max(a); }, random_tensor<double>({4, 6}, rng).t()));
}

TEST(MaxOp, OverManyElementsFindsTheFirstExtreme) {
  Generator rng(8);
  auto x = random_tensor<float>({300000}, rng);
  x.data()[123456] = 100;
  x.data()[234567] = 100;
  x.data()[7] = -100;
  EXPECT_EQ(ops::max(x).item(), 100);
  EXPECT_EQ(ops::argmax(x).item(), 123456);
  EXPECT_EQ(ops::argmin(x).item(), 7);
  EXPECT_EQ(ops::min(x).item(), -100);
}

TEST(ArgmaxOp, AlongAxisAndFlat) {
  const auto x = Tensor<double>::from({{1, 7, 3}, {9, 2, 9}});
  EXPECT_EQ(ops::argmax(x, 1), Tensor<std::int64_t>::from({1, 0}));
  EXPECT_EQ(ops::argmax(x, 0, true), Tensor<std::int64_t>::from({{1, 0, 1}}));
  EXPECT_EQ(ops::argmin(x, -1), Tensor<std::int64_t>::from({0, 1}));
  EXPECT_EQ(ops::argmax(x), Tensor<std::int64_t>::scalar(3));
  EXPECT_EQ(ops::argmin(x.t()), Tensor<std::int64_t>::scalar(0));
  EXPECT_EQ(ops::argmax(x.t(), 1), Tensor<std::int64_t>::from({1, 0, 1}));
  EXPECT_EQ(ops::argmax(x.t(), 0), Tensor<std::int64_t>::from({1, 0}));
  const auto w = x.requires_grad_();
  EXPECT_EQ(ops::argmax(w, 1), Tensor<std::int64_t>::from({1, 0}));  // no graph, no error
  EXPECT_EQ(ops::argmax(Tensor<std::int64_t>::from({3, 9, 9}), 0), Tensor<std::int64_t>::scalar(1));
}

TEST(MaxOp, EmptyReductionsNameOpAndShape) {
  EXPECT_THAT([] { ops::max(Tensor<double>::zeros({3, 0}), 1); },
              ThrowsMessage<ShapeError>(StrEq("max: cannot reduce axis 1 of extent 0 (shape [3, 0])")));
  EXPECT_THAT([] { ops::argmin(Tensor<double>::zeros({0, 2}), 0); },
              ThrowsMessage<ShapeError>(StrEq("argmin: cannot reduce axis 0 of extent 0 (shape [0, 2])")));
  EXPECT_THAT([] { ops::min(Tensor<double>::zeros({0, 2})); },
              ThrowsMessage<ShapeError>(StrEq("min: cannot reduce an empty tensor (shape [0, 2])")));
  EXPECT_THAT([] { ops::argmax(Tensor<double>::zeros({0})); },
              ThrowsMessage<ShapeError>(StrEq("argmax: cannot reduce an empty tensor (shape [0])")));
  EXPECT_THAT([] { ops::max(Tensor<double>::zeros({2, 3}), 2); },
              ThrowsMessage<IndexError>(StrEq("max: axis 2 out of range for a tensor of rank 2")));
  EXPECT_EQ(ops::max(Tensor<double>::zeros({0, 3}), 1).values.shape(), Shape{0});
}

// ---- against PyTorch (tests/reference/make_reduce_fixtures.py) -------------------------------------

// y = fn(x) and x.grad after y.backward(grad_y), for a fresh float32 leaf copy of x.
template <class F>
std::pair<Tensor<float>, Tensor<float>> run_with_grad(F&& fn, const Tensor<float>& x, const Tensor<float>& grad_y) {
  const auto leaf = x.clone_data().requires_grad_();
  const auto y = fn(leaf);
  y.backward(grad_y);
  return {y, leaf.grad()};
}

TEST(ReduceFixture, SumMeanAndVarMatchPyTorch) {
  const auto f = support::load_fixture<float>("ops/reduce.safetensors");
  const auto at = [&](const std::string& name) { return support::fixture_tensor(f, name); };
  using Fn = std::function<Tensor<float>(const Tensor<float>&)>;
  const std::vector<std::tuple<std::string, std::string, Fn>> cases = {
      {"sum.all", "sum.x", [](const Tensor<float>& a) { return ops::sum(a); }},
      {"sum.axis0", "sum.x", [](const Tensor<float>& a) { return ops::sum(a, {0}); }},
      {"sum.axis12", "sum.x", [](const Tensor<float>& a) { return ops::sum(a, {1, 2}); }},
      {"sum.axis02_keep", "sum.x", [](const Tensor<float>& a) { return ops::sum(a, {0, 2}, true); }},
      {"mean.axis1", "sum.x", [](const Tensor<float>& a) { return ops::mean(a, {1}); }},
      {"mean.axis_neg1_keep", "sum.x", [](const Tensor<float>& a) { return ops::mean(a, {-1}, true); }},
      {"mean.all", "sum.x", [](const Tensor<float>& a) { return ops::mean(a); }},
      {"var.axis1", "var.x", [](const Tensor<float>& a) { return ops::var(a, {1}); }},
      {"var.axis1_biased", "var.x", [](const Tensor<float>& a) { return ops::var(a, {1}, false); }},
      {"var.axis0_keep", "var.x", [](const Tensor<float>& a) { return ops::var(a, {0}, true, true); }},
      {"var.axis01_biased", "var.x", [](const Tensor<float>& a) { return ops::var(a, {0, 1}, false); }},
      {"var.all", "var.x", [](const Tensor<float>& a) { return ops::var(a); }},
  };
  for (const auto& [name, input, fn] : cases) {
    const auto [y, grad_x] = run_with_grad(fn, at(input), at(name + ".grad_y"));
    EXPECT_TRUE(allclose(y, at(name + ".y"), 1e-5, 1e-5)) << name;
    if (name.starts_with("var")) {
      // Against float64 torch (rounded), our double-mean backward is exact to float rounding; torch's
      // own float32 gradient is off by its float mean's rounding, so it gets the looser check.
      EXPECT_TRUE(allclose(y, at(name + ".y64"), 1e-6, 1e-6)) << name;
      EXPECT_TRUE(allclose(grad_x, at(name + ".grad_x64"), 1e-8, 1e-6)) << name;
      EXPECT_TRUE(allclose(grad_x, at(name + ".grad_x"), 2e-4, 1e-4)) << name;  // torch: ulp(1000) / (R - 1)
    } else {
      EXPECT_TRUE(allclose(grad_x, at(name + ".grad_x"), 1e-7, 1e-6)) << name;
    }
  }
  // 400 terms spanning six decades: both float results sit within float rounding of the exact sum.
  const auto long_sum = ops::sum(at("sum.long.x"), {1});
  EXPECT_TRUE(allclose(long_sum, at("sum.long.y64"), 2e-3, 1e-6));
  EXPECT_TRUE(allclose(long_sum, at("sum.long.y"), 2e-3, 1e-6));
}

TEST(ReduceFixture, MaxMinWithTiesMatchPyTorch) {
  const auto f = support::load_fixture<float>("ops/reduce.safetensors");
  const auto at = [&](const std::string& name) { return support::fixture_tensor(f, name); };
  for (const std::string name : {"max.axis1", "min.axis0"}) {
    const auto leaf = at("max.x").clone_data().requires_grad_();
    const auto r = name == "max.axis1" ? ops::max(leaf, 1) : ops::min(leaf, 0);
    r.values.backward(at(name + ".grad_y"));
    EXPECT_EQ(r.values, at(name + ".y")) << name;
    EXPECT_EQ(r.indices, at(name + ".indices").to<std::int64_t>()) << name;
    EXPECT_EQ(leaf.grad(), at(name + ".grad_x")) << name;
  }
  const auto leaf = at("max.x").clone_data().requires_grad_();
  const auto m = ops::max(leaf);
  m.backward();
  EXPECT_EQ(m, at("max.all.y"));
  EXPECT_TRUE(allclose(leaf.grad(), at("max.all.grad_x"), 1e-7, 0));  // three-way tie: 1/3 each
}

}  // namespace
}  // namespace foundry
