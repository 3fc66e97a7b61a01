// ops/tensor_methods.hpp: the Tensor member functions declared in core/tensor.hpp, defined here as
// thin forwards to the free functions in ops/ (so core/ does not depend on ops/).
#pragma once

#include "foundry/ops/view.hpp"
#include "foundry/ops/matmul.hpp"

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

}  // namespace foundry
