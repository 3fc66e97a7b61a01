// heads/generation.hpp: autoregressive generation with GptModel and its tied LM head: greedy,
// temperature, top-k and top-p (nucleus) sampling, max_new_tokens, stop at eos. With the key/value
// cache each new token runs one position through the model; without it (use_cache = false) the
// whole prefix is recomputed every step, which the tests use to show both give the same logits.
// Sampling draws from an explicit Generator, so a seed reproduces a generation exactly.
#pragma once

#include <algorithm>
#include <numeric>
#include <optional>
#include <vector>

#include "foundry/models/gpt.hpp"

namespace foundry::heads {

struct GenerationConfig {
  Index max_new_tokens = 20;
  bool do_sample = false;   // false: greedy (argmax)
  double temperature = 1.0;  // > 0; divides the logits before sampling
  Index top_k = 0;           // 0: no top-k filter
  double top_p = 1.0;        // 1: no nucleus filter
  std::optional<std::int64_t> eos_token_id;
  std::int64_t pad_token_id = 0;  // written after a sequence has produced eos
  bool use_cache = true;
};

namespace detail {

// Picks the next token from one row of logits [V] according to the config.
template <class T>
std::int64_t choose_token(const T* logits, Index V, const GenerationConfig& cfg, Generator& gen) {
  if (!cfg.do_sample) return static_cast<std::int64_t>(std::max_element(logits, logits + V) - logits);
  // Softmax of logits / temperature in double; then keep the top-k and the top-p nucleus.
  std::vector<double> p(static_cast<std::size_t>(V));
  const double max = static_cast<double>(*std::max_element(logits, logits + V));
  for (Index j = 0; j < V; ++j) p[j] = std::exp((static_cast<double>(logits[j]) - max) / cfg.temperature);
  std::vector<Index> order(static_cast<std::size_t>(V));
  std::iota(order.begin(), order.end(), Index{0});
  std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return p[a] > p[b]; });  // ties: lower id first
  Index keep = cfg.top_k > 0 ? std::min(cfg.top_k, V) : V;
  double total = 0;
  for (Index r = 0; r < keep; ++r) total += p[order[r]];
  if (cfg.top_p < 1.0) {  // smallest prefix of the sorted tokens whose mass reaches top_p (at least one)
    double cumulative = 0;
    for (Index r = 0; r < keep; ++r) {
      cumulative += p[order[r]] / total;
      if (cumulative >= cfg.top_p) {
        keep = r + 1;
        break;
      }
    }
    total = 0;
    for (Index r = 0; r < keep; ++r) total += p[order[r]];
  }
  double u = gen.uniform() * total;
  for (Index r = 0; r < keep; ++r) {
    u -= p[order[r]];
    if (u < 0) return order[r];
  }
  return order[keep - 1];
}

}  // namespace detail

// prompt: [B, S0] token ids (all real tokens) -> [B, S0 + n] with n <= max_new_tokens generated ids.
template <class T>
Tensor<std::int64_t> generate(const models::GptModel<T>& model, const Tensor<std::int64_t>& prompt, const GenerationConfig& cfg = {},
                              Generator& gen = default_generator()) {
  if (!prompt.defined() || prompt.dim() != 2 || prompt.size(1) == 0)
    foundry::detail::fail<ShapeError>("generate: prompt must be [B, S] with S >= 1, got ",
                                      prompt.defined() ? prompt.shape().str() : "undefined");
  if (!(cfg.temperature > 0)) foundry::detail::fail<ValueError>("generate: temperature must be > 0, got ", cfg.temperature);
  if (!(cfg.top_p > 0 && cfg.top_p <= 1)) foundry::detail::fail<ValueError>("generate: top_p must be in (0, 1], got ", cfg.top_p);
  if (cfg.top_k < 0) foundry::detail::fail<ValueError>("generate: top_k must be >= 0, got ", cfg.top_k);
  NoGradGuard no_grad;
  const Index B = prompt.size(0), S0 = prompt.size(1), V = model.config().vocab_size;
  const Index max_total = std::min<Index>(S0 + cfg.max_new_tokens, model.config().n_positions);
  std::vector<std::int64_t> tokens = prompt.contiguous_data().to_vector();  // [B, length] row-major, grown per step
  Index length = S0;
  std::vector<bool> finished(static_cast<std::size_t>(B), false);
  typename models::GptModel<T>::Cache cache;
  Tensor<std::int64_t> step_input = prompt.contiguous_data();
  while (length < max_total) {
    Tensor<T> hidden;
    if (cfg.use_cache) {
      hidden = model.forward(step_input, {}, &cache);
    } else {
      hidden = model.forward(Tensor<std::int64_t>::from(tokens, {B, length}));
    }
    const Tensor<T> last = model.logits(hidden.select(1, hidden.size(1) - 1)).contiguous();  // [B, V]
    std::vector<std::int64_t> next(static_cast<std::size_t>(B));
    for (Index b = 0; b < B; ++b) {
      next[b] = finished[b] ? cfg.pad_token_id : detail::choose_token(last.data() + b * V, V, cfg, gen);
      if (cfg.eos_token_id && next[b] == *cfg.eos_token_id) finished[b] = true;
    }
    std::vector<std::int64_t> grown(static_cast<std::size_t>(B * (length + 1)));
    for (Index b = 0; b < B; ++b) {
      std::copy_n(tokens.begin() + b * length, length, grown.begin() + b * (length + 1));
      grown[static_cast<std::size_t>(b * (length + 1) + length)] = next[b];
    }
    tokens = std::move(grown);
    ++length;
    step_input = Tensor<std::int64_t>::from(next, {B, 1});
    if (std::all_of(finished.begin(), finished.end(), [](bool f) { return f; })) break;
  }
  return Tensor<std::int64_t>::from(tokens, {B, length});
}

}  // namespace foundry::heads
