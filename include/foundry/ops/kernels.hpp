// ops/kernels.hpp: the loops every pointwise op runs on: map_unary, map_binary (NumPy broadcasting)
// and sum_to_shape (the reduction a broadcast's backward needs). Each takes an inlined functor, has a
// contiguous fast path that the compiler vectorises, and splits large work across threads.
// No autograd here: ops call these and then record their node.
#pragma once

#include <algorithm>
#include <memory>
#include <type_traits>

#include "foundry/core/tensor.hpp"
#include "foundry/core/threading.hpp"

namespace foundry::ops::detail {

using foundry::detail::fail;
using foundry::detail::parallel_for;

inline constexpr Index kPointwiseGrain = 1 << 15;  // elements per thread before forking pays off
inline constexpr int kMomentLanes = 8;  // independent accumulators: the compiler keeps them in vector registers

// Σ a[j], and Σ a[j]·b[j], over n values in T: kMomentLanes running sums (element j goes to lane j mod
// lanes), then the lanes' fixed-size sum, so the bits never depend on where a and b lie in memory.
// A .sum() over a Map would: its packets start at the first SIMD-aligned element, so its summation
// order follows the addresses, and a buffer's alignment to a 32-byte AVX packet can depend on the
// heap's history (a resumed training run then drifts from the straight one; see layer_norm's row_sums).
template <class T>
T fixed_lane_sum(const T* a, Index n) {
  using Lanes = Eigen::Array<T, kMomentLanes, 1>;
  Lanes s = Lanes::Zero();
  Index j = 0;
  for (; j + kMomentLanes <= n; j += kMomentLanes) s += Eigen::Map<const Lanes>(a + j);  // unaligned loads: no address enters
  for (Index l = 0; j < n; ++j, ++l) s[l] += a[j];
  return s.sum();  // fixed-size: the same order every time
}
template <class T>
T fixed_lane_dot(const T* a, const T* b, Index n) {
  using Lanes = Eigen::Array<T, kMomentLanes, 1>;
  Lanes s = Lanes::Zero();
  Index j = 0;
  for (; j + kMomentLanes <= n; j += kMomentLanes) s += Eigen::Map<const Lanes>(a + j) * Eigen::Map<const Lanes>(b + j);
  for (Index l = 0; j < n; ++j, ++l) s[l] += a[j] * b[j];
  return s.sum();
}

// out[i] = f(x[i]) into a new contiguous tensor of element type R.
template <class R = void, class T, class F>
auto map_unary(const Tensor<T>& x, F&& f) {
  using Out = std::conditional_t<std::is_void_v<R>, T, R>;
  const Tensor<T> src = x.contiguous_data();
  Tensor<Out> out = Tensor<Out>::empty(x.shape());
  const T* in = src.data();
  Out* o = out.data();
  parallel_for(out.numel(), kPointwiseGrain, [&](Index begin, Index end) {
    for (Index i = begin; i < end; ++i) o[i] = static_cast<Out>(f(in[i]));
  });
  return out;
}

// Strides that read `t` as if it had shape `out` (aligned right; 0 on broadcast axes).
template <class T>
Strides broadcast_strides(const Tensor<T>& t, const Shape& out) {
  Strides s = Shape::filled(out.size(), 0);
  const int shift = out.size() - t.dim();
  for (int i = 0; i < t.dim(); ++i) s[i + shift] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return s;
}

// True when `t`, read with broadcasting into `out`, is a contiguous block repeated along leading axes:
// then element i of the output reads t.data()[i % t.numel()].
template <class T>
bool is_trailing_block(const Tensor<T>& t, const Shape& out) {
  if (!t.is_contiguous()) return false;
  int i = t.dim() - 1, j = out.size() - 1;
  while (i >= 0 && t.shape()[i] == out[j]) --i, --j;
  for (; i >= 0; --i)
    if (t.shape()[i] != 1) return false;
  return true;
}

// out[i] = f(a[i], b[i]) with broadcasting, into a new contiguous tensor of element type R.
template <class R = void, class T, class F>
auto map_binary(const char* op, const Tensor<T>& a, const Tensor<T>& b, F&& f) {
  using Out = std::conditional_t<std::is_void_v<R>, T, R>;
  const Shape shape = a.shape() == b.shape() ? a.shape() : foundry::detail::broadcast_shapes(op, a.shape(), b.shape());
  Tensor<Out> out = Tensor<Out>::empty(shape);
  const Index n = out.numel();
  Out* o = out.data();
  if (n == 0) return out;
  const bool a_full = a.shape() == shape && a.is_contiguous(), b_full = b.shape() == shape && b.is_contiguous();
  if (a_full && b_full) {
    const T *pa = a.data(), *pb = b.data();
    parallel_for(n, kPointwiseGrain, [&](Index begin, Index end) {
      for (Index i = begin; i < end; ++i) o[i] = static_cast<Out>(f(pa[i], pb[i]));
    });
    return out;
  }
  // A full operand against a repeated trailing block, e.g. [B, T, C] + [C]: rows of length `inner`.
  if ((a_full && is_trailing_block(b, shape)) || (b_full && is_trailing_block(a, shape))) {
    const T *pa = a.data(), *pb = b.data();
    const bool a_is_block = !a_full || (b_full && a.numel() < b.numel());
    const Index inner = a_is_block ? a.numel() : b.numel();
    if (inner > 0) {
      parallel_for(n / inner, std::max<Index>(1, kPointwiseGrain / inner), [&](Index r0, Index r1) {
        for (Index r = r0; r < r1; ++r) {
          Out* orow = o + r * inner;
          if (a_is_block) {
            const T* brow = pb + r * inner;
            for (Index j = 0; j < inner; ++j) orow[j] = static_cast<Out>(f(pa[j], brow[j]));
          } else {
            const T* arow = pa + r * inner;
            for (Index j = 0; j < inner; ++j) orow[j] = static_cast<Out>(f(arow[j], pb[j]));
          }
        }
      });
      return out;
    }
  }
  // General strided case: walk the output in row-major order with an odometer over both operands.
  const Strides sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
  const T *ba = a.storage()->data(), *bb = b.storage()->data();
  const int rank = shape.size();
  const Index inner = shape[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1];
  Shape idx = Shape::filled(rank, 0);
  Index oa = a.offset(), ob = b.offset();
  for (Index pos = 0; pos < n; pos += inner) {
    for (Index j = 0; j < inner; ++j) o[pos + j] = static_cast<Out>(f(ba[oa + j * ia], bb[ob + j * ib]));
    for (int ax = rank - 2; ax >= 0; --ax) {
      oa += sa[ax];
      ob += sb[ax];
      if (++idx[ax] < shape[ax]) break;
      oa -= sa[ax] * shape[ax];
      ob -= sb[ax] * shape[ax];
      idx[ax] = 0;
    }
  }
  return out;
}

// out (=|+=) the column sums of the row-major [rows, cols] matrix m (a bias gradient). Each thread
// owns a range of columns and adds the rows' contiguous pieces of it: vector adds, no partial sums to
// combine, and the same order of additions for any thread count.
template <class T>
void column_sums(const T* m, Index rows, Index cols, T* out, bool accumulate) {
  parallel_for(cols, std::max<Index>(64, kPointwiseGrain / std::max<Index>(rows, 1)), [&](Index c0, Index c1) {
    const std::unique_ptr<T[]> sum(new T[static_cast<std::size_t>(c1 - c0)]());  // not vector: T may be bool
    T* s = sum.get();
    for (Index r = 0; r < rows; ++r) {
      const T* row = m + r * cols + c0;
      for (Index j = 0; j < c1 - c0; ++j) s[j] += row[j];
    }
    for (Index j = 0; j < c1 - c0; ++j) out[c0 + j] = accumulate ? out[c0 + j] + s[j] : s[j];
  });
}

// Sums a gradient of the broadcast shape down to `target` (the shape of the operand that was
// broadcast): over the leading axes it lacks and over axes where it has extent 1.
template <class T>
Tensor<T> sum_to_shape(const Tensor<T>& g, const Shape& target) {
  if (g.shape() == target) return g;
  const Tensor<T> src = g.contiguous_data();
  Tensor<T> out = Tensor<T>::zeros(target);
  if (target.numel() == 0 || src.numel() == 0) return out;
  // Common case: target is a trailing block of g ([N, C] -> [C]): column sums of an [N/C, C] matrix.
  if (is_trailing_block(out, g.shape())) {
    const Index inner = target.numel();
    column_sums(src.data(), src.numel() / inner, inner, out.data(), false);
    return out;
  }
  // General case: scatter-add every element of g into its broadcast source position.
  const Strides so = broadcast_strides(out, g.shape());
  Tensor<T> view = out.as_strided(g.shape(), so, 0);
  T* base = out.data();
  const T* in = src.data();
  foundry::detail::for_each_offset(view.shape(), view.strides(), Index{0}, [&](Index i, Index off) { base[off] += in[i]; });
  return out;
}

// dst = src on a gradient's first contribution, dst += src after it (GradSlot::accumulate): for
// Eigen expressions on both sides.
template <class Dst, class Src>
void assign_or_add(Dst&& dst, const Src& src, bool accumulate) {
  if (accumulate) dst += src;
  else dst = src;
}

// slot (=|+=) src over n contiguous elements, split across threads.
template <class T>
void write_grad(const GradSlot<T>& slot, const T* src, Index n) {
  T* dst = slot.data();
  const bool acc = slot.accumulate;
  parallel_for(n, kPointwiseGrain, [&](Index begin, Index end) {
    if (acc)
      for (Index i = begin; i < end; ++i) dst[i] += src[i];
    else
      std::copy(src + begin, src + end, dst + begin);
  });
}

// grad_x (+)= g summed down to x's shape (x is an input that was broadcast into g's shape).
template <class T>
void accumulate_grad(const Tensor<T>& x, const Tensor<T>& g) {
  if (!x.requires_grad()) return;
  const Tensor<T> src = g.shape() == x.shape() ? g.contiguous_data() : sum_to_shape(g, x.shape());
  write_grad(x.grad_slot(), src.data(), src.numel());
}

}  // namespace foundry::ops::detail
