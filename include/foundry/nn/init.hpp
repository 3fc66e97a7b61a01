// nn/init.hpp: parameter initialisers, each drawing from an explicit Generator. PyTorch's layer
// defaults (kaiming_uniform with a = sqrt(5) for Linear, N(0, 1) for Embedding) and the
// normal(0, initializer_range) scheme BERT and GPT-2 use are both here.
#pragma once

#include <cmath>
#include <functional>

#include "foundry/core/factory.hpp"

namespace foundry::nn::init {

// Makes a new tensor of the given shape: Initializer<float> init = init::normal<float>(0, 0.02);
template <class T>
using Initializer = std::function<Tensor<T>(const Shape&, Generator&)>;

template <class T>
Initializer<T> normal(double mean, double std) {
  return [=](const Shape& s, Generator& g) { return foundry::normal<T>(s, mean, std, g); };
}
template <class T>
Initializer<T> uniform(double lo, double hi) {
  return [=](const Shape& s, Generator& g) { return foundry::uniform<T>(s, lo, hi, g); };
}
template <class T>
Initializer<T> zeros() {
  return [](const Shape& s, Generator&) { return Tensor<T>::zeros(s); };
}
template <class T>
Initializer<T> ones() {
  return [](const Shape& s, Generator&) { return Tensor<T>::ones(s); };
}

// torch.nn.Linear's default: kaiming_uniform_(a = sqrt(5)) on [out, in] reduces to U(-b, b) with
// b = 1/sqrt(fan_in); the bias uses the same bound.
template <class T>
Tensor<T> uniform_fan_in(const Shape& shape, Index fan_in, Generator& gen) {
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  return foundry::uniform<T>(shape, -bound, bound, gen);
}

// In-place re-initialisation of an existing parameter (keeps its handle; records nothing).
template <class T>
void fill_from(const Tensor<T>& param, const Tensor<T>& values) {
  detail::copy_to_contiguous(values, param.data());
  param.storage()->bump_version();
}
template <class T>
void normal_(const Tensor<T>& param, double mean, double std, Generator& gen) {
  fill_from(param, foundry::normal<T>(param.shape(), mean, std, gen));
}
template <class T>
void zeros_(const Tensor<T>& param) {
  fill_from(param, Tensor<T>::zeros(param.shape()));
}
template <class T>
void ones_(const Tensor<T>& param) {
  fill_from(param, Tensor<T>::ones(param.shape()));
}

}  // namespace foundry::nn::init
