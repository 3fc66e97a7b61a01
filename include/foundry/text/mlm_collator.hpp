// text/mlm_collator.hpp: MlmCollator, masked-language-model batches as Hugging Face's
// DataCollatorForLanguageModeling makes them (and, with whole_word_mask, DataCollatorForWholeWordMask):
// pick mlm_probability of the text tokens, replace 80% of the picks by [MASK], 10% by a random token
// and keep 10%; labels hold the original id at the picks and -100 elsewhere. Every draw comes from the
// caller's Generator, so (seed, offset) replays a batch exactly. Stacking and padding: batch_encoding.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "foundry/core/error.hpp"
#include "foundry/core/generator.hpp"
#include "foundry/core/tensor.hpp"
#include "foundry/text/batch_encoding.hpp"
#include "foundry/text/bert_tokenizer.hpp"
#include "foundry/text/encoding.hpp"

namespace foundry::text {

struct MlmOptions {
  double mlm_probability = 0.15;     // chance that a text token is picked; whole words: the share of tokens picked
  double mask_replace_prob = 0.8;    // of the picks: [MASK]
  double random_replace_prob = 0.1;  // of the picks: a random token; the remaining 0.1 keep their id
  // Pick whole words (a token and its "##" pieces, or runs of equal BatchEncoding::word_ids) until
  // round(mlm_probability * real tokens) are picked, as DataCollatorForWholeWordMask / BERT's
  // create_pretraining_data. Off: each text token is picked independently, as DataCollatorForLanguageModeling.
  bool whole_word_mask = false;
  std::size_t max_predictions = 512;  // whole words only: at most this many picks per row (HF's default)
  // false (HF): random tokens are uniform over the whole vocabulary, [CLS] [MASK] ... included, as
  // HF's torch.randint(len(tokenizer)). true: uniform over the non-special tokens only.
  bool random_excludes_special = false;
};

// Usage:
//   MlmCollator collate(tokenizer);                      // or {.whole_word_mask = true}
//   Generator gen(42);
//   BatchEncoding b = collate(batch_encode(tokenizer, texts, {.padding = Padding::kLongest}), gen);
//   auto out = mlm.forward({b.input_ids, b.attention_mask, b.token_type_ids}, b.labels);
//
// What is never picked: positions with special_tokens_mask 1 ([CLS] [SEP] [PAD]) or attention_mask 0.
// A batch without special_tokens_mask treats the ids of [UNK] [SEP] [PAD] [CLS] [MASK] as special, as
// HF does when the mask is not given. Text tokens that happen to be [UNK] can be picked, as in HF's
// run_mlm (which passes the tokenizer's special_tokens_mask).
//
// Whole words differ from DataCollatorForWholeWordMask in two deliberate details: the share counts the
// real tokens of a row ([CLS] and [SEP] included, padding not; HF counts every token of the example it
// is handed, so examples that arrive padded lower its rate), and a "##" piece joins only the word right
// before it (HF appends it to the last word seen, even across [SEP]). Like both references, a row with
// any text gets at least one pick, whatever mlm_probability.
class MlmCollator {
 public:
  explicit MlmCollator(const BertTokenizer& tokenizer, MlmOptions options = {})
      : options_(options), mask_id_(tokenizer.mask_id()), vocab_size_(tokenizer.vocab().size()) {
    const auto probability = [](const char* name, double p) {
      if (!(p >= 0.0 && p <= 1.0)) foundry::detail::fail<ValueError>("MlmCollator: ", name, " must be in [0, 1], got ", p);
    };
    probability("mlm_probability", options_.mlm_probability);
    probability("mask_replace_prob", options_.mask_replace_prob);
    probability("random_replace_prob", options_.random_replace_prob);
    if (options_.mask_replace_prob + options_.random_replace_prob > 1.0 + 1e-12) {
      foundry::detail::fail<ValueError>("MlmCollator: mask_replace_prob ", options_.mask_replace_prob, " + random_replace_prob ",
                                        options_.random_replace_prob, " exceeds 1");
    }
    // HF draws "random" among the picks left after [MASK], so its probability is scaled by what is left.
    const double left = 1.0 - options_.mask_replace_prob;
    random_given_unmasked_ = left > 0.0 ? std::min(1.0, options_.random_replace_prob / left) : 0.0;
    const Vocab& vocab = tokenizer.vocab();
    const std::int32_t pad = vocab.find(tokenizer.options().special_tokens.pad);
    pad_id_ = pad;
    continuation_.resize(static_cast<std::size_t>(vocab_size_));
    special_.resize(static_cast<std::size_t>(vocab_size_));
    std::int32_t n_special = 0;
    for (std::int32_t id = 0; id < vocab_size_; ++id) {
      continuation_[static_cast<std::size_t>(id)] = vocab.token(id).starts_with("##");
      special_[static_cast<std::size_t>(id)] = tokenizer.is_special_id(id);
      n_special += tokenizer.is_special_id(id);
    }
    if (options_.random_excludes_special && n_special == vocab_size_) {
      foundry::detail::fail<ValueError>("MlmCollator: random_excludes_special, but all ", vocab_size_,
                                        " vocabulary tokens are special");
    }
  }

  const MlmOptions& options() const noexcept { return options_; }

  // batch: [B, S] tensors (at least input_ids). Returns a copy whose input_ids are masked and whose
  // labels [B, S] hold the original ids at the picks and -100 elsewhere; the other tensors are shared.
  BatchEncoding operator()(const BatchEncoding& batch, Generator& gen) const {
    check_shapes(batch);
    const Index B = batch.input_ids.size(0), S = batch.input_ids.size(1), N = B * S;
    const Tensor<std::int64_t> ids = batch.input_ids.contiguous_data();
    const Tensor<std::int64_t> special = contiguous_or_undefined(batch.special_tokens_mask);
    const Tensor<std::int64_t> attention = contiguous_or_undefined(batch.attention_mask);
    std::vector<std::uint8_t> eligible(static_cast<std::size_t>(N));
    for (Index i = 0; i < N; ++i) {
      const std::int64_t id = ids.data()[i];
      if (id < 0 || id >= vocab_size_) {
        foundry::detail::fail<ValueError>("MlmCollator: input_ids[", i / S, ", ", i % S, "] = ", id,
                                          " is outside the vocabulary of ", vocab_size_, " tokens");
      }
      const bool is_special = special.defined() ? special.data()[i] != 0 : special_[static_cast<std::size_t>(id)] != 0;
      const bool is_real = !attention.defined() || attention.data()[i] != 0;
      eligible[static_cast<std::size_t>(i)] = !is_special && is_real;
    }

    std::vector<std::uint8_t> picked(static_cast<std::size_t>(N), 0);
    if (options_.whole_word_mask) {
      pick_whole_words(batch, ids, attention, eligible, picked, gen);
    } else {
      // torch.bernoulli(probability_matrix) with 0 at the ineligible positions.
      const std::uint64_t base = gen.reserve_blocks(static_cast<std::uint64_t>((N + 1) / 2));
      for (Index i = 0; i < N; ++i)
        picked[static_cast<std::size_t>(i)] = eligible[static_cast<std::size_t>(i)] && gen.uniform_at<double>(base, i) < options_.mlm_probability;
    }

    BatchEncoding out = batch;
    out.input_ids = ids.clone_data();
    out.labels = Tensor<std::int64_t>::full(batch.input_ids.shape(), -100);
    std::int64_t* masked = out.input_ids.data();
    std::int64_t* labels = out.labels.data();
    // One Philox block per position: its first uniform decides [MASK], its second "random" among the
    // rest (HF's two Bernoulli matrices), so a pick's fate does not depend on the other picks.
    const std::uint64_t base = gen.reserve_blocks(static_cast<std::uint64_t>(N));
    std::vector<Index> randomized;
    for (Index i = 0; i < N; ++i) {
      if (!picked[static_cast<std::size_t>(i)]) continue;
      labels[i] = ids.data()[i];
      const auto block = foundry::detail::philox(base + static_cast<std::uint64_t>(i), gen.seed());
      if (foundry::detail::unit_double(block[0], block[1]) < options_.mask_replace_prob) {
        masked[i] = mask_id_;
      } else if (foundry::detail::unit_double(block[2], block[3]) < random_given_unmasked_) {
        randomized.push_back(i);
      }
    }
    for (Index i : randomized) masked[i] = random_token(gen);
    return out;
  }

  // Encodings of any lengths: padded to the longest with [PAD] (as HF's collator calls
  // tokenizer.pad), then masked.
  BatchEncoding operator()(std::span<const Encoding> encodings, Generator& gen) const {
    const auto pad = [&]() -> std::int64_t {
      if (pad_id_ < 0) foundry::detail::fail<ValueError>("MlmCollator: padding needs [PAD], which is not in the vocabulary");
      return pad_id_;
    };
    const auto is_continuation = [&](std::int32_t id) { return continuation_[static_cast<std::size_t>(id)] != 0; };
    return (*this)(detail::stack("MlmCollator", encodings, vocab_size_, pad, is_continuation), gen);
  }

 private:
  static Tensor<std::int64_t> contiguous_or_undefined(const Tensor<std::int64_t>& t) {
    return t.defined() ? t.contiguous_data() : Tensor<std::int64_t>();
  }

  static void check_shapes(const BatchEncoding& batch) {
    const Tensor<std::int64_t>& ids = batch.input_ids;
    if (!ids.defined() || ids.dim() != 2) {
      foundry::detail::fail<ShapeError>("MlmCollator: input_ids must be [B, S], got ", ids.defined() ? ids.shape().str() : "undefined");
    }
    for (const auto& [name, t] : {std::pair{"attention_mask", &batch.attention_mask}, std::pair{"token_type_ids", &batch.token_type_ids},
                                  std::pair{"special_tokens_mask", &batch.special_tokens_mask}, std::pair{"word_ids", &batch.word_ids}}) {
      if (t->defined() && t->shape() != ids.shape())
        foundry::detail::fail<ShapeError>("MlmCollator: ", name, " shape ", t->shape(), " does not match input_ids ", ids.shape());
    }
  }

  // DataCollatorForWholeWordMask._whole_word_mask, row by row: shuffle the words, then take them in
  // that order while they fit in num_to_predict picks (a word that would overshoot is skipped).
  void pick_whole_words(const BatchEncoding& batch, const Tensor<std::int64_t>& ids, const Tensor<std::int64_t>& attention,
                        const std::vector<std::uint8_t>& eligible, std::vector<std::uint8_t>& picked, Generator& gen) const {
    const Index B = ids.size(0), S = ids.size(1);
    const Tensor<std::int64_t> words = contiguous_or_undefined(batch.word_ids);
    const Tensor<std::int64_t> types = contiguous_or_undefined(batch.token_type_ids);
    struct Word {
      Index start, length;
    };
    std::vector<Word> candidates;
    for (Index r = 0; r < B; ++r) {
      const Index row = r * S;
      candidates.clear();
      Index real = 0;
      for (Index j = 0; j < S; ++j) {
        const Index i = row + j;
        real += !attention.defined() || attention.data()[i] != 0;
        if (!eligible[static_cast<std::size_t>(i)]) continue;
        const bool continues = j > 0 && eligible[static_cast<std::size_t>(i - 1)] &&
                               (words.defined() ? words.data()[i] >= 0 && words.data()[i] == words.data()[i - 1] &&
                                                      (!types.defined() || types.data()[i] == types.data()[i - 1])
                                                : continuation_[static_cast<std::size_t>(ids.data()[i])] != 0);
        if (continues) {
          ++candidates.back().length;
        } else {
          candidates.push_back({j, 1});
        }
      }
      if (candidates.empty()) continue;
      shuffle(std::span<Word>(candidates), gen);
      // Python's int(round(x)): ties to even, as nearbyint in the default rounding mode.
      const auto target = static_cast<Index>(std::nearbyint(static_cast<double>(real) * options_.mlm_probability));
      const Index budget = std::min(static_cast<Index>(options_.max_predictions), std::max<Index>(1, target));
      Index taken = 0;
      for (const Word& w : candidates) {
        if (taken >= budget) break;
        if (taken + w.length > budget) continue;
        for (Index k = 0; k < w.length; ++k) picked[static_cast<std::size_t>(row + w.start + k)] = 1;
        taken += w.length;
      }
    }
  }

  std::int64_t random_token(Generator& gen) const {
    for (;;) {
      const auto id = static_cast<std::int64_t>(gen.randint(static_cast<std::uint64_t>(vocab_size_)));
      if (!options_.random_excludes_special || !special_[static_cast<std::size_t>(id)]) return id;
    }
  }

  MlmOptions options_;
  std::int32_t mask_id_, vocab_size_, pad_id_ = -1;
  double random_given_unmasked_ = 0.0;
  std::vector<std::uint8_t> continuation_, special_;  // per vocabulary id: starts with "##", is special
};

}  // namespace foundry::text
