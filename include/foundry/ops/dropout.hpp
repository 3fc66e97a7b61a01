// ops/dropout.hpp: inverted dropout (Srivastava et al., 2014): during training each element is kept
// with probability 1 - p and scaled by 1/(1 - p), so evaluation needs no rescaling. The mask comes from
// a counter-based Generator: element i depends only on (seed, offset, i), so the result is the same
// for any thread count. The module wrapper with its train/eval flag is nn/dropout.hpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "foundry/autograd/engine.hpp"
#include "foundry/core/generator.hpp"
#include "foundry/ops/kernels.hpp"

namespace foundry {
namespace ops {

namespace detail {

// Keep-bits of m <= 64 consecutive elements whose first element uses Philox block `block`: bit j is set
// when lane j % 4 of block (block + j / 4) is >= threshold, i.e. when u = lane / 2^32 >= p. One Philox
// call serves four elements (the lane layout of Generator::fill_uniform<float>, at 32 bits).
inline std::uint64_t dropout_keep_bits(std::uint64_t seed, std::uint64_t block, Index m, std::uint64_t threshold) {
  std::uint64_t bits = 0;
  for (Index j0 = 0; j0 < m; j0 += 4) {
    const auto lanes = foundry::detail::philox(block + static_cast<std::uint64_t>(j0 / 4), seed);
    for (Index l = 0; l < 4 && j0 + l < m; ++l)
      bits |= static_cast<std::uint64_t>(lanes[static_cast<std::size_t>(l)] >= threshold) << (j0 + l);
  }
  return bits;
}

}  // namespace detail

// x: any shape -> same shape. Returns x itself when !training or p == 0, zeros when p == 1.
// The mask is drawn from `gen` (ceil(numel / 4) Philox blocks) and, when backward will need it, kept
// bit-packed: 1 bit per element is 1/32 of the float activation it masks, and unpacking is a shift.
// Regenerating it from (seed, offset) in backward would save that bit but re-run ten Philox rounds
// per four elements, several times the cost of reading it back.
// Usage: Generator gen(0); auto h = dropout(attention_probs, 0.1, training, gen);
template <class T>
Tensor<T> dropout(const Tensor<T>& x, double p, bool training = true, Generator& gen = default_generator()) {
  static_assert(std::is_floating_point_v<T>, "dropout: floating-point element type required");
  if (!(p >= 0.0 && p <= 1.0)) foundry::detail::fail<ValueError>("dropout: p must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) {  // everything dropped; the gradient is defined and zero, as in PyTorch
    return autograd::record<T>("dropout", Tensor<T>::zeros(x.shape()), {x}, [x](const Tensor<T>&) { x.grad_ref(); });
  }
  const Index n = x.numel(), words = (n + 63) / 64;
  const Tensor<T> xc = x.contiguous_data();
  const std::uint64_t seed = gen.seed(), base = gen.reserve_blocks(static_cast<std::uint64_t>((n + 3) / 4));
  const auto threshold = static_cast<std::uint64_t>(std::ceil(std::ldexp(p, 32)));  // keep iff lane >= p * 2^32
  const T scale = static_cast<T>(1.0 / (1.0 - p));
  const bool save = autograd::is_grad_enabled() && x.requires_grad();
  std::vector<std::uint64_t> mask(static_cast<std::size_t>(save ? words : 0));
  Tensor<T> y = Tensor<T>::empty(x.shape());
  {
    const T* in = xc.data();
    T* out = y.data();
    detail::parallel_for(words, std::max<Index>(1, detail::kPointwiseGrain / 64), [&](Index w0, Index w1) {
      for (Index w = w0; w < w1; ++w) {
        const Index e0 = w * 64, m = std::min<Index>(64, n - e0);
        const std::uint64_t bits = detail::dropout_keep_bits(seed, base + static_cast<std::uint64_t>(e0 / 4), m, threshold);
        for (Index j = 0; j < m; ++j) out[e0 + j] = in[e0 + j] * ((bits >> j) & 1 ? scale : T(0));
        if (save) mask[static_cast<std::size_t>(w)] = bits;
      }
    });
  }
  return autograd::record<T>("dropout", y, {x}, [x, mask = std::move(mask), n, scale](const Tensor<T>& grad_y) {
    // y = x·mask·scale, so grad_x = grad_y·mask·scale.
    const GradSlot<T> slot = x.grad_slot();
    T* gx = slot.data();
    const bool acc = slot.accumulate;
    const T* g = grad_y.data();
    const auto words = static_cast<Index>(mask.size());
    detail::parallel_for(words, std::max<Index>(1, detail::kPointwiseGrain / 64), [&](Index w0, Index w1) {
      for (Index w = w0; w < w1; ++w) {
        const Index e0 = w * 64, m = std::min<Index>(64, n - e0);
        const std::uint64_t bits = mask[static_cast<std::size_t>(w)];
        for (Index j = 0; j < m; ++j) gx[e0 + j] = (acc ? gx[e0 + j] : T(0)) + g[e0 + j] * ((bits >> j) & 1 ? scale : T(0));
      }
    });
  });
}

}  // namespace ops

using ops::dropout;

}  // namespace foundry
