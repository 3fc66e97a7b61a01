// core/factory.hpp: free functions that make new tensors: constants, ranges, identity, and random
// draws from an explicit Generator (default_generator() when none is given).
// Usage: manual_seed(0); auto w = randn<float>({768, 768}); auto i = arange<std::int64_t>(0, 10);
#pragma once

#include <cmath>

#include "foundry/core/generator.hpp"
#include "foundry/core/tensor.hpp"

namespace foundry {

template <class T = float>
Tensor<T> empty(const Shape& shape) { return Tensor<T>::empty(shape); }
template <class T = float>
Tensor<T> zeros(const Shape& shape) { return Tensor<T>::zeros(shape); }
template <class T = float>
Tensor<T> ones(const Shape& shape) { return Tensor<T>::ones(shape); }
template <class T = float>
Tensor<T> full(const Shape& shape, T value) { return Tensor<T>::full(shape, value); }
template <class T = float>
Tensor<T> scalar_tensor(T value) { return Tensor<T>::scalar(value); }
template <class T>
Tensor<T> zeros_like(const Tensor<T>& t) { return Tensor<T>::zeros(t.shape()); }
template <class T>
Tensor<T> ones_like(const Tensor<T>& t) { return Tensor<T>::ones(t.shape()); }
template <class T = float>
Tensor<T> from_vector(const std::vector<T>& values, const Shape& shape) { return Tensor<T>::from(values, shape); }

// [start, end) in steps of `step`, as torch.arange: arange<float>(0, 1, 0.25) == [0, 0.25, 0.5, 0.75].
template <class T = float>
Tensor<T> arange(double start, double end, double step = 1) {
  if (step == 0 || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step))
    detail::fail<ValueError>("arange: need finite start, end and nonzero step, got (", start, ", ", end, ", ", step, ")");
  const double span = std::ceil((end - start) / step);
  const Index n = span > 0 ? static_cast<Index>(span) : 0;
  Tensor<T> t = Tensor<T>::empty({n});
  for (Index i = 0; i < n; ++i) t.data()[i] = static_cast<T>(start + static_cast<double>(i) * step);
  return t;
}
template <class T = float>
Tensor<T> arange(double end) { return arange<T>(0, end, 1); }

// n x m identity (m defaults to n).
template <class T = float>
Tensor<T> eye(Index n, Index m = -1) {
  if (m < 0) m = n;
  Tensor<T> t = Tensor<T>::zeros({n, m});
  for (Index i = 0; i < std::min(n, m); ++i) t.data()[i * m + i] = T(1);
  return t;
}

// U[lo, hi).
template <class T = float>
Tensor<T> uniform(const Shape& shape, double lo, double hi, Generator& gen = default_generator()) {
  static_assert(std::is_floating_point_v<T>, "uniform: floating-point element type required");
  if (!(lo <= hi)) detail::fail<ValueError>("uniform: need lo <= hi, got [", lo, ", ", hi, ")");
  Tensor<T> t = Tensor<T>::empty(shape);
  gen.fill_uniform(t.data(), t.numel(), static_cast<T>(lo), static_cast<T>(hi));
  return t;
}
template <class T = float>
Tensor<T> rand(const Shape& shape, Generator& gen = default_generator()) { return uniform<T>(shape, 0, 1, gen); }

// N(mean, std^2).
template <class T = float>
Tensor<T> normal(const Shape& shape, double mean, double std, Generator& gen = default_generator()) {
  static_assert(std::is_floating_point_v<T>, "normal: floating-point element type required");
  if (!(std >= 0)) detail::fail<ValueError>("normal: std must be >= 0, got ", std);
  Tensor<T> t = Tensor<T>::empty(shape);
  gen.fill_normal(t.data(), t.numel(), static_cast<T>(mean), static_cast<T>(std));
  return t;
}
template <class T = float>
Tensor<T> randn(const Shape& shape, Generator& gen = default_generator()) { return normal<T>(shape, 0, 1, gen); }

// 1 with probability p, else 0.
template <class T = float>
Tensor<T> bernoulli(const Shape& shape, double p, Generator& gen = default_generator()) {
  Tensor<T> t = Tensor<T>::empty(shape);
  gen.fill_bernoulli(t.data(), t.numel(), p);
  return t;
}

// Uniform integers in [low, high).
template <class T = std::int64_t>
Tensor<T> randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator& gen = default_generator()) {
  if (low >= high) detail::fail<ValueError>("randint: empty range [", low, ", ", high, ")");
  Tensor<T> t = Tensor<T>::empty(shape);
  const auto n = static_cast<std::uint64_t>(high - low);
  for (Index i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(low + static_cast<std::int64_t>(gen.randint(n)));
  return t;
}

}  // namespace foundry
