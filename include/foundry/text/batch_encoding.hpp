// text/batch_encoding.hpp: BatchEncoding, a batch of encodings as the int64 Tensors [B, S] that
// models::BertInputs and the heads take, plus what the collators need: the special-tokens mask and
// word ids (for whole-word masking). Encodings of different lengths are right-padded to the longest,
// as HF's tokenizer.pad(padding=True). Masking is mlm_collator.hpp; building examples from documents
// is pretraining_data.hpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "foundry/core/error.hpp"
#include "foundry/core/generator.hpp"
#include "foundry/core/tensor.hpp"
#include "foundry/text/bert_tokenizer.hpp"
#include "foundry/text/encoding.hpp"

namespace foundry::text {

// The first three fields are models::BertInputs' in its order, so a batch feeds a model as
//   models::BertInputs in{b.input_ids, b.attention_mask, b.token_type_ids};
//   auto out = mlm.forward(in, b.labels);                        // heads::BertForMaskedLM
//   auto out = pre.forward(in, b.labels, b.next_sentence_label);  // heads::BertForPreTraining
struct BatchEncoding {
  Tensor<std::int64_t> input_ids;            // [B, S]
  Tensor<std::int64_t> attention_mask;       // [B, S], 1 real token, 0 padding
  Tensor<std::int64_t> token_type_ids;       // [B, S], 0 first sequence, 1 second
  Tensor<std::int64_t> special_tokens_mask;  // [B, S], 1 at [CLS] [SEP] [PAD], 0 at text tokens
  Tensor<std::int64_t> word_ids;             // [B, S], word index within its sequence; -1 at specials, padding
  Tensor<std::int64_t> labels;               // [B, S], MLM targets, -100 = not scored; set by MlmCollator
  Tensor<std::int64_t> next_sentence_label;  // [B], 0 = B follows A, 1 = B is random; NSP batches only

  Index batch_size() const { return input_ids.defined() ? input_ids.size(0) : 0; }
  Index seq_length() const { return input_ids.defined() ? input_ids.size(1) : 0; }
};

// Fisher-Yates over `items` with foundry's Generator (never std::shuffle, whose draws are
// implementation-defined): the same seed gives the same order everywhere.
template <class T>
void shuffle(std::span<T> items, Generator& gen) {
  for (std::size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[gen.randint(i)]);
}

namespace detail {

// Word ids of one encoding, as a fast tokenizer's word_ids(): a word is a token and the "##" pieces
// that follow it in the same sequence; words count from 0 in each sequence (so a pair restarts at
// B); specials and padding get -1. A "##" piece with no word before it (a block cut mid-word)
// starts a word of its own. is_continuation(id) says whether token `id` starts with "##".
template <class IsContinuation>
void word_ids_into(const Encoding& e, IsContinuation&& is_continuation, std::int64_t* out) {
  std::int64_t word = -1;
  std::int32_t sequence = -1;
  bool after_text = false;  // whether position i - 1 is a text token of the same sequence
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (e.special_tokens_mask[i] != 0 || e.attention_mask[i] == 0) {
      out[i] = -1;
      after_text = false;
      continue;
    }
    if (e.token_type_ids[i] != sequence) {
      sequence = e.token_type_ids[i];
      word = -1;
      after_text = false;
    }
    if (!(after_text && is_continuation(e.ids[i]))) ++word;
    out[i] = word;
    after_text = true;
  }
}

// Stacks encodings into [B, S] tensors, right-padding the shorter ones to the longest with pad_id
// (asked for only when some encoding is shorter, so a tokenizer without [PAD] can stack equal ones).
// Every id must be in [0, vocab_size).
template <class PadId, class IsContinuation>
BatchEncoding stack(std::string_view op, std::span<const Encoding> batch, std::int32_t vocab_size, PadId&& pad_id,
                    IsContinuation&& is_continuation) {
  if (batch.empty()) foundry::detail::fail<ValueError>(op, ": empty batch, nothing to stack into [B, S]");
  std::size_t S = 0;
  for (std::size_t b = 0; b < batch.size(); ++b) {
    const Encoding& e = batch[b];
    if (e.token_type_ids.size() != e.size() || e.attention_mask.size() != e.size() || e.special_tokens_mask.size() != e.size()) {
      foundry::detail::fail<ValueError>(op, ": encoding ", b, " is ragged: ", e.size(), " ids, ", e.token_type_ids.size(),
                                        " token_type_ids, ", e.attention_mask.size(), " attention_mask, ",
                                        e.special_tokens_mask.size(), " special_tokens_mask");
    }
    S = std::max(S, e.size());
  }
  const auto B = static_cast<Index>(batch.size());
  const Shape shape{B, static_cast<Index>(S)};
  BatchEncoding out;
  out.input_ids = Tensor<std::int64_t>::empty(shape);
  out.attention_mask = Tensor<std::int64_t>::zeros(shape);
  out.token_type_ids = Tensor<std::int64_t>::zeros(shape);
  out.special_tokens_mask = Tensor<std::int64_t>::ones(shape);
  out.word_ids = Tensor<std::int64_t>::full(shape, -1);
  std::int64_t pad = -1;
  for (std::size_t b = 0; b < batch.size(); ++b) {
    const Encoding& e = batch[b];
    const std::size_t row = b * S;
    for (std::size_t i = 0; i < e.size(); ++i) {
      if (e.ids[i] < 0 || e.ids[i] >= vocab_size) {
        foundry::detail::fail<ValueError>(op, ": encoding ", b, " has id ", e.ids[i], " at position ", i,
                                          ", outside the vocabulary of ", vocab_size, " tokens");
      }
      out.input_ids.data()[row + i] = e.ids[i];
      out.attention_mask.data()[row + i] = e.attention_mask[i];
      out.token_type_ids.data()[row + i] = e.token_type_ids[i];
      out.special_tokens_mask.data()[row + i] = e.special_tokens_mask[i];
    }
    if (e.size() < S && pad < 0) pad = pad_id();
    std::fill(out.input_ids.data() + row + e.size(), out.input_ids.data() + row + S, pad);
    word_ids_into(e, is_continuation, out.word_ids.data() + row);
  }
  return out;
}

}  // namespace detail

// Word ids of one encoding under `vocab` (see detail::word_ids_into): [CLS] un ##want ##ed , [SEP]
// gives -1 0 0 0 1 -1.
inline std::vector<std::int64_t> word_ids(const Encoding& e, const Vocab& vocab) {
  std::vector<std::int64_t> out(e.size());
  detail::word_ids_into(e, [&](std::int32_t id) { return vocab.token(id).starts_with("##"); }, out.data());
  return out;
}

// Encodings (e.g. from BertTokenizer::encode_batch) as one batch; shorter ones are padded to the
// longest with the tokenizer's [PAD].
inline BatchEncoding to_batch(std::span<const Encoding> encodings, const BertTokenizer& tokenizer) {
  const Vocab& vocab = tokenizer.vocab();
  return detail::stack("to_batch", encodings, vocab.size(), [&] { return tokenizer.pad_id(); },
                       [&](std::int32_t id) { return vocab.token(id).starts_with("##"); });
}

// HF's tokenizer(texts, return_tensors="pt"): encode_batch with `options` (truncation, padding to
// max_length, ...), then to_batch, which pads to the longest when options leave lengths unequal.
//   BatchEncoding b = batch_encode(tok, texts, {.max_length = 128, .truncation = Truncation::kLongestFirst});
template <class Texts>
BatchEncoding batch_encode(const BertTokenizer& tokenizer, const Texts& texts, const EncodeOptions& options = {}) {
  const std::vector<Encoding> encodings = tokenizer.encode_batch(texts, options);
  return to_batch(encodings, tokenizer);
}

// The same for pairs (anything with .first and .second): token_type_ids 1 on the second sequence.
template <class Pairs>
BatchEncoding batch_encode_pairs(const BertTokenizer& tokenizer, const Pairs& pairs, const EncodeOptions& options = {}) {
  const std::vector<Encoding> encodings = tokenizer.encode_pair_batch(pairs, options);
  return to_batch(encodings, tokenizer);
}

}  // namespace foundry::text
