// tests/optim/clip_test.cpp mirrors include/foundry/optim/clip.hpp
#include "foundry/optim/clip.hpp"

#include <cmath>
#include <vector>

#include "support/testing.hpp"

namespace foundry {
namespace {

using testing::StrEq;
using testing::ThrowsMessage;

template <class T>
Tensor<T> param_with_grad(const Tensor<T>& grad) {
  auto p = Tensor<T>::zeros(grad.shape()).requires_grad_(true);
  p.set_grad(grad);
  return p;
}

TEST(ClipGradNorm, ScalesEveryGradientWhenTheNormExceedsMaxNorm) {
  // Gradients [3, 4] and [12]: global norm sqrt(9 + 16 + 144) = 13.
  auto a = param_with_grad(Tensor<double>::from({3.0, 4.0})), b = param_with_grad(Tensor<double>::from({12.0}));
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm<double>({a, b}, 6.5), 13.0);
  const double c = 6.5 / (13.0 + 1e-6);
  EXPECT_EQ(a.grad(), Tensor<double>::from({3.0 * c, 4.0 * c}));
  EXPECT_EQ(b.grad(), Tensor<double>::from({12.0 * c}));
  EXPECT_NEAR(optim::grad_norm<double>({a, b}), 6.5, 1e-6);
}

TEST(ClipGradNorm, LeavesSmallGradientsUntouched) {
  auto a = param_with_grad(Tensor<double>::from({3.0, 4.0}));
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm<double>({a}, 10.0), 5.0);
  EXPECT_EQ(a.grad(), Tensor<double>::from({3.0, 4.0}));
}

TEST(ClipGradNorm, SkipsParametersWithoutGradient) {
  auto a = param_with_grad(Tensor<double>::from({6.0, 8.0}));
  auto none = Tensor<double>::zeros({3}).requires_grad_(true);
  auto frozen = param_with_grad(Tensor<double>::from({100.0}));
  frozen.requires_grad_(false);  // the optimizer would not apply it, so it does not count
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm<double>({a, none, frozen}, 5.0), 10.0);
  EXPECT_FALSE(none.grad().defined());
  EXPECT_EQ(frozen.grad(), Tensor<double>::from({100.0}));
  EXPECT_NEAR(a.grad().at({0}), 3.0, 1e-6);
}

TEST(ClipGradNorm, AccumulatesFloatGradientsInDouble) {
  // 3000 values of 0.1f and 4000 of -0.1f: the norm of the float values to double precision (a float
  // sum of 7000 squares would be off by ~1e-5 relative).
  auto a = param_with_grad(Tensor<float>::full({3000}, 0.1f)), b = param_with_grad(Tensor<float>::full({40, 100}, -0.1f));
  const double v = static_cast<double>(0.1f), expected = std::sqrt(7000 * v * v);
  EXPECT_NEAR(optim::grad_norm<float>({a, b}), expected, 1e-12 * expected);
  const double norm = optim::clip_grad_norm<float>({a, b}, 1.0);
  EXPECT_NEAR(norm, expected, 1e-12 * expected);
  EXPECT_FLOAT_EQ(a.grad().at({0}), static_cast<float>(0.1f * static_cast<float>(1.0 / (norm + 1e-6))));
}

TEST(ClipGradNorm, ScalesStridedGradientsInPlace) {
  auto p = Tensor<double>::zeros({2, 2}).requires_grad_(true);
  p.set_grad(Tensor<double>::from({{0.0, 3.0}, {4.0, 0.0}}).t());  // a transposed view
  optim::clip_grad_norm<double>({p}, 1.0);
  const double c = 1.0 / (5.0 + 1e-6);
  EXPECT_EQ(p.grad().contiguous_data(), Tensor<double>::from({{0.0, 4.0 * c}, {3.0 * c, 0.0}}));
}

TEST(ClipGradNorm, RejectsNonPositiveMaxNorm) {
  auto a = param_with_grad(Tensor<double>::from({1.0}));
  EXPECT_THAT([&] { optim::clip_grad_norm<double>({a}, 0.0); },
              ThrowsMessage<ValueError>(StrEq("clip_grad_norm: max_norm must be > 0, got 0")));
  EXPECT_THAT([&] { optim::clip_grad_norm<double>({a}, -1.0); },
              ThrowsMessage<ValueError>(StrEq("clip_grad_norm: max_norm must be > 0, got -1")));
}

}  // namespace
}  // namespace foundry
