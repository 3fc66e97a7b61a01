// optim/clip.hpp: gradient clipping by global L2 norm, as torch.nn.utils.clip_grad_norm_. The norm of
// all gradients together is accumulated in double (a float sum of squares over 10^8 values would lose
// digits); when it is too large every gradient is scaled by the same factor, keeping their direction.
#pragma once

#include <cmath>
#include <vector>

#include "foundry/optim/optimizer.hpp"

namespace foundry::optim {

namespace detail {

// The gradient clip_grad_norm sees: undefined for a parameter without one or that is frozen (the
// optimizer skips those too, so they neither count toward the norm nor get scaled).
template <class T>
Tensor<T> clippable_grad(const Tensor<T>& p) {
  if (!p.defined() || !p.requires_grad()) return Tensor<T>();
  return p.grad();
}

// Σ x² of a gradient in double, by fixed blocks added in order: the same value for any thread count.
template <class T>
double sum_of_squares(const Tensor<T>& grad) {
  const Tensor<T> g = grad.contiguous_data();
  const Index n = g.numel(), blocks = (n + kUpdateBlock - 1) / kUpdateBlock;
  std::vector<double> part(static_cast<std::size_t>(blocks));
  foundry::detail::parallel_for(blocks, kUpdateGrain, [&](Index b0, Index b1) {
    for (Index b = b0; b < b1; ++b) {
      const Index s = b * kUpdateBlock, len = std::min(kUpdateBlock, n - s);
      part[static_cast<std::size_t>(b)] = ConstArraySeg<T>(g.data() + s, len).template cast<double>().square().sum();
    }
  });
  double total = 0;
  for (double v : part) total += v;
  return total;
}

}  // namespace detail

// The global L2 norm of the gradients of params, in double; parameters without one are skipped.
template <class T>
double grad_norm(const std::vector<Tensor<T>>& params) {
  double total = 0;
  for (const auto& p : params)
    if (const Tensor<T> g = detail::clippable_grad(p); g.defined()) total += detail::sum_of_squares(g);
  return std::sqrt(total);
}

// Scales every gradient by max_norm / (norm + 1e-6) when that factor is below 1 (the norm exceeds
// max_norm, give or take the 1e-6 that keeps a zero norm finite), and returns the norm before clipping.
// A non-finite norm is returned as is: an infinite one scales by 0 as PyTorch does (finite gradients
// become 0, infinite ones NaN); a NaN one leaves the gradients alone (PyTorch would make them all NaN).
// Check the result before stepping when that can happen. Usage, between backward and step:
//   double norm = optim::clip_grad_norm(model.parameters(), 1.0);
template <class T>
double clip_grad_norm(const std::vector<Tensor<T>>& params, double max_norm) {
  if (!(max_norm > 0)) foundry::detail::fail<ValueError>("clip_grad_norm: max_norm must be > 0, got ", max_norm);
  const double norm = grad_norm(params);
  const double coefficient = max_norm / (norm + 1e-6);
  if (!(coefficient < 1)) return norm;  // false for a NaN norm too
  const T c = static_cast<T>(coefficient);
  for (const auto& p : params) {
    const Tensor<T> g = detail::clippable_grad(p);
    if (!g.defined()) continue;
    if (g.is_contiguous()) {
      detail::for_each_block(g.numel(), [&](Index b, Index n) { detail::ArraySeg<T>(g.data() + b, n) *= c; });
    } else {
      const Tensor<T> scaled = g.clone_data();
      scaled.array() *= c;
      T* base = g.storage()->data();
      const T* src = scaled.data();
      foundry::detail::for_each_offset(g.shape(), g.strides(), g.offset(), [&](Index i, Index off) { base[off] = src[i]; });
    }
    g.storage()->bump_version();
  }
  return norm;
}

}  // namespace foundry::optim
