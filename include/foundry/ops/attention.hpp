// ops/attention.hpp: scaled_dot_product_attention as one fused op with its own backward:
//   out = dropout(softmax(q·kᵀ·scale + bias + mask)) · v        (Vaswani et al. 2017, eq. 1)
// Each (batch, head) pair is one task for a thread: two small GEMMs around a fused
// scale-bias-mask-softmax pass over the score rows. For backward, scaled_dot_product_attention keeps
// no [B, H, Sq, Sk] tensor at all: each head's probabilities P are computed again there (the same
// GEMM and row pass, so the same bits; about 1/8 of the op's work for D = 64) and only the dropout
// mask is kept, as bits. The _with_weights form returns P, so it keeps P for backward instead.
// Rows whose keys are all masked give zeros (never NaN). Heads may be strided views (the usual
// [B, S, H, D] -> [B, H, S, D] permute is not copied); the output is laid out [B, Sq, H, Dv] in memory
// and returned as a [B, H, Sq, Dv] view, so merging heads back is free.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "foundry/core/generator.hpp"
#include "foundry/ops/dropout.hpp"
#include "foundry/ops/matmul.hpp"

namespace foundry {
namespace ops {

template <class T>
struct AttentionOptions {
  Tensor<bool> key_mask;             // [B, Sk]: true = attend (Hugging Face's attention_mask); undefined: none
  Tensor<std::int64_t> key_lengths;  // [B]: keys at positions >= length are masked; undefined: none
  bool causal = false;               // query i sees keys j <= i + (Sk - Sq) (aligned to the end, for KV caches)
  Tensor<T> bias;                    // additive, broadcastable to [B, H, Sq, Sk]; may require grad
  double dropout = 0.0;              // on the probabilities; pass 0 in eval mode
  Generator* generator = nullptr;    // for dropout; default_generator() when null
  double scale = 0.0;                // 0: 1/sqrt(D)
};

template <class T>
struct AttentionResult {
  Tensor<T> output;   // [B, H, Sq, Dv]
  Tensor<T> weights;  // [B, H, Sq, Sk] softmax probabilities (before dropout), detached
};

namespace detail {

template <class T>
MatView<T> head(const Tensor<T>& x, Index b, Index h) {  // x: [B, H, S, D] -> [S, D] of (b, h)
  return {x.data() + b * x.stride(0) + h * x.stride(1), x.size(2), x.size(3), x.stride(2), x.stride(3)};
}

template <class T>
Tensor<T> gemm_ready_heads(const Tensor<T>& x) {  // copies only if a head matrix is not mappable
  return head(x, 0, 0).gemm_ready() ? x : x.clone_data();
}

// Keep-bits of the n dropout draws g = first .. first + n - 1 of a bulk draw at Philox block `base`:
// bit g - first is set when Generator::uniform_at<float>(base, g) >= p, i.e. when the top 24 bits of
// lane g % 4 of block base + g / 4 reach ceil(p·2^24) (the same test, in integers). One Philox call
// serves four draws; backward reads these bits instead of drawing again.
inline void dropout_keep_bits_at(const Generator& gen, std::uint64_t base, Index first, Index n, double p, std::uint64_t* bits) {
  const auto threshold = static_cast<std::uint32_t>(std::ceil(std::ldexp(p, 24)));
  std::fill_n(bits, (n + 63) / 64, std::uint64_t{0});
  Index e = 0;
  if (first % 4 == 0 && threshold < (1u << 24)) {  // whole words, 16 blocks at a time: top 24 bits >= t <=> lane >= t·2^8
    for (; e + 64 <= n; e += 64)
      bits[e / 64] = foundry::detail::keep_bits64(base + static_cast<std::uint64_t>((first + e) / 4), gen.seed(), threshold << 8);
  }
  while (e < n) {
    const Index g = first + e, lane0 = g % 4;
    const auto lanes = foundry::detail::philox(base + static_cast<std::uint64_t>(g / 4), gen.seed());
    for (Index l = lane0; l < 4 && e < n; ++l, ++e)
      bits[e / 64] |= static_cast<std::uint64_t>((lanes[static_cast<std::size_t>(l)] >> 8) >= threshold) << (e % 64);
  }
}

// What turns a head's scores q·kᵀ into probabilities: scale, bias, padding and causal masks, softmax.
// Forward runs it, and backward again when P was not kept: a copy lives in the backward closure.
template <class T>
struct AttentionProbs {
  std::vector<std::uint8_t> keep;  // [B, Sk]: 1 where the key counts
  Tensor<T> bias;                  // expanded to [B, H, Sq, Sk] (stride 0 on broadcast axes), or undefined
  T scale;
  Index Sk, causal_shift;
  bool causal;

  // Row i of head (b, h), scores in, probabilities out. `on` is scratch for Sk values: 1 where the
  // key counts, 0 where it is masked. A row whose keys are all masked (or -inf bias) gives zeros.
  void row(T* r, T* on, Index b, Index h, Index i) const {
    constexpr T kNegInf = -std::numeric_limits<T>::infinity();
    const std::uint8_t* kb = keep.data() + b * Sk;
    const Index limit = causal ? std::min<Index>(Sk, i + causal_shift + 1) : Sk;
    const T* brow = bias.defined() ? bias.storage()->data() + bias.offset() + b * bias.stride(0) + h * bias.stride(1) + i * bias.stride(2)
                                   : nullptr;
    const Index bstride = bias.defined() ? bias.stride(3) : 0;
    // Three passes the compiler vectorises: scale (and bias), masks, max.
    if (brow) {
      for (Index j = 0; j < limit; ++j) r[j] = r[j] * scale + brow[j * bstride];
    } else {
      for (Index j = 0; j < limit; ++j) r[j] *= scale;
    }
    for (Index j = 0; j < limit; ++j) {
      const bool counts = (kb[j] != 0) & (r[j] != kNegInf);
      on[j] = counts ? T(1) : T(0);
      r[j] = counts ? r[j] : kNegInf;
    }
    const T max = limit > 0 ? Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(r, limit).maxCoeff() : kNegInf;
    if (max == kNegInf) {
      std::fill_n(r, Sk, T(0));
      return;
    }
    // Eigen's vectorised exp clamps -inf to a tiny number instead of 0, hence the factor `on`
    // (a select on a comparison would not vectorise).
    Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> a(r, limit);
    a = (a - max).exp() * Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(on, limit);
    const T inv = T(1) / a.sum();
    a *= inv;
    std::fill(r + limit, r + Sk, T(0));
  }

  // P [Sq, Sk] of head (b, h): the scores GEMM, then every row.
  void head_probs(const Tensor<T>& q, const Tensor<T>& k, Index b, Index h, T* P, T* on) const {
    gemm(head(q, b, h), head(k, b, h).transposed(), P, false);
    for (Index i = 0; i < q.size(2); ++i) row(P + i * Sk, on, b, h, i);
  }
};

// q: [B, H, Sq, D], k: [B, H, Sk, D], v: [B, H, Sk, Dv] -> output [B, H, Sq, Dv], and the
// probabilities when keep_weights (kept for backward too; otherwise recomputed there).
template <class T>
AttentionResult<T> attention(const Tensor<T>& q_in, const Tensor<T>& k_in, const Tensor<T>& v_in, const AttentionOptions<T>& opt,
                             bool keep_weights) {
  using foundry::detail::fail;
  const char* op = "scaled_dot_product_attention";
  if (q_in.dim() != 4 || k_in.dim() != 4 || v_in.dim() != 4)
    fail<ShapeError>(op, ": q, k, v must be [B, H, S, D], got q ", q_in.shape(), ", k ", k_in.shape(), ", v ", v_in.shape());
  const Index B = q_in.size(0), H = q_in.size(1), Sq = q_in.size(2), D = q_in.size(3);
  const Index Sk = k_in.size(2), Dv = v_in.size(3);
  if (k_in.size(0) != B || k_in.size(1) != H || k_in.size(3) != D || v_in.size(0) != B || v_in.size(1) != H ||
      v_in.size(2) != Sk)
    fail<ShapeError>(op, ": q ", q_in.shape(), ", k ", k_in.shape(), " and v ", v_in.shape(),
                     " disagree (need q [B, H, Sq, D], k [B, H, Sk, D], v [B, H, Sk, Dv])");
  if (opt.key_mask.defined() && opt.key_mask.shape() != Shape{B, Sk})
    fail<ShapeError>(op, ": key_mask must be [B, Sk] = [", B, ", ", Sk, "], got ", opt.key_mask.shape());
  if (opt.key_lengths.defined() && opt.key_lengths.shape() != Shape{B})
    fail<ShapeError>(op, ": key_lengths must be [B] = [", B, "], got ", opt.key_lengths.shape());
  if (!(opt.dropout >= 0.0 && opt.dropout < 1.0)) fail<ValueError>(op, ": dropout must be in [0, 1), got ", opt.dropout);
  const Shape score_shape{B, H, Sq, Sk};
  Tensor<T> bias;
  if (opt.bias.defined()) {
    foundry::detail::broadcast_shapes(op, opt.bias.shape(), score_shape);
    if (foundry::detail::broadcast_shapes(op, opt.bias.shape(), score_shape) != score_shape)
      fail<ShapeError>(op, ": bias ", opt.bias.shape(), " does not broadcast to the scores ", score_shape);
    bias = opt.bias.detach().expand(score_shape);  // strided view, stride 0 on broadcast axes
  }
  const Tensor<T> q = detail::gemm_ready_heads(q_in), k = detail::gemm_ready_heads(k_in), v = detail::gemm_ready_heads(v_in);
  const T scale = static_cast<T>(opt.scale > 0 ? opt.scale : 1.0 / std::sqrt(static_cast<double>(D)));

  // Key limit per batch row from padding masks; keys beyond a row's causal limit are masked too.
  detail::AttentionProbs<T> scores{std::vector<std::uint8_t>(static_cast<std::size_t>(B * Sk), 1), bias, scale, Sk, Sk - Sq,
                                   opt.causal};
  std::vector<std::uint8_t>& keep = scores.keep;
  if (opt.key_mask.defined()) {
    const Tensor<bool> m = opt.key_mask.contiguous_data();
    for (Index i = 0; i < B * Sk; ++i) keep[static_cast<std::size_t>(i)] = m.data()[i] ? 1 : 0;
  }
  if (opt.key_lengths.defined()) {
    const Tensor<std::int64_t> len = opt.key_lengths.contiguous_data();
    for (Index b = 0; b < B; ++b) {
      if (len.data()[b] < 0 || len.data()[b] > Sk)
        fail<ValueError>(op, ": key_lengths[", b, "] = ", len.data()[b], " outside [0, ", Sk, "]");
      for (Index j = len.data()[b]; j < Sk; ++j) keep[static_cast<std::size_t>(b * Sk + j)] = 0;
    }
  }

  Tensor<T> probs = keep_weights ? Tensor<T>::empty(score_shape) : Tensor<T>();
  Tensor<T> out_mem = Tensor<T>::empty({B, Sq, H, Dv});  // merged-heads layout
  Tensor<T> out = out_mem.as_strided({B, H, Sq, Dv}, {Sq * H * Dv, Dv, H * Dv, 1}, 0);
  const double p = opt.dropout;
  Generator& gen = opt.generator ? *opt.generator : default_generator();
  const std::uint64_t drop_base = p > 0 ? gen.reserve_blocks(static_cast<std::uint64_t>((B * H * Sq * Sk + 3) / 4)) : 0;
  const T keep_scale = static_cast<T>(1.0 / (1.0 - p));

  // Dropout keep-bits, one run of 64-bit words per (batch, head): drawn once here, read by backward.
  const Index words_per_head = p > 0 ? (Sq * Sk + 63) / 64 : 0;
  std::vector<std::uint64_t> keep_bits(static_cast<std::size_t>(B * H * words_per_head));
  foundry::detail::parallel_for(B * H, 1, [&](Index t0, Index t1) {
    std::vector<T> dropped(p > 0 ? static_cast<std::size_t>(Sq * Sk) : 0), on(static_cast<std::size_t>(Sk));
    // P of one head when not kept: 64-byte aligned as probs is, since Eigen's vectorised exp and sum
    // in the row pass peel to alignment, and the recompute must see the same bits.
    const Tensor<T> scratch = keep_weights ? Tensor<T>() : Tensor<T>::empty({Sq, Sk});
    for (Index t = t0; t < t1; ++t) {
      const Index b = t / H, h = t % H;
      T* P = keep_weights ? probs.data() + t * Sq * Sk : scratch.data();
      scores.head_probs(q, k, b, h, P, on.data());
      const T* A = P;
      if (p > 0) {  // A = P ∘ mask / (1 - p), the mask a function of (seed, counter, element)
        std::uint64_t* bits = keep_bits.data() + t * words_per_head;
        detail::dropout_keep_bits_at(gen, drop_base, t * Sq * Sk, Sq * Sk, p, bits);
        detail::apply_keep_bits(P, dropped.data(), bits, 0, Sq * Sk, keep_scale, false);
        A = dropped.data();
      }
      detail::gemm(detail::MatView<T>{const_cast<T*>(A), Sq, Sk, Sk, 1}, detail::head(v, b, h), out.data() + b * Sq * H * Dv + h * Dv,
                   false, H * Dv);
    }
  });

  Tensor<T> result = autograd::record<T>(
      op, out, {q_in, k_in, v_in, opt.bias},
      [q_in = q_in.grad_target(), k_in = k_in.grad_target(), v_in = v_in.grad_target(), q, k, v, probs, scores = std::move(scores),
       bias_in = opt.bias, B, H, Sq, Sk, D, Dv, scale, p, keep_scale, keep_bits = std::move(keep_bits),
       words_per_head](const Tensor<T>& grad_out) {
        const bool want_q = q_in.requires_grad(), want_k = k_in.requires_grad(), want_v = v_in.requires_grad();
        const bool want_bias = bias_in.defined() && bias_in.requires_grad();
        // Contiguous [B, H, S, D] gradient buffers, written per head by the owning thread. They are
        // taken in the order each head writes them (v, q, k): if q, k, v are one tensor, the first
        // slot assigns and the later ones add, in that order within every head.
        const GradSlot<T> none{Tensor<T>(), false};
        const GradSlot<T> gv = want_v ? v_in.grad_slot() : none, gq = want_q ? q_in.grad_slot() : none,
                          gk = want_k ? k_in.grad_slot() : none;
        Tensor<T> gbias = want_bias ? Tensor<T>::empty({B, H, Sq, Sk}) : Tensor<T>();
        foundry::detail::parallel_for(B * H, 1, [&](Index t0, Index t1) {
          std::vector<T> a(p > 0 ? static_cast<std::size_t>(Sq * Sk) : 0), ds(static_cast<std::size_t>(Sq * Sk));
          const Tensor<T> recomputed = probs.defined() ? Tensor<T>() : Tensor<T>::empty({Sq, Sk});  // aligned as in forward
          std::vector<T> on(static_cast<std::size_t>(Sk));
          for (Index t = t0; t < t1; ++t) {
            const Index b = t / H, h = t % H;
            const T* P = probs.defined() ? probs.data() + t * Sq * Sk : recomputed.data();
            if (!probs.defined()) scores.head_probs(q, k, b, h, recomputed.data(), on.data());  // the forward's bits
            const detail::MatView<T> g = detail::head(grad_out, b, h);
            const std::uint64_t* bits = keep_bits.data() + t * words_per_head;
            const T* A = P;
            if (p > 0) {
              detail::apply_keep_bits(P, a.data(), bits, 0, Sq * Sk, keep_scale, false);
              A = a.data();
            }
            if (want_v)  // grad_v = Aᵀ·grad_out
              detail::gemm(detail::MatView<T>{const_cast<T*>(A), Sq, Sk, Sk, 1}.transposed(), g, gv.data() + t * Sk * Dv, gv.accumulate);
            // grad_A = grad_out·vᵀ, then through dropout, then softmax: dS = P ∘ (dP - rowsum(dP ∘ P))
            detail::gemm(g, detail::head(v, b, h).transposed(), ds.data(), false);
            for (Index i = 0; i < Sq; ++i) {
              T* dr = ds.data() + i * Sk;
              const T* pr = P + i * Sk;
              if (p > 0) detail::apply_keep_bits(dr, dr, bits, i * Sk, Sk, keep_scale, false);
              const T dot = detail::fixed_lane_dot(dr, pr, Sk);  // address-independent: resume stays bit-identical
              for (Index j = 0; j < Sk; ++j) dr[j] = pr[j] * (dr[j] - dot);
            }
            if (want_bias) std::copy(ds.begin(), ds.end(), gbias.data() + t * Sq * Sk);
            const detail::MatView<T> dsv{ds.data(), Sq, Sk, Sk, 1};
            if (want_q || want_k)
              for (T& x : ds) x *= scale;  // scores were q·kᵀ·scale
            if (want_q) detail::gemm(dsv, detail::head(k, b, h), gq.data() + t * Sq * D, gq.accumulate);  // grad_q = dS·k
            if (want_k) detail::gemm(dsv.transposed(), detail::head(q, b, h), gk.data() + t * Sk * D, gk.accumulate);  // grad_k = dSᵀ·q
          }
        });
        if (want_bias) detail::accumulate_grad(bias_in, gbias);
      });
  return {result, probs};
}

}  // namespace detail

// q: [B, H, Sq, D], k: [B, H, Sk, D], v: [B, H, Sk, Dv] -> output [B, H, Sq, Dv] and probabilities
// (kept for backward as well: [B, H, Sq, Sk] more memory than the output alone).
template <class T>
AttentionResult<T> scaled_dot_product_attention_with_weights(const Tensor<T>& q, const Tensor<T>& k, const Tensor<T>& v,
                                                             const AttentionOptions<T>& opt = {}) {
  return detail::attention(q, k, v, opt, true);
}

// The output alone: softmax(q·kᵀ/sqrt(D) + mask)·v. No [B, H, Sq, Sk] tensor is kept: backward
// recomputes each head's probabilities (the same values as the _with_weights form, bit for bit).
template <class T>
Tensor<T> scaled_dot_product_attention(const Tensor<T>& q, const Tensor<T>& k, const Tensor<T>& v,
                                       const AttentionOptions<T>& opt = {}) {
  return detail::attention(q, k, v, opt, false).output;
}

}  // namespace ops

using ops::AttentionOptions;
using ops::scaled_dot_product_attention;
using ops::scaled_dot_product_attention_with_weights;

}  // namespace foundry
