// heads/crf.hpp: a linear-chain conditional random field over per-token emission scores (Lafferty
// et al. 2001), with pytorch-crf's parameter names and initialisation, batch-first. crf_nll is one
// fused op: the forward algorithm gives log Z, and its backward is the forward-backward algorithm
// (gradient = marginals minus gold-path counts) rather than a graph of K² small ops per timestep.
// Viterbi decoding is here too; the encoder that produces the emissions is not (token_classification.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "foundry/nn/init.hpp"
#include "foundry/nn/module.hpp"
#include "foundry/ops/loss.hpp"

namespace foundry::heads {

// Which timesteps of emissions [B, S, K] are real: a [B, S] Tensor<bool> or Tensor<int64_t>
// (non-zero = on), or nothing (every timestep on). As in pytorch-crf the first timestep of every
// row must be on; foundry also requires padding to be at the end (on, then off, never on again).
class CrfMask {
 public:
  CrfMask() = default;
  CrfMask(const Tensor<bool>& mask) : bool_(mask) {}            // NOLINT: implicit on purpose
  CrfMask(const Tensor<std::int64_t>& mask) : int_(mask) {}     // NOLINT: implicit on purpose

  // The length of each row, validated against `shape` = [B, S].
  std::vector<Index> lengths(const char* op, const Shape& shape) const {
    if (bool_.defined()) return lengths_of(op, bool_, shape);
    if (int_.defined()) return lengths_of(op, int_, shape);
    return std::vector<Index>(static_cast<std::size_t>(shape[0]), shape[1]);
  }

 private:
  template <class M>
  static std::vector<Index> lengths_of(const char* op, const Tensor<M>& mask, const Shape& shape) {
    if (mask.shape() != shape)
      foundry::detail::fail<ShapeError>(op, ": mask shape ", mask.shape(), " must equal tags shape ", shape);
    const std::vector<M> m = mask.to_vector();
    const Index B = shape[0], S = shape[1];
    std::vector<Index> lengths(static_cast<std::size_t>(B));
    for (Index b = 0; b < B; ++b) {
      const auto on = [&](Index t) { return m[static_cast<std::size_t>(b * S + t)] != M(0); };
      if (!on(0))
        foundry::detail::fail<ValueError>(op, ": mask[", b, ", 0] is off; the first timestep of every sequence must be on",
                                          " (mask is ", shape, ")");
      Index len = 1;
      while (len < S && on(len)) ++len;
      for (Index t = len; t < S; ++t)
        if (on(t))
          foundry::detail::fail<ValueError>(op, ": mask row ", b, " is on again at timestep ", t, " after padding began at ",
                                            len, "; padding must be at the end (mask is ", shape, ")");
      lengths[static_cast<std::size_t>(b)] = len;
    }
    return lengths;
  }

  Tensor<bool> bool_;
  Tensor<std::int64_t> int_;
};

namespace detail {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// log Σ exp(v[0..n)) by subtracting the max first, so no term overflows; -inf when all are -inf.
inline double log_sum_exp(const double* v, Index n) {
  const double m = *std::max_element(v, v + n);
  if (m == kNegInf) return kNegInf;
  double s = 0;
  for (Index i = 0; i < n; ++i) s += std::exp(v[i] - m);
  return m + std::log(s);
}

// The CRF's values as contiguous double arrays: emissions e [B, S, K], start [K], end [K], trans [K, K]
// (trans[i, j] scores tag i followed by tag j). Every kernel below works in double, so float models
// get a log Z accurate to double before the final rounding.
struct CrfValues {
  std::vector<double> e, start, end, trans;
  Index B = 0, S = 0, K = 0;
};

template <class T>
CrfValues crf_values(const Tensor<T>& emissions, const Tensor<T>& start, const Tensor<T>& end, const Tensor<T>& trans) {
  auto as_double = [](const Tensor<T>& t) {
    const std::vector<T> v = t.to_vector();
    return std::vector<double>(v.begin(), v.end());
  };
  return {as_double(emissions), as_double(start), as_double(end), as_double(trans), emissions.size(0), emissions.size(1),
          emissions.size(2)};
}

// The forward algorithm on row b of length L (Rabiner 1989, eq. 19-21, in log space):
//   α_0(j) = start_j + e_0j,   α_t(j) = log Σ_i exp(α_{t-1}(i) + trans_ij) + e_tj,   log Z = log Σ_j exp(α_{L-1}(j) + end_j).
// Writes α into alpha [L, K] and returns log Z.
inline double crf_forward_row(const CrfValues& v, Index b, Index L, double* alpha) {
  const Index K = v.K;
  const double* e = v.e.data() + b * v.S * K;
  std::vector<double> terms(static_cast<std::size_t>(K));
  for (Index j = 0; j < K; ++j) alpha[j] = v.start[j] + e[j];
  for (Index t = 1; t < L; ++t)
    for (Index j = 0; j < K; ++j) {
      for (Index i = 0; i < K; ++i) terms[i] = alpha[(t - 1) * K + i] + v.trans[i * K + j];
      alpha[t * K + j] = log_sum_exp(terms.data(), K) + e[t * K + j];
    }
  for (Index j = 0; j < K; ++j) terms[j] = alpha[(L - 1) * K + j] + v.end[j];
  return log_sum_exp(terms.data(), K);
}

// The score of one tag path: start_{y_0} + Σ_t e_{t, y_t} + Σ_{t≥1} trans_{y_{t-1}, y_t} + end_{y_{L-1}}.
inline double crf_path_score(const CrfValues& v, Index b, Index L, const std::int64_t* y) {
  const Index K = v.K;
  const double* e = v.e.data() + b * v.S * K;
  double s = v.start[y[0]] + e[y[0]];
  for (Index t = 1; t < L; ++t) s += v.trans[y[t - 1] * K + y[t]] + e[t * K + y[t]];
  return s + v.end[y[L - 1]];
}

// Checks emissions [B, S, K], tags [B, S], the three parameters and the lengths; returns tags as a
// contiguous tensor. Tags beyond a row's length are never read, so any value (-100) may fill them.
template <class T>
Tensor<std::int64_t> check_crf_inputs(const char* op, const Tensor<T>& emissions, const Tensor<std::int64_t>* tags,
                                      const std::vector<Index>& lengths, const Tensor<T>& start, const Tensor<T>& end,
                                      const Tensor<T>& trans) {
  if (emissions.dim() != 3)
    foundry::detail::fail<ShapeError>(op, ": emissions must be [B, S, K], got ", emissions.shape());
  const Index B = emissions.size(0), S = emissions.size(1), K = emissions.size(2);
  if (K < 1) foundry::detail::fail<ShapeError>(op, ": emissions must have at least one tag, got ", emissions.shape());
  if (start.shape() != Shape{K} || end.shape() != Shape{K} || trans.shape() != Shape{K, K})
    foundry::detail::fail<ShapeError>(op, ": for emissions ", emissions.shape(), " start_transitions and end_transitions must be [",
                                      K, "] and transitions [", K, ", ", K, "], got ", start.shape(), ", ", end.shape(), ", ",
                                      trans.shape());
  if (static_cast<Index>(lengths.size()) != B)
    foundry::detail::fail<ShapeError>(op, ": ", lengths.size(), " sequence lengths for emissions ", emissions.shape());
  for (Index b = 0; b < B; ++b)
    if (lengths[b] < 1 || lengths[b] > S)
      foundry::detail::fail<ValueError>(op, ": sequence ", b, " has length ", lengths[b], ", outside [1, ", S,
                                        "] for emissions ", emissions.shape(), " (the first timestep must be on)");
  if (!tags) return {};
  if (tags->shape() != Shape{B, S})
    foundry::detail::fail<ShapeError>(op, ": tags shape ", tags->shape(), " must be [B, S] = [", B, ", ", S, "] for emissions ",
                                      emissions.shape());
  const Tensor<std::int64_t> y = tags->contiguous_data();
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t < lengths[b]; ++t) {
      const std::int64_t tag = y.data()[b * S + t];
      if (tag < 0 || tag >= K)
        foundry::detail::fail<IndexError>(op, ": tag ", tag, " at [", b, ", ", t, "] is outside [0, ", K, ") for ", K,
                                          " tags; every unpadded timestep needs a real tag");
    }
  return y;
}

}  // namespace detail

// Negative log-likelihood of the gold tags under a linear-chain CRF, per sequence:
//   nll_b = log Z_b - score_b(tags_b),   log Z_b = log Σ_{all paths y} exp(score_b(y)).
// emissions [B, S, K], tags [B, S], lengths[b] in [1, S] (timesteps past it are padding), start and
// end [K], transitions [K, K] -> [B] (Reduction::None), or their Sum, or Mean over the batch (pytorch-crf's
// "mean"; note pytorch-crf returns the log-likelihood, the negative of this). Differentiable in emissions
// and the three parameters; padded emissions get zero gradient.
template <class T>
Tensor<T> crf_nll(const Tensor<T>& emissions, const Tensor<std::int64_t>& tags, const std::vector<Index>& lengths,
                  const Tensor<T>& start_transitions, const Tensor<T>& end_transitions, const Tensor<T>& transitions,
                  Reduction reduction = Reduction::Sum) {
  static_assert(std::is_floating_point_v<T>, "crf_nll: floating-point emissions only");
  const Tensor<std::int64_t> y =
      detail::check_crf_inputs("crf_nll", emissions, &tags, lengths, start_transitions, end_transitions, transitions);
  auto v = std::make_shared<detail::CrfValues>(detail::crf_values(emissions, start_transitions, end_transitions, transitions));
  const Index B = v->B, S = v->S, K = v->K;
  auto alpha = std::make_shared<std::vector<double>>(static_cast<std::size_t>(B * S * K), 0.0);
  auto log_z = std::make_shared<std::vector<double>>(static_cast<std::size_t>(B), 0.0);
  std::vector<double> nll(static_cast<std::size_t>(B));
  foundry::detail::parallel_for(B, 1, [&](Index b0, Index b1) {
    for (Index b = b0; b < b1; ++b) {
      const Index L = lengths[b];
      (*log_z)[b] = detail::crf_forward_row(*v, b, L, alpha->data() + b * S * K);
      nll[b] = (*log_z)[b] - detail::crf_path_score(*v, b, L, y.data() + b * S);
    }
  });
  Tensor<T> out = ops::detail::reduce_loss<T>(nll, Shape{B}, reduction, B);
  return autograd::record<T>(
      "crf_nll", std::move(out), {emissions, start_transitions, end_transitions, transitions},
      [emissions, start_transitions, end_transitions, transitions, y, lengths, v, alpha, log_z, reduction](const Tensor<T>& grad_y) {
        // d log Z / d e_tj = P(y_t = j) and d log Z / d trans_ij = Σ_t P(y_{t-1} = i, y_t = j) (Sutton &
        // McCallum 2012, §4.1): marginals from α and the backward variables
        //   β_{L-1}(i) = end_i,   β_t(i) = log Σ_j exp(trans_ij + e_{t+1, j} + β_{t+1}(j)),
        // P(y_t = j) = exp(α_t(j) + β_t(j) - log Z). The gold path's score has derivative 1 at each
        // parameter it uses, so d nll = marginals - gold counts, times the reduction's scale.
        const Index B = v->B, S = v->S, K = v->K, P = 2 * K + K * K;
        std::vector<double> param_grad(static_cast<std::size_t>(B * P), 0.0);  // per row: start, end, trans
        T* ge = emissions.requires_grad() ? emissions.grad_ref().data() : nullptr;
        foundry::detail::parallel_for(B, 1, [&](Index b0, Index b1) {
          std::vector<double> beta(static_cast<std::size_t>(S * K)), terms(static_cast<std::size_t>(K));
          for (Index b = b0; b < b1; ++b) {
            const Index L = lengths[b];
            const double g = static_cast<double>(ops::detail::loss_grad_scale(grad_y, reduction, B, b));
            const double* e = v->e.data() + b * S * K;
            const double* a = alpha->data() + b * S * K;
            const std::int64_t* tags_b = y.data() + b * S;
            const double lz = (*log_z)[b];
            double* pg = param_grad.data() + b * P;
            double *g_start = pg, *g_end = pg + K, *g_trans = pg + 2 * K;
            for (Index i = 0; i < K; ++i) beta[(L - 1) * K + i] = v->end[i];
            for (Index t = L - 2; t >= 0; --t)
              for (Index i = 0; i < K; ++i) {
                for (Index j = 0; j < K; ++j) terms[j] = v->trans[i * K + j] + e[(t + 1) * K + j] + beta[(t + 1) * K + j];
                beta[t * K + i] = detail::log_sum_exp(terms.data(), K);
              }
            for (Index t = 0; t < L; ++t)
              for (Index j = 0; j < K; ++j) {
                const double marginal = std::exp(a[t * K + j] + beta[t * K + j] - lz) - (tags_b[t] == j ? 1.0 : 0.0);
                if (ge) ge[b * S * K + t * K + j] += static_cast<T>(g * marginal);
                if (t == 0) g_start[j] += g * marginal;
                if (t == L - 1) g_end[j] += g * marginal;
              }
            for (Index t = 1; t < L; ++t) {
              for (Index i = 0; i < K; ++i)
                for (Index j = 0; j < K; ++j)
                  g_trans[i * K + j] += g * std::exp(a[(t - 1) * K + i] + v->trans[i * K + j] + e[t * K + j] + beta[t * K + j] - lz);
              g_trans[tags_b[t - 1] * K + tags_b[t]] -= g;
            }
          }
        });
        // Rows join in a fixed order, so the parameter gradients do not depend on the thread count.
        const auto add_rows = [&](const Tensor<T>& param, Index offset, Index n) {
          if (!param.requires_grad()) return;
          T* gp = param.grad_ref().data();
          for (Index b = 0; b < B; ++b)
            for (Index k = 0; k < n; ++k) gp[k] += static_cast<T>(param_grad[b * P + offset + k]);
        };
        add_rows(start_transitions, 0, K);
        add_rows(end_transitions, K, K);
        add_rows(transitions, 2 * K, K * K);
      });
}

// A linear-chain CRF layer as pytorch-crf's CRF(num_tags, batch_first=True): parameters
// start_transitions [K], end_transitions [K], transitions [K, K] (from tag i to tag j), each
// uniform(-0.1, 0.1). Usage, with emissions [B, S, K] from a token classifier:
//   heads::Crf<float> crf(num_tags, gen);
//   Tensor<float> loss = crf.forward(emissions, tags, attention_mask, Reduction::Mean);  // NLL
//   std::vector<std::vector<std::int64_t>> best = crf.decode(emissions, attention_mask);
template <class T>
class Crf : public nn::Module<T> {
 public:
  explicit Crf(Index num_tags, Generator& gen = default_generator()) {
    if (num_tags < 1) foundry::detail::fail<ValueError>("Crf: num_tags must be at least 1, got ", num_tags);
    start_ = this->register_parameter("start_transitions", uniform<T>({num_tags}, -0.1, 0.1, gen));
    end_ = this->register_parameter("end_transitions", uniform<T>({num_tags}, -0.1, 0.1, gen));
    transitions_ = this->register_parameter("transitions", uniform<T>({num_tags, num_tags}, -0.1, 0.1, gen));
  }

  std::string type_name() const override { return "CRF"; }

  // emissions [B, S, K], tags [B, S] -> negative log-likelihood: [B] (None), or its Sum (default,
  // as pytorch-crf) or Mean over the batch. Tags at padded timesteps are ignored.
  Tensor<T> forward(const Tensor<T>& emissions, const Tensor<std::int64_t>& tags, const CrfMask& mask = {},
                    Reduction reduction = Reduction::Sum) const {
    return crf_nll(emissions, tags, lengths("Crf", emissions, mask), start_, end_, transitions_, reduction);
  }

  // The most likely tag sequence of each row by Viterbi (max-product) decoding, each as long as
  // its row's mask. Ties go to the lowest tag id.
  std::vector<std::vector<std::int64_t>> decode(const Tensor<T>& emissions, const CrfMask& mask = {}) const {
    const std::vector<Index> len = lengths("Crf::decode", emissions, mask);
    const detail::CrfValues v = detail::crf_values(emissions, start_, end_, transitions_);
    const Index S = v.S, K = v.K;
    std::vector<std::vector<std::int64_t>> best(static_cast<std::size_t>(v.B));
    foundry::detail::parallel_for(v.B, 1, [&](Index b0, Index b1) {
      std::vector<double> delta(static_cast<std::size_t>(K)), next(static_cast<std::size_t>(K));
      std::vector<std::int64_t> from(static_cast<std::size_t>(S * K));  // back-pointers
      for (Index b = b0; b < b1; ++b) {
        const double* e = v.e.data() + b * S * K;
        const Index L = len[b];
        for (Index j = 0; j < K; ++j) delta[j] = v.start[j] + e[j];
        for (Index t = 1; t < L; ++t) {
          for (Index j = 0; j < K; ++j) {
            Index arg = 0;
            for (Index i = 1; i < K; ++i)
              if (delta[i] + v.trans[i * K + j] > delta[arg] + v.trans[arg * K + j]) arg = i;
            next[j] = delta[arg] + v.trans[arg * K + j] + e[t * K + j];
            from[t * K + j] = arg;
          }
          std::swap(delta, next);
        }
        Index last = 0;
        for (Index j = 1; j < K; ++j)
          if (delta[j] + v.end[j] > delta[last] + v.end[last]) last = j;
        std::vector<std::int64_t>& path = best[static_cast<std::size_t>(b)];
        path.assign(static_cast<std::size_t>(L), 0);
        path[L - 1] = last;
        for (Index t = L - 1; t > 0; --t) path[t - 1] = from[t * K + path[t]];
      }
    });
    return best;
  }

  // log Z per row, [B]: the log of the summed exp-scores of every tag path (values only, no gradient).
  Tensor<T> log_partition(const Tensor<T>& emissions, const CrfMask& mask = {}) const {
    const std::vector<Index> len = lengths("Crf::log_partition", emissions, mask);
    const detail::CrfValues v = detail::crf_values(emissions, start_, end_, transitions_);
    std::vector<double> alpha(static_cast<std::size_t>(v.S * v.K));
    Tensor<T> out = Tensor<T>::empty({v.B});
    for (Index b = 0; b < v.B; ++b) out.data()[b] = static_cast<T>(detail::crf_forward_row(v, b, len[b], alpha.data()));
    return out;
  }

  // The score of the given tag path per row, [B] (values only, no gradient).
  Tensor<T> score(const Tensor<T>& emissions, const Tensor<std::int64_t>& tags, const CrfMask& mask = {}) const {
    const char* op = "Crf::score";
    const std::vector<Index> len = mask_lengths(op, emissions, mask);
    const Tensor<std::int64_t> y = detail::check_crf_inputs(op, emissions, &tags, len, start_, end_, transitions_);
    const detail::CrfValues v = detail::crf_values(emissions, start_, end_, transitions_);
    Tensor<T> out = Tensor<T>::empty({v.B});
    for (Index b = 0; b < v.B; ++b) out.data()[b] = static_cast<T>(detail::crf_path_score(v, b, len[b], y.data() + b * v.S));
    return out;
  }

  Index num_tags() const { return start_.size(0); }
  const Tensor<T>& start_transitions() const { return start_; }  // [K]
  const Tensor<T>& end_transitions() const { return end_; }      // [K]
  const Tensor<T>& transitions() const { return transitions_; }  // [K, K], row = from, column = to

 private:
  static std::vector<Index> mask_lengths(const char* op, const Tensor<T>& emissions, const CrfMask& mask) {
    if (emissions.dim() != 3) foundry::detail::fail<ShapeError>(op, ": emissions must be [B, S, K], got ", emissions.shape());
    if (emissions.size(1) < 1)
      foundry::detail::fail<ShapeError>(op, ": emissions must have at least one timestep, got ", emissions.shape());
    return mask.lengths(op, Shape{emissions.size(0), emissions.size(1)});
  }
  // The lengths, with the shapes of emissions and parameters checked too.
  std::vector<Index> lengths(const char* op, const Tensor<T>& emissions, const CrfMask& mask) const {
    std::vector<Index> len = mask_lengths(op, emissions, mask);
    detail::check_crf_inputs(op, emissions, nullptr, len, start_, end_, transitions_);
    return len;
  }

  Tensor<T> start_, end_, transitions_;
};

}  // namespace foundry::heads
