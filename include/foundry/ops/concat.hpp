// ops/concat.hpp: joining and cutting along one axis: cat and stack copy their inputs into one new
// tensor; split and chunk return narrow() views of their input (no copy), so their gradients route
// through ops/view.hpp. Joins run as block copies: along `axis`, each input is a run of contiguous
// elements per outer index, so the copy and its backward are memcpy-like loops.
#pragma once

#include <cstring>
#include <vector>

#include "foundry/autograd/engine.hpp"
#include "foundry/ops/kernels.hpp"
#include "foundry/ops/view.hpp"

namespace foundry {
namespace ops {

namespace detail {

// autograd::record for a list of inputs whose length is known only at run time.
template <class T, class Backward>
Tensor<T> record_list(const char* name, Tensor<T> output, const std::vector<Tensor<T>>& inputs, Backward&& backward) {
  if (!autograd::is_grad_enabled()) return output;
  bool any = false;
  for (const auto& x : inputs) any = any || x.requires_grad();
  if (!any) return output;
  auto node = std::make_shared<autograd::FunctionNode<T, std::decay_t<Backward>>>(name, output, std::forward<Backward>(backward));
  for (const auto& x : inputs) node->add_input(x);
  output.impl().grad_fn = node;
  output.impl().requires_grad = true;
  return output;
}

// Joins `parts` (views of the inputs, all of rank `out_shape.size()`) along `axis` into a new tensor
// and records the node that hands each input its slab of the gradient. Seen as [outer, inner_i] with
// outer = product of the axes before `axis`, part i fills columns [start_i, start_i + inner_i) of the
// [outer, Σ inner_i] output. The inputs' gradient buffers have the same [outer, inner_i] layout.
template <class T>
Tensor<T> join_along(const char* op, const std::vector<Tensor<T>>& inputs, const std::vector<Tensor<T>>& parts, int axis,
                     const Shape& out_shape) {
  Index outer = 1;
  for (int d = 0; d < axis; ++d) outer *= out_shape[d];
  std::vector<Index> inner(parts.size()), start(parts.size());
  Index row = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    inner[i] = outer == 0 ? 0 : parts[i].numel() / outer;
    start[i] = row;
    row += inner[i];
  }
  Tensor<T> y = Tensor<T>::empty(out_shape);
  T* out = y.data();
  const Index grain = std::max<Index>(1, kPointwiseGrain / std::max<Index>(row, 1));
  parallel_for(outer, grain, [&](Index o0, Index o1) {
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const Tensor<T>& p = parts[i];
      if (inner[i] == 0) continue;
      if (p.is_contiguous()) {
        for (Index o = o0; o < o1; ++o) std::copy_n(p.data() + o * inner[i], inner[i], out + o * row + start[i]);
        continue;
      }
      // A strided part: walk its trailing axes [axis, rank) for each outer index.
      Shape tail_shape, tail_strides;
      for (int d = axis; d < p.dim(); ++d) {
        tail_shape.push_back(p.shape()[d]);
        tail_strides.push_back(p.strides()[d]);
      }
      const T* base = p.storage()->data();
      for (Index o = o0; o < o1; ++o) {
        Index off = p.offset();
        Index rem = o;
        for (int d = axis - 1; d >= 0; --d) {
          off += (rem % p.shape()[d]) * p.strides()[d];
          rem /= p.shape()[d];
        }
        T* dst = out + o * row + start[i];
        foundry::detail::for_each_offset(tail_shape, tail_strides, off, [&](Index j, Index src) { dst[j] = base[src]; });
      }
    }
  });
  return record_list<T>(op, y, inputs, [inputs, inner, start, outer, row](const Tensor<T>& grad_y) {
    // Each input's gradient is its own slab of grad_y: grad_i[o, :] += grad_y[o, start_i : start_i + inner_i].
    std::vector<T*> grads(inputs.size(), nullptr);
    for (std::size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].requires_grad()) grads[i] = inputs[i].grad_ref().data();
    const T* g = grad_y.data();
    parallel_for(outer, std::max<Index>(1, kPointwiseGrain / std::max<Index>(row, 1)), [&](Index o0, Index o1) {
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (!grads[i]) continue;
        for (Index o = o0; o < o1; ++o) {
          T* d = grads[i] + o * inner[i];
          const T* s = g + o * row + start[i];
          for (Index j = 0; j < inner[i]; ++j) d[j] += s[j];
        }
      }
    });
  });
}

}  // namespace detail

// Joins tensors along an existing axis: cat({[2, 3], [2, 5]}, 1) -> [2, 8]. All other axes must match.
template <class T>
Tensor<T> cat(const std::vector<Tensor<T>>& tensors, Index axis = 0) {
  if (tensors.empty()) foundry::detail::fail<ValueError>("cat: expects a non-empty list of tensors");
  const Shape& first = tensors[0].shape();
  if (first.empty()) foundry::detail::fail<ShapeError>("cat: input 0 is zero-dimensional (shape []) and cannot be concatenated");
  const int a = foundry::detail::normalize_axis("cat", axis, first.size());
  Shape out_shape = first;
  out_shape[a] = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Shape& s = tensors[i].shape();
    if (s.size() != first.size())
      foundry::detail::fail<ShapeError>("cat: input ", i, " has shape ", s, " but input 0 has shape ", first,
                                        "; inputs must have the same rank (joining along axis ", a, ")");
    for (int d = 0; d < s.size(); ++d)
      if (d != a && s[d] != first[d])
        foundry::detail::fail<ShapeError>("cat: input ", i, " has shape ", s, " but input 0 has shape ", first,
                                          "; all axes except axis ", a, " must match (axis ", d, ": ", s[d], " vs ",
                                          first[d], ")");
    out_shape[a] += s[a];
  }
  return detail::join_along("cat", tensors, tensors, a, out_shape);
}

// Joins equal-shaped tensors along a new axis: stack({[2, 3], [2, 3]}, 0) -> [2, 2, 3].
template <class T>
Tensor<T> stack(const std::vector<Tensor<T>>& tensors, Index axis = 0) {
  if (tensors.empty()) foundry::detail::fail<ValueError>("stack: expects a non-empty list of tensors");
  const Shape& first = tensors[0].shape();
  const int a = foundry::detail::normalize_axis("stack", axis, first.size() + 1);
  std::vector<Tensor<T>> parts;  // each input seen with an extent-1 axis at `a` (no copy, no graph)
  parts.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor<T>& t = tensors[i];
    if (t.shape() != first)
      foundry::detail::fail<ShapeError>("stack: input ", i, " has shape ", t.shape(), " but input 0 has shape ", first,
                                        "; stack needs equal shapes (new axis ", a, ")");
    Shape shape = t.shape(), strides = t.strides();
    shape.insert(a, 1);
    strides.insert(a, 0);
    parts.push_back(t.as_strided(shape, strides, t.offset()));
  }
  Shape out_shape = first;
  out_shape.insert(a, static_cast<Index>(tensors.size()));
  return detail::join_along("stack", tensors, parts, a, out_shape);
}

// Cuts x along `axis` into pieces of `size` (the last may be shorter), as torch.split. Views of x.
// Note split(x, {2}) means pieces of 2 (the braces pick this overload); pass std::vector<Index>{2}
// for a single piece of 2.
template <class T>
std::vector<Tensor<T>> split(const Tensor<T>& x, Index size, Index axis = 0) {
  if (x.dim() == 0) foundry::detail::fail<ShapeError>("split: x is zero-dimensional (shape []) and cannot be split");
  const int a = foundry::detail::normalize_axis("split", axis, x.dim());
  const Index n = x.shape()[a];
  if (size <= 0 && n > 0)
    foundry::detail::fail<ValueError>("split: piece size must be positive, got ", size, " for axis ", a, " of x ", x.shape());
  std::vector<Tensor<T>> pieces;
  if (n == 0) pieces.push_back(narrow(x, a, 0, 0));
  for (Index s = 0; s < n; s += size) pieces.push_back(narrow(x, a, s, std::min(size, n - s)));
  return pieces;
}

// Cuts x along `axis` into pieces of the given sizes, which must add up to the axis extent.
template <class T>
std::vector<Tensor<T>> split(const Tensor<T>& x, const std::vector<Index>& sizes, Index axis = 0) {
  if (x.dim() == 0) foundry::detail::fail<ShapeError>("split: x is zero-dimensional (shape []) and cannot be split");
  const int a = foundry::detail::normalize_axis("split", axis, x.dim());
  Index total = 0;
  bool negative = false;
  for (Index s : sizes) {
    total += s;
    negative = negative || s < 0;
  }
  if (negative || total != x.shape()[a])
    foundry::detail::fail<ShapeError>("split: sizes ", Shape(sizes), " must be non-negative and sum to axis ", a,
                                      " of x ", x.shape(), " (", x.shape()[a], "), got sum ", total);
  std::vector<Tensor<T>> pieces;
  pieces.reserve(sizes.size());
  Index start = 0;
  for (Index s : sizes) {
    pieces.push_back(narrow(x, a, start, s));
    start += s;
  }
  return pieces;
}

// Cuts x along `axis` into `chunks` pieces of ceil(n / chunks) (the last shorter; fewer pieces when
// they run out first), as torch.chunk. Views of x.
template <class T>
std::vector<Tensor<T>> chunk(const Tensor<T>& x, Index chunks, Index axis = 0) {
  if (x.dim() == 0) foundry::detail::fail<ShapeError>("chunk: x is zero-dimensional (shape []) and cannot be chunked");
  const int a = foundry::detail::normalize_axis("chunk", axis, x.dim());
  if (chunks <= 0) foundry::detail::fail<ValueError>("chunk: number of chunks must be positive, got ", chunks);
  const Index n = x.shape()[a];
  if (n > 0) return split(x, (n + chunks - 1) / chunks, a);
  std::vector<Tensor<T>> pieces;  // an empty axis gives `chunks` empty pieces, as in PyTorch
  for (Index i = 0; i < chunks; ++i) pieces.push_back(narrow(x, a, 0, 0));
  return pieces;
}

}  // namespace ops

using ops::cat;
using ops::chunk;
using ops::split;
using ops::stack;

}  // namespace foundry
