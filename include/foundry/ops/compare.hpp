// ops/compare.hpp: elementwise comparisons (eq, ne, lt, le, gt, ge) and logic on masks (logical_not,
// _and, _or, _xor, isfinite, isnan). All return Tensor<bool> and carry no gradient; binary forms
// broadcast as the arithmetic ops do. Tensor == Tensor (core/tensor.hpp) stays whole-tensor equality.
#pragma once

#include <cmath>
#include <functional>

#include "foundry/ops/elementwise.hpp"

namespace foundry {
namespace ops {

namespace detail {

template <class T, class Cmp>
Tensor<bool> compare(const char* op, const Tensor<T>& a, const Tensor<T>& b, Cmp cmp) {
  return map_broadcast<bool>(broadcast_shape(op, a, b), cmp, a, b);
}

// Against a number: converted to T like the arithmetic ops, except that an integer tensor meets a
// fractional number in double (ids < 2.5 is ids <= 2, not ids < 2), as PyTorch's type promotion does.
template <class T, class S, class Cmp>
Tensor<bool> compare(const Tensor<T>& a, S s, Cmp cmp) {
  using C = std::conditional_t<std::is_integral_v<T> && std::is_floating_point_v<S>, double, T>;
  const C c = static_cast<C>(s);
  return map_broadcast<bool>(a.shape(), [c, cmp](T v) { return cmp(static_cast<C>(v), c); }, a);
}

}  // namespace detail

template <class T>
Tensor<bool> eq(const Tensor<T>& a, const Tensor<T>& b) { return detail::compare("eq", a, b, std::equal_to<T>()); }
template <class T>
Tensor<bool> ne(const Tensor<T>& a, const Tensor<T>& b) { return detail::compare("ne", a, b, std::not_equal_to<T>()); }
template <class T>
Tensor<bool> lt(const Tensor<T>& a, const Tensor<T>& b) { return detail::compare("lt", a, b, std::less<T>()); }
template <class T>
Tensor<bool> le(const Tensor<T>& a, const Tensor<T>& b) { return detail::compare("le", a, b, std::less_equal<T>()); }
template <class T>
Tensor<bool> gt(const Tensor<T>& a, const Tensor<T>& b) { return detail::compare("gt", a, b, std::greater<T>()); }
template <class T>
Tensor<bool> ge(const Tensor<T>& a, const Tensor<T>& b) { return detail::compare("ge", a, b, std::greater_equal<T>()); }

template <class T, detail::Scalar S>
Tensor<bool> eq(const Tensor<T>& a, S s) { return detail::compare(a, s, std::equal_to<>()); }
template <class T, detail::Scalar S>
Tensor<bool> ne(const Tensor<T>& a, S s) { return detail::compare(a, s, std::not_equal_to<>()); }
template <class T, detail::Scalar S>
Tensor<bool> lt(const Tensor<T>& a, S s) { return detail::compare(a, s, std::less<>()); }
template <class T, detail::Scalar S>
Tensor<bool> le(const Tensor<T>& a, S s) { return detail::compare(a, s, std::less_equal<>()); }
template <class T, detail::Scalar S>
Tensor<bool> gt(const Tensor<T>& a, S s) { return detail::compare(a, s, std::greater<>()); }
template <class T, detail::Scalar S>
Tensor<bool> ge(const Tensor<T>& a, S s) { return detail::compare(a, s, std::greater_equal<>()); }

inline Tensor<bool> logical_not(const Tensor<bool>& a) {
  return detail::map_broadcast<bool>(a.shape(), [](bool u) { return !u; }, a);
}
inline Tensor<bool> logical_and(const Tensor<bool>& a, const Tensor<bool>& b) {
  return detail::compare("logical_and", a, b, [](bool u, bool v) { return u && v; });
}
inline Tensor<bool> logical_or(const Tensor<bool>& a, const Tensor<bool>& b) {
  return detail::compare("logical_or", a, b, [](bool u, bool v) { return u || v; });
}
inline Tensor<bool> logical_xor(const Tensor<bool>& a, const Tensor<bool>& b) {
  return detail::compare("logical_xor", a, b, [](bool u, bool v) { return u != v; });
}

// Neither infinite nor NaN (always true for integer tensors).
template <class T>
Tensor<bool> isfinite(const Tensor<T>& x) {
  return detail::map_broadcast<bool>(x.shape(), []([[maybe_unused]] T v) {
    if constexpr (std::is_floating_point_v<T>) return std::isfinite(v);
    else return true;
  }, x);
}
template <class T>
Tensor<bool> isnan(const Tensor<T>& x) {
  return detail::map_broadcast<bool>(x.shape(), []([[maybe_unused]] T v) {
    if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
    else return false;
  }, x);
}

}  // namespace ops

using ops::eq;
using ops::ge;
using ops::gt;
using ops::isfinite;
using ops::isnan;
using ops::le;
using ops::logical_and;
using ops::logical_not;
using ops::logical_or;
using ops::logical_xor;
using ops::lt;
using ops::ne;

}  // namespace foundry
