// ops/loss.hpp: cross_entropy (a fused log_softmax + NLL with ignore_index and label smoothing),
// nll_loss and mse_loss, with PyTorch's reductions. Classes sit on the LAST axis: logits [N, C] or
// [B, T, C] with targets [N] or [B, T] (PyTorch puts them on axis 1 when rank > 2; for [N, C] the two
// agree). Class weights are not supported. Usage:
//   auto loss = cross_entropy(logits, labels, {.ignore_index = -100, .label_smoothing = 0.1});
#pragma once

#include <algorithm>
#include <optional>
#include <string>

#include "foundry/ops/index.hpp"
#include "foundry/ops/linear.hpp"
#include "foundry/ops/softmax.hpp"

namespace foundry {
namespace ops {

// How a loss folds its per-element values: None keeps them (shape of the target), Sum adds them,
// Mean divides the sum by the number of counted elements (non-ignored targets for class losses).
enum class Reduction { None, Mean, Sum };

struct CrossEntropyOptions {
  Index ignore_index = -100;    // targets equal to this add nothing and are not counted by Mean
  double label_smoothing = 0.0; // ε in [0, 1]: the target distribution is (1 - ε)·onehot + ε/C
  Reduction reduction = Reduction::Mean;
};

struct NllLossOptions {
  Index ignore_index = -100;
  Reduction reduction = Reduction::Mean;
};

namespace detail {

inline void check_label_smoothing(const char* op, double eps) {
  if (!(eps >= 0.0 && eps <= 1.0)) foundry::detail::fail<ValueError>(op, ": label_smoothing must be in [0, 1], got ", eps);
}

inline std::string multi_index_str(const Shape& shape, Index flat) {
  Shape idx = Shape::filled(shape.size(), 0);
  for (int a = shape.size() - 1; a >= 0; --a) {
    idx[a] = shape[a] ? flat % shape[a] : 0;
    flat = shape[a] ? flat / shape[a] : 0;
  }
  return idx.str();
}

// Checks scores [..., C] against target [...] and returns the batch shape [...].
template <class T>
Shape class_batch_shape(const char* op, const char* scores_name, const Tensor<T>& scores, const Tensor<std::int64_t>& target) {
  if (scores.dim() < 1) fail<ShapeError>(op, ": ", scores_name, " must have a class axis (last), got shape ", scores.shape());
  Shape batch = scores.shape();
  batch.erase(batch.size() - 1);
  if (target.shape() != batch)
    fail<ShapeError>(op, ": target shape ", target.shape(), " does not match ", scores_name, " shape ", scores.shape(),
                     " without its class axis, ", batch);
  return batch;
}

// Every target must be ignore_index or a class in [0, C); returns how many are not ignored.
inline Index check_class_targets(const char* op, const Tensor<std::int64_t>& target, Index classes, Index ignore_index,
                                 const Shape& scores_shape) {
  const std::int64_t* t = target.data();
  Index counted = 0;
  for (Index i = 0; i < target.numel(); ++i) {
    if (t[i] == ignore_index) continue;
    if (t[i] < 0 || t[i] >= classes)
      fail<IndexError>(op, ": target ", t[i], " at position ", multi_index_str(target.shape(), i), " is out of range for ",
                       classes, " classes (scores ", scores_shape, "); expected a class in [0, ", classes,
                       ") or ignore_index ", ignore_index);
    ++counted;
  }
  return counted;
}

// The reduced loss from per-element values (double), and the gradient scale of element i.
template <class T>
Tensor<T> reduce_loss(const std::vector<double>& values, const Shape& batch, Reduction reduction, Index counted) {
  if (reduction == Reduction::None) {
    Tensor<T> y = Tensor<T>::empty(batch);
    std::transform(values.begin(), values.end(), y.data(), [](double v) { return static_cast<T>(v); });
    return y;
  }
  double total = 0;
  for (double v : values) total += v;
  if (reduction == Reduction::Sum) return Tensor<T>::scalar(static_cast<T>(total));
  // Mean over zero counted targets is 0 / 0 = NaN, as in PyTorch.
  return Tensor<T>::scalar(counted > 0 ? static_cast<T>(total / static_cast<double>(counted)) : std::numeric_limits<T>::quiet_NaN());
}

template <class T>
T loss_grad_scale(const Tensor<T>& grad_y, Reduction reduction, Index counted, Index i) {
  if (reduction == Reduction::None) return grad_y.data()[i];
  if (reduction == Reduction::Sum) return grad_y.data()[0];
  return counted > 0 ? grad_y.data()[0] / static_cast<T>(counted) : T(0);  // nothing counted: nothing flows
}

// The forward rows of cross_entropy over x [N, C] (row-major): for each row i whose target is not
// ignored, st[2i] = max and st[2i + 1] = log Σ exp(x - max), and the row's loss (0 where ignored).
template <class T>
std::vector<double> cross_entropy_rows(const T* xv, const std::int64_t* tv, Index N, Index C, const CrossEntropyOptions& options,
                                       T* st) {
  const double eps = options.label_smoothing;
  const Index ignore = options.ignore_index;
  std::vector<double> values(static_cast<std::size_t>(N), 0.0);
  foundry::detail::parallel_for(N, std::max<Index>(1, kPointwiseGrain / std::max<Index>(C, 1)), [&](Index r0, Index r1) {
    for (Index i = r0; i < r1; ++i) {
      if (tv[i] == ignore) continue;
      const T* row = xv + i * C;
      const T m = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(row, C).maxCoeff();
      const double log_sum = std::log(block_exp_sum(row, C, m));
      st[2 * i] = m;
      st[2 * i + 1] = static_cast<T>(log_sum);
      // In double: lse - x_t loses nothing to cancellation when both are large.
      const double lse = static_cast<double>(m) + log_sum;
      double loss = lse - (1.0 - eps) * static_cast<double>(row[tv[i]]);
      if (eps > 0) loss -= eps / static_cast<double>(C) * block_sum<false>(row, C, T(0));
      values[static_cast<std::size_t>(i)] = loss;
    }
  });
  return values;
}

// Columns [c0, c1) of d loss / d x for N rows of x [*, C] (stats st from cross_entropy_rows):
// softmax_c - (1 - ε)[c = target] - ε / C, times the reduction's scale; ignored rows get 0. Output row r
// is row i = rows ? rows[r] : r of x; its values go to out + r·(c1 - c0), added to what is there when
// accumulate. Any column split gives the values of the whole row.
template <class T>
void cross_entropy_grads(const T* xv, const T* st, const std::int64_t* tv, Index N, Index C, Index c0, Index c1,
                         const Tensor<T>& grad_y, const CrossEntropyOptions& options, Index counted, T* out, bool acc,
                         const Index* rows = nullptr) {
  const T smooth = static_cast<T>(options.label_smoothing / static_cast<double>(C));
  const T keep = static_cast<T>(1.0 - options.label_smoothing);
  const Index width = c1 - c0;
  foundry::detail::parallel_for(N, std::max<Index>(1, kPointwiseGrain / std::max<Index>(width, 1)), [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      const Index i = rows ? rows[r] : r;
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> gr(out + r * width, width);
      if (tv[i] == options.ignore_index) {  // no gradient; a first contribution still writes its zeros
        if (!acc) gr.setZero();
        continue;
      }
      const T s = loss_grad_scale(grad_y, options.reduction, counted, i);
      const Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> xr(xv + i * C + c0, width);
      assign_or_add(gr, s * (((xr - st[2 * i]) - st[2 * i + 1]).exp() - smooth), acc);
      if (tv[i] >= c0 && tv[i] < c1) gr[tv[i] - c0] -= s * keep;
    }
  });
}

}  // namespace detail

// logits: [..., C], target: [...] class ids -> [] (Mean, Sum) or [...] (None).
// Per element, with lse = log Σ_c exp(x_c) and ε = label_smoothing:
//   loss = (1 - ε)(lse - x_target) + ε (lse - mean_c x_c)   (torch.nn.functional.cross_entropy)
// Mean divides by the number of non-ignored targets (NaN when there are none, as PyTorch); ignored
// targets give 0 under None. Targets outside [0, C) other than ignore_index throw IndexError.
// Backward needs softmax = exp(x - lse): it is recomputed from the logits and two saved numbers per
// row (max, log Σ exp(x - max)) rather than stored. Storing an [N, C] probability tensor would cost
// a full write in forward and as much memory as the logits (≈ 0.5 GB for 4k tokens of a 30k vocab),
// while the recompute costs one exp per element in a pass that must read and write [N, C] anyway.
template <class T>
Tensor<T> cross_entropy(const Tensor<T>& logits, const Tensor<std::int64_t>& target, const CrossEntropyOptions& options = {}) {
  static_assert(std::is_floating_point_v<T>, "cross_entropy: floating-point logits only");
  const Shape batch = detail::class_batch_shape("cross_entropy", "logits", logits, target);
  detail::check_label_smoothing("cross_entropy", options.label_smoothing);
  const Index C = logits.shape().back(), N = batch.numel(), ignore = options.ignore_index;
  const Tensor<std::int64_t> tc = target.contiguous_data();
  const Index counted = detail::check_class_targets("cross_entropy", tc, C, ignore, logits.shape());
  const Tensor<T> x = logits.contiguous_data();
  Tensor<T> stats = Tensor<T>::zeros({N, 2});  // per row: max, log Σ exp(x - max)
  const std::vector<double> values = detail::cross_entropy_rows(x.data(), tc.data(), N, C, options, stats.data());
  Tensor<T> y = detail::reduce_loss<T>(values, batch, options.reduction, counted);
  return autograd::record<T>("cross_entropy", std::move(y), {logits},
                             [logits = logits.grad_target(), x, tc, stats, options, counted, C](const Tensor<T>& grad_y) {
    const GradSlot<T> slot = logits.grad_slot();
    detail::cross_entropy_grads(x.data(), stats.data(), tc.data(), tc.numel(), C, 0, C, grad_y, options, counted, slot.data(),
                                slot.accumulate);
  });
}

// cross_entropy(linear(x, w, b), target) with the logits returned as values and their gradient
// never held whole: the output layer of a language model, whose [tokens, vocabulary] logits are the
// largest tensor of a step (64 MiB for 2048 tokens of an 8k vocabulary). Unfused, backward holds the
// logits (kept for the softmax) and their gradient at once; here it makes the gradient a block of
// vocabulary columns at a time and feeds each block to the three products at once:
// grad_x += G·w[cols], grad_w[cols] = Gᵀ·x, grad_b[cols] = column sums of G. Blocks are a multiple of
// the GEMM's depth block wide, so grad_x sums the same products in the same order as the unfused
// grad_y·w: loss and gradients are bit-identical to the composition (foundry's float GEMM). Rows
// whose target is ignore_index have no gradient, so the products run over the counted rows only (a
// masked-LM loss at all positions counts ~15%; a padded language-model batch skips its padding):
// grad_x and grad_b keep their bits, grad_w sums the same nonzero products grouped by depth blocks
// of counted rows, equal to rounding when there are more than 256 of them.
// The logits do not carry a gradient: a second loss on them needs linear() and cross_entropy().
//   auto [loss, logits] = ops::linear_cross_entropy(h, decoder_weight, decoder_bias, labels);
// x: [..., in], w: [C, in], b: [C] or undefined, target: [...] -> loss as cross_entropy, logits [..., C]
namespace detail {
// Elements of gradient linear_cross_entropy's backward makes at once (rounded to whole depth blocks
// of columns, at least one): ~8 MiB of float. Tests lower it to exercise the column blocks.
inline Index& linear_cross_entropy_block_elements() {
  static Index elements = Index{2} << 20;
  return elements;
}
}  // namespace detail

template <class T>
struct LinearCrossEntropy {
  Tensor<T> loss;
  Tensor<T> logits;
};

template <class T>
LinearCrossEntropy<T> linear_cross_entropy(const Tensor<T>& x_in, const Tensor<T>& w_in, const Tensor<T>& b,
                                           const Tensor<std::int64_t>& target, const CrossEntropyOptions& options = {}) {
  static_assert(std::is_floating_point_v<T>, "linear_cross_entropy: floating-point inputs only");
  detail::check_linear("linear_cross_entropy", x_in, w_in, b);
  detail::check_label_smoothing("linear_cross_entropy", options.label_smoothing);
  const Tensor<T> x = detail::foldable_rows(x_in) ? x_in : x_in.contiguous_data();
  const Tensor<T> w = detail::mat_view(w_in).gemm_ready() ? w_in : w_in.clone_data();
  Tensor<T> logits = detail::linear_values(x, w, b);
  const Shape batch = detail::class_batch_shape("linear_cross_entropy", "logits", logits, target);
  const Index C = w.size(0), N = batch.numel();
  const Tensor<std::int64_t> tc = target.contiguous_data();
  const Index counted = detail::check_class_targets("linear_cross_entropy", tc, C, options.ignore_index, logits.shape());
  Tensor<T> stats = Tensor<T>::zeros({N, 2});
  const std::vector<double> values = detail::cross_entropy_rows(logits.data(), tc.data(), N, C, options, stats.data());
  Tensor<T> y = detail::reduce_loss<T>(values, batch, options.reduction, counted);
  const detail::MatView<T> xm = detail::folded_rows(x);
  y = autograd::record<T>("linear_cross_entropy", std::move(y), {x_in, w_in, b},
                          [x, w, xm, logits, tc, stats, options, counted, x_in = x_in.grad_target(), w_in, b](const Tensor<T>& grad_y) {
    const Index rows = xm.rows, in = xm.cols, classes = w.size(0);
    std::optional<GradSlot<T>> gx, gw, gb;
    if (x_in.requires_grad()) gx.emplace(x_in.grad_slot());
    if (w_in.requires_grad()) gw.emplace(w_in.grad_slot());
    if (b.defined() && b.requires_grad()) gb.emplace(b.grad_slot());
    // Rows whose target is ignored have a zero logit gradient: the products run over the counted rows
    // only (for a masked-LM loss at all positions, ~15% of them), gathered into a contiguous x.
    const bool sparse = counted < rows;
    std::vector<Index> kept;
    Tensor<T> xk;
    if (sparse) {
      kept.reserve(static_cast<std::size_t>(counted));
      for (Index i = 0; i < rows; ++i)
        if (tc.data()[i] != options.ignore_index) kept.push_back(i);
      if (gw) {
        xk = Tensor<T>::empty({counted, in});
        detail::gather_rows(xk.data(), x.contiguous_data().data(), kept.data(), 1, rows, counted, in);
      }
    }
    const Index k = sparse ? counted : rows;  // rows of the logit gradient
    const detail::MatView<T> xs = sparse && gw ? detail::MatView<T>{xk.data(), k, in, in, 1} : xm;
    // grad_x of the counted rows: straight into the slot when dense, else into gxk and scattered.
    Tensor<T> gxk = sparse && gx ? Tensor<T>::empty({k, in}) : Tensor<T>();
    T* gx_out = gx ? (sparse ? gxk.data() : gx->data()) : nullptr;
    const bool gx_acc = gx && !sparse && gx->accumulate;
    if (gx_out && classes == 0 && (sparse || !gx->accumulate)) std::fill_n(gx_out, k * in, T(0));
    // Columns per block: a multiple of the GEMM's depth block, ~8 MiB of gradient. grad_x sums over the
    // classes in depth blocks of sgemm::kKC: whole blocks keep every element's order of summation.
    constexpr Index kDepth = 256;
#ifdef FOUNDRY_SGEMM_X86
    static_assert(kDepth % detail::sgemm::kKC == 0, "linear_cross_entropy: column blocks must be whole GEMM depth blocks");
#endif
    const Index budget = detail::linear_cross_entropy_block_elements() / std::max<Index>(k, 1);
    const Index width = std::min(classes, std::max<Index>(kDepth, budget / kDepth * kDepth));
    Tensor<T> block = Tensor<T>::empty({k, width});
    for (Index c0 = 0; c0 < classes && k > 0; c0 += width) {
      const Index c1 = std::min(classes, c0 + width), n = c1 - c0;
      detail::cross_entropy_grads(logits.data(), stats.data(), tc.data(), k, classes, c0, c1, grad_y, options, counted,
                                  block.data(), false, sparse ? kept.data() : nullptr);
      const detail::MatView<T> g{block.data(), k, n, n, 1};
      if (gx) detail::gemm(g, detail::MatView<T>{w.data() + c0 * in, n, in, in, 1}, gx_out, gx_acc || c0 > 0);
      if (gw) detail::gemm(g.transposed(), xs, gw->data() + c0 * in, gw->accumulate);
      if (gb) detail::column_sums(block.data(), k, n, gb->data() + c0, gb->accumulate);
    }
    if (k == 0) {  // nothing counted: no gradient, but a first contribution writes its zeros
      if (gw && !gw->accumulate) std::fill_n(gw->data(), classes * in, T(0));
      if (gb && !gb->accumulate) std::fill_n(gb->data(), classes, T(0));
    }
    if (gx && sparse) {  // counted rows get gxk's, ignored rows nothing (zeros on a first contribution)
      if (!gx->accumulate) std::fill_n(gx->data(), rows * in, T(0));  // 0 + v is v: the same bits as a copy
      detail::scatter_add_rows(gx->data(), gxk.data(), kept.data(), 1, rows, k, in);
    }
  });
  return {std::move(y), std::move(logits)};
}

// log_probs: [..., C] (e.g. from log_softmax), target: [...] -> loss = -log_probs[target] per element,
// reduced as cross_entropy (which is nll_loss(log_softmax(logits, -1), target) fused).
template <class T>
Tensor<T> nll_loss(const Tensor<T>& log_probs, const Tensor<std::int64_t>& target, const NllLossOptions& options = {}) {
  static_assert(std::is_floating_point_v<T>, "nll_loss: floating-point log-probabilities only");
  const Shape batch = detail::class_batch_shape("nll_loss", "log_probs", log_probs, target);
  const Index C = log_probs.shape().back(), ignore = options.ignore_index;
  const Tensor<std::int64_t> tc = target.contiguous_data();
  const Index counted = detail::check_class_targets("nll_loss", tc, C, ignore, log_probs.shape());
  // Read the picked entries through log_probs' strides: no copy of the [N, C] scores.
  Strides batch_strides = log_probs.strides();
  batch_strides.erase(batch_strides.size() - 1);
  const Index class_stride = log_probs.strides().back();
  const T* base = log_probs.storage()->data();
  const std::int64_t* tv = tc.data();
  std::vector<double> values(static_cast<std::size_t>(batch.numel()), 0.0);
  foundry::detail::for_each_offset(batch, batch_strides, log_probs.offset(), [&](Index i, Index off) {
    if (tv[i] != ignore) values[static_cast<std::size_t>(i)] = -static_cast<double>(base[off + tv[i] * class_stride]);
  });
  Tensor<T> y = detail::reduce_loss<T>(values, batch, options.reduction, counted);
  return autograd::record<T>("nll_loss", std::move(y), {log_probs}, [log_probs, tc, options, counted, C](const Tensor<T>& grad_y) {
    T* gx = log_probs.grad_ref().data();
    const std::int64_t* tv = tc.data();
    for (Index i = 0; i < tc.numel(); ++i)
      if (tv[i] != options.ignore_index) gx[i * C + tv[i]] -= detail::loss_grad_scale(grad_y, options.reduction, counted, i);
  });
}

// Squared error (input - target)², reduced: Mean (default) divides by the element count (NaN when
// empty, as PyTorch). Shapes must match exactly (PyTorch would broadcast, with a warning).
template <class T>
Tensor<T> mse_loss(const Tensor<T>& input, const Tensor<T>& target, Reduction reduction = Reduction::Mean) {
  static_assert(std::is_floating_point_v<T>, "mse_loss: floating-point tensors only");
  if (input.shape() != target.shape())
    foundry::detail::fail<ShapeError>("mse_loss: input shape ", input.shape(), " must equal target shape ", target.shape());
  const Tensor<T> a = input.contiguous_data(), b = target.contiguous_data();
  const Index n = a.numel();
  using ConstArray = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
  Tensor<T> y;
  if (reduction == Reduction::None) {
    y = Tensor<T>::empty(a.shape());
    T* out = y.data();
    foundry::detail::parallel_for(n, detail::kPointwiseGrain, [&](Index i0, Index i1) {
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(out + i0, i1 - i0) =
          (ConstArray(a.data() + i0, i1 - i0) - ConstArray(b.data() + i0, i1 - i0)).square();
    });
  } else {
    // Blocks of squared differences in T, block totals in double, added in a fixed order.
    const Index blocks = (n + detail::kSumBlock - 1) / detail::kSumBlock;
    std::vector<double> part(static_cast<std::size_t>(blocks));
    foundry::detail::parallel_for(blocks, std::max<Index>(1, detail::kPointwiseGrain / detail::kSumBlock), [&](Index k0, Index k1) {
      for (Index k = k0; k < k1; ++k) {
        const Index s = k * detail::kSumBlock, len = std::min(detail::kSumBlock, n - s);
        part[static_cast<std::size_t>(k)] =
            static_cast<double>((ConstArray(a.data() + s, len) - ConstArray(b.data() + s, len)).square().sum());
      }
    });
    double total = 0;
    for (double v : part) total += v;
    if (reduction == Reduction::Mean) total = n > 0 ? total / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
    y = Tensor<T>::scalar(static_cast<T>(total));
  }
  return autograd::record<T>("mse_loss", std::move(y), {input, target}, [input, target, a, b, reduction, n](const Tensor<T>& grad_y) {
    // d/d input = 2 (input - target) · scale, d/d target = its negative.
    const T* g = grad_y.data();
    const T uniform = reduction == Reduction::None ? T(0) : reduction == Reduction::Sum ? 2 * g[0] : n > 0 ? 2 * g[0] / static_cast<T>(n) : T(0);
    const auto add = [&](const Tensor<T>& who, T sign) {
      if (!who.requires_grad()) return;
      T* gx = who.grad_ref().data();
      const T *pa = a.data(), *pb = b.data();
      foundry::detail::parallel_for(n, detail::kPointwiseGrain, [&](Index i0, Index i1) {
        if (reduction == Reduction::None)
          for (Index i = i0; i < i1; ++i) gx[i] += sign * 2 * g[i] * (pa[i] - pb[i]);
        else
          for (Index i = i0; i < i1; ++i) gx[i] += sign * uniform * (pa[i] - pb[i]);
      });
    };
    add(input, T(1));
    add(target, T(-1));
  });
}

}  // namespace ops

using ops::cross_entropy;
using ops::linear_cross_entropy;
using ops::CrossEntropyOptions;
using ops::mse_loss;
using ops::nll_loss;
using ops::NllLossOptions;
using ops::Reduction;

}  // namespace foundry
