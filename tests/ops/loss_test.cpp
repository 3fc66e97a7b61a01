// tests/ops/loss_test.cpp mirrors include/foundry/ops/loss.hpp
#include "foundry/ops/loss.hpp"

#include <array>
#include <cmath>
#include <map>
#include <string>

#include "support/fixtures.hpp"
#include "support/testing.hpp"

namespace foundry {
namespace {

using ops::Reduction;
using support::allclose;
using support::random_tensor;
using testing::HasSubstr;
using testing::StrEq;
using testing::ThrowsMessage;

using Ids = Tensor<std::int64_t>;

// Per-element cross-entropy by the textbook formula: -Σ_c q_c log p_c with q = (1 - ε) onehot + ε / C.
std::vector<double> reference_cross_entropy(const Tensor<double>& logits, const Ids& target, double eps, Index ignore) {
  const Index C = logits.shape().back(), N = target.numel();
  const auto x = logits.to_vector();
  const auto t = target.to_vector();
  std::vector<double> out(static_cast<std::size_t>(N), 0.0);
  for (Index i = 0; i < N; ++i) {
    if (t[i] == ignore) continue;
    double s = 0;
    for (Index c = 0; c < C; ++c) s += std::exp(x[i * C + c]);
    for (Index c = 0; c < C; ++c) {
      const double q = (1 - eps) * (c == t[i]) + eps / static_cast<double>(C);
      out[i] -= q * (x[i * C + c] - std::log(s));
    }
  }
  return out;
}

// ---- cross_entropy ------------------------------------------------------------------------------------

TEST(CrossEntropyOp, MatchesHandWorkedValues) {
  // log Σ exp([1, 2, 3]) = 3.4076059644443806, so the loss for class 2 is 0.40760596444438
  // and for class 0 it is 2.40760596444438.
  const auto logits = Tensor<double>::from({{1, 2, 3}, {1, 2, 3}});
  const auto target = Ids::from({2, 0});
  EXPECT_TRUE(allclose(ops::cross_entropy(logits, target, {.reduction = Reduction::None}),
                       Tensor<double>::from({0.4076059644443806, 2.4076059644443806}), 1e-15));
  EXPECT_TRUE(allclose(ops::cross_entropy(logits, target), Tensor<double>::scalar(1.4076059644443806), 1e-15));
  EXPECT_TRUE(allclose(ops::cross_entropy(logits, target, {.reduction = Reduction::Sum}),
                       Tensor<double>::scalar(2.8152119288887612), 1e-15));
  // ε = 0.3: loss = lse - 0.7 x_t - 0.1 Σx = 3.40760596 - 2.1 - 0.6 for class 2.
  EXPECT_TRUE(allclose(ops::cross_entropy(logits, target, {.label_smoothing = 0.3, .reduction = Reduction::None}),
                       Tensor<double>::from({3.4076059644443806 - 2.1 - 0.6, 3.4076059644443806 - 0.7 - 0.6}), 1e-15));
}

TEST(CrossEntropyOp, IgnoredTargetsAddNothingAndAreNotCounted) {
  const auto logits = Tensor<double>::from({{1, 2, 3}, {5, 0, 0}, {1, 2, 3}});
  const auto target = Ids::from({2, -100, 0});
  EXPECT_TRUE(allclose(ops::cross_entropy(logits, target, {.reduction = Reduction::None}),
                       Tensor<double>::from({0.4076059644443806, 0, 2.4076059644443806}), 1e-15));
  EXPECT_TRUE(allclose(ops::cross_entropy(logits, target), Tensor<double>::scalar(1.4076059644443806), 1e-15));
  // A custom ignore_index may be a real class id.
  EXPECT_TRUE(allclose(ops::cross_entropy(logits, Ids::from({2, 1, 1}), {.ignore_index = 1}),
                       Tensor<double>::scalar(0.4076059644443806), 1e-15));
}

TEST(CrossEntropyOp, AllIgnoredMeanIsNanWithZeroGradient) {
  // As PyTorch: mean over zero counted targets is 0/0 = NaN; nothing flows back.
  const auto logits = Tensor<double>::from({{1, 2}, {3, 4}}).requires_grad_();
  const auto loss = ops::cross_entropy(logits, Ids::from({-100, -100}), {.label_smoothing = 0.1});
  EXPECT_TRUE(std::isnan(loss.item()));
  loss.backward();
  EXPECT_EQ(logits.grad(), Tensor<double>::zeros({2, 2}));
  EXPECT_EQ(ops::cross_entropy(logits, Ids::from({-100, -100}), {.reduction = Reduction::Sum}).item(), 0);
}

TEST(CrossEntropyOp, MatchesTextbookFormulaWithSmoothingAndLeadingAxes) {
  // [B, T, C] logits with class axis last; large logits too (lse stays finite).
  Generator rng(1);
  const auto logits = random_tensor<double>({2, 3, 7}, rng, 20.0);
  const auto target = Ids::from({0, 6, -100, 3, 3, 1}, {2, 3});
  for (double eps : {0.0, 0.1, 1.0}) {
    const auto want = reference_cross_entropy(logits, target, eps, -100);
    const auto none = ops::cross_entropy(logits, target, {.label_smoothing = eps, .reduction = Reduction::None});
    EXPECT_TRUE(allclose(none, from_vector(want, {2, 3}), 1e-12, 1e-12)) << eps;
    double total = 0;
    for (double v : want) total += v;
    EXPECT_NEAR(ops::cross_entropy(logits, target, {.label_smoothing = eps}).item(), total / 5, 1e-12);
  }
}

TEST(CrossEntropyOp, UnbatchedLogitsTakeScalarTarget) {
  const auto loss = ops::cross_entropy(Tensor<double>::from({1, 2, 3}), Ids::scalar(2));
  EXPECT_TRUE(allclose(loss, Tensor<double>::scalar(0.4076059644443806), 1e-15));
}

TEST(CrossEntropyOp, GradientIsSoftmaxMinusSmoothedTarget) {
  // d/dx = softmax(x) - ((1 - ε) onehot + ε/C), divided by the 2 counted rows under Mean.
  const auto logits = Tensor<double>::from({{0, 0}, {0, 0}}).requires_grad_();
  ops::cross_entropy(logits, Ids::from({0, 1}), {.label_smoothing = 0.2}).backward();
  EXPECT_TRUE(allclose(logits.grad(), Tensor<double>::from({{(0.5 - 0.9) / 2, (0.5 - 0.1) / 2}, {(0.5 - 0.1) / 2, (0.5 - 0.9) / 2}}),
                       1e-15));
}

TEST(CrossEntropyOp, GradientsMatchFiniteDifferences) {
  Generator rng(2);
  const auto logits = random_tensor<double>({4, 5}, rng, 2.0);
  const auto target = Ids::from({1, -100, 4, 0});
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None})
    for (double eps : {0.0, 0.25}) {
      const ops::CrossEntropyOptions opt{.label_smoothing = eps, .reduction = r};
      EXPECT_TRUE(autograd::gradcheck([&](const Tensor<double>& x) { return ops::cross_entropy(x, target, opt); }, logits))
          << static_cast<int>(r) << " " << eps;
    }
  // [B, T, C] and non-contiguous logits (a transpose, and a strided slice of the class axis).
  const auto bt = random_tensor<double>({2, 3, 4}, rng);
  const auto bt_target = Ids::from({0, 3, 2, -100, 1, 1}, {2, 3});
  EXPECT_TRUE(autograd::gradcheck(
      [&](const Tensor<double>& x) { return ops::cross_entropy(x, bt_target, {.label_smoothing = 0.1}); }, bt));
  const auto t = random_tensor<double>({5, 3}, rng).t();
  const auto s = random_tensor<double>({3, 10}, rng).slice(1, 0, 10, 2);
  for (const auto& x : {t, s})
    EXPECT_TRUE(autograd::gradcheck(
        [](const Tensor<double>& a) { return ops::cross_entropy(a, Ids::from({4, 0, 2}), {.label_smoothing = 0.3}); }, x));
}

TEST(CrossEntropyOp, FloatRowsOfVocabularyWidthAgreeWithDouble) {
  // 64 rows of 30k classes take the threaded path; float logits of magnitude ~10 lose nothing visible.
  Generator rng(3);
  const auto logits = random_tensor<float>({64, 30000}, rng, 10.0);
  const auto target = randint(0, 30000, {64}, rng);
  target.data()[5] = -100;
  const auto want = ops::cross_entropy(logits.to<double>(), target, {.label_smoothing = 0.1});
  const auto got = ops::cross_entropy(logits, target, {.label_smoothing = 0.1});
  EXPECT_NEAR(got.item(), want.item(), 1e-5 * want.item());
  const auto x = logits.detach().requires_grad_();
  ops::cross_entropy(x, target).backward();
  const auto xd = logits.to<double>().requires_grad_();
  ops::cross_entropy(xd, target).backward();
  EXPECT_TRUE(allclose(x.grad().to<double>(), xd.grad(), 1e-9, 1e-4));
}

TEST(CrossEntropyOp, BadInputsNameOpValuesAndShapes) {
  const auto logits = Tensor<double>::zeros({3, 10});
  EXPECT_THAT([&] { ops::cross_entropy(logits, Ids::from({1, 12, 3})); },
              ThrowsMessage<IndexError>(StrEq("cross_entropy: target 12 at position [1] is out of range for 10 classes "
                                              "(scores [3, 10]); expected a class in [0, 10) or ignore_index -100")));
  EXPECT_THAT([&] { ops::cross_entropy(Tensor<double>::zeros({2, 2, 4}), Ids::from({0, 1, -1, 2}, {2, 2})); },
              ThrowsMessage<IndexError>(HasSubstr("target -1 at position [1, 0] is out of range for 4 classes")));
  EXPECT_THAT([&] { ops::cross_entropy(logits, Ids::from({1, 2, 3, 4})); },
              ThrowsMessage<ShapeError>(StrEq("cross_entropy: target shape [4] does not match logits shape [3, 10] "
                                              "without its class axis, [3]")));
  EXPECT_THAT([&] { ops::cross_entropy(Tensor<double>::scalar(1), Ids::scalar(0)); },
              ThrowsMessage<ShapeError>(StrEq("cross_entropy: logits must have a class axis (last), got shape []")));
  EXPECT_THAT([&] { ops::cross_entropy(logits, Ids::from({1, 2, 3}), {.label_smoothing = 1.5}); },
              ThrowsMessage<ValueError>(StrEq("cross_entropy: label_smoothing must be in [0, 1], got 1.5")));
}

// ---- linear_cross_entropy -----------------------------------------------------------------------------

// Lowers linear_cross_entropy's gradient block to one depth block of columns (256) for a scope.
struct SmallLinearCrossEntropyBlocks {
  Index saved = ops::detail::linear_cross_entropy_block_elements();
  SmallLinearCrossEntropyBlocks() { ops::detail::linear_cross_entropy_block_elements() = 1; }
  ~SmallLinearCrossEntropyBlocks() { ops::detail::linear_cross_entropy_block_elements() = saved; }
};

TEST(LinearCrossEntropyOp, GradientsMatchFiniteDifferencesAcrossColumnBlocks) {
  const SmallLinearCrossEntropyBlocks blocks;  // 600 classes: blocks of 256, 256 and 88 columns
  Generator rng(11);
  const auto x = random_tensor<double>({2, 3, 4}, rng);
  const auto w = random_tensor<double>({600, 4}, rng, 0.5);
  const auto b = random_tensor<double>({600}, rng);
  const auto target = Ids::from({7, 599, -100, 256, 255, 0}, {2, 3});
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None})
    for (double eps : {0.0, 0.2}) {
      const ops::CrossEntropyOptions opt{.label_smoothing = eps, .reduction = r};
      EXPECT_TRUE(autograd::gradcheck(
          [&](const Tensor<double>& xx, const Tensor<double>& ww, const Tensor<double>& bb) {
            return ops::linear_cross_entropy(xx, ww, bb, target, opt).loss;
          },
          x, w, b))
          << static_cast<int>(r) << " " << eps;
    }
  // No bias, and x a transposed (non-contiguous) view.
  const auto xt = random_tensor<double>({4, 3}, rng).t();
  EXPECT_TRUE(autograd::gradcheck(
      [&](const Tensor<double>& xx, const Tensor<double>& ww) {
        return ops::linear_cross_entropy(xx, ww, Tensor<double>(), Ids::from({3, 300, 598})).loss;
      },
      xt, w));
}

// A linear_cross_entropy problem: x [rows..., in], w [classes, in] (scaled by 0.3), b [classes] and
// class targets, every row whose flat index is not a multiple of `counted_every` ignored (-100) when
// `ignore_others`, else every `counted_every`-th row ignored. leaves() gives fresh leaves of x, w, b
// for each way of computing it.
struct LinearCrossEntropyCase {
  Tensor<float> x, w, b;
  Tensor<std::int64_t> target;
  LinearCrossEntropyCase(std::uint64_t seed, const Shape& rows, Index in, Index classes, Index every, bool ignore_others) {
    Generator rng(seed);
    Shape x_shape = rows;
    x_shape.push_back(in);
    x = random_tensor<float>(x_shape, rng);
    w = random_tensor<float>({classes, in}, rng, 0.3);
    b = random_tensor<float>({classes}, rng);
    target = randint(0, classes, rows, rng);
    for (Index i = 0; i < target.numel(); ++i)
      if ((i % every == 0) != ignore_others) target.data()[i] = -100;
  }
  std::array<Tensor<float>, 3> leaves() const {
    return {x.detach().requires_grad_(), w.detach().requires_grad_(), b.detach().requires_grad_()};
  }
};

TEST(LinearCrossEntropyOp, EqualsLinearThenCrossEntropyBitForBit) {
  const SmallLinearCrossEntropyBlocks blocks;
  const LinearCrossEntropyCase c(12, {2, 50}, 32, 700, 3, false);  // every third row ignored
  const auto& target = c.target;
  const ops::CrossEntropyOptions opt{.label_smoothing = 0.1};

  const auto [x1, w1, b1] = c.leaves();
  const auto logits1 = ops::linear(x1, w1, b1);
  const auto loss1 = ops::cross_entropy(logits1, target, opt);
  loss1.backward();
  const auto [x2, w2, b2] = c.leaves();
  const auto [loss2, logits2] = ops::linear_cross_entropy(x2, w2, b2, target, opt);
  EXPECT_FALSE(logits2.requires_grad());
  EXPECT_EQ(logits2.shape(), (Shape{2, 50, 700}));
  loss2.backward();
  // Foundry's float GEMM sums in a fixed order that column blocks of 256 keep: the same bits. Eigen's
  // (FOUNDRY_GEMM=eigen) may block the vocabulary sum differently: then within float rounding.
  const double tol = ops::detail::own_sgemm_enabled() ? 0.0 : 1e-5;
  EXPECT_TRUE(allclose(logits2, logits1.detach(), 0.0, 0.0));
  EXPECT_TRUE(allclose(loss2, loss1.detach(), 0.0, 0.0));
  EXPECT_TRUE(allclose(x2.grad(), x1.grad(), tol, tol));
  EXPECT_TRUE(allclose(w2.grad(), w1.grad(), tol, tol));
  EXPECT_TRUE(allclose(b2.grad(), b1.grad(), tol, tol));
}

// Ignored rows have no logit gradient: backward runs its products over the counted rows only. Against
// linear + cross_entropy: the same grad_x and grad_b bits; grad_w sums the same products grouped by the
// GEMM's depth blocks of counted rows (600 rows here, so more than one block): equal to rounding.
TEST(LinearCrossEntropyOp, IgnoredRowsAreSkippedInBackward) {
  const SmallLinearCrossEntropyBlocks blocks;
  const LinearCrossEntropyCase c(21, {3, 200}, 24, 520, 7, true);  // 86 counted rows of 600
  const auto& target = c.target;
  Generator rng(22);
  for (const auto reduction : {Reduction::Mean, Reduction::None}) {
    ops::CrossEntropyOptions opt{.label_smoothing = 0.05};
    opt.reduction = reduction;
    const auto r = random_tensor<float>({3, 200}, rng);
    auto reduce = [&](const Tensor<float>& loss) { return reduction == Reduction::None ? (loss * r).sum() : loss; };
    const auto [x1, w1, b1] = c.leaves();
    reduce(ops::cross_entropy(ops::linear(x1, w1, b1), target, opt)).backward();
    const auto [x2, w2, b2] = c.leaves();
    reduce(ops::linear_cross_entropy(x2, w2, b2, target, opt).loss).backward();
    const double tol = ops::detail::own_sgemm_enabled() ? 0.0 : 1e-5;
    EXPECT_TRUE(allclose(x2.grad(), x1.grad(), tol, tol));
    EXPECT_TRUE(allclose(b2.grad(), b1.grad(), tol, tol));
    EXPECT_TRUE(allclose(w2.grad(), w1.grad(), 1e-6, 1e-5));
    for (Index j = 0; j < 24; ++j) EXPECT_EQ(x2.grad().data()[24 + j], 0.0f);  // row 1 is ignored
    // A second backward adds: the ignored rows stay 0, the others double.
    reduce(ops::linear_cross_entropy(x2, w2, b2, target, opt).loss).backward();
    EXPECT_TRUE(allclose(x2.grad(), x1.grad() * 2.0f, 1e-6, 1e-5));
    EXPECT_TRUE(allclose(w2.grad(), w1.grad() * 2.0f, 1e-6, 1e-5));
  }
  // Nothing counted: zero gradients everywhere (a mean over nothing is NaN, its gradient 0).
  const auto none = Tensor<std::int64_t>::full({3, 200}, -100);
  const auto [x3, w3, b3] = c.leaves();
  const auto loss3 = ops::linear_cross_entropy(x3, w3, b3, none).loss;
  EXPECT_TRUE(std::isnan(loss3.item()));
  loss3.backward();
  EXPECT_EQ(x3.grad(), Tensor<float>::zeros({3, 200, 24}));
  EXPECT_EQ(w3.grad(), Tensor<float>::zeros({520, 24}));
  EXPECT_EQ(b3.grad(), Tensor<float>::zeros({520}));
}

TEST(LinearCrossEntropyOp, BackwardNeverHoldsTheWholeLogitGradient) {
  if (!detail::kBufferCacheEnabled) GTEST_SKIP() << "buffer accounting is off under AddressSanitizer";
  const SmallLinearCrossEntropyBlocks blocks;
  Generator rng(13);
  const auto x0 = random_tensor<float>({256, 64}, rng);
  const auto w0 = random_tensor<float>({4096, 64}, rng, 0.1);  // logits [256, 4096]: 4 MiB
  const auto target = randint(0, 4096, {256}, rng);
  auto backward_peak = [&](bool fused) {
    const auto x = x0.detach().requires_grad_(), w = w0.detach().requires_grad_();
    Tensor<float> loss, logits;
    if (fused) {
      loss = ops::linear_cross_entropy(x, w, Tensor<float>(), target).loss;
    } else {
      logits = ops::linear(x, w);
      loss = ops::cross_entropy(logits, target);
    }
    reset_peak_buffer_bytes();
    const std::size_t before = buffer_bytes_in_use();
    loss.backward();
    return peak_buffer_bytes_in_use() - before;
  };
  const std::size_t logit_bytes = 256 * 4096 * sizeof(float);
  const std::size_t fused = backward_peak(true), unfused = backward_peak(false);
  EXPECT_GE(unfused, logit_bytes);             // the [256, 4096] gradient, and the weight's
  EXPECT_LE(fused + logit_bytes * 9 / 10, unfused);  // a 256-column block instead
}

TEST(LinearCrossEntropyOp, BadInputsNameTheOpAndShapes) {
  const auto x = Tensor<double>::zeros({3, 4});
  const auto w = Tensor<double>::zeros({10, 4});
  EXPECT_THAT([&] { ops::linear_cross_entropy(x, Tensor<double>::zeros({10, 5}), Tensor<double>(), Ids::from({1, 2, 3})); },
              ThrowsMessage<ShapeError>(HasSubstr("linear_cross_entropy: x axis 1 (4) must equal weight axis 1 (5)")));
  EXPECT_THAT([&] { ops::linear_cross_entropy(x, w, Tensor<double>(), Ids::from({1, 2})); },
              ThrowsMessage<ShapeError>(StrEq("linear_cross_entropy: target shape [2] does not match logits shape [3, 10] "
                                              "without its class axis, [3]")));
  EXPECT_THAT([&] { ops::linear_cross_entropy(x, w, Tensor<double>(), Ids::from({1, 10, 3})); },
              ThrowsMessage<IndexError>(HasSubstr("linear_cross_entropy: target 10 at position [1] is out of range for 10 classes")));
  EXPECT_THAT([&] { ops::linear_cross_entropy(x, w, Tensor<double>(), Ids::from({1, 2, 3}), {.label_smoothing = -0.5}); },
              ThrowsMessage<ValueError>(StrEq("linear_cross_entropy: label_smoothing must be in [0, 1], got -0.5")));
}

// ---- nll_loss -----------------------------------------------------------------------------------------

TEST(NllLossOp, PicksNegatedLogProbabilities) {
  const auto lp = Tensor<double>::from({{-0.5, -1.5, -2}, {-3, -0.25, -4}});
  EXPECT_EQ(ops::nll_loss(lp, Ids::from({1, 2})), Tensor<double>::scalar(2.75));
  EXPECT_EQ(ops::nll_loss(lp, Ids::from({1, -100})), Tensor<double>::scalar(1.5));
  EXPECT_EQ(ops::nll_loss(lp, Ids::from({0, 1}), {.reduction = Reduction::Sum}), Tensor<double>::scalar(0.75));
  EXPECT_EQ(ops::nll_loss(lp, Ids::from({0, 1}), {.ignore_index = 0, .reduction = Reduction::None}),
            Tensor<double>::from({0, 0.25}));
  EXPECT_EQ(ops::nll_loss(lp.t(), Ids::from({1, 0, 1})), Tensor<double>::scalar((3 + 1.5 + 4) / 3.0));
  EXPECT_TRUE(std::isnan(ops::nll_loss(lp, Ids::from({-100, -100})).item()));
}

TEST(NllLossOp, EqualsCrossEntropyOfLogSoftmax) {
  Generator rng(4);
  const auto logits = random_tensor<double>({6, 5}, rng);
  const auto target = Ids::from({0, 4, -100, 2, 2, 1});
  EXPECT_TRUE(allclose(ops::nll_loss(ops::log_softmax(logits, -1), target), ops::cross_entropy(logits, target), 1e-14));
}

TEST(NllLossOp, GradientsMatchFiniteDifferences) {
  Generator rng(5);
  const auto lp = random_tensor<double>({4, 3}, rng);
  const auto target = Ids::from({2, -100, 0, 0});
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None})
    EXPECT_TRUE(autograd::gradcheck([&](const Tensor<double>& x) { return ops::nll_loss(x, target, {.reduction = r}); }, lp));
  EXPECT_TRUE(autograd::gradcheck([](const Tensor<double>& x) { return ops::nll_loss(x, Ids::from({1, 0, 1})); },
                                  random_tensor<double>({2, 3}, rng).t()));
  EXPECT_TRUE(autograd::gradcheck(
      [](const Tensor<double>& x) { return ops::nll_loss(ops::log_softmax(x, -1), Ids::from({1, 0}, {1, 2})); },
      random_tensor<double>({1, 2, 3}, rng)));
}

TEST(NllLossOp, BadInputsNameOpValuesAndShapes) {
  const auto lp = Tensor<double>::zeros({2, 3});
  EXPECT_THAT([&] { ops::nll_loss(lp, Ids::from({3, 0})); },
              ThrowsMessage<IndexError>(StrEq("nll_loss: target 3 at position [0] is out of range for 3 classes "
                                              "(scores [2, 3]); expected a class in [0, 3) or ignore_index -100")));
  EXPECT_THAT([&] { ops::nll_loss(lp, Ids::from({{0, 1}})); },
              ThrowsMessage<ShapeError>(StrEq("nll_loss: target shape [1, 2] does not match log_probs shape [2, 3] "
                                              "without its class axis, [2]")));
}

// ---- mse_loss -----------------------------------------------------------------------------------------

TEST(MseLossOp, MatchesHandWorkedValues) {
  const auto a = Tensor<double>::from({{1, 2}, {3, 4}}), b = Tensor<double>::from({{1, 0}, {6, 4}});
  EXPECT_EQ(ops::mse_loss(a, b), Tensor<double>::scalar(13.0 / 4));
  EXPECT_EQ(ops::mse_loss(a, b, Reduction::Sum), Tensor<double>::scalar(13));
  EXPECT_EQ(ops::mse_loss(a, b, Reduction::None), Tensor<double>::from({{0, 4}, {9, 0}}));
  EXPECT_EQ(ops::mse_loss(a.t(), b.t(), Reduction::None), Tensor<double>::from({{0, 9}, {4, 0}}));
  EXPECT_TRUE(std::isnan(ops::mse_loss(Tensor<double>::zeros({0}), Tensor<double>::zeros({0})).item()));
}

TEST(MseLossOp, GradientsMatchFiniteDifferences) {
  Generator rng(6);
  const auto a = random_tensor<double>({3, 4}, rng), b = random_tensor<double>({3, 4}, rng);
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None})
    EXPECT_TRUE(autograd::gradcheck([&](const Tensor<double>& x, const Tensor<double>& y) { return ops::mse_loss(x, y, r); },
                                    a, b));
  EXPECT_TRUE(autograd::gradcheck([](const Tensor<double>& x, const Tensor<double>& y) { return ops::mse_loss(x, y); },
                                  random_tensor<double>({4, 3}, rng).t(), random_tensor<double>({3, 8}, rng).slice(1, 0, 8, 2)));
}

TEST(MseLossOp, ShapeMismatchNamesBothShapes) {
  EXPECT_THAT([] { ops::mse_loss(Tensor<double>::zeros({2, 3}), Tensor<double>::zeros({3})); },
              ThrowsMessage<ShapeError>(StrEq("mse_loss: input shape [2, 3] must equal target shape [3]")));
}

// ---- against PyTorch (tests/reference/make_reduce_fixtures.py) -------------------------------------

class LossFixture : public testing::Test {
 protected:
  std::map<std::string, Tensor<float>> f_ = support::load_fixture<float>("ops/loss.safetensors");
  const Tensor<float>& at(const std::string& name) const { return support::fixture_tensor(f_, name); }
  Ids ids(const std::string& name) const { return at(name).to<std::int64_t>(); }
};

TEST_F(LossFixture, CrossEntropyWithIgnoreAndSmoothingMatchesPyTorch) {
  struct Case {
    std::string name;
    ops::CrossEntropyOptions options;
  };
  for (const Case& c : {Case{"ce.mean", {}}, Case{"ce.mean_smooth", {.label_smoothing = 0.1}},
                        Case{"ce.sum_smooth", {.label_smoothing = 0.2, .reduction = Reduction::Sum}},
                        Case{"ce.none_smooth", {.label_smoothing = 0.1, .reduction = Reduction::None}},
                        Case{"ce.mean_ignore2", {.ignore_index = 2, .label_smoothing = 0.05}}}) {
    const auto x = at("ce.logits").clone_data().requires_grad_();
    const auto y = ops::cross_entropy(x, ids(c.name + ".target"), c.options);
    y.backward(at(c.name + ".grad_y"));
    EXPECT_TRUE(allclose(y, at(c.name + ".y"), 1e-6, 1e-5)) << c.name;
    EXPECT_TRUE(allclose(x.grad(), at(c.name + ".grad_x"), 1e-7, 1e-5)) << c.name;
  }
}

TEST_F(LossFixture, CrossEntropyOnBatchTimeAndLargeLogitsMatchesPyTorch) {
  for (const std::string name : {"ce3", "ce_big"}) {
    const auto x = at(name + ".logits").clone_data().requires_grad_();
    const auto y = ops::cross_entropy(x, ids(name + ".target"), {.label_smoothing = 0.1});
    y.backward();
    EXPECT_TRUE(allclose(y, at(name + ".y"), 1e-5, 1e-6)) << name;
    EXPECT_TRUE(allclose(x.grad(), at(name + ".grad_x"), 1e-7, 1e-5)) << name;
  }
}

TEST_F(LossFixture, NllAndMseMatchPyTorch) {
  const auto lp = at("nll.log_probs").clone_data().requires_grad_();
  const auto nll = ops::nll_loss(lp, ids("nll.target"));
  nll.backward();
  EXPECT_TRUE(allclose(nll, at("nll.y"), 1e-7, 1e-6));
  EXPECT_TRUE(allclose(lp.grad(), at("nll.grad_x"), 1e-7, 1e-6));
  for (const auto& [name, reduction] : std::vector<std::pair<std::string, Reduction>>{
           {"mse.mean", Reduction::Mean}, {"mse.sum", Reduction::Sum}, {"mse.none", Reduction::None}}) {
    const auto a = at("mse.a").clone_data().requires_grad_(), b = at("mse.b").clone_data().requires_grad_();
    const auto y = ops::mse_loss(a, b, reduction);
    y.backward(at(name + ".grad_y"));
    EXPECT_TRUE(allclose(y, at(name + ".y"), 1e-6, 1e-6)) << name;
    EXPECT_TRUE(allclose(a.grad(), at(name + ".grad_a"), 1e-6, 1e-5)) << name;
    EXPECT_TRUE(allclose(b.grad(), at(name + ".grad_b"), 1e-6, 1e-5)) << name;
  }
}

}  // namespace
}  // namespace foundry
