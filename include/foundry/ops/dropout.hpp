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
  if (m == 64 && threshold <= 0xFFFFFFFFu) return foundry::detail::keep_bits64(block, seed, static_cast<std::uint32_t>(threshold));
  std::uint64_t bits = 0;
  for (Index j0 = 0; j0 < m; j0 += 4) {
    const auto lanes = foundry::detail::philox(block + static_cast<std::uint64_t>(j0 / 4), seed);
    for (Index l = 0; l < 4 && j0 + l < m; ++l)
      bits |= static_cast<std::uint64_t>(lanes[static_cast<std::size_t>(l)] >= threshold) << (j0 + l);
  }
  return bits;
}

// Eight keep-bits starting at bit `first` of a bit array (bit e of element e), low bit first; the
// word after is read only when the eight cross into it.
inline std::uint32_t keep_byte(const std::uint64_t* bits, Index first) {
  const Index word = first / 64, shift = first % 64;
  std::uint64_t v = bits[word] >> shift;
  if (shift > 56) v |= bits[word + 1] << (64 - shift);
  return static_cast<std::uint32_t>(v & 0xFF);
}

#ifdef FOUNDRY_PHILOX_AVX2
// out = in·m (accumulate: out + in·m) over n floats, m = scale where the bit is set, else 0.
__attribute__((target("avx2"))) inline void apply_keep_bits_avx2(const float* in, float* out, const std::uint64_t* bits, Index first,
                                                                  Index n8, float scale, bool accumulate) {
  const __m256i select = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256 s = _mm256_set1_ps(scale);
  for (Index e = 0; e < n8; e += 8) {
    const __m256i byte = _mm256_set1_epi32(static_cast<int>(keep_byte(bits, first + e)));
    const __m256 keep = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(byte, select), select));
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(in + e), _mm256_and_ps(keep, s));  // in·scale or in·0, as the scalar form
    if (accumulate) v = _mm256_add_ps(_mm256_loadu_ps(out + e), v);
    _mm256_storeu_ps(out + e, v);
  }
}
#endif

// Dropout's mask applied from its bits: out[e] = in[e]·(bit first + e set ? scale : 0), or added to
// out[e] when accumulating, for e < n. in may be out. Floats go eight at a time through AVX2 where
// the CPU has it (the same products as the scalar loop, which serves the rest).
template <class T>
void apply_keep_bits(const T* in, T* out, const std::uint64_t* bits, Index first, Index n, T scale, bool accumulate) {
  Index e = 0;
#ifdef FOUNDRY_PHILOX_AVX2
  if constexpr (std::is_same_v<T, float>) {
    if (foundry::detail::cpu_has_avx2()) {
      e = n / 8 * 8;
      apply_keep_bits_avx2(in, out, bits, first, e, scale, accumulate);
    }
  }
#endif
  for (; e < n; ++e) {
    const Index b = first + e;
    const T v = in[e] * ((bits[b / 64] >> (b % 64)) & 1 ? scale : T(0));
    out[e] = accumulate ? out[e] + v : v;
  }
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
    return autograd::record<T>("dropout", Tensor<T>::zeros(x.shape()), {x}, [x = x.grad_target()](const Tensor<T>&) { x.grad_ref(); });
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
        detail::apply_keep_bits(in + e0, out + e0, &bits, 0, m, scale, false);
        if (save) mask[static_cast<std::size_t>(w)] = bits;
      }
    });
  }
  return autograd::record<T>("dropout", y, {x}, [x = x.grad_target(), mask = std::move(mask), n, scale](const Tensor<T>& grad_y) {
    // y = x·mask·scale, so grad_x = grad_y·mask·scale.
    const GradSlot<T> slot = x.grad_slot();
    T* gx = slot.data();
    const bool acc = slot.accumulate;
    const T* g = grad_y.data();
    const auto words = static_cast<Index>(mask.size());
    detail::parallel_for(words, std::max<Index>(1, detail::kPointwiseGrain / 64), [&](Index w0, Index w1) {
      for (Index w = w0; w < w1; ++w) {
        const Index e0 = w * 64;
        detail::apply_keep_bits(g + e0, gx + e0, mask.data() + w, 0, std::min<Index>(64, n - e0), scale, acc);
      }
    });
  });
}

}  // namespace ops

using ops::dropout;

}  // namespace foundry
