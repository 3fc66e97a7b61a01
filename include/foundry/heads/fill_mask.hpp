// heads/fill_mask.hpp: Hugging Face's fill-mask pipeline on BertForMaskedLM: for every [MASK] of a
// text, the k most probable vocabulary tokens with their softmax probabilities, and the text with
// each of them filled in. The tokenizer is a template parameter (text/bert_tokenizer.hpp's
// BertTokenizer fits), so heads/ does not depend on text/; printing and JSON live in the example.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "foundry/autograd/grad_mode.hpp"
#include "foundry/heads/mlm_head.hpp"
#include "foundry/ops/tensor_methods.hpp"

namespace foundry::heads {

// A vocabulary id with its probability at one masked position.
struct TokenScore {
  std::int32_t token = 0;
  double score = 0;
};

// One proposal for one mask, with HF's field names.
struct FillMaskCandidate {
  double score = 0;        // softmax probability of `token` at the masked position
  std::int32_t token = 0;  // vocabulary id
  std::string token_str;   // the token decoded on its own
  std::string sequence;    // the input with the mask replaced by the token, decoded
};

struct FillMaskOptions {
  Index top_k = 5;  // proposals per mask; more than the vocabulary size gives the whole vocabulary
};

// What fill_mask needs of a tokenizer: text -> ids with [CLS]/[SEP], the mask id, and HF's decode.
template <class Tok>
concept FillMaskTokenizer = requires(const Tok& tok, std::string_view text, std::span<const std::int32_t> ids) {
  { tok.encode(text).ids } -> std::convertible_to<std::vector<std::int32_t>>;
  { tok.mask_id() } -> std::convertible_to<std::int32_t>;
  { tok.decode(ids, {.skip_special_tokens = true}) } -> std::convertible_to<std::string>;
};

// logits: [V] -> the k largest softmax probabilities, highest first (ties: lower id first). The
// softmax runs in double after subtracting the row maximum, so exp never overflows.
template <class T>
std::vector<TokenScore> top_k_probabilities(const Tensor<T>& logits, Index k) {
  if (logits.dim() != 1)
    foundry::detail::fail<ShapeError>("top_k_probabilities: logits must be one row [V], got shape ", logits.shape());
  if (k < 1) foundry::detail::fail<ValueError>("top_k_probabilities: k must be >= 1, got ", k);
  const Tensor<T> row = logits.contiguous_data();
  const T* l = row.data();
  const Index V = row.numel();
  const double max = static_cast<double>(*std::max_element(l, l + V));
  double total = 0;
  for (Index v = 0; v < V; ++v) total += std::exp(static_cast<double>(l[v]) - max);
  // Ranking by logit, not by rounded probability, keeps distinct logits in order.
  std::vector<std::int32_t> order(static_cast<std::size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  const Index keep = std::min(k, V);
  std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                    [&](std::int32_t a, std::int32_t b) { return l[a] != l[b] ? l[a] > l[b] : a < b; });
  std::vector<TokenScore> out;
  for (Index r = 0; r < keep; ++r)
    out.push_back({order[r], std::exp(static_cast<double>(l[order[r]]) - max) / total});
  return out;
}

// ids: one sequence [S] with [CLS]/[SEP] -> for each position holding mask_id, in order, its top-k.
// The model must be in eval mode (dropout off); runs without recording a graph, and sends only the
// masked rows through the prediction head: its decoder product is [M, C]·[C, V], not [S, C]·[C, V].
template <class T>
std::vector<std::vector<TokenScore>> predict_masked(const BertForMaskedLM<T>& model, std::span<const std::int32_t> ids,
                                                    std::int32_t mask_id, Index top_k) {
  if (model.is_training())
    foundry::detail::fail<ValueError>("fill_mask: the model is in training mode (dropout would change the "
                                      "predictions); call model.eval() first");
  if (top_k < 1) foundry::detail::fail<ValueError>("fill_mask: top_k must be >= 1, got ", top_k);
  const models::BertConfig& config = model.bert()->config();
  const Index S = static_cast<Index>(ids.size());
  if (S > config.max_position_embeddings)
    foundry::detail::fail<ValueError>("fill_mask: the text is ", S, " tokens long, more than the model's ",
                                      config.max_position_embeddings, " positions");
  std::vector<std::int64_t> input(ids.begin(), ids.end()), masked;
  for (Index s = 0; s < S; ++s) {
    if (ids[s] < 0 || ids[s] >= config.vocab_size)
      foundry::detail::fail<IndexError>("fill_mask: token id ", ids[s], " at position ", s, " is outside the model's vocabulary [0, ",
                                        config.vocab_size, ")");
    if (ids[s] == mask_id) masked.push_back(s);
  }
  if (masked.empty()) foundry::detail::fail<ValueError>("fill_mask: no mask token (id ", mask_id, ") among the ", S, " tokens");

  NoGradGuard no_grad;
  models::BertInputs inputs;
  inputs.input_ids = Tensor<std::int64_t>::from(input, {1, S});
  const Tensor<T> h = model.bert()->forward(inputs).last_hidden_state;  // [1, S, C]
  const Index M = static_cast<Index>(masked.size());
  const Tensor<T> rows = ops::index_select(h.reshape({S, h.size(2)}), 0, Tensor<std::int64_t>::from(masked, {M}));
  const Tensor<T> logits = model.cls()->predictions->forward(rows);  // [M, V]
  std::vector<std::vector<TokenScore>> out;
  for (Index m = 0; m < M; ++m) out.push_back(top_k_probabilities(logits.select(0, m), top_k));
  return out;
}

// HF's FillMaskPipeline on one text: one list of candidates per [MASK], in text order. As HF does,
// `sequence` drops special tokens when the text has one mask and keeps them ([CLS] ... [SEP], the
// other masks) when it has several. A text without a mask throws ValueError quoting the text.
//   auto tok = text::BertTokenizer::from_file(dir / "vocab.txt");
//   auto out = heads::fill_mask(model, tok, "the capital of france is [MASK].");  // out[0][0].token_str
template <class T, FillMaskTokenizer Tokenizer>
std::vector<std::vector<FillMaskCandidate>> fill_mask(const BertForMaskedLM<T>& model, const Tokenizer& tokenizer,
                                                      std::string_view text, const FillMaskOptions& options = {}) {
  const std::vector<std::int32_t> ids = tokenizer.encode(text).ids;
  const std::int32_t mask_id = tokenizer.mask_id();
  if (std::find(ids.begin(), ids.end(), mask_id) == ids.end()) {
    const std::int32_t mask[] = {mask_id};
    foundry::detail::fail<ValueError>("fill_mask: no ", tokenizer.decode(std::span<const std::int32_t>(mask), {}), " in \"",
                                      text, "\"");
  }
  const std::vector<std::vector<TokenScore>> scores = predict_masked(model, ids, mask_id, options.top_k);
  const bool single_mask = scores.size() == 1;
  std::vector<std::vector<FillMaskCandidate>> out;
  std::size_t position = 0;
  for (const std::vector<TokenScore>& proposals : scores) {
    position = static_cast<std::size_t>(std::find(ids.begin() + static_cast<std::ptrdiff_t>(position), ids.end(), mask_id) -
                                        ids.begin());
    std::vector<FillMaskCandidate>& row = out.emplace_back();
    for (const TokenScore& p : proposals) {
      std::vector<std::int32_t> filled = ids;
      filled[position] = p.token;
      const std::int32_t one[] = {p.token};
      row.push_back({p.score, p.token, tokenizer.decode(std::span<const std::int32_t>(one), {}),
                     tokenizer.decode(std::span<const std::int32_t>(filled), {.skip_special_tokens = single_mask})});
    }
    ++position;
  }
  return out;
}

}  // namespace foundry::heads
