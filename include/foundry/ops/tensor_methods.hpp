// ops/tensor_methods.hpp: the Tensor member functions declared in core/tensor.hpp, defined here as
// thin forwards to the free functions in ops/ (so core/ does not depend on ops/).
#pragma once

#include "foundry/ops/activation.hpp"
#include "foundry/ops/elementwise.hpp"
#include "foundry/ops/matmul.hpp"
#include "foundry/ops/reduce.hpp"
#include "foundry/ops/view.hpp"

namespace foundry {

template <class T> Tensor<T> Tensor<T>::clone() const { return ops::clone(*this); }
template <class T> Tensor<T> Tensor<T>::contiguous() const { return ops::contiguous(*this); }
template <class T> Tensor<T> Tensor<T>::reshape(const Shape& s) const { return ops::reshape(*this, s); }
template <class T> Tensor<T> Tensor<T>::view(const Shape& s) const { return ops::view(*this, s); }
template <class T> Tensor<T> Tensor<T>::flatten(Index a, Index b) const { return ops::flatten(*this, a, b); }
template <class T> Tensor<T> Tensor<T>::permute(const Shape& o) const { return ops::permute(*this, o); }
template <class T> Tensor<T> Tensor<T>::transpose(Index a, Index b) const { return ops::transpose(*this, a, b); }
template <class T> Tensor<T> Tensor<T>::t() const {
  if (dim() != 2) detail::fail<ShapeError>("t: expects a 2-D tensor, got shape ", shape());
  return ops::transpose(*this, 0, 1);
}
template <class T> Tensor<T> Tensor<T>::narrow(Index a, Index s, Index n) const { return ops::narrow(*this, a, s, n); }
template <class T> Tensor<T> Tensor<T>::slice(Index a, Index s, Index e, Index st) const { return ops::slice(*this, a, s, e, st); }
template <class T> Tensor<T> Tensor<T>::select(Index a, Index i) const { return ops::select(*this, a, i); }
template <class T> Tensor<T> Tensor<T>::expand(const Shape& s) const { return ops::expand(*this, s); }
template <class T> Tensor<T> Tensor<T>::broadcast_to(const Shape& s) const { return ops::expand(*this, s); }
template <class T> Tensor<T> Tensor<T>::squeeze() const { return ops::squeeze(*this); }
template <class T> Tensor<T> Tensor<T>::squeeze(Index a) const { return ops::squeeze(*this, a); }
template <class T> Tensor<T> Tensor<T>::unsqueeze(Index a) const { return ops::unsqueeze(*this, a); }

template <class T> Tensor<T> Tensor<T>::matmul(const Tensor<T>& o) const { return ops::matmul(*this, o); }

template <class T> Tensor<T> Tensor<T>::pow(double e) const { return ops::pow(*this, e); }
template <class T> Tensor<T> Tensor<T>::exp() const { return ops::exp(*this); }
template <class T> Tensor<T> Tensor<T>::log() const { return ops::log(*this); }
template <class T> Tensor<T> Tensor<T>::sqrt() const { return ops::sqrt(*this); }
template <class T> Tensor<T> Tensor<T>::rsqrt() const { return ops::rsqrt(*this); }
template <class T> Tensor<T> Tensor<T>::abs() const { return ops::abs(*this); }
template <class T> Tensor<T> Tensor<T>::tanh() const { return ops::tanh(*this); }
template <class T> Tensor<T> Tensor<T>::sigmoid() const { return ops::sigmoid(*this); }
template <class T> Tensor<T> Tensor<T>::relu() const { return ops::relu(*this); }
template <class T> Tensor<T> Tensor<T>::neg() const { return ops::neg(*this); }
template <class T> Tensor<T> Tensor<T>::sum() const { return ops::sum(*this); }
template <class T> Tensor<T> Tensor<T>::sum(const Shape& axes, bool keepdim) const { return ops::sum(*this, axes, keepdim); }
template <class T> Tensor<T> Tensor<T>::mean() const { return ops::mean(*this); }
template <class T> Tensor<T> Tensor<T>::mean(const Shape& axes, bool keepdim) const { return ops::mean(*this, axes, keepdim); }

namespace detail {
template <class T>
void expect_writable(const char* op, const Tensor<T>& t) {
  if (autograd::is_grad_enabled() && t.requires_grad())
    fail<AutogradError>(op, ": in-place operation on a tensor that requires grad (shape ", t.shape(),
                        "); wrap it in NoGradGuard (optimizer updates) or work on a clone()");
}
}  // namespace detail

// Writes value into every element (through any view); bumps the storage version.
template <class T> Tensor<T> Tensor<T>::fill_(T value) const {
  detail::expect_writable("fill_", *this);
  T* base = storage()->data();
  detail::for_each_offset(shape(), strides(), offset(), [&](Index, Index off) { base[off] = value; });
  storage()->bump_version();
  return *this;
}

// Copies src (broadcast to this shape) into this tensor's elements; bumps the storage version.
template <class T> Tensor<T> Tensor<T>::copy_(const Tensor<T>& src) const {
  detail::expect_writable("copy_", *this);
  if (detail::broadcast_shapes("copy_", src.shape(), shape()) != shape())
    detail::fail<ShapeError>("copy_: source ", src.shape(), " does not broadcast to destination ", shape());
  const Tensor<T> s = src.detach().expand(shape()).clone_data();  // also safe when src aliases *this
  T* base = storage()->data();
  const T* in = s.data();
  detail::for_each_offset(shape(), strides(), offset(), [&](Index i, Index off) { base[off] = in[i]; });
  storage()->bump_version();
  return *this;
}

}  // namespace foundry
