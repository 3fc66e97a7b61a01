// text/encoding.hpp: Encoding, the model inputs of one sequence or pair as plain vectors, and the
// length policies of HF's tokenizers: truncation (longest_first, only_first, only_second) against a
// max_length that counts special tokens, and right padding of a batch to its longest member or to
// max_length. Turning encodings into Tensors belongs to the collators, not here.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "foundry/core/error.hpp"

namespace foundry::text {

// Four parallel vectors of one length T: token ids, segment (0 first sequence, 1 second),
// 1 for real tokens and 0 for padding, 1 for [CLS]/[SEP]/[PAD] and 0 for text tokens.
struct Encoding {
  std::vector<std::int32_t> ids, token_type_ids, attention_mask, special_tokens_mask;
  std::size_t size() const noexcept { return ids.size(); }
  friend bool operator==(const Encoding&, const Encoding&) = default;
};

enum class Truncation {
  kNone,
  kLongestFirst,  // drop the last token of the longer sequence (the second on ties) until it fits
  kOnlyFirst,     // cut the end of the first sequence only
  kOnlySecond,    // cut the end of the second sequence only
};

enum class Padding {
  kNone,
  kLongest,    // to the longest encoding of the batch
  kMaxLength,  // to max_length
};

struct EncodeOptions {
  bool add_special_tokens = true;
  std::optional<std::size_t> max_length{};  // required by truncation and by Padding::kMaxLength
  Truncation truncation = Truncation::kNone;
  Padding padding = Padding::kNone;
  std::size_t pad_to_multiple_of = 0;  // round the padded length up to a multiple of this (0: off)
};

// Shortens `a` and `b` in place so that a + b + n_special tokens fit max_length, like HF's
// truncate_sequences. Where HF would log an error and return the input unchanged (the chosen
// sequence is too short to give up enough tokens), this throws ValueError.
inline void truncate(std::vector<std::int32_t>& a, std::vector<std::int32_t>* b, std::size_t n_special,
                     std::size_t max_length, Truncation strategy) {
  const std::size_t total = a.size() + (b ? b->size() : 0) + n_special;
  if (strategy == Truncation::kNone || total <= max_length) return;
  std::size_t remove = total - max_length;
  const auto cut = [&](std::vector<std::int32_t>& seq, const char* which) {
    if (seq.size() <= remove) {
      foundry::detail::fail<ValueError>("truncate: max_length ", max_length, " needs ", remove, " tokens removed but the ", which,
                               " sequence has only ", seq.size(), "; ", total, " tokens with ", n_special,
                               " special tokens");
    }
    seq.resize(seq.size() - remove);
  };
  if (strategy == Truncation::kOnlyFirst || (strategy == Truncation::kLongestFirst && b == nullptr)) {
    cut(a, "first");
  } else if (strategy == Truncation::kOnlySecond) {
    if (b == nullptr) foundry::detail::fail<ValueError>("truncate: only_second needs a pair of sequences");
    cut(*b, "second");
  } else {
    for (; remove > 0 && !(a.empty() && b->empty()); --remove) {
      if (a.size() > b->size()) {
        a.pop_back();
      } else {
        b->pop_back();
      }
    }
    if (remove > 0) {
      foundry::detail::fail<ValueError>("truncate: max_length ", max_length, " is below the ", n_special, " special tokens");
    }
  }
}

// [CLS] a [SEP] or [CLS] a [SEP] b [SEP] with segments and masks; without special tokens, a or a b.
inline Encoding assemble(std::span<const std::int32_t> a, const std::vector<std::int32_t>* b, bool add_special_tokens,
                         std::int32_t cls_id, std::int32_t sep_id) {
  Encoding e;
  const auto put = [&](std::int32_t id, std::int32_t type, std::int32_t special) {
    e.ids.push_back(id);
    e.token_type_ids.push_back(type);
    e.attention_mask.push_back(1);
    e.special_tokens_mask.push_back(special);
  };
  if (add_special_tokens) put(cls_id, 0, 1);
  for (std::int32_t id : a) put(id, 0, 0);
  if (add_special_tokens) put(sep_id, 0, 1);
  if (b != nullptr) {
    for (std::int32_t id : *b) put(id, 1, 0);
    if (add_special_tokens) put(sep_id, 1, 1);
  }
  return e;
}

// Pads every encoding on the right to a common length; longer encodings are left alone, as in HF.
inline void pad(std::span<Encoding> batch, const EncodeOptions& options, std::int32_t pad_id) {
  std::size_t length = 0;
  if (options.padding == Padding::kNone) return;
  if (options.padding == Padding::kLongest) {
    for (const Encoding& e : batch) length = std::max(length, e.size());
  } else {
    if (!options.max_length) foundry::detail::fail<ValueError>("pad: Padding::kMaxLength needs max_length");
    length = *options.max_length;
  }
  if (const std::size_t m = options.pad_to_multiple_of; m > 0 && length % m != 0) length = (length / m + 1) * m;
  for (Encoding& e : batch) {
    if (e.size() >= length) continue;
    const std::size_t n = length - e.size();
    e.ids.insert(e.ids.end(), n, pad_id);
    e.token_type_ids.insert(e.token_type_ids.end(), n, 0);
    e.attention_mask.insert(e.attention_mask.end(), n, 0);
    e.special_tokens_mask.insert(e.special_tokens_mask.end(), n, 1);
  }
}

}  // namespace foundry::text
