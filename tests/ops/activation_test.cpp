// tests/ops/activation_test.cpp mirrors include/foundry/ops/activation.hpp: relu, gelu (both forms),
// sigmoid, tanh, erf: hand values, large magnitudes, gradients, and PyTorch's values.
#include <cmath>
#include <limits>

#include "foundry/ops/activation.hpp"
#include "support/fixtures.hpp"
#include "support/testing.hpp"

namespace foundry {
namespace {

using D = Tensor<double>;
using F = Tensor<float>;
constexpr auto kTanh = GeluApproximation::kTanh;

class ActivationGrad : public ::testing::Test {
 protected:
  Generator rng{6};
  D x = support::random_tensor<double>({3, 4}, rng, 2.0);
  D xt = support::random_tensor<double>({5, 3}, rng, 2.0).t();                  // [3, 5] transposed
  D xs = support::random_tensor<double>({2, 3, 8}, rng, 3.0).slice(2, 1, 8, 3);  // [2, 3, 3] strided
};

TEST(ActivationValues, MatchHandWorkedValues) {
  auto x = D::from({-1, 0, 1, 2});
  EXPECT_EQ(ops::relu(x), D::from({0, 0, 1, 2}));
  EXPECT_TRUE(support::allclose(ops::gelu(x), D::from({-0.15865525393145702, 0, 0.841344746068543, 1.9544997361036416}), 0, 1e-15));
  EXPECT_TRUE(support::allclose(ops::gelu(x, kTanh), D::from({-0.15880800939172324, 0, 0.8411919906082768, 1.954597694087775}), 0, 1e-15));
  EXPECT_TRUE(support::allclose(ops::sigmoid(x), D::from({0.2689414213699951, 0.5, 0.7310585786300049, 0.8807970779778823}), 0, 1e-15));
  EXPECT_TRUE(support::allclose(ops::tanh(x), D::from({-0.7615941559557649, 0, 0.7615941559557649, 0.9640275800758169}), 0, 1e-15));
  EXPECT_TRUE(support::allclose(ops::erf(x), D::from({-0.8427007929497149, 0, 0.8427007929497149, 0.9953222650189527}), 0, 1e-15));
  // float goes through the same formulas (in double for gelu, sigmoid, tanh)
  EXPECT_TRUE(support::allclose(ops::gelu(x.to<float>()), ops::gelu(x).to<float>(), 0, 1e-7));
  EXPECT_TRUE(support::allclose(ops::gelu(x.to<float>(), kTanh), ops::gelu(x, kTanh).to<float>(), 0, 1e-7));
}

TEST(ActivationValues, StayFiniteAndAccurateAtLargeMagnitudes) {
  const float inf = std::numeric_limits<float>::infinity();
  auto big = F::from({-inf, -1e30f, -1e4f, -100, 100, 1e4f, 1e30f, inf});
  EXPECT_EQ(ops::sigmoid(big), F::from({0, 0, 0, std::exp(-100.0f), 1, 1, 1, 1}));  // e^-100 is a float subnormal
  EXPECT_EQ(ops::tanh(big), F::from({-1, -1, -1, -1, 1, 1, 1, 1}));
  EXPECT_EQ(ops::erf(big), F::from({-1, -1, -1, -1, 1, 1, 1, 1}));
  EXPECT_EQ(ops::gelu(big).slice(0, 1, 8), F::from({0, 0, 0, 100, 1e4f, 1e30f, inf}));
  EXPECT_EQ(ops::gelu(big, kTanh).slice(0, 1, 8), F::from({0, 0, 0, 100, 1e4f, 1e30f, inf}));
  EXPECT_TRUE(std::isnan(ops::gelu(F::from({-inf})).item()));  // -inf·0, as PyTorch
  EXPECT_EQ(ops::sigmoid(D::from({-800, 800})), D::from({0, 1}));
  EXPECT_EQ(ops::gelu(D::from({-1e300, 1e300}), kTanh), D::from({0, 1e300}));  // x³ overflows to inf, harmlessly
  // The negative tail keeps its digits: gelu(-10) = -10·Φ(-10) = -7.6198530241605e-23.
  EXPECT_TRUE(support::allclose(ops::gelu(F::from({-10})), F::from({-7.6198530241605e-23f}), 0, 3e-7));
  EXPECT_TRUE(support::allclose(ops::sigmoid(F::from({-50})), F::from({1.9287498479639178e-22f}), 0, 2e-7));
  // tanh of tiny values is the value itself, not 0 from 1 - e^-2x
  EXPECT_EQ(ops::tanh(F::from({1e-20f, -3e-5f})), F::from({1e-20f, -3e-5f}));
  EXPECT_TRUE(std::isnan(ops::tanh(F::from({NAN})).item()));
  EXPECT_TRUE(std::isnan(ops::relu(F::from({NAN})).item()));
  EXPECT_TRUE(std::isnan(ops::gelu(F::from({NAN})).item()));
}

TEST(ActivationValues, GradientsStayFiniteAtLargeMagnitudes) {
  auto x = F::from({-1e30f, -1e4f, -200, 200, 1e4f, 1e30f}).requires_grad_();
  for (auto approximate : {GeluApproximation::kNone, kTanh}) {
    x.zero_grad();
    ops::gelu(x, approximate).backward(F::ones({6}));
    EXPECT_EQ(x.grad(), F::from({0, 0, 0, 1, 1, 1}));
  }
  auto nan = F::from({NAN}).requires_grad_();
  for (auto approximate : {GeluApproximation::kNone, kTanh}) {  // NaN in, NaN out, also in backward
    nan.zero_grad();
    ops::gelu(nan, approximate).backward(F::ones({1}));
    EXPECT_TRUE(std::isnan(nan.grad().item()));
  }
  for (auto* op : {&ops::sigmoid<float>, &ops::tanh<float>, &ops::erf<float>}) {
    x.zero_grad();
    (*op)(x).backward(F::ones({6}));
    EXPECT_EQ(x.grad(), F::zeros({6}));
  }
}

TEST(ActivationValues, ReluGradientIsZeroAtZero) {
  auto x = D::from({-1, 0, 2}).requires_grad_();
  ops::relu(x).backward(D::ones({3}));
  EXPECT_EQ(x.grad(), D::from({0, 0, 1}));
}

// Float results against the double op rounded to float, over many values (several blocks, split
// over threads): within 1 ulp for tanh and erf (computed in double), 3 for sigmoid and gelu's tanh
// form, 5e-7 relative (up to 7 ulp) for exact gelu.
TEST(ActivationValues, FloatMatchesDoubleRoundedOverAWideRange) {
  set_num_threads(2);
  auto xf = arange<float>(-9, 9, 0.0002);  // 90000 values
  auto xd = xf.to<double>();
  auto near = [](const F& got, const D& want, double rtol) { return support::allclose(got, want.to<float>(), 1e-40, rtol); };
  EXPECT_TRUE(near(ops::sigmoid(xf), ops::sigmoid(xd), 3.6e-7));
  EXPECT_TRUE(near(ops::tanh(xf), ops::tanh(xd), 1.2e-7));
  EXPECT_TRUE(near(ops::erf(xf), ops::erf(xd), 1.2e-7));
  EXPECT_TRUE(near(ops::gelu(xf), ops::gelu(xd), 5e-7));
  EXPECT_TRUE(near(ops::gelu(xf, kTanh), ops::gelu(xd, kTanh), 3.6e-7));
}

TEST_F(ActivationGrad, EveryActivation) {
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::relu(a); }, x));
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::sigmoid(a); }, xt));
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::tanh(a); }, xs));
  EXPECT_TRUE(gradcheck([](const D& a) { return ops::erf(a); }, xt));
  for (auto approximate : {GeluApproximation::kNone, kTanh}) {
    EXPECT_TRUE(gradcheck([approximate](const D& a) { return ops::gelu(a, approximate); }, x));
    EXPECT_TRUE(gradcheck([approximate](const D& a) { return ops::gelu(a, approximate); }, xt));
    EXPECT_TRUE(gradcheck([approximate](const D& a) { return ops::gelu(a, approximate); }, xs));
  }
}

// Float gradients agree with the double gradients (checked above by finite differences).
TEST_F(ActivationGrad, FloatGradientsMatchDouble) {
  auto xf = x.to<float>().requires_grad_();
  auto xd = x.clone_data().requires_grad_();
  for (auto approximate : {GeluApproximation::kNone, kTanh}) {
    xf.zero_grad();
    xd.zero_grad();
    ops::gelu(xf, approximate).backward(F::ones(x.shape()));
    ops::gelu(xd, approximate).backward(D::ones(x.shape()));
    EXPECT_TRUE(support::allclose(xf.grad(), xd.grad().to<float>(), 1e-7, 1e-6));
  }
}

// The elements of t where |x| <= bound.
F central(const F& t, const F& x, float bound) {
  std::vector<float> out;
  const auto tv = t.to_vector(), xv = x.to_vector();
  for (std::size_t i = 0; i < tv.size(); ++i)
    if (std::abs(xv[i]) <= bound) out.push_back(tv[i]);
  return F::from(out, {static_cast<Index>(out.size())});
}

// torch 1.13 float32 results and the float64 results rounded to float32, on inputs from 1e-20 to 1e4
// in magnitude (tests/reference/make_elementwise_fixtures.py).
TEST(ActivationTorch, Float32ValuesAndGradientsMatch) {
  const auto fx = support::load_fixture<float>("ops/elementwise.safetensors");
  auto get = [&](const std::string& name) { return support::fixture_tensor(fx, name); };
  const F x = get("act.x");
  const std::vector<std::pair<std::string, F>> values = {
      {"gelu", ops::gelu(x)}, {"sigmoid", ops::sigmoid(x)}, {"tanh", ops::tanh(x)}, {"erf", ops::erf(x)}, {"relu", ops::relu(x)},
  };
  for (const auto& [name, got] : values) {
    // The exact answer to 3 ulp (gelu: 5e-7 relative; subnormals to 1e-40). torch's own float32 gelu
    // loses up to ~3.5e-7 absolute in the negative tail (0.5·x·(1 + erf) cancels), hence its atol.
    const double rtol = name == "gelu" ? 5e-7 : 3.6e-7;
    EXPECT_TRUE(support::allclose(got, get(name + ".ref"), 1e-40, rtol)) << name << " vs float64 rounded";
    EXPECT_TRUE(support::allclose(got, get(name + ".torch32"), 5e-7, rtol)) << name << " vs torch float32";
  }
  // gelu's tanh form: 3 ulp down to x = -9.5; in the last steps before σ(w) underflows (x near -10)
  // the exp's argument reaches -87 and precision thins to ~1e-6 relative, on values below 1e-36.
  const F gelu_tanh = ops::gelu(x, kTanh);
  EXPECT_TRUE(support::allclose(central(gelu_tanh, x, 9.5f), central(get("gelu_tanh.ref"), x, 9.5f), 1e-40, 3.6e-7));
  EXPECT_TRUE(support::allclose(gelu_tanh, get("gelu_tanh.ref"), 1e-40, 2e-6));
  EXPECT_TRUE(support::allclose(gelu_tanh, get("gelu_tanh.torch32"), 5e-7, 3.6e-7));
  for (const std::string name : {"gelu", "gelu_tanh", "erf"}) {
    auto xg = x.clone_data().requires_grad_();
    F y = name == "erf" ? ops::erf(xg) : ops::gelu(xg, name == "gelu" ? GeluApproximation::kNone : kTanh);
    y.backward(F::ones(x.shape()));
    EXPECT_TRUE(support::allclose(central(xg.grad(), x, 9.5f), central(get(name + ".grad.ref"), x, 9.5f), 1e-40, 6e-7)) << name;
    EXPECT_TRUE(support::allclose(xg.grad(), get(name + ".grad.ref"), 1e-40, 2e-6)) << name << " gradient vs float64 rounded";
    EXPECT_TRUE(support::allclose(xg.grad(), get(name + ".grad.torch32"), 1e-6, 1e-6)) << name << " gradient vs torch float32";
  }
}

}  // namespace
}  // namespace foundry
