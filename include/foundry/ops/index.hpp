// ops/index.hpp: reading elements at integer positions: index_select (whole slices along one axis)
// and gather (one element per index, as torch.gather). Both copy into a new tensor; their backward
// scatter-adds, so an index used twice receives both contributions. Indices are Tensor<int64_t> and
// must lie in [0, n): negative indices are refused, as in PyTorch. Embedding lookups build on the row
// kernels here (ops/embedding.hpp); views that need no index (narrow, select) are in ops/view.hpp.
#pragma once

#include <cstdint>
#include <vector>

#include "foundry/autograd/engine.hpp"
#include "foundry/ops/kernels.hpp"

namespace foundry {
namespace ops {

namespace detail {

// The row-major coordinates of element `flat` of a tensor of this shape, printable as "[1, 3]".
inline Shape unravel(Index flat, const Shape& shape) {
  Shape pos = Shape::filled(shape.size(), 0);
  for (int d = shape.size() - 1; d >= 0; --d) {
    if (shape[d] > 0) {
      pos[d] = flat % shape[d];
      flat /= shape[d];
    }
  }
  return pos;
}

// Position of the first index outside [0, n), or -1. A plain serial scan: it is cheap next to the
// copy it guards, and it keeps exceptions out of parallel regions.
inline Index first_out_of_range(const std::int64_t* idx, Index count, Index n) {
  for (Index i = 0; i < count; ++i)
    if (idx[i] < 0 || idx[i] >= n) return i;
  return -1;
}

// dst viewed as [outer, k, inner] gets src viewed as [outer, n, inner] at rows idx[0..k):
// dst[o, j, :] = src[o, idx[j], :]. Rows are contiguous runs, so each is one copy.
template <class T>
void gather_rows(T* dst, const T* src, const std::int64_t* idx, Index outer, Index n, Index k, Index inner) {
  if (inner == 0) return;
  parallel_for(outer * k, std::max<Index>(1, kPointwiseGrain / inner), [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      const Index o = r / k, j = r % k;
      std::copy_n(src + (o * n + idx[j]) * inner, inner, dst + r * inner);
    }
  });
}

// The adjoint of gather_rows: dst[o, idx[j], :] += src[o, j, :], skipping rows whose index is `skip`
// (an embedding's padding_idx; -1 skips nothing). Each dst element is summed in ascending j whatever
// the thread count: threads split the outer axis when it is long enough, else the columns, so no two
// threads ever add into the same element and the result is deterministic.
template <class T>
void scatter_add_rows(T* dst, const T* src, const std::int64_t* idx, Index outer, Index n, Index k, Index inner,
                      std::int64_t skip = -1) {
  if (inner == 0 || k == 0) return;
  auto add_block = [&](Index o, Index c0, Index c1) {
    for (Index j = 0; j < k; ++j) {
      if (idx[j] == skip) continue;
      T* d = dst + (o * n + idx[j]) * inner;
      const T* s = src + (o * k + j) * inner;
      for (Index c = c0; c < c1; ++c) d[c] += s[c];
    }
  };
  if (outer >= 2 * foundry::get_num_threads()) {
    parallel_for(outer, std::max<Index>(1, kPointwiseGrain / (k * inner)), [&](Index o0, Index o1) {
      for (Index o = o0; o < o1; ++o) add_block(o, 0, inner);
    });
    return;
  }
  // Column chunks of at least 16 elements (a cache line of float) keep threads off each other's lines.
  const Index grain = std::max<Index>(16, kPointwiseGrain / k);
  for (Index o = 0; o < outer; ++o)
    parallel_for(inner, grain, [&](Index c0, Index c1) { add_block(o, c0, c1); });
}

// Calls fn(a, b) for every position of `shape` in row-major order, where a and b are that position's
// offsets under strides sa (starting at oa) and sb (starting at ob). The last axis runs as a plain loop.
template <class F>
void for_each_offset2(const Shape& shape, const Strides& sa, Index oa, const Strides& sb, Index ob, F&& fn) {
  const int rank = shape.size();
  if (shape.numel() == 0) return;
  if (rank == 0) {
    fn(oa, ob);
    return;
  }
  const Index inner = shape[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1];
  Shape pos = Shape::filled(rank, 0);
  for (Index done = 0, total = shape.numel(); done < total; done += inner) {
    for (Index j = 0; j < inner; ++j) fn(oa + j * ia, ob + j * ib);
    for (int d = rank - 2; d >= 0; --d) {  // odometer step over the outer axes
      oa += sa[d];
      ob += sb[d];
      if (++pos[d] < shape[d]) break;
      oa -= sa[d] * shape[d];
      ob -= sb[d] * shape[d];
      pos[d] = 0;
    }
  }
}

// Runs for_each_offset2 over `shape` split along axis `split` into thread chunks (serially when
// split < 0). Each chunk is the sub-box [i0, i1) of that axis, so chunks touch disjoint positions.
template <class F>
void for_each_offset2_parallel(const Shape& shape, int split, const Strides& sa, const Strides& sb, F&& fn) {
  if (shape.numel() == 0) return;
  if (split < 0) {
    for_each_offset2(shape, sa, 0, sb, 0, fn);
    return;
  }
  const Index per = shape.numel() / shape[split];
  parallel_for(shape[split], std::max<Index>(1, kPointwiseGrain / per), [&](Index i0, Index i1) {
    Shape sub = shape;
    sub[split] = i1 - i0;
    for_each_offset2(sub, sa, i0 * sa[split], sb, i0 * sb[split], fn);
  });
}

}  // namespace detail

// Slices of x at the given positions along `axis`: x [..., n, ...], index [k] -> [..., k, ...].
// Usage: index_select(x, 0, ids) picks rows. A 0-d index counts as [1] (as in PyTorch).
template <class T>
Tensor<T> index_select(const Tensor<T>& x, Index axis, const Tensor<std::int64_t>& index) {
  if (x.dim() == 0) foundry::detail::fail<ShapeError>("index_select: x must have at least 1 axis, got shape ", x.shape());
  const int a = foundry::detail::normalize_axis("index_select", axis, x.dim());
  if (index.dim() > 1)
    foundry::detail::fail<ShapeError>("index_select: index must be 1-D, got shape ", index.shape(), " (x is ", x.shape(), ")");
  const Tensor<std::int64_t> idx = index.contiguous_data();
  const Index n = x.shape()[a], k = idx.numel();
  if (const Index bad = detail::first_out_of_range(idx.data(), k, n); bad >= 0)
    foundry::detail::fail<IndexError>("index_select: index ", idx.data()[bad], " at position ", bad, " out of range for axis ",
                                      a, " of size ", n, " (x is ", x.shape(), ")");
  Index outer = 1, inner = 1;
  for (int d = 0; d < a; ++d) outer *= x.shape()[d];
  for (int d = a + 1; d < x.dim(); ++d) inner *= x.shape()[d];
  Shape y_shape = x.shape();
  y_shape[a] = k;
  const Tensor<T> xc = x.contiguous_data();
  Tensor<T> y = Tensor<T>::empty(y_shape);
  detail::gather_rows(y.data(), xc.data(), idx.data(), outer, n, k, inner);
  return autograd::record<T>("index_select", y, {x}, [x = x.grad_target(), idx, outer, n, k, inner](const Tensor<T>& grad_y) {
    // y[o, j, :] = x[o, idx[j], :], so grad_x[o, idx[j], :] += grad_y[o, j, :], summed over repeats.
    detail::scatter_add_rows(x.grad_ref().data(), grad_y.data(), idx.data(), outer, n, k, inner);
  });
}

// torch.gather: y[p] = x[p with its `axis` coordinate replaced by index[p]], for every position p of
// index. index has x's rank; on every other axis its extent may not exceed x's. -> index's shape.
// Usage: gather(logits [N, V], 1, target [N, 1]) -> [N, 1], the logit of each target.
template <class T>
Tensor<T> gather(const Tensor<T>& x, Index axis, const Tensor<std::int64_t>& index) {
  if (x.dim() == 0) foundry::detail::fail<ShapeError>("gather: x must have at least 1 axis, got shape ", x.shape());
  const int a = foundry::detail::normalize_axis("gather", axis, x.dim());
  if (index.dim() != x.dim())
    foundry::detail::fail<ShapeError>("gather: index rank ", index.dim(), " must equal x rank ", x.dim(), "; index is ",
                                      index.shape(), ", x is ", x.shape());
  for (int d = 0; d < x.dim(); ++d)
    if (d != a && index.shape()[d] > x.shape()[d])
      foundry::detail::fail<ShapeError>("gather: index axis ", d, " (", index.shape()[d], ") exceeds x axis ", d, " (",
                                        x.shape()[d], "); only the gather axis ", a, " may differ; index is ",
                                        index.shape(), ", x is ", x.shape());
  const Tensor<std::int64_t> idx = index.contiguous_data();
  const Index n = x.shape()[a];
  if (const Index bad = detail::first_out_of_range(idx.data(), idx.numel(), n); bad >= 0)
    foundry::detail::fail<IndexError>("gather: index ", idx.data()[bad], " at position ", detail::unravel(bad, idx.shape()),
                                      " out of range for axis ", a, " of size ", n, " (x is ", x.shape(), ")");
  // Walk index (contiguous, like y) and x together; x's axis stride is zeroed and added per element.
  const Strides si = contiguous_strides(idx.shape());
  Strides sx = x.strides();
  const Index step_x = sx[a];
  sx[a] = 0;
  Tensor<T> y = Tensor<T>::empty(idx.shape());
  {
    T* out = y.data();
    const T* xb = x.storage()->data() + x.offset();
    const std::int64_t* ip = idx.data();
    detail::for_each_offset2_parallel(idx.shape(), 0, si, sx, [&](Index i, Index off) { out[i] = xb[off + ip[i] * step_x]; });
  }
  return autograd::record<T>("gather", y, {x}, [x = x.grad_target(), idx, a](const Tensor<T>& grad_y) {
    // grad_x[p with axis coordinate index[p]] += grad_y[p]. Threads split an axis other than `a`:
    // positions that differ there write different elements of grad_x, so nothing races.
    Tensor<T> gx = x.grad_ref();
    const Strides si = contiguous_strides(idx.shape());
    Strides sg = gx.strides();
    const Index step_g = sg[a];
    sg[a] = 0;
    int split = -1;
    for (int d = 0; d < idx.dim(); ++d)
      if (d != a && (split < 0 || idx.shape()[d] > idx.shape()[split])) split = d;
    T* g = gx.data();
    const T* gy = grad_y.data();
    const std::int64_t* ip = idx.data();
    detail::for_each_offset2_parallel(idx.shape(), split, si, sg, [&](Index i, Index off) { g[off + ip[i] * step_g] += gy[i]; });
  });
}

}  // namespace ops

using ops::gather;
using ops::index_select;

}  // namespace foundry
