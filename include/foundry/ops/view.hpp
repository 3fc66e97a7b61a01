// ops/view.hpp: differentiable views: reshape, permute, transpose, narrow/slice, select, expand,
// squeeze/unsqueeze. Each returns a tensor sharing storage with its input (reshape copies only when
// the input's layout makes a view impossible, as torch.reshape does), and records a node that routes
// the gradient back into the input's layout. Ops that copy (cat, gather, ...) live in other headers.
#pragma once

#include "foundry/autograd/engine.hpp"
#include "foundry/ops/kernels.hpp"

namespace foundry {
namespace ops {

namespace detail {

// dst (any strided view) += src (same shape, any layout); dst = src when !acc.
template <class T>
void add_into_view(const Tensor<T>& dst, const Tensor<T>& src, bool acc = true) {
  if (dst.is_contiguous() && src.is_contiguous()) {
    assign_or_add(dst.array(), src.array(), acc);
    return;
  }
  if (dst.is_contiguous() && !acc) {  // a strided gather straight into the buffer
    foundry::detail::copy_to_contiguous(src, dst.data());
    return;
  }
  const Tensor<T> s = src.contiguous_data();
  const T* in = s.data();
  T* base = dst.storage()->data();
  if (acc) foundry::detail::for_each_offset(dst.shape(), dst.strides(), dst.offset(), [&](Index i, Index off) { base[off] += in[i]; });
  else foundry::detail::for_each_offset(dst.shape(), dst.strides(), dst.offset(), [&](Index i, Index off) { base[off] = in[i]; });
}

// Resolves one -1 extent and checks the element count: reshape [2, 6] to [3, -1] -> [3, 4].
inline Shape infer_shape(const char* op, const Shape& from, Shape to) {
  int infer = -1;
  Index known = 1;
  for (int i = 0; i < to.size(); ++i) {
    if (to[i] == -1) {
      if (infer >= 0) fail<ShapeError>(op, ": only one extent may be -1, got ", to);
      infer = i;
    } else if (to[i] < 0) {
      fail<ShapeError>(op, ": invalid extent ", to[i], " in ", to);
    } else {
      known *= to[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || from.numel() % known != 0)
      fail<ShapeError>(op, ": cannot reshape ", from, " (", from.numel(), " elements) to ", to);
    to[infer] = from.numel() / known;
  }
  if (to.numel() != from.numel())
    fail<ShapeError>(op, ": cannot reshape ", from, " (", from.numel(), " elements) to ", to, " (", to.numel(), " elements)");
  return to;
}

}  // namespace detail

// Same elements in a new shape (one extent may be -1). A view when the layout allows, else a copy.
template <class T>
Tensor<T> reshape(const Tensor<T>& x, const Shape& shape) {
  const Shape to = detail::infer_shape("reshape", x.shape(), shape);
  const Tensor<T> src = x.is_contiguous() ? x : x.contiguous();
  Tensor<T> y = src.as_strided(to, contiguous_strides(to), src.offset());
  return autograd::record<T>("reshape", y, {src}, [src = src.grad_target()](const Tensor<T>& grad_y) {
    detail::write_grad(src.grad_slot(), grad_y.data(), grad_y.numel());  // both contiguous, same element order
  });
}

// Like reshape, but refuses to copy: the input must be contiguous.
template <class T>
Tensor<T> view(const Tensor<T>& x, const Shape& shape) {
  if (!x.is_contiguous())
    foundry::detail::fail<ShapeError>("view: input of shape ", x.shape(), " with strides ", x.strides(),
                                      " is not contiguous; use reshape()");
  return reshape(x, shape);
}

// Merges axes start..end into one: flatten([B, T, C], 0, 1) -> [B*T, C].
template <class T>
Tensor<T> flatten(const Tensor<T>& x, Index start = 0, Index end = -1) {
  if (x.dim() == 0) return reshape(x, Shape{1});
  const int s = foundry::detail::normalize_axis("flatten", start, x.dim()), e = foundry::detail::normalize_axis("flatten", end, x.dim());
  if (s > e) foundry::detail::fail<ValueError>("flatten: start axis ", start, " comes after end axis ", end);
  Shape to;
  Index merged = 1;
  for (int i = 0; i < x.dim(); ++i) {
    if (i < s || i > e) to.push_back(x.shape()[i]);
    else {
      merged *= x.shape()[i];
      if (i == e) to.push_back(merged);
    }
  }
  return reshape(x, to);
}

// Reorders axes: permute(x, {0, 2, 1, 3}) swaps axes 1 and 2. No copy.
template <class T>
Tensor<T> permute(const Tensor<T>& x, const Shape& order) {
  if (order.size() != x.dim())
    foundry::detail::fail<ShapeError>("permute: order ", order, " has ", order.size(), " axes, tensor of shape ", x.shape(),
                                      " has ", x.dim());
  Shape shape, strides, inverse = Shape::filled(x.dim(), -1);
  for (int i = 0; i < order.size(); ++i) {
    const int a = foundry::detail::normalize_axis("permute", order[i], x.dim());
    if (inverse[a] != -1) foundry::detail::fail<ShapeError>("permute: axis ", a, " repeated in order ", order);
    inverse[a] = i;
    shape.push_back(x.shape()[a]);
    strides.push_back(x.strides()[a]);
  }
  Tensor<T> y = x.as_strided(shape, strides, x.offset());
  return autograd::record<T>("permute", y, {x}, [x = x.grad_target(), inverse](const Tensor<T>& grad_y) {
    Shape s, st;
    for (int i = 0; i < inverse.size(); ++i) {  // grad_y seen through the inverse permutation
      s.push_back(grad_y.shape()[static_cast<int>(inverse[i])]);
      st.push_back(grad_y.strides()[static_cast<int>(inverse[i])]);
    }
    const GradSlot<T> gx = x.grad_slot();
    detail::add_into_view(gx.buffer, grad_y.as_strided(s, st, grad_y.offset()), gx.accumulate);
  });
}

// Swaps two axes. No copy.
template <class T>
Tensor<T> transpose(const Tensor<T>& x, Index a, Index b) {
  Shape order;
  for (int i = 0; i < x.dim(); ++i) order.push_back(i);
  const int ia = foundry::detail::normalize_axis("transpose", a, x.dim()), ib = foundry::detail::normalize_axis("transpose", b, x.dim());
  std::swap(order[ia], order[ib]);
  return permute(x, order);
}

// Elements start, start+step, ... below end along one axis (end clamped like Python slicing). No copy.
template <class T>
Tensor<T> slice(const Tensor<T>& x, Index axis, Index start, Index end, Index step = 1) {
  const int a = foundry::detail::normalize_axis("slice", axis, x.dim());
  const Index n = x.shape()[a];
  if (step <= 0) foundry::detail::fail<ValueError>("slice: step must be positive, got ", step);
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<Index>(start, 0, n);
  end = std::clamp<Index>(end, start, n);
  Shape shape = x.shape(), strides = x.strides();
  shape[a] = (end - start + step - 1) / step;
  strides[a] = x.strides()[a] * step;
  const Index offset = x.offset() + start * x.strides()[a];
  Tensor<T> y = x.as_strided(shape, strides, offset);
  return autograd::record<T>("slice", y, {x}, [x = x.grad_target(), a, start, step](const Tensor<T>& grad_y) {
    Tensor<T> buf = x.grad_ref();
    Strides bs = buf.strides();
    const Index off = start * bs[a];
    bs[a] *= step;
    detail::add_into_view(buf.as_strided(grad_y.shape(), bs, off), grad_y);
  });
}

// `length` elements from `start` along an axis; out-of-range requests are errors (torch.narrow).
template <class T>
Tensor<T> narrow(const Tensor<T>& x, Index axis, Index start, Index length) {
  const int a = foundry::detail::normalize_axis("narrow", axis, x.dim());
  const Index n = x.shape()[a];
  if (start < 0) start += n;
  if (start < 0 || length < 0 || start + length > n)
    foundry::detail::fail<IndexError>("narrow: [", start, ", ", start + length, ") out of range for axis ", a,
                                      " of size ", n, " (shape ", x.shape(), ")");
  return slice(x, a, start, start + length);
}

// The sub-tensor at `index` along `axis`, which is removed: select(x [B, T, C], 1, 0) -> [B, C].
template <class T>
Tensor<T> select(const Tensor<T>& x, Index axis, Index index) {
  const int a = foundry::detail::normalize_axis("select", axis, x.dim());
  const Index n = x.shape()[a];
  if (index < -n || index >= n)
    foundry::detail::fail<IndexError>("select: index ", index, " out of range for axis ", a, " of size ", n,
                                      " (shape ", x.shape(), ")");
  if (index < 0) index += n;
  Shape shape = x.shape(), strides = x.strides();
  shape.erase(a);
  strides.erase(a);
  Tensor<T> y = x.as_strided(shape, strides, x.offset() + index * x.strides()[a]);
  return autograd::record<T>("select", y, {x}, [x = x.grad_target(), a, index](const Tensor<T>& grad_y) {
    Tensor<T> buf = x.grad_ref();
    Strides bs = buf.strides();
    const Index off = index * bs[a];
    bs.erase(a);
    detail::add_into_view(buf.as_strided(grad_y.shape(), bs, off), grad_y);
  });
}

// Repeats extent-1 axes (and prepends axes) without copying: expand([3, 1], [2, 3, 4]).
// -1 keeps an axis's extent. The gradient sums over the repeated positions.
template <class T>
Tensor<T> expand(const Tensor<T>& x, const Shape& shape) {
  if (shape.size() < x.dim())
    foundry::detail::fail<ShapeError>("expand: cannot expand ", x.shape(), " to fewer axes ", shape);
  Shape to = shape;
  Strides strides = Shape::filled(shape.size(), 0);
  const int shift = shape.size() - x.dim();
  for (int i = 0; i < shape.size(); ++i) {
    const int j = i - shift;
    if (j < 0) {
      if (to[i] < 0) foundry::detail::fail<ShapeError>("expand: -1 not allowed for new leading axis ", i, " in ", shape);
      continue;
    }
    if (to[i] == -1) to[i] = x.shape()[j];
    if (x.shape()[j] == to[i]) strides[i] = x.strides()[j];
    else if (x.shape()[j] != 1)
      foundry::detail::fail<ShapeError>("expand: cannot expand ", x.shape(), " to ", shape, " (axis ", i, ": ",
                                        x.shape()[j], " is not 1)");
  }
  if (to == x.shape()) return x;
  Tensor<T> y = x.as_strided(to, strides, x.offset());
  return autograd::record<T>("expand", y, {x}, [x = x.grad_target()](const Tensor<T>& grad_y) { detail::accumulate_grad(x, grad_y); });
}

template <class T>
Tensor<T> broadcast_to(const Tensor<T>& x, const Shape& shape) {
  return expand(x, shape);
}

// Removes all extent-1 axes, or only `axis` (a no-op when its extent is not 1, as in PyTorch).
template <class T>
Tensor<T> squeeze(const Tensor<T>& x) {
  Shape to;
  for (Index d : x.shape())
    if (d != 1) to.push_back(d);
  return reshape(x, to);
}
template <class T>
Tensor<T> squeeze(const Tensor<T>& x, Index axis) {
  const int a = foundry::detail::normalize_axis("squeeze", axis, x.dim());
  if (x.dim() == 0 || x.shape()[a] != 1) return x;
  Shape to = x.shape();
  to.erase(a);
  Shape strides = x.strides();
  strides.erase(a);
  Tensor<T> y = x.as_strided(to, strides, x.offset());
  return autograd::record<T>("squeeze", y, {x}, [x = x.grad_target()](const Tensor<T>& grad_y) {
    const Tensor<T> g = grad_y.contiguous_data();
    detail::write_grad(x.grad_slot(), g.data(), g.numel());  // same element order, one fewer axis
  });
}

// Inserts an extent-1 axis at `axis` (in [-dim-1, dim]).
template <class T>
Tensor<T> unsqueeze(const Tensor<T>& x, Index axis) {
  const int a = foundry::detail::normalize_axis("unsqueeze", axis, x.dim() + 1);
  Shape to = x.shape(), strides = x.strides();
  to.insert(a, 1);
  strides.insert(a, a < x.dim() ? x.strides()[a] * x.shape()[a] : 1);
  Tensor<T> y = x.as_strided(to, strides, x.offset());
  return autograd::record<T>("unsqueeze", y, {x}, [x = x.grad_target()](const Tensor<T>& grad_y) {
    detail::write_grad(x.grad_slot(), grad_y.data(), grad_y.numel());  // same element order, one more axis
  });
}

// A copy with fresh contiguous storage; gradient passes straight through.
template <class T>
Tensor<T> clone(const Tensor<T>& x) {
  Tensor<T> y = x.clone_data();
  return autograd::record<T>("clone", y, {x}, [x = x.grad_target()](const Tensor<T>& grad_y) {
    detail::write_grad(x.grad_slot(), grad_y.data(), grad_y.numel());
  });
}

// x itself when already contiguous, else a contiguous copy (differentiable).
template <class T>
Tensor<T> contiguous(const Tensor<T>& x) {
  return x.is_contiguous() ? x : clone(x);
}

}  // namespace ops
}  // namespace foundry
