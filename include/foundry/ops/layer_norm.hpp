// ops/layer_norm.hpp: layer normalisation over the last axis (Ba et al., 2016), fused: the forward
// reads each row once for its moments and once to write the affine output; the backward makes one
// pass over rows for grad_x, grad_weight and grad_bias together. Normalising over several trailing
// axes is a reshape away; the module holding weight and bias is nn/layer_norm.hpp.
#pragma once

#include <cmath>
#include <vector>

#include "foundry/autograd/engine.hpp"
#include "foundry/ops/kernels.hpp"

namespace foundry {
namespace ops {

namespace detail {

// Mean and 1/sqrt(var + eps) of one row, accumulated in double whatever T is. The moments use the
// shifted-data one-pass formula: with K = row[0], var = E[(x-K)^2] - E[x-K]^2. The shift keeps the
// cancellation to about (mean-K)^2/var instead of mean^2/var, so rows of large mean (1e4 +- 1) keep
// full precision. Eight lanes of double sums vectorise (an Eigen cast<double>().sum() does not).
template <class T>
std::pair<double, double> row_moments(const T* row, Index C, double eps) {
  const T K = row[0];
  double s1[kMomentLanes] = {}, s2[kMomentLanes] = {};
  Index j = 0;
  for (; j + kMomentLanes <= C; j += kMomentLanes)
    for (int l = 0; l < kMomentLanes; ++l) {
      const double d = static_cast<double>(row[j + l] - K);
      s1[l] += d;
      s2[l] += d * d;
    }
  for (; j < C; ++j) {
    const double d = static_cast<double>(row[j] - K);
    s1[0] += d;
    s2[0] += d * d;
  }
  double m1 = 0, m2 = 0;
  for (int l = 0; l < kMomentLanes; ++l) {
    m1 += s1[l];
    m2 += s2[l];
  }
  m1 /= static_cast<double>(C);
  m2 /= static_cast<double>(C);
  const double var = std::max(m2 - m1 * m1, 0.0);  // biased, as torch.nn.functional.layer_norm
  return {static_cast<double>(K) + m1, 1.0 / std::sqrt(var + eps)};
}

// Σ q and Σ q·xh over a row in T, in fixed lanes (kernels.hpp). A .sum() over a Map of the row would
// follow the addresses, and the backward keeps xh and q in a heap scratch vector whose alignment to a
// 32-byte AVX packet is chance: grad_x then changed in its last bits with the heap's history (a
// resumed run, a longer --out path), and a resumed training run drifted from the straight one.
template <class T>
std::pair<T, T> row_sums(const T* q, const T* xh, Index C) {
  return {fixed_lane_sum(q, C), fixed_lane_dot(q, xh, C)};
}

// The normalised row (x - mean) * rstd, computed in T. The double mean is split into hi + lo parts of
// type T: x - hi is exact when x is near the mean (Sterbenz), so a float row of mean 1e4 still
// normalises to float precision instead of losing the ~1e-3 that rounding the mean to float costs.
template <class T>
struct RowNormalizer {
  T hi, lo, rstd;
  RowNormalizer(double mean, double r)
      : hi(static_cast<T>(mean)), lo(static_cast<T>(mean - static_cast<double>(hi))), rstd(static_cast<T>(r)) {}
  T operator()(T x) const { return ((x - hi) - lo) * rstd; }
};

// Backward of one row. Writes xh = x̂ (scratch), and q = grad_y·weight into `gw` when there is a weight;
// writes (acc: adds) rstd·(q - mean(q) - x̂·mean(q·x̂)) into gx (when given) and adds grad_y·x̂, grad_y
// into the double partial sums pw, pb (when given). The two row means are multi-lane sums in T (row_sums):
// unlike the forward variance they feed no subtraction of near-equal large numbers, and their rounding
// stays below that of grad_x's own float terms.
template <class T>
void layer_norm_backward_row(const T* x, const T* g, const T* w, const RowNormalizer<T>& norm, Index C, T* xh, T* gw, T* gx,
                             bool acc, double* pw, double* pb) {
  const T* q = w ? gw : g;
  if (w) {
    for (Index j = 0; j < C; ++j) {
      xh[j] = norm(x[j]);
      gw[j] = g[j] * w[j];
    }
  } else {
    for (Index j = 0; j < C; ++j) xh[j] = norm(x[j]);
  }
  T c1 = 0, c2 = 0;
  if (gx) {
    const auto [sum_q, sum_qxh] = row_sums(q, xh, C);
    c1 = sum_q / static_cast<T>(C);
    c2 = sum_qxh / static_cast<T>(C);
  }
  const T r = norm.rstd;
  if (gx && pw && pb) {  // the common case (BERT): one fused pass
    for (Index j = 0; j < C; ++j) {
      gx[j] = (acc ? gx[j] : T(0)) + r * (q[j] - c1 - xh[j] * c2);  // the test on acc is hoisted out of the loop
      pw[j] += static_cast<double>(g[j] * xh[j]);
      pb[j] += static_cast<double>(g[j]);
    }
    return;
  }
  if (gx)
    for (Index j = 0; j < C; ++j) gx[j] = (acc ? gx[j] : T(0)) + r * (q[j] - c1 - xh[j] * c2);
  if (pw)
    for (Index j = 0; j < C; ++j) pw[j] += static_cast<double>(g[j] * xh[j]);
  if (pb)
    for (Index j = 0; j < C; ++j) pb[j] += static_cast<double>(g[j]);
}

}  // namespace detail

// x: [..., C], weight: [C] or undefined (none), bias: [C] or undefined -> [..., C]:
// y = (x - mean) / sqrt(var + eps) * weight + bias per row, var biased (torch.nn.functional.layer_norm).
// Backward saves x and two doubles per row (mean, rstd) rather than the normalised copy: x is usually
// alive anyway (a residual-stream activation), so this avoids a second [..., C] buffer and its writes.
// Usage: layer_norm(h, gamma, beta, 1e-12) for BERT.
template <class T>
Tensor<T> layer_norm(const Tensor<T>& x, const Tensor<T>& weight = Tensor<T>(), const Tensor<T>& bias = Tensor<T>(),
                     double eps = 1e-5) {
  static_assert(std::is_floating_point_v<T>, "layer_norm: floating-point element type required");
  if (x.dim() == 0) foundry::detail::fail<ShapeError>("layer_norm: x must have at least 1 axis, got shape ", x.shape());
  const Index C = x.shape().back(), rows = C == 0 ? 0 : x.numel() / C;
  for (const auto& [name, p] : {std::pair{"weight", weight}, std::pair{"bias", bias}})
    if (p.defined() && (p.dim() != 1 || p.size(0) != C))
      foundry::detail::fail<ShapeError>("layer_norm: ", name, " must be [", C, "] to match the last axis of x ", x.shape(),
                                        ", got ", p.shape());
  if (!(eps >= 0)) foundry::detail::fail<ValueError>("layer_norm: eps must be >= 0, got ", eps);

  const Tensor<T> xc = x.contiguous_data();
  const Tensor<T> w = weight.defined() ? weight.contiguous_data() : Tensor<T>();
  const Tensor<T> b = bias.defined() ? bias.contiguous_data() : Tensor<T>();
  const T* wp = w.defined() ? w.data() : nullptr;
  const T* bp = b.defined() ? b.data() : nullptr;
  const bool save = autograd::is_grad_enabled() && (x.requires_grad() || (weight.defined() && weight.requires_grad()) ||
                                                    (bias.defined() && bias.requires_grad()));
  Tensor<double> mean = Tensor<double>::empty({save ? rows : 0}), rstd = Tensor<double>::empty({save ? rows : 0});
  Tensor<T> y = Tensor<T>::empty(x.shape());
  const Index grain = std::max<Index>(1, detail::kPointwiseGrain / std::max<Index>(C, 1));
  detail::parallel_for(rows, grain, [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      const auto [mu, rs] = detail::row_moments(xc.data() + r * C, C, eps);
      if (save) {
        mean.data()[r] = mu;
        rstd.data()[r] = rs;
      }
      const detail::RowNormalizer<T> norm(mu, rs);
      const T* xr = xc.data() + r * C;
      T* yr = y.data() + r * C;
      if (wp && bp) {
        for (Index j = 0; j < C; ++j) yr[j] = norm(xr[j]) * wp[j] + bp[j];
      } else if (wp) {
        for (Index j = 0; j < C; ++j) yr[j] = norm(xr[j]) * wp[j];
      } else if (bp) {
        for (Index j = 0; j < C; ++j) yr[j] = norm(xr[j]) + bp[j];
      } else {
        for (Index j = 0; j < C; ++j) yr[j] = norm(xr[j]);
      }
    }
  });

  auto backward = [x = x.grad_target(), xc, weight, bias, w, mean, rstd, C, rows](const Tensor<T>& grad_y) {
    // With xh = (x - mean)·rstd and gw = grad_y·weight (grad_y without a weight), per row:
    //   grad_x = rstd·(gw - mean(gw) - xh·mean(gw·xh)),  grad_weight = Σ_rows grad_y·xh,  grad_bias = Σ_rows grad_y.
    // Threads own contiguous blocks of rows and keep private double partials of grad_weight and
    // grad_bias, summed in block order: deterministic for a fixed thread count.
    const bool need_x = x.requires_grad(), need_w = weight.defined() && weight.requires_grad(),
               need_b = bias.defined() && bias.requires_grad();
    if (rows == 0) {  // still materialise the (zero) gradients
      if (need_x) x.grad_ref();
      if (need_w) weight.grad_ref();
      if (need_b) bias.grad_ref();
      return;
    }
    const GradSlot<T> slot_x = need_x ? x.grad_slot() : GradSlot<T>{Tensor<T>(), false};
    T* gx = need_x ? slot_x.data() : nullptr;
    const Index grain = std::max<Index>(1, detail::kPointwiseGrain / C);
    const Index blocks = std::clamp<Index>((rows + grain - 1) / grain, 1, foundry::get_num_threads());
    const Index partial_size = (need_w ? C : 0) + (need_b ? C : 0);
    std::vector<double> partials(static_cast<std::size_t>(blocks * partial_size), 0.0);
    detail::parallel_for(blocks, 1, [&](Index k0, Index k1) {
      std::vector<T> scratch(static_cast<std::size_t>(2 * C));  // x̂ and grad_y·weight of the current row
      for (Index k = k0; k < k1; ++k) {
        double* pw = need_w ? partials.data() + k * partial_size : nullptr;
        double* pb = need_b ? partials.data() + k * partial_size + (need_w ? C : 0) : nullptr;
        for (Index r = rows * k / blocks; r < rows * (k + 1) / blocks; ++r)
          detail::layer_norm_backward_row(xc.data() + r * C, grad_y.data() + r * C, w.defined() ? w.data() : nullptr,
                                          detail::RowNormalizer<T>(mean.data()[r], rstd.data()[r]), C, scratch.data(),
                                          scratch.data() + C, gx ? gx + r * C : nullptr, slot_x.accumulate, pw, pb);
      }
    });
    if (need_w || need_b) {
      Eigen::Array<double, Eigen::Dynamic, 1> sw = Eigen::Array<double, Eigen::Dynamic, 1>::Zero(need_w ? C : 0),
                                              sb = Eigen::Array<double, Eigen::Dynamic, 1>::Zero(need_b ? C : 0);
      for (Index k = 0; k < blocks; ++k) {
        const double* part = partials.data() + k * partial_size;
        if (need_w) sw += Eigen::Map<const Eigen::Array<double, Eigen::Dynamic, 1>>(part, C);
        if (need_b) sb += Eigen::Map<const Eigen::Array<double, Eigen::Dynamic, 1>>(part + (need_w ? C : 0), C);
      }
      if (need_w) {
        const GradSlot<T> gw = weight.grad_slot();
        detail::assign_or_add(gw.buffer.array(), sw.template cast<T>(), gw.accumulate);
      }
      if (need_b) {
        const GradSlot<T> gb = bias.grad_slot();
        detail::assign_or_add(gb.buffer.array(), sb.template cast<T>(), gb.accumulate);
      }
    }
  };
  return autograd::record<T>("layer_norm", y, {x, weight, bias}, std::move(backward));
}

}  // namespace ops

using ops::layer_norm;

}  // namespace foundry
