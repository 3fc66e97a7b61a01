// core/generator.hpp: Generator, the seedable source of every random number foundry draws.
// It is counter-based (Philox4x32-10, Salmon et al., SC'11): element i of a bulk draw depends only on
// (seed, offset, i), so fills run in parallel and give the same numbers for any thread count, and
// the whole state is two integers, cheap to checkpoint. No std:: distribution is used: their output
// is implementation-defined. Normals use Box-Muller in double precision with std::log/sqrt/cos/sin,
// which glibc, musl and MSVC round identically for all but pathological inputs.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

#include "foundry/core/error.hpp"
#include "foundry/core/shape.hpp"
#include "foundry/core/threading.hpp"

namespace foundry {

namespace detail {

using Block = std::array<std::uint32_t, 4>;

// Philox4x32 with 10 rounds: a bijection of the 128-bit counter keyed by the 64-bit seed.
inline Block philox(std::uint64_t counter, std::uint64_t seed) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  Block c{static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32), 0u, 0u};
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = std::uint64_t{kM0} * c[0], p1 = std::uint64_t{kM1} * c[2];
    c = {static_cast<std::uint32_t>(p1 >> 32) ^ c[1] ^ k0, static_cast<std::uint32_t>(p1),
         static_cast<std::uint32_t>(p0 >> 32) ^ c[3] ^ k1, static_cast<std::uint32_t>(p0)};
    k0 += kW0;
    k1 += kW1;
  }
  return c;
}

// Keep-bits of the 64 elements of Philox blocks first .. first + 15 (element 4j + l is lane l of
// block first + j): bit 4j + l is set when that lane is >= threshold. The same bits as philox() per
// block; where the CPU has AVX2, sixteen blocks run at once in two interleaved sets of eight lanes
// (dropout draws one block per four activations, and scalar rounds cost more than the masking).
inline std::uint64_t keep_bits64_scalar(std::uint64_t first, std::uint64_t seed, std::uint32_t threshold) {
  std::uint64_t bits = 0;
  for (int j = 0; j < 16; ++j) {
    const Block lanes = philox(first + static_cast<std::uint64_t>(j), seed);
    for (int l = 0; l < 4; ++l) bits |= static_cast<std::uint64_t>(lanes[static_cast<std::size_t>(l)] >= threshold) << (4 * j + l);
  }
  return bits;
}

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define FOUNDRY_PHILOX_AVX2 1
inline bool cpu_has_avx2() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
}

// 32 x 32 -> 64-bit products of every lane of a with m: their high and low words.
__attribute__((target("avx2"))) inline void mul_hi_lo_avx2(__m256i a, __m256i m, __m256i& hi, __m256i& lo) {
  const __m256i even = _mm256_mul_epu32(a, m), odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

// The 32 keep-bits of eight blocks whose lane l is in c[l] (block j in 32-bit lane j), in element order.
__attribute__((target("avx2"))) inline std::uint32_t keep_mask_avx2(const __m256i c[4], __m256i threshold) {
  __m256i k[4];
  for (int l = 0; l < 4; ++l) k[l] = _mm256_cmpeq_epi32(_mm256_max_epu32(c[l], threshold), c[l]);  // unsigned >=
  // Lane-major to element order (block, lane): eight elements, two blocks, per vector.
  const __m256i t0 = _mm256_unpacklo_epi32(k[0], k[1]), t1 = _mm256_unpackhi_epi32(k[0], k[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(k[2], k[3]), t3 = _mm256_unpackhi_epi32(k[2], k[3]);
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
  const __m256i e[4] = {_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u2, u3, 0x20),
                        _mm256_permute2x128_si256(u0, u1, 0x31), _mm256_permute2x128_si256(u2, u3, 0x31)};
  std::uint32_t bits = 0;
  for (int v = 0; v < 4; ++v) bits |= static_cast<std::uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(e[v]))) << (8 * v);
  return bits;
}

__attribute__((target("avx2"))) inline std::uint64_t keep_bits64_avx2(std::uint64_t first, std::uint64_t seed,
                                                                       std::uint32_t threshold) {
  const __m256i sign = _mm256_set1_epi32(INT32_MIN), one = _mm256_set1_epi32(1);
  const __m256i lo_first = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(first)));
  const __m256i hi_first = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(first >> 32)));
  __m256i c[2][4];
  for (int s = 0; s < 2; ++s) {
    const __m256i lo = _mm256_add_epi32(lo_first, _mm256_setr_epi32(8 * s, 8 * s + 1, 8 * s + 2, 8 * s + 3, 8 * s + 4, 8 * s + 5,
                                                                     8 * s + 6, 8 * s + 7));
    // The high word of first + j takes the low word's carry: it wrapped when it came out below first's.
    const __m256i carry = _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_xor_si256(lo_first, sign), _mm256_xor_si256(lo, sign)), one);
    c[s][0] = lo, c[s][1] = _mm256_add_epi32(hi_first, carry), c[s][2] = _mm256_setzero_si256(), c[s][3] = _mm256_setzero_si256();
  }
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u)), m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  for (int round = 0; round < 10; ++round) {
    const __m256i key0 = _mm256_set1_epi32(static_cast<int>(k0)), key1 = _mm256_set1_epi32(static_cast<int>(k1));
    for (int s = 0; s < 2; ++s) {
      __m256i h0, l0, h1, l1;
      mul_hi_lo_avx2(c[s][0], m0, h0, l0);
      mul_hi_lo_avx2(c[s][2], m1, h1, l1);
      c[s][0] = _mm256_xor_si256(_mm256_xor_si256(h1, c[s][1]), key0);
      c[s][2] = _mm256_xor_si256(_mm256_xor_si256(h0, c[s][3]), key1);
      c[s][1] = l1, c[s][3] = l0;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  const __m256i t = _mm256_set1_epi32(static_cast<int>(threshold));
  return static_cast<std::uint64_t>(keep_mask_avx2(c[0], t)) | static_cast<std::uint64_t>(keep_mask_avx2(c[1], t)) << 32;
}
#endif

inline std::uint64_t keep_bits64(std::uint64_t first, std::uint64_t seed, std::uint32_t threshold) {
#ifdef FOUNDRY_PHILOX_AVX2
  if (cpu_has_avx2()) return keep_bits64_avx2(first, seed, threshold);
#endif
  return keep_bits64_scalar(first, seed, threshold);
}

// 24 random bits -> float in [0, 1); 53 bits -> double in [0, 1).
inline float unit_float(std::uint32_t u) { return static_cast<float>(u >> 8) * 0x1.0p-24f; }
inline double unit_double(std::uint32_t hi, std::uint32_t lo) {
  return static_cast<double>(((std::uint64_t{hi} << 32) | lo) >> 11) * 0x1.0p-53;
}

}  // namespace detail

// Usage: Generator g(42); float x = g.uniform(); g.fill_normal(ptr, n, 0.f, 1.f);
class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : seed_(seed) {}

  void manual_seed(std::uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  std::uint64_t seed() const { return seed_; }
  // Number of 128-bit Philox blocks consumed so far; with the seed it is the whole state.
  std::uint64_t offset() const { return offset_; }
  void set_state(std::uint64_t seed, std::uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }

  // Reserves n blocks and returns the first counter: the caller evaluates them in any order.
  std::uint64_t reserve_blocks(std::uint64_t n) {
    const std::uint64_t first = offset_;
    offset_ += n;
    return first;
  }

  std::uint32_t next_u32() { return detail::philox(reserve_blocks(1), seed_)[0]; }
  std::uint64_t next_u64() {
    const auto b = detail::philox(reserve_blocks(1), seed_);
    return (std::uint64_t{b[0]} << 32) | b[1];
  }
  double uniform() {
    const auto b = detail::philox(reserve_blocks(1), seed_);
    return detail::unit_double(b[0], b[1]);
  }
  // Uniform integer in [0, n) without modulo bias (Lemire's multiply-shift with rejection).
  std::uint64_t randint(std::uint64_t n) {
    if (n == 0) detail::fail<ValueError>("Generator::randint: empty range");
    for (;;) {
      const std::uint64_t x = next_u64();
      const __uint128_t m = static_cast<__uint128_t>(x) * n;
      const auto low = static_cast<std::uint64_t>(m);
      if (low >= n || low >= (0 - n) % n) return static_cast<std::uint64_t>(m >> 64);
    }
  }

  // out[i] ~ U[lo, hi). Element i uses lane i % 4 of block offset + i / 4 (float) or i / 2 (double).
  template <class T>
  void fill_uniform(T* out, Index n, T lo, T hi) {
    const std::uint64_t base = reserve_blocks(blocks_for<T>(n, 4, 2));
    detail::parallel_for(n, 1 << 14, [&](Index begin, Index end) {
      for (Index i = begin; i < end; ++i) out[i] = lo + (hi - lo) * uniform_at<T>(base, i);
    });
  }

  // out[i] ~ N(mean, std^2) by Box-Muller; pairs of lanes of one block give two normals.
  template <class T>
  void fill_normal(T* out, Index n, T mean, T std) {
    const std::uint64_t base = reserve_blocks(blocks_for<T>(n, 4, 2));
    detail::parallel_for(n, 1 << 13, [&](Index begin, Index end) {
      for (Index i = begin; i < end; ++i) {
        double u1, u2;
        bool second;
        if constexpr (sizeof(T) <= 4) {
          const auto b = detail::philox(base + static_cast<std::uint64_t>(i / 4), seed_);
          const int pair = static_cast<int>(i % 4) / 2;
          u1 = (b[2 * pair] + 1.0) * 0x1.0p-32;  // (0, 1]: log stays finite
          u2 = b[2 * pair + 1] * 0x1.0p-32;
          second = i % 2;
        } else {
          const auto b = detail::philox(base + static_cast<std::uint64_t>(i / 2), seed_);
          u1 = 1.0 - detail::unit_double(b[0], b[1]);
          u2 = detail::unit_double(b[2], b[3]);
          second = i % 2;
        }
        const double r = std::sqrt(-2.0 * std::log(u1)), theta = 2.0 * std::numbers::pi * u2;
        out[i] = static_cast<T>(mean + std * static_cast<T>(second ? r * std::sin(theta) : r * std::cos(theta)));
      }
    });
  }

  // out[i] = 1 with probability p, else 0.
  template <class T>
  void fill_bernoulli(T* out, Index n, double p) {
    if (!(p >= 0.0 && p <= 1.0)) detail::fail<ValueError>("bernoulli: p must be in [0, 1], got ", p);
    const std::uint64_t base = reserve_blocks(blocks_for<double>(n, 4, 2));
    detail::parallel_for(n, 1 << 14, [&](Index begin, Index end) {
      for (Index i = begin; i < end; ++i) out[i] = uniform_at<double>(base, i) < p ? T(1) : T(0);
    });
  }

  // The i-th uniform of a bulk draw starting at block `base`.
  template <class T>
  T uniform_at(std::uint64_t base, Index i) const {
    if constexpr (sizeof(T) <= 4) {
      return static_cast<T>(detail::unit_float(detail::philox(base + static_cast<std::uint64_t>(i / 4), seed_)[i % 4]));
    } else {
      const auto b = detail::philox(base + static_cast<std::uint64_t>(i / 2), seed_);
      return static_cast<T>(i % 2 ? detail::unit_double(b[2], b[3]) : detail::unit_double(b[0], b[1]));
    }
  }

 private:
  template <class T>
  static std::uint64_t blocks_for(Index n, Index per_block_float, Index per_block_double) {
    const Index per = sizeof(T) <= 4 ? per_block_float : per_block_double;
    return static_cast<std::uint64_t>((n + per - 1) / per);
  }

  std::uint64_t seed_ = 0;
  std::uint64_t offset_ = 0;
};

// The generator factories and dropout use when none is passed.
inline Generator& default_generator() {
  static Generator g(0);
  return g;
}

// Reseeds the default generator: manual_seed(0) makes a program's random numbers reproducible.
inline void manual_seed(std::uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace foundry
