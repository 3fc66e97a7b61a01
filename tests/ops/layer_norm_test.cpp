// tests/ops/layer_norm_test.cpp mirrors include/foundry/ops/layer_norm.hpp
#include "foundry/ops/layer_norm.hpp"

#include <cmath>

#include "support/fixtures.hpp"
#include "support/testing.hpp"

namespace foundry {
namespace {

using support::allclose;
using support::random_tensor;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// y = (x - mean) / sqrt(var + eps) * w + b per row, in long double from the definition.
template <class T>
Tensor<T> naive_layer_norm(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b, double eps) {
  const Tensor<T> xc = x.clone_data();
  const Index C = x.shape().back(), rows = x.numel() / C;
  Tensor<T> y = Tensor<T>::empty(x.shape());
  for (Index r = 0; r < rows; ++r) {
    long double mean = 0, var = 0;
    for (Index j = 0; j < C; ++j) mean += xc.data()[r * C + j];
    mean /= C;
    for (Index j = 0; j < C; ++j) var += (xc.data()[r * C + j] - mean) * (xc.data()[r * C + j] - mean);
    var /= C;
    for (Index j = 0; j < C; ++j) {
      long double v = (xc.data()[r * C + j] - mean) / std::sqrt(var + static_cast<long double>(eps));
      if (w.defined()) v *= w.data()[j];
      if (b.defined()) v += b.data()[j];
      y.data()[r * C + j] = static_cast<T>(v);
    }
  }
  return y;
}

TEST(LayerNormOp, MatchesHandWorkedValue) {
  // Row [1, 2, 3]: mean 2, biased variance 2/3, so x̂ = [-1, 0, 1]·sqrt(3/2). Row [2, 4, 6] is twice it.
  const auto x = Tensor<double>::from({{1, 2, 3}, {2, 4, 6}});
  const double s = std::sqrt(1.5);
  EXPECT_TRUE(allclose(ops::layer_norm(x, Tensor<double>(), Tensor<double>(), 0.0), Tensor<double>::from({{-s, 0, s}, {-s, 0, s}}), 1e-15));
  const auto w = Tensor<double>::from({1, 2, 3}), b = Tensor<double>::from({0, 1, 0});
  EXPECT_TRUE(allclose(ops::layer_norm(x, w, b, 0.0), Tensor<double>::from({{-s, 1, 3 * s}, {-s, 1, 3 * s}}), 1e-15));
  // eps enters under the square root: var 2/3 + eps.
  const double r = 1.0 / std::sqrt(2.0 / 3.0 + 0.5);
  EXPECT_TRUE(allclose(ops::layer_norm(x.narrow(0, 0, 1), w, Tensor<double>(), 0.5), Tensor<double>::from({{-r, 0, 3 * r}}), 1e-15));
}

TEST(LayerNormOp, MatchesDefinitionOnRandomRows) {
  Generator rng(3);
  const auto x = random_tensor<double>({3, 5, 7}, rng, 2.0), w = random_tensor<double>({7}, rng), b = random_tensor<double>({7}, rng);
  for (double eps : {1e-12, 1e-5}) {
    EXPECT_TRUE(allclose(ops::layer_norm(x, w, b, eps), naive_layer_norm(x, w, b, eps), 1e-13, 1e-12));
    EXPECT_TRUE(allclose(ops::layer_norm(x, Tensor<double>(), b, eps), naive_layer_norm(x, Tensor<double>(), b, eps), 1e-13, 1e-12));
  }
  const auto xf = random_tensor<float>({64, 48}, rng), wf = random_tensor<float>({48}, rng), bf = random_tensor<float>({48}, rng);
  EXPECT_TRUE(allclose(ops::layer_norm(xf, wf, bf, 1e-12), naive_layer_norm(xf, wf, bf, 1e-12), 2e-6, 1e-6));
}

TEST(LayerNormOp, FloatRowsOfLargeMeanKeepFloatPrecision) {
  // Rows 1e4 + N(0, 1) in float: the moments in double and the split mean keep x̂ accurate to float
  // rounding, where computing in float would lose ulp(1e4)·rstd ~ 1e-3.
  Generator rng(5);
  auto x = random_tensor<float>({6, 256}, rng);
  for (Index r = 0; r < 6; ++r) x.narrow(0, r, 1).array() += static_cast<float>((r % 2 ? -1 : 1) * std::pow(10.0, r % 5));
  EXPECT_TRUE(allclose(ops::layer_norm(x, Tensor<float>(), Tensor<float>(), 1e-5), naive_layer_norm(x, Tensor<float>(), Tensor<float>(), 1e-5),
                       3e-6, 1e-6));
}

TEST(LayerNormOp, TakesAnyLayoutAndEmptyRows) {
  Generator rng(9);
  const auto base = random_tensor<double>({5, 4}, rng);
  EXPECT_TRUE(allclose(ops::layer_norm(base.t()), naive_layer_norm(base.t().clone_data(), Tensor<double>(), Tensor<double>(), 1e-5), 1e-13));
  EXPECT_EQ(ops::layer_norm(Tensor<double>::zeros({0, 4})).shape(), (Shape{0, 4}));
  // A constant row has zero variance: x̂ = 0, never NaN.
  EXPECT_EQ(ops::layer_norm(Tensor<double>::full({1, 3}, 7.0), Tensor<double>(), Tensor<double>(), 1e-12), Tensor<double>::zeros({1, 3}));
}

TEST(LayerNormOp, GradientsMatchFiniteDifferences) {
  Generator rng(7);
  const auto x = random_tensor<double>({3, 5}, rng), w = random_tensor<double>({5}, rng), b = random_tensor<double>({5}, rng);
  const auto ln = [](double eps) {
    return [eps](const Tensor<double>& x, const Tensor<double>& w, const Tensor<double>& b) { return ops::layer_norm(x, w, b, eps); };
  };
  EXPECT_TRUE(gradcheck(ln(1e-5), x, w, b));
  EXPECT_TRUE(gradcheck(ln(1e-12), random_tensor<double>({2, 3, 4}, rng), random_tensor<double>({4}, rng), random_tensor<double>({4}, rng)));
  // Without weight, without bias, without both.
  EXPECT_TRUE(gradcheck([](const Tensor<double>& x, const Tensor<double>& b) { return ops::layer_norm(x, Tensor<double>(), b); }, x, b));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& x, const Tensor<double>& w) { return ops::layer_norm(x, w); }, x, w));
  EXPECT_TRUE(gradcheck([](const Tensor<double>& x) { return ops::layer_norm(x); }, x));
  // Non-contiguous x: a transposed view, and a strided slice.
  const auto xt = random_tensor<double>({5, 3}, rng).t();
  EXPECT_TRUE(gradcheck(ln(1e-5), xt, w, b));
  const auto xs = random_tensor<double>({3, 10}, rng).slice(1, 0, 10, 2);
  EXPECT_TRUE(gradcheck(ln(1e-5), xs, w, b));
}

TEST(LayerNormOp, GradientOnlyForParametersWhenXIsConstant) {
  Generator rng(8);
  const auto x = random_tensor<double>({4, 6}, rng), w = random_tensor<double>({6}, rng).requires_grad_(),
             b = random_tensor<double>({6}, rng).requires_grad_();
  ops::layer_norm(x, w, b).backward(Tensor<double>::ones({4, 6}));
  // With grad_y = 1: grad_weight = Σ_rows x̂, grad_bias = number of rows.
  EXPECT_TRUE(allclose(b.grad(), Tensor<double>::full({6}, 4.0), 1e-14));
  Tensor<double> column_sums = Tensor<double>::empty({6});
  column_sums.vector() = naive_layer_norm(x, Tensor<double>(), Tensor<double>(), 1e-5).matrix().colwise().sum().transpose();
  EXPECT_TRUE(allclose(w.grad(), column_sums, 1e-13));
  EXPECT_FALSE(x.grad().defined());
}

TEST(LayerNormOp, ThreadedBackwardIsDeterministicAndMatchesSerial) {
  Generator rng(10);
  const auto x0 = random_tensor<float>({512, 256}, rng), w0 = random_tensor<float>({256}, rng), b0 = random_tensor<float>({256}, rng);
  const auto gy = random_tensor<float>({512, 256}, rng);
  const int saved_threads = get_num_threads();
  auto run = [&](int threads) {
    set_num_threads(threads);
    const auto x = x0.clone_data().requires_grad_(), w = w0.clone_data().requires_grad_(), b = b0.clone_data().requires_grad_();
    const auto y = ops::layer_norm(x, w, b, 1e-12);
    y.backward(gy);
    return std::vector<Tensor<float>>{y.detach(), x.grad(), w.grad(), b.grad()};
  };
  const auto two = run(2), two_again = run(2), one = run(1);
  set_num_threads(saved_threads);
  for (std::size_t i = 0; i < two.size(); ++i) {
    EXPECT_EQ(two[i], two_again[i]) << "output " << i;
    EXPECT_TRUE(allclose(two[i], one[i], 1e-5, 1e-5)) << "output " << i;
  }
}

// The backward keeps x̂ and grad_y·weight of each row in a heap scratch buffer, and malloc aligns it to
// 16 bytes only: whether it also meets a 32-byte AVX packet is chance. Its two row means must not
// depend on that, or grad_x changes in its last bits with the heap's history and a resumed training run
// (examples/mlm_pretrain --resume) drifts from the straight one. Here the scratch starts at every float
// offset within 64 bytes, so the row means see every misalignment an SSE, AVX or AVX-512 build can.
TEST(LayerNormOp, BackwardRowIsBitIdenticalWhereverItsScratchLies) {
  Generator rng(11);
  for (Index C : {5, 48, 64, 100, 768}) {
    const auto x = random_tensor<float>({C}, rng, 2.0), gy = random_tensor<float>({C}, rng), w = random_tensor<float>({C}, rng);
    const auto [mean, rstd] = ops::detail::row_moments(x.data(), C, 1e-12);
    const ops::detail::RowNormalizer<float> norm(mean, rstd);
    const Tensor<float> scratch = Tensor<float>::empty({2 * C + 16});  // 64-byte aligned, as every tensor
    for (const bool affine : {true, false}) {
      Tensor<float> at_zero;
      for (Index shift = 0; shift < 16; ++shift) {
        const Tensor<float> gx = Tensor<float>::zeros({C});
        ops::detail::layer_norm_backward_row(x.data(), gy.data(), affine ? w.data() : nullptr, norm, C, scratch.data() + shift,
                                             scratch.data() + shift + C, gx.data(), false, nullptr, nullptr);
        if (shift == 0) at_zero = gx;
        else EXPECT_TRUE(gx == at_zero) << "C " << C << (affine ? ", with" : ", without") << " weight, scratch " << shift << " floats on";
      }
    }
  }
}

// tests/reference/make_norm_fixtures.py: torch.nn.functional.layer_norm in float32 (and float64 for
// the rows of large mean), forward and backward.
TEST(LayerNormOp, MatchesPyTorchForwardAndBackward) {
  const auto f = support::load_fixture<float>("ops/layer_norm.safetensors");
  const auto f64 = support::load_fixture<double>("ops/layer_norm.safetensors");
  for (const std::string c : {"bert.", "plain.", "large_mean."}) {
    SCOPED_TRACE(c);
    auto get = [&](const std::string& name) { return support::fixture_tensor(f, c + name).clone_data(); };
    const bool affine = f.count(c + "weight") > 0;
    const auto x = get("x").requires_grad_();
    const auto w = affine ? get("weight").requires_grad_() : Tensor<float>(), b = affine ? get("bias").requires_grad_() : Tensor<float>();
    const double eps = support::fixture_tensor(f64, c + "eps").item();
    const auto y = ops::layer_norm(x, w, b, eps);
    y.backward(get("grad_y"));
    // Torch's own float32 error dominates on rows of mean 2e4 (~1e-3); elsewhere both are near exact.
    const double atol = c == "large_mean." ? 2e-3 : 1e-5;
    EXPECT_TRUE(allclose(y.detach(), get("y"), atol, 1e-5));
    EXPECT_TRUE(allclose(x.grad(), get("grad_x"), atol, 1e-5));
    if (affine) {
      EXPECT_TRUE(allclose(w.grad(), get("grad_weight"), 10 * atol, 1e-5));
      EXPECT_TRUE(allclose(b.grad(), get("grad_bias"), 1e-5, 1e-5));
    }
    if (c == "large_mean.") {  // against the float64 answer ours keeps float precision
      EXPECT_TRUE(allclose(y.detach().to<double>(), support::fixture_tensor(f64, c + "y64"), 1e-5, 1e-6));
      EXPECT_TRUE(allclose(x.grad().to<double>(), support::fixture_tensor(f64, c + "grad_x64"), 2e-5, 1e-6));
    }
  }
}

TEST(LayerNormOp, BadInputsNameOpAndShapes) {
  const auto x = Tensor<double>::zeros({2, 4});
  EXPECT_THAT([&] { ops::layer_norm(x, Tensor<double>::zeros({5})); },
              ThrowsMessage<ShapeError>(testing::StrEq("layer_norm: weight must be [4] to match the last axis of x [2, 4], got [5]")));
  EXPECT_THAT([&] { ops::layer_norm(x, Tensor<double>(), Tensor<double>::zeros({4, 1})); },
              ThrowsMessage<ShapeError>(testing::StrEq("layer_norm: bias must be [4] to match the last axis of x [2, 4], got [4, 1]")));
  EXPECT_THAT([&] { ops::layer_norm(Tensor<double>::scalar(1.0)); }, ThrowsMessage<ShapeError>(HasSubstr("at least 1 axis")));
  EXPECT_THAT([&] { ops::layer_norm(x, Tensor<double>(), Tensor<double>(), -1.0); },
              ThrowsMessage<ValueError>(testing::StrEq("layer_norm: eps must be >= 0, got -1")));
}

}  // namespace
}  // namespace foundry
