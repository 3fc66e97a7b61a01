// ops/softmax.hpp: softmax and log_softmax along any axis. Both subtract the row max before exp,
// so exp never overflows, and run fused: one kernel per row (threaded over rows) reads x and writes y.
// Their backward reads only the saved output y. cross_entropy fuses its own log_softmax (loss.hpp).
#pragma once

#include "foundry/ops/reduce.hpp"

namespace foundry {
namespace ops {

namespace detail {

// Σ exp(v - m) over p[0, n), with the block summation of reduce.hpp: vectorised exp and sum in T,
// block totals in double (a 30k-class row loses no more than a short one).
template <class T>
double block_exp_sum(const T* p, Index n, T m) {
  double total = 0;
  for (Index b = 0; b < n; b += kSumBlock) {
    const Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> seg(p + b, std::min(kSumBlock, n - b));
    total += static_cast<double>((seg - m).exp().sum());
  }
  return total;
}

// Σ a·b over [0, n), blocked likewise.
template <class T>
double block_dot(const T* a, const T* b, Index n) {
  double total = 0;
  for (Index k = 0; k < n; k += kSumBlock) {
    const Index len = std::min(kSumBlock, n - k);
    const Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> sa(a + k, len), sb(b + k, len);
    total += static_cast<double>((sa * sb).sum());
  }
  return total;
}

// A tensor seen along one axis: contiguous data is [outer, n, inner]; inner == 1 is the row fast path.
struct AxisGeometry {
  Index outer = 1, n = 1, inner = 1;
};

inline AxisGeometry axis_geometry(const Shape& shape, int axis) {
  AxisGeometry g;
  for (int i = 0; i < shape.size(); ++i) (i < axis ? g.outer : i == axis ? g.n : g.inner) *= shape[i];
  return g;
}

inline constexpr Index kSoftmaxColumnChunk = 256;  // columns per task when the axis is not last

// Calls fn(o, c0, width) over column chunks of an [outer, n, inner] layout, threaded.
template <class F>
void for_each_column_chunk(const AxisGeometry& g, F&& fn) {
  const Index chunk = std::min(g.inner, kSoftmaxColumnChunk), chunks = (g.inner + chunk - 1) / chunk;
  parallel_for(g.outer * chunks, std::max<Index>(1, kPointwiseGrain / (g.n * chunk)), [&](Index k0, Index k1) {
    for (Index k = k0; k < k1; ++k) {
      const Index o = k / chunks, c0 = (k % chunks) * chunk;
      fn(o, c0, std::min(chunk, g.inner - c0));
    }
  });
}

// y = softmax(x) (or log_softmax when kLog) along the middle axis of contiguous [outer, n, inner] x.
template <bool kLog, class T>
void softmax_forward(const T* x, T* y, const AxisGeometry& g) {
  using ConstArray = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
  using Array = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
  const Index n = g.n;
  if (g.inner == 1) {
    parallel_for(g.outer, std::max<Index>(1, kPointwiseGrain / n), [&](Index r0, Index r1) {
      for (Index r = r0; r < r1; ++r) {
        const ConstArray xr(x + r * n, n);
        Array yr(y + r * n, n);
        const T m = xr.maxCoeff();
        if constexpr (kLog) {
          // log softmax = (x - m) - log Σ exp(x - m): never takes the log of a rounded probability.
          yr = (xr - m) - static_cast<T>(std::log(block_exp_sum(x + r * n, n, m)));
        } else {
          yr = (xr - m).exp();
          yr *= static_cast<T>(1.0 / block_sum<false>(y + r * n, n, T(0)));
        }
      }
    });
    return;
  }
  // The axis is not last: each task owns a column chunk and sweeps its n rows three times, keeping
  // the per-column max and sum in small buffers, so every inner loop is a contiguous vector op.
  for_each_column_chunk(g, [&](Index o, Index c0, Index width) {
    Eigen::Array<T, Eigen::Dynamic, 1> m = ConstArray(x + o * n * g.inner + c0, width);
    Eigen::Array<double, Eigen::Dynamic, 1> s = Eigen::Array<double, Eigen::Dynamic, 1>::Zero(width);
    const auto row_in = [&](Index r) { return ConstArray(x + (o * n + r) * g.inner + c0, width); };
    const auto row_out = [&](Index r) { return Array(y + (o * n + r) * g.inner + c0, width); };
    for (Index r = 1; r < n; ++r) m = m.max(row_in(r));
    for (Index r = 0; r < n; ++r) {
      Array yr = row_out(r);
      yr = (row_in(r) - m).exp();
      s += yr.template cast<double>();
    }
    if constexpr (kLog) {
      const Eigen::Array<T, Eigen::Dynamic, 1> shift = m + s.log().template cast<T>();
      for (Index r = 0; r < n; ++r) row_out(r) = row_in(r) - shift;
    } else {
      const Eigen::Array<T, Eigen::Dynamic, 1> inv = s.inverse().template cast<T>();
      for (Index r = 0; r < n; ++r) row_out(r) *= inv;
    }
  });
}

// grad_x (accumulate: +)= backward of softmax (or log_softmax) from the output y and its gradient g:
//   softmax:      grad_x = y ⊙ (g - Σ g⊙y)   (Jacobian diag(y) - y yᵀ)
//   log_softmax:  grad_x = g - exp(y) Σ g    (Jacobian I - 1 softmaxᵀ)
template <bool kLog, class T>
void softmax_backward(const T* y, const T* g, T* gx, bool accumulate, const AxisGeometry& geo) {
  using ConstArray = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
  using Array = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
  const Index n = geo.n;
  if (geo.inner == 1) {
    parallel_for(geo.outer, std::max<Index>(1, kPointwiseGrain / n), [&](Index r0, Index r1) {
      for (Index r = r0; r < r1; ++r) {
        const ConstArray yr(y + r * n, n), gr(g + r * n, n);
        Array gxr(gx + r * n, n);
        if constexpr (kLog) {
          const T total = static_cast<T>(block_sum<false>(g + r * n, n, T(0)));
          assign_or_add(gxr, gr - yr.exp() * total, accumulate);
        } else {
          const T dot = static_cast<T>(block_dot(g + r * n, y + r * n, n));
          assign_or_add(gxr, yr * (gr - dot), accumulate);
        }
      }
    });
    return;
  }
  for_each_column_chunk(geo, [&](Index o, Index c0, Index width) {
    const auto at = [&](Index r) { return (o * n + r) * geo.inner + c0; };
    Eigen::Array<double, Eigen::Dynamic, 1> acc = Eigen::Array<double, Eigen::Dynamic, 1>::Zero(width);
    for (Index r = 0; r < n; ++r) {
      if constexpr (kLog) acc += ConstArray(g + at(r), width).template cast<double>();
      else acc += (ConstArray(g + at(r), width) * ConstArray(y + at(r), width)).template cast<double>();
    }
    const Eigen::Array<T, Eigen::Dynamic, 1> a = acc.template cast<T>();
    for (Index r = 0; r < n; ++r) {
      const ConstArray yr(y + at(r), width), gr(g + at(r), width);
      Array gxr(gx + at(r), width);
      if constexpr (kLog) assign_or_add(gxr, gr - yr.exp() * a, accumulate);
      else assign_or_add(gxr, yr * (gr - a), accumulate);
    }
  });
}

template <bool kLog, class T>
Tensor<T> softmax_impl(const char* op, const Tensor<T>& x, Index axis) {
  static_assert(std::is_floating_point_v<T>, "softmax: floating-point tensors only");
  const int a = foundry::detail::normalize_axis(op, axis, x.dim());
  const AxisGeometry geo = axis_geometry(x.shape(), x.dim() ? a : -1);
  const Tensor<T> xc = x.contiguous_data();
  Tensor<T> y = Tensor<T>::empty(x.shape());
  if (y.numel() > 0) softmax_forward<kLog>(xc.data(), y.data(), geo);
  const Tensor<T> saved = y.detach();
  return autograd::record<T>(op, std::move(y), {x}, [x = x.grad_target(), saved, geo](const Tensor<T>& grad_y) {
    const GradSlot<T> gx = x.grad_slot();
    if (saved.numel() > 0) softmax_backward<kLog>(saved.data(), grad_y.data(), gx.data(), gx.accumulate, geo);
  }, /*save_output=*/true);
}

}  // namespace detail

// exp(x) / Σ exp(x) along `axis` (negative counts from the end): softmax(scores [B, H, T, T], -1).
// A row of all -inf gives NaN, as in PyTorch.
template <class T>
Tensor<T> softmax(const Tensor<T>& x, Index axis) {
  return detail::softmax_impl<false>("softmax", x, axis);
}

// log(softmax(x)) along `axis`, computed as (x - max) - log Σ exp(x - max): finite wherever softmax
// underflows to 0, so prefer it (or cross_entropy) to log(softmax(x)).
template <class T>
Tensor<T> log_softmax(const Tensor<T>& x, Index axis) {
  return detail::softmax_impl<true>("log_softmax", x, axis);
}

}  // namespace ops

using ops::log_softmax;
using ops::softmax;

}  // namespace foundry
