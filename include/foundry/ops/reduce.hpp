// ops/reduce.hpp: reductions over axes: sum, mean and var (also over all elements), max/min along
// one axis with their indices, max/min over all elements, argmax/argmin. Every kernel reads its input
// as a contiguous [outer, R, inner] block (R = the reduced extent): inner == 1 is a row reduction,
// outer == 1 a column sum; any other layout is first permuted into reduced-axes-last form.
// Row normalisations (softmax) live in softmax.hpp, losses in loss.hpp.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "foundry/autograd/engine.hpp"
#include "foundry/ops/kernels.hpp"

namespace foundry {
namespace ops {

// What max/min along an axis return, as torch.return_types.max: auto [values, indices] = max(x, 1);
template <class T>
struct ValuesAndIndices {
  Tensor<T> values;
  Tensor<std::int64_t> indices;
};

namespace detail {

// Float sums run in T (vectorised) over blocks of this many terms; block totals join in double.
// Eigen's redux keeps 8-16 independent partial sums, so each partial folds only 16-32 terms: a float
// row sum errs by a few ulps however long the row (2^22 copies of 0.1f: 3e-7 relative, where a plain
// float loop is off by percents), at float speed. PyTorch gets the same effect with cascade sums.
inline constexpr Index kSumBlock = 256;
inline constexpr Index kColumnSumBlock = 32;   // rows folded in T before joining a double column total
inline constexpr Index kColumnTaskRows = 1024; // rows one task of a column reduction covers
inline constexpr Index kColumnChunk = 1024;    // columns one task of a column reduction owns

// Which axes a reduction folds and the shapes around it.
struct ReducePlan {
  Shape in_shape;
  std::array<bool, kMaxDims> reduced{};
  Shape keep_shape;  // in_shape with reduced axes set to 1
  Shape out_shape;   // keep_shape, or without the reduced axes when !keepdim
  Index count = 1;   // R: elements folded into each output
  Index kept = 1;    // number of outputs
  // blocked: ignoring extent-1 axes, the reduced axes are adjacent, so contiguous x is [outer, R, inner].
  bool blocked = true;
  Index outer = 1, inner = 1;
};

// An empty axes list reduces nothing (NumPy's axis=()): use the all-element overloads for everything.
inline ReducePlan make_reduce_plan(const char* op, const Shape& shape, const Shape& axes, bool keepdim) {
  ReducePlan p;
  p.in_shape = shape;
  const int rank = shape.size();
  for (Index a : axes) {
    const int i = foundry::detail::normalize_axis(op, a, rank);
    if (rank == 0) continue;  // a scalar accepts axis 0 / -1, as in PyTorch, and stays a scalar
    if (p.reduced[static_cast<std::size_t>(i)])
      fail<ValueError>(op, ": axis ", a, " appears more than once in axes ", axes, " (shape ", shape, ")");
    p.reduced[static_cast<std::size_t>(i)] = true;
  }
  int phase = 0;  // 0: before the reduced block, 1: inside it, 2: after it
  for (int i = 0; i < rank; ++i) {
    const Index d = shape[i];
    const bool red = p.reduced[static_cast<std::size_t>(i)];
    p.keep_shape.push_back(red ? 1 : d);
    if (!red || keepdim) p.out_shape.push_back(red ? 1 : d);
    (red ? p.count : p.kept) *= d;
    if (d == 1) continue;
    if (red) {
      if (phase == 2) p.blocked = false;
      phase = 1;
    } else if (phase == 0) {
      p.outer *= d;
    } else {
      phase = 2;
      p.inner *= d;
    }
  }
  return p;
}

inline Shape all_axes(int rank) {
  Shape axes;
  for (int i = 0; i < rank; ++i) axes.push_back(i);
  return axes;
}

// The input as a contiguous [outer, R, inner] array.
template <class T>
struct ReduceSource {
  Tensor<T> data;
  Index outer, count, inner;
};

template <class T>
ReduceSource<T> reduce_source(const Tensor<T>& x, const ReducePlan& p) {
  if (p.blocked && x.is_contiguous()) return {x.detach(), p.outer, p.count, p.inner};
  // Reduced axes last, kept axes in their order (so rows come out in output order). The permuted
  // view is already contiguous for a transposed input reduced along its storage rows: no copy then.
  Shape shape, strides;
  for (int pass = 0; pass < 2; ++pass)
    for (int i = 0; i < x.dim(); ++i)
      if (p.reduced[static_cast<std::size_t>(i)] == (pass == 1)) {
        shape.push_back(x.shape()[i]);
        strides.push_back(x.strides()[i]);
      }
  const Tensor<T> v = x.as_strided(shape, strides, x.offset());
  if (v.is_contiguous()) return {v, p.kept, p.count, 1};
  if (p.blocked) return {x.clone_data(), p.outer, p.count, p.inner};
  return {v.clone_data(), p.kept, p.count, 1};
}

// Σ over p[0, n) of v, or of (v - c)² when kSquares, in blocks (see kSumBlock). Each block is
// folded in Acc: T for sum and mean (fast), double for var (whose result and gradient hinge on the
// mean to more digits than a float sum keeps).
template <bool kSquares, class Acc, class T>
double block_sum(const T* p, Index n, Acc c) {
  double total = 0;
  for (Index b = 0; b < n; b += kSumBlock) {
    const Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> seg(p + b, std::min(kSumBlock, n - b));
    if constexpr (kSquares) total += static_cast<double>((seg.template cast<Acc>() - c).square().sum());
    else total += static_cast<double>(seg.template cast<Acc>().sum());
  }
  return total;
}

// out[o, i] = scale · Σ_r f(src[o, r, i]) with f(v) = v, or (v - center[o, i])² when kSquares,
// folded in Acc as block_sum. The summation order depends only on the shape, never on the thread
// count: results are reproducible.
template <bool kSquares, class Acc, class T, class Out>
void reduce_sum_kernel(const ReduceSource<T>& s, const Acc* center, double scale, Out* out) {
  const Index outer = s.outer, n = s.count, inner = s.inner;
  const T* x = s.data.data();
  const auto c_at = [&](Index j) { return kSquares ? center[j] : Acc(0); };
  if (inner == 1) {
    const Index blocks = std::max<Index>(1, (n + kSumBlock - 1) / kSumBlock);
    if (blocks == 1 || outer >= get_num_threads()) {
      parallel_for(outer, std::max<Index>(1, kPointwiseGrain / std::max<Index>(n, 1)), [&](Index o0, Index o1) {
        for (Index o = o0; o < o1; ++o) out[o] = static_cast<Out>(block_sum<kSquares, Acc>(x + o * n, n, c_at(o)) * scale);
      });
      return;
    }
    // Few long rows (a sum of everything): the threads share each row's blocks. Block totals are
    // added in the same order as block_sum adds them, so both paths give identical bits.
    std::vector<double> part(static_cast<std::size_t>(outer * blocks));
    parallel_for(outer * blocks, std::max<Index>(1, kPointwiseGrain / kSumBlock), [&](Index k0, Index k1) {
      for (Index k = k0; k < k1; ++k) {
        const Index o = k / blocks, b = (k % blocks) * kSumBlock;
        part[static_cast<std::size_t>(k)] = block_sum<kSquares, Acc>(x + o * n + b, std::min(kSumBlock, n - b), c_at(o));
      }
    });
    for (Index o = 0; o < outer; ++o) {
      double total = 0;
      for (Index b = 0; b < blocks; ++b) total += part[static_cast<std::size_t>(o * blocks + b)];
      out[o] = static_cast<Out>(total * scale);
    }
    return;
  }
  // Column sums: a task owns one column chunk of up to kColumnTaskRows rows. It folds each
  // kColumnSumBlock rows into T accumulators (the inner loop streams a contiguous row segment), adds
  // those into double totals, and writes the totals as one partial; partials join in a fixed order.
  const Index chunk = std::min(inner, kColumnChunk), chunks = (inner + chunk - 1) / chunk;
  const Index row_groups = (n + kColumnTaskRows - 1) / kColumnTaskRows;
  std::vector<double> part(static_cast<std::size_t>(outer * row_groups * inner));
  const Index task_size = std::min(n, kColumnTaskRows) * chunk;
  parallel_for(outer * chunks * row_groups, std::max<Index>(1, kPointwiseGrain / std::max<Index>(task_size, 1)),
               [&](Index k0, Index k1) {
                 std::vector<Acc> acc(static_cast<std::size_t>(chunk));
                 for (Index k = k0; k < k1; ++k) {
                   const Index o = k / (chunks * row_groups), rem = k % (chunks * row_groups);
                   const Index c0 = (rem / row_groups) * chunk, rg = rem % row_groups;
                   const Index width = std::min(chunk, inner - c0);
                   const Index r_end = std::min(n, (rg + 1) * kColumnTaskRows);
                   double* total = part.data() + (o * row_groups + rg) * inner + c0;
                   std::fill_n(total, width, 0.0);
                   // Eigen maps keep these loops vectorised at any optimisation level.
                   Eigen::Map<Eigen::Array<Acc, Eigen::Dynamic, 1>> a(acc.data(), width);
                   Eigen::Map<Eigen::Array<double, Eigen::Dynamic, 1>> tot(total, width);
                   for (Index r0 = rg * kColumnTaskRows; r0 < r_end; r0 += kColumnSumBlock) {
                     a.setZero();
                     for (Index r = r0; r < std::min(r_end, r0 + kColumnSumBlock); ++r) {
                       const Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> row(x + (o * n + r) * inner + c0, width);
                       if constexpr (kSquares) {
                         const Eigen::Map<const Eigen::Array<Acc, Eigen::Dynamic, 1>> cen(center + o * inner + c0, width);
                         a += (row.template cast<Acc>() - cen).square();
                       } else {
                         a += row.template cast<Acc>();
                       }
                     }
                     tot += a.template cast<double>();
                   }
                 }
               });
  parallel_for(outer * inner, std::max<Index>(1, kPointwiseGrain / std::max<Index>(row_groups, 1)), [&](Index j0, Index j1) {
    for (Index j = j0; j < j1; ++j) {
      const Index o = j / inner, i = j % inner;
      double total = 0;
      for (Index rg = 0; rg < row_groups; ++rg) total += part[static_cast<std::size_t>((o * row_groups + rg) * inner + i)];
      out[j] = static_cast<Out>(total * scale);
    }
  });
}

// Walks a contiguous tensor of the plan's input shape (a gradient buffer) in runs: elements
// x_index + k, k < length, pair with output element out_index + k * out_step (out_step 0: the whole
// run feeds one output, as in a row reduction). Runs never overlap, so callers may write x-side.
template <class F>
void for_each_reduce_run(const ReducePlan& p, F&& fn) {
  const Index n = p.in_shape.numel();
  if (n == 0) return;
  if (p.blocked) {
    if (p.inner == 1) {
      parallel_for(p.outer, std::max<Index>(1, kPointwiseGrain / p.count), [&](Index o0, Index o1) {
        for (Index o = o0; o < o1; ++o) fn(o * p.count, o, p.count, Index{0});
      });
    } else {
      parallel_for(p.outer * p.count, std::max<Index>(1, kPointwiseGrain / p.inner), [&](Index k0, Index k1) {
        for (Index k = k0; k < k1; ++k) fn(k * p.inner, (k / p.count) * p.inner, p.inner, Index{1});
      });
    }
    return;
  }
  // General layout: the output index of an x element uses the keep_shape strides, 0 on reduced axes.
  const int rank = p.in_shape.size();
  Strides os = contiguous_strides(p.keep_shape);
  for (int i = 0; i < rank; ++i)
    if (p.reduced[static_cast<std::size_t>(i)]) os[i] = 0;
  const Index run = p.in_shape[rank - 1];
  Shape idx = Shape::filled(rank, 0);
  Index base = 0;
  for (Index pos = 0; pos < n; pos += run) {
    fn(pos, base, run, os[rank - 1]);
    for (int ax = rank - 2; ax >= 0; --ax) {
      base += os[ax];
      if (++idx[ax] < p.in_shape[ax]) break;
      base -= os[ax] * p.in_shape[ax];
      idx[ax] = 0;
    }
  }
}

// grad_x[e] += scale · grad_y[out(e)]: the backward of sum and mean.
template <class T>
void add_broadcast_grad(const ReducePlan& p, const Tensor<T>& grad_y, T scale, T* gx) {
  const T* g = grad_y.data();
  for_each_reduce_run(p, [&](Index xi, Index oi, Index len, Index step) {
    T* dst = gx + xi;
    if (step == 0) {
      const T v = g[oi] * scale;
      for (Index k = 0; k < len; ++k) dst[k] += v;
    } else {
      const T* src = g + oi;
      for (Index k = 0; k < len; ++k) dst[k] += src[k * step] * scale;
    }
  });
}

template <class T>
Tensor<T> reduce_sum_impl(const char* op, const Tensor<T>& x, const ReducePlan& p, bool mean) {
  Tensor<T> y = Tensor<T>::empty(p.out_shape);
  // 1 / R for a mean; R = 0 gives 0 · inf = NaN, as torch.mean of nothing.
  const double scale = !mean ? 1.0 : p.count > 0 ? 1.0 / static_cast<double>(p.count) : std::numeric_limits<double>::infinity();
  reduce_sum_kernel<false, T>(reduce_source(x, p), static_cast<const T*>(nullptr), scale, y.data());
  return autograd::record<T>(op, std::move(y), {x}, [x, p, scale](const Tensor<T>& grad_y) {
    // Each input element feeds its output once (times 1/R for a mean): grad_x is grad_y broadcast back.
    add_broadcast_grad(p, grad_y, static_cast<T>(scale), x.grad_ref().data());
  });
}

template <class T>
Tensor<T> var_impl(const Tensor<T>& x, const ReducePlan& p, bool unbiased) {
  // Two passes (mean, then squared deviations) rather than E[x²] - E[x]², which cancels catastrophically.
  const ReduceSource<T> src = reduce_source(x, p);
  const double inv_count = p.count > 0 ? 1.0 / static_cast<double>(p.count) : std::numeric_limits<double>::infinity();
  // Both passes accumulate in double and the mean stays in double: x - mean cancels, and a float
  // mean's rounding (half an ulp of |x|) would show up in full in the gradient 2(x - mean)/(R - 1).
  Tensor<double> mean = Tensor<double>::empty(p.out_shape);
  reduce_sum_kernel<false, double>(src, static_cast<const double*>(nullptr), inv_count, mean.data());
  // Divide by max(0, R - correction) as torch.var: R = 1 unbiased (and R = 0) gives 0 / 0 = NaN.
  const Index denom = p.count - (unbiased ? 1 : 0);
  const double scale = denom > 0 ? 1.0 / static_cast<double>(denom) : std::numeric_limits<double>::infinity();
  Tensor<T> y = Tensor<T>::empty(p.out_shape);
  reduce_sum_kernel<true, double>(src, mean.data(), scale, y.data());
  return autograd::record<T>("var", std::move(y), {x}, [x, p, mean, scale](const Tensor<T>& grad_y) {
    // d var / d x_e = 2 (x_e - mean) / (R - correction); the mean's own dependence on x_e cancels.
    const Tensor<T> xc = x.contiguous_data();
    const T* xv = xc.data();
    const T* g = grad_y.data();
    const double* m = mean.data();
    T* gx = x.grad_ref().data();
    for_each_reduce_run(p, [&](Index xi, Index oi, Index len, Index step) {
      for (Index k = 0; k < len; ++k) {
        const Index o = oi + k * step;
        gx[xi + k] += static_cast<T>(2 * scale * static_cast<double>(g[o]) * (static_cast<double>(xv[xi + k]) - m[o]));
      }
    });
  });
}

// v replaces best: strictly greater (less), or the first NaN, which then sticks (NaN propagates as in PyTorch).
template <bool kMax, class T>
inline bool extreme_beats(T v, T best) {
  if constexpr (kMax) return v > best || (v != v && best == best);
  else return v < best || (v != v && best == best);
}

// values[o, i], indices[o, i] = the first extreme of src[o, :, i] and its position r.
template <bool kMax, class T>
void arg_extreme_kernel(const ReduceSource<T>& s, T* values, std::int64_t* indices) {
  const Index outer = s.outer, n = s.count, inner = s.inner;
  const T* x = s.data.data();
  if (inner == 1) {
    // Two light passes beat one branchy pass: Eigen's vectorised max (NaN-propagating, like
    // PyTorch), then a scan for the first position holding it.
    parallel_for(outer, std::max<Index>(1, kPointwiseGrain / n), [&](Index o0, Index o1) {
      for (Index o = o0; o < o1; ++o) {
        const T* row = x + o * n;
        const Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> r(row, n);
        const T best = kMax ? r.template maxCoeff<Eigen::PropagateNaN>() : r.template minCoeff<Eigen::PropagateNaN>();
        Index at = 0;
        if (best != best) {
          while (row[at] == row[at]) ++at;
        } else {
          while (row[at] != best) ++at;
        }
        values[o] = row[at];  // not `best`: of tied 0.0 and -0.0 the first one found is the answer
        indices[o] = at;
      }
    });
    return;
  }
  const Index chunk = std::min(inner, kColumnChunk), chunks = (inner + chunk - 1) / chunk;
  parallel_for(outer * chunks, std::max<Index>(1, kPointwiseGrain / (n * chunk)), [&](Index k0, Index k1) {
    for (Index k = k0; k < k1; ++k) {
      const Index o = k / chunks, c0 = (k % chunks) * chunk, width = std::min(chunk, inner - c0);
      T* bv = values + o * inner + c0;
      std::int64_t* bi = indices + o * inner + c0;
      const T* first = x + o * n * inner + c0;
      std::copy_n(first, width, bv);
      std::fill_n(bi, width, std::int64_t{0});
      for (Index r = 1; r < n; ++r) {
        const T* row = first + r * inner;
        for (Index i = 0; i < width; ++i)
          if (extreme_beats<kMax>(row[i], bv[i])) bv[i] = row[i], bi[i] = r;
      }
    }
  });
}

template <bool kMax, class T>
ValuesAndIndices<T> extreme_along(const char* op, const Tensor<T>& x, Index axis, bool keepdim) {
  const int a = foundry::detail::normalize_axis(op, axis, x.dim());
  const ReducePlan p = make_reduce_plan(op, x.shape(), x.dim() ? Shape{a} : Shape{}, keepdim);
  if (p.count == 0)
    fail<ShapeError>(op, ": cannot reduce axis ", a, " of extent 0 (shape ", x.shape(), ")");
  Tensor<T> values = Tensor<T>::empty(p.out_shape);
  Tensor<std::int64_t> indices = Tensor<std::int64_t>::empty(p.out_shape);
  arg_extreme_kernel<kMax>(reduce_source(x, p), values.data(), indices.data());
  values = autograd::record<T>(op, std::move(values), {x}, [x, p, indices](const Tensor<T>& grad_y) {
    // Only the chosen element (first on ties) moved the output, so it alone gets the gradient.
    T* gx = x.grad_ref().data();
    const T* g = grad_y.data();
    const std::int64_t* at = indices.data();
    for (Index o = 0; o < p.outer; ++o)
      for (Index i = 0; i < p.inner; ++i) {
        const Index j = o * p.inner + i;
        gx[(o * p.count + at[j]) * p.inner + i] += g[j];
      }
  });
  return {values, indices};
}

// The first extreme of all of x (row-major order) and its flat position; x is not empty.
template <bool kMax, class T>
std::pair<T, Index> extreme_all(const Tensor<T>& xc) {
  const Index n = xc.numel();
  const T* x = xc.data();
  const Index chunks = std::max<Index>(1, std::min<Index>(get_num_threads(), n / kPointwiseGrain));
  std::vector<std::pair<T, Index>> part(static_cast<std::size_t>(chunks));
  parallel_for(chunks, 1, [&](Index c0, Index c1) {
    for (Index c = c0; c < c1; ++c) {
      const Index b = n * c / chunks, e = n * (c + 1) / chunks;
      T best = x[b];
      Index at = b;
      for (Index i = b + 1; i < e; ++i)
        if (extreme_beats<kMax>(x[i], best)) best = x[i], at = i;
      part[static_cast<std::size_t>(c)] = {best, at};
    }
  });
  std::pair<T, Index> r = part[0];
  for (const auto& q : part)
    if (extreme_beats<kMax>(q.first, r.first)) r = q;  // chunks in order: the first one wins ties
  return r;
}

template <bool kMax, class T>
Tensor<T> extreme_all_value(const char* op, const Tensor<T>& x) {
  if (x.numel() == 0) fail<ShapeError>(op, ": cannot reduce an empty tensor (shape ", x.shape(), ")");
  const Tensor<T> xc = x.contiguous_data();
  const T value = extreme_all<kMax>(xc).first;
  return autograd::record<T>(op, Tensor<T>::scalar(value), {x}, [x, xc, value](const Tensor<T>& grad_y) {
    // As torch.max(x): the gradient is split evenly among all elements equal to the result (all NaNs
    // when the result is NaN), not given to the first one only.
    const T* v = xc.data();
    const Index n = xc.numel();
    const bool nan = value != value;
    Index ties = 0;
    for (Index i = 0; i < n; ++i) ties += nan ? v[i] != v[i] : v[i] == value;
    const T share = grad_y.data()[0] / static_cast<T>(ties);
    T* gx = x.grad_ref().data();
    for (Index i = 0; i < n; ++i)
      if (nan ? v[i] != v[i] : v[i] == value) gx[i] += share;
  });
}

}  // namespace detail

// ---- sum, mean ----------------------------------------------------------------------------------

// Sum of all elements -> [] (rank 0).
template <class T>
Tensor<T> sum(const Tensor<T>& x) {
  static_assert(std::is_floating_point_v<T>, "sum: floating-point tensors only (convert masks with to<float>())");
  return detail::reduce_sum_impl("sum", x, detail::make_reduce_plan("sum", x.shape(), detail::all_axes(x.dim()), false), false);
}

// Sum over `axes` (negative axes count from the end): sum(x [B, T, C], {0, 1}) -> [C]; with
// keepdim the reduced axes stay as extent 1 ([1, 1, C]). An empty axes list reduces nothing.
template <class T>
Tensor<T> sum(const Tensor<T>& x, const Shape& axes, bool keepdim = false) {
  static_assert(std::is_floating_point_v<T>, "sum: floating-point tensors only (convert masks with to<float>())");
  return detail::reduce_sum_impl("sum", x, detail::make_reduce_plan("sum", x.shape(), axes, keepdim), false);
}

// Mean of all elements -> [] (NaN for an empty tensor, as torch.mean).
template <class T>
Tensor<T> mean(const Tensor<T>& x) {
  static_assert(std::is_floating_point_v<T>, "mean: floating-point tensors only");
  return detail::reduce_sum_impl("mean", x, detail::make_reduce_plan("mean", x.shape(), detail::all_axes(x.dim()), false), true);
}

template <class T>
Tensor<T> mean(const Tensor<T>& x, const Shape& axes, bool keepdim = false) {
  static_assert(std::is_floating_point_v<T>, "mean: floating-point tensors only");
  return detail::reduce_sum_impl("mean", x, detail::make_reduce_plan("mean", x.shape(), axes, keepdim), true);
}

// ---- var ------------------------------------------------------------------------------------------

// Variance over `axes`: Σ(x - mean)² / (R - 1) when unbiased (torch.var's default), / R otherwise.
// R - 1 = 0 gives NaN, as torch.var does.
template <class T>
Tensor<T> var(const Tensor<T>& x, const Shape& axes, bool unbiased = true, bool keepdim = false) {
  static_assert(std::is_floating_point_v<T>, "var: floating-point tensors only");
  return detail::var_impl(x, detail::make_reduce_plan("var", x.shape(), axes, keepdim), unbiased);
}

// Variance of all elements -> [] (unbiased).
template <class T>
Tensor<T> var(const Tensor<T>& x) {
  static_assert(std::is_floating_point_v<T>, "var: floating-point tensors only");
  return detail::var_impl(x, detail::make_reduce_plan("var", x.shape(), detail::all_axes(x.dim()), false), true);
}

// var(x, false): the biased variance of all elements. The parameter accepts only a real bool, so
// var(x, {1}) (axis 1) or var(x, 0) can never be read as a flag.
template <class T, class B>
  requires std::is_same_v<B, bool>
Tensor<T> var(const Tensor<T>& x, B unbiased) {
  static_assert(std::is_floating_point_v<T>, "var: floating-point tensors only");
  return detail::var_impl(x, detail::make_reduce_plan("var", x.shape(), detail::all_axes(x.dim()), false), unbiased);
}

// ---- max, min, argmax, argmin -------------------------------------------------------------------

// Largest element along `axis` and its position there: max(x [N, C], 1) -> values [N], indices [N].
// Ties pick the first position, NaN counts as largest (as PyTorch); the gradient goes to that position.
template <class T>
ValuesAndIndices<T> max(const Tensor<T>& x, Index axis, bool keepdim = false) {
  static_assert(std::is_floating_point_v<T>, "max: floating-point tensors only");
  return detail::extreme_along<true>("max", x, axis, keepdim);
}

template <class T>
ValuesAndIndices<T> min(const Tensor<T>& x, Index axis, bool keepdim = false) {
  static_assert(std::is_floating_point_v<T>, "min: floating-point tensors only");
  return detail::extreme_along<false>("min", x, axis, keepdim);
}

// Largest element of x -> []. Like torch.max(x), the gradient is split evenly among tied elements.
template <class T>
Tensor<T> max(const Tensor<T>& x) {
  static_assert(std::is_floating_point_v<T>, "max: floating-point tensors only");
  return detail::extreme_all_value<true>("max", x);
}

template <class T>
Tensor<T> min(const Tensor<T>& x) {
  static_assert(std::is_floating_point_v<T>, "min: floating-point tensors only");
  return detail::extreme_all_value<false>("min", x);
}

// Position of the first largest element along `axis` (no gradient): argmax(logits [B, T, V], -1) -> [B, T].
template <class T>
Tensor<std::int64_t> argmax(const Tensor<T>& x, Index axis, bool keepdim = false) {
  autograd::NoGradGuard no_grad;
  return detail::extreme_along<true>("argmax", x, axis, keepdim).indices;
}

template <class T>
Tensor<std::int64_t> argmin(const Tensor<T>& x, Index axis, bool keepdim = false) {
  autograd::NoGradGuard no_grad;
  return detail::extreme_along<false>("argmin", x, axis, keepdim).indices;
}

// Flat row-major position of the first largest element of x -> [] (torch.argmax(x)).
template <class T>
Tensor<std::int64_t> argmax(const Tensor<T>& x) {
  if (x.numel() == 0) foundry::detail::fail<ShapeError>("argmax: cannot reduce an empty tensor (shape ", x.shape(), ")");
  return Tensor<std::int64_t>::scalar(detail::extreme_all<true>(x.contiguous_data()).second);
}

template <class T>
Tensor<std::int64_t> argmin(const Tensor<T>& x) {
  if (x.numel() == 0) foundry::detail::fail<ShapeError>("argmin: cannot reduce an empty tensor (shape ", x.shape(), ")");
  return Tensor<std::int64_t>::scalar(detail::extreme_all<false>(x.contiguous_data()).second);
}

}  // namespace ops

using ops::argmax;
using ops::argmin;
using ops::max;
using ops::mean;
using ops::min;
using ops::sum;
using ops::ValuesAndIndices;
using ops::var;

}  // namespace foundry
