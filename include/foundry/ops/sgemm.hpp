// ops/sgemm.hpp: foundry's own single-precision GEMM for x86-64 CPUs with AVX2 and FMA, in the
// layout of BLIS and OpenBLAS (Goto's algorithm): B is packed into kc x 16 column panels that stay in
// L1/L2, A into 6 x kc row panels, and a 6 x 16 register tile (12 ymm accumulators, two FMAs per
// broadcast A value) multiplies them. Eigen 3.4's float kernel reaches about half of an AVX2 core's
// FMA peak on BERT's shapes (~40 of 78 GFLOP/s here); this one ~85-90%.
//
// The kernel is compiled for AVX2+FMA with a function attribute and chosen at run time, so a build
// without -march=native (the tests, a distro package) still uses it where the CPU has the units, and
// falls back to Eigen elsewhere (or when FOUNDRY_GEMM=eigen is set in the environment). Any element
// strides are accepted: packing reads the operands once, so transposed views cost nothing extra.
// Every element of C sums its K products in one fixed order (kc-blocks in turn, k ascending inside),
// whatever the thread split, the tile edges or the addresses: results are reproducible bit for bit.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "foundry/core/shape.hpp"

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define FOUNDRY_SGEMM_X86 1
#define FOUNDRY_TARGET_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace foundry {
namespace ops {
namespace detail {

// Whether float GEMMs use the AVX2 kernel below: the CPU has AVX2 and FMA and FOUNDRY_GEMM is not
// "eigen". Read once; tests and benchmarks may flip it to compare the two paths.
inline bool& own_sgemm_enabled() {
  static bool enabled = [] {
#ifdef FOUNDRY_SGEMM_X86
    __builtin_cpu_init();
    const char* env = std::getenv("FOUNDRY_GEMM");
    const bool eigen_forced = env != nullptr && std::strcmp(env, "eigen") == 0;
    return !eigen_forced && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
  }();
  return enabled;
}

#ifdef FOUNDRY_SGEMM_X86
namespace sgemm {

inline constexpr Index kMR = 6, kNR = 16;  // register tile: 6 rows x two 8-float vectors
inline constexpr Index kKC = 256;          // depth of a packed block: a 6 x kc A panel is 6 KiB (L1)
inline constexpr Index kMC = 168;          // rows of A packed at once: 168 x 256 floats, 168 KiB (L2)
inline constexpr Index kNC = 4080;         // columns of B packed at once (L3)
inline constexpr Index kWholeB = 1 << 18;  // a deep B of up to 256k floats (1 MiB) is packed whole (L2/L3)

// A 64-byte aligned scratch buffer per thread, grown on demand and reused by every later GEMM.
struct Scratch {
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data;
  Index capacity = 0;
  float* get(Index n) {
    if (n > capacity) {
      const std::size_t bytes = (static_cast<std::size_t>(n) * sizeof(float) + 63) / 64 * 64;
      float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (p == nullptr) throw std::bad_alloc();
      data.reset(p);
      capacity = n;
    }
    return data.get();
  }
};

// t[q] := (t[0][q], ..., t[7][q]): an 8 x 8 block transposed in registers (24 shuffles).
FOUNDRY_TARGET_AVX2 inline void transpose8(__m256 t[8]) {
  const __m256 u0 = _mm256_unpacklo_ps(t[0], t[1]), u1 = _mm256_unpackhi_ps(t[0], t[1]);
  const __m256 u2 = _mm256_unpacklo_ps(t[2], t[3]), u3 = _mm256_unpackhi_ps(t[2], t[3]);
  const __m256 u4 = _mm256_unpacklo_ps(t[4], t[5]), u5 = _mm256_unpackhi_ps(t[4], t[5]);
  const __m256 u6 = _mm256_unpacklo_ps(t[6], t[7]), u7 = _mm256_unpackhi_ps(t[6], t[7]);
  const __m256 v0 = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(1, 0, 1, 0)), v1 = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 v2 = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(1, 0, 1, 0)), v3 = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 v4 = _mm256_shuffle_ps(u4, u6, _MM_SHUFFLE(1, 0, 1, 0)), v5 = _mm256_shuffle_ps(u4, u6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 v6 = _mm256_shuffle_ps(u5, u7, _MM_SHUFFLE(1, 0, 1, 0)), v7 = _mm256_shuffle_ps(u5, u7, _MM_SHUFFLE(3, 2, 3, 2));
  t[0] = _mm256_permute2f128_ps(v0, v4, 0x20), t[1] = _mm256_permute2f128_ps(v1, v5, 0x20);
  t[2] = _mm256_permute2f128_ps(v2, v6, 0x20), t[3] = _mm256_permute2f128_ps(v3, v7, 0x20);
  t[4] = _mm256_permute2f128_ps(v0, v4, 0x31), t[5] = _mm256_permute2f128_ps(v1, v5, 0x31);
  t[6] = _mm256_permute2f128_ps(v2, v6, 0x31), t[7] = _mm256_permute2f128_ps(v3, v7, 0x31);
}

// One contiguous run of n values (a row of B, a column of A) cut into consecutive W-wide panels of
// depth kc: values j0..j0+W-1 go to o + (j0 / W) * W * kc; the last panel's missing values are zero.
template <Index W>
FOUNDRY_TARGET_AVX2 inline void cut_into_panels(const float* run, Index n, Index kc, float* o) {
  const Index full = n / W * W;
  for (Index j0 = 0; j0 < full; j0 += W, o += W * kc) std::memcpy(o, run + j0, W * sizeof(float));
  if (full < n) {
    for (Index j = full; j < n; ++j) o[j - full] = run[j];
    for (Index j = n - full; j < W; ++j) o[j] = 0.0f;
  }
}

// Rows [0, mc) x depth [0, kc) of A (element (i, p) at a[i*rs + p*cs]) as consecutive kMR-row
// panels; within a panel, the kMR values of each p are adjacent. Rows past mc are zero. Each layout
// is read along its unit stride: row-major A as six row streams, column-major A (a transposed
// operand, as gᵀ in a weight gradient) one column at a time, its run cut into the panels; reading
// panel by panel instead would jump a whole column stride for every 24 bytes.
FOUNDRY_TARGET_AVX2 inline void pack_a(const float* a, Index rs, Index cs, Index mc, Index kc, float* out) {
  if (rs == 1 && cs != 1) {
    for (Index p = 0; p < kc; ++p) cut_into_panels<kMR>(a + p * cs, mc, kc, out + p * kMR);
    return;
  }
  for (Index i0 = 0; i0 < mc; i0 += kMR, out += kMR * kc) {
    const Index m = std::min(kMR, mc - i0);
    const float* ai = a + i0 * rs;
    if (m == kMR && cs == 1) {  // row-major: six row streams, eight values of each transposed at once
      const float *r0 = ai, *r1 = ai + rs, *r2 = ai + 2 * rs, *r3 = ai + 3 * rs, *r4 = ai + 4 * rs, *r5 = ai + 5 * rs;
      Index p = 0;
      for (; p + 8 <= kc; p += 8) {
        __m256 t[8] = {_mm256_loadu_ps(r0 + p), _mm256_loadu_ps(r1 + p), _mm256_loadu_ps(r2 + p), _mm256_loadu_ps(r3 + p),
                       _mm256_loadu_ps(r4 + p), _mm256_loadu_ps(r5 + p), _mm256_setzero_ps(),        _mm256_setzero_ps()};
        transpose8(t);
        // Each store writes 8 values of which the first 6 belong to column p + q; the 2 extra land on
        // the next column's slots (overwritten by the next store) or, after the last one, in the
        // scratch's padding or the next panel (written later).
        float* o = out + p * kMR;
        for (Index q = 0; q < 8; ++q) _mm256_storeu_ps(o + q * kMR, t[q]);
      }
      for (; p < kc; ++p) {
        float* o = out + p * kMR;
        o[0] = r0[p], o[1] = r1[p], o[2] = r2[p], o[3] = r3[p], o[4] = r4[p], o[5] = r5[p];
      }
    } else {
      for (Index p = 0; p < kc; ++p) {
        float* o = out + p * kMR;
        for (Index i = 0; i < m; ++i) o[i] = ai[i * rs + p * cs];
        for (Index i = m; i < kMR; ++i) o[i] = 0.0f;
      }
    }
  }
}

// Depth [0, kc) x columns [0, nc) of B (element (p, j) at b[p*rs + j*cs]) as consecutive kNR-column
// panels; within a panel, the kNR values of each p are adjacent. Columns past nc are zero. Row-major
// B is read row by row, each row's run cut into the panels (panel by panel would jump a row stride
// for every 64 bytes: a cache miss each); column-major B (a transposed weight) column by column.
FOUNDRY_TARGET_AVX2 inline void pack_b(const float* b, Index rs, Index cs, Index kc, Index nc, float* out) {
  if (cs == 1) {
    for (Index p = 0; p < kc; ++p) cut_into_panels<kNR>(b + p * rs, nc, kc, out + p * kNR);
    return;
  }
  for (Index j0 = 0; j0 < nc; j0 += kNR, out += kNR * kc) {
    const Index n = std::min(kNR, nc - j0);
    const float* bj = b + j0 * cs;
    if (rs == 1 && n == kNR) {  // column-major: sixteen column streams, 8 x 8 blocks transposed
      Index p = 0;
      for (; p + 8 <= kc; p += 8) {
        for (Index h = 0; h < kNR; h += 8) {
          const float* col = bj + h * cs + p;
          __m256 t[8];
          for (Index q = 0; q < 8; ++q) t[q] = _mm256_loadu_ps(col + q * cs);
          transpose8(t);
          for (Index q = 0; q < 8; ++q) _mm256_store_ps(out + (p + q) * kNR + h, t[q]);
        }
      }
      for (; p < kc; ++p)
        for (Index j = 0; j < kNR; ++j) out[p * kNR + j] = bj[j * cs + p];
    } else if (rs == 1) {  // column-major edge panel: each column is a contiguous run over p
      for (Index j = 0; j < n; ++j) {
        const float* col = bj + j * cs;
        for (Index p = 0; p < kc; ++p) out[p * kNR + j] = col[p];
      }
      for (Index p = 0; p < kc; ++p)
        for (Index j = n; j < kNR; ++j) out[p * kNR + j] = 0.0f;
    } else {
      for (Index p = 0; p < kc; ++p) {
        float* o = out + p * kNR;
        for (Index j = 0; j < n; ++j) o[j] = bj[p * rs + j * cs];
        for (Index j = n; j < kNR; ++j) o[j] = 0.0f;
      }
    }
  }
}

// The 6 x 16 tile C (+)= Apanel·Bpanel over kc, then + bias[j] per column when bias is given (the
// last depth block of a linear layer: the same sum, in the same order, as a separate pass after).
// A full tile is stored straight into C (rows ldc apart); an edge tile (m < 6 or n < 16) goes
// through a local buffer and only its m x n part lands.
FOUNDRY_TARGET_AVX2 inline void tile(Index kc, const float* __restrict a, const float* __restrict b, float* c, Index ldc,
                                     Index m, Index n, bool add, const float* bias) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (Index p = 0; p < kc; ++p, a += kMR, b += kNR) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 ai = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(ai, b0, c00), c01 = _mm256_fmadd_ps(ai, b1, c01);
    ai = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ai, b0, c10), c11 = _mm256_fmadd_ps(ai, b1, c11);
    ai = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ai, b0, c20), c21 = _mm256_fmadd_ps(ai, b1, c21);
    ai = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ai, b0, c30), c31 = _mm256_fmadd_ps(ai, b1, c31);
    ai = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ai, b0, c40), c41 = _mm256_fmadd_ps(ai, b1, c41);
    ai = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ai, b0, c50), c51 = _mm256_fmadd_ps(ai, b1, c51);
  }
  const __m256 acc[kMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (m == kMR && n == kNR) {
    const __m256 bias0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps(), bias1 = bias ? _mm256_loadu_ps(bias + 8) : bias0;
    for (Index i = 0; i < kMR; ++i) {
      float* ci = c + i * ldc;
      __m256 v0 = add ? _mm256_add_ps(_mm256_loadu_ps(ci), acc[i][0]) : acc[i][0];
      __m256 v1 = add ? _mm256_add_ps(_mm256_loadu_ps(ci + 8), acc[i][1]) : acc[i][1];
      if (bias) v0 = _mm256_add_ps(v0, bias0), v1 = _mm256_add_ps(v1, bias1);
      _mm256_storeu_ps(ci, v0);
      _mm256_storeu_ps(ci + 8, v1);
    }
    return;
  }
  alignas(32) float buf[kMR * kNR];
  for (Index i = 0; i < kMR; ++i) {
    _mm256_store_ps(buf + i * kNR, acc[i][0]);
    _mm256_store_ps(buf + i * kNR + 8, acc[i][1]);
  }
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < n; ++j) {
      float v = add ? c[i * ldc + j] + buf[i * kNR + j] : buf[i * kNR + j];
      if (bias) v += bias[j];
      c[i * ldc + j] = v;
    }
}

// One packed mc x kc block of A times one packed kc x nc block of B into C (rows ldc apart): B's
// micro-panels outside, so each stays in L1 while the A panels stream past it from L2.
FOUNDRY_TARGET_AVX2 inline void block(Index mc, Index nc, Index kc, const float* ap, const float* bp, float* c, Index ldc, bool add,
                                      const float* bias) {
  for (Index jr = 0; jr < nc; jr += kNR)
    for (Index ir = 0; ir < mc; ir += kMR)
      tile(kc, ap + ir * kc, bp + jr * kc, c + ir * ldc + jr, ldc, std::min(kMR, mc - ir), std::min(kNR, nc - jr), add,
           bias ? bias + jr : nullptr);
}

// C (+)= A·B (+ bias[j] in column j, when bias is given) with A [M, K] (strides ars, acs), B [K, N]
// (strides brs, bcs) and C row-major [M, N] with rows ldc apart. Single-threaded: callers split C
// across threads (ops/matmul.hpp).
FOUNDRY_TARGET_AVX2 inline void gemm(Index M, Index N, Index K, const float* a, Index ars, Index acs, const float* b, Index brs,
                                     Index bcs, float* c, Index ldc, bool accumulate, const float* bias = nullptr) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (Index i = 0; i < M; ++i)
      for (Index j = 0; j < N; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + (bias ? bias[j] : 0.0f);
    return;
  }
  thread_local Scratch a_scratch, b_scratch;
  float* ap = a_scratch.get(kMC * kKC + 8);  // + 8: pack_a's last store runs 2 past the end
  const Index n_padded = (N + kNR - 1) / kNR * kNR;
  if (K > kKC && n_padded * K <= kWholeB) {
    // Deep and narrow (2048 x 1024 x 256): B is packed whole, once, and the depth blocks run inside each
    // row block, so that block of C stays in L2 between them instead of being swept K / kc times.
    // Each element still sums the depth blocks in the same order: the bits match the loop below.
    float* bp = b_scratch.get(n_padded * K);
    for (Index pc = 0; pc < K; pc += kKC) pack_b(b + pc * brs, brs, bcs, std::min(kKC, K - pc), N, bp + pc * n_padded);
    for (Index ic = 0; ic < M; ic += kMC) {
      const Index mc = std::min(kMC, M - ic);
      for (Index pc = 0; pc < K; pc += kKC) {
        const Index kc = std::min(kKC, K - pc);
        const bool add = accumulate || pc > 0;
        pack_a(a + ic * ars + pc * acs, ars, acs, mc, kc, ap);
        block(mc, N, kc, ap, bp + pc * n_padded, c + ic * ldc, ldc, add, pc + kc == K ? bias : nullptr);
      }
    }
    return;
  }
  for (Index jc = 0; jc < N; jc += kNC) {
    const Index nc = std::min(kNC, N - jc);
    float* bp = b_scratch.get((nc + kNR - 1) / kNR * kNR * std::min(kKC, K));
    for (Index pc = 0; pc < K; pc += kKC) {
      const Index kc = std::min(kKC, K - pc);
      const bool add = accumulate || pc > 0;
      pack_b(b + pc * brs + jc * bcs, brs, bcs, kc, nc, bp);
      for (Index ic = 0; ic < M; ic += kMC) {
        const Index mc = std::min(kMC, M - ic);
        pack_a(a + ic * ars + pc * acs, ars, acs, mc, kc, ap);
        block(mc, nc, kc, ap, bp, c + ic * ldc + jc, ldc, add, pc + kc == K && bias ? bias + jc : nullptr);
      }
    }
  }
}

}  // namespace sgemm
#endif  // FOUNDRY_SGEMM_X86

}  // namespace detail
}  // namespace ops
}  // namespace foundry
