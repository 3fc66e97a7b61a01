// text/pretraining_data.hpp: pretraining examples from tokenized documents. Next-sentence-prediction
// pairs by the algorithm of Google's create_pretraining_data.py (HF's TextDatasetForNextSentencePrediction
// is a copy of it), and fixed-length blocks for MLM alone: one token stream cut as run_mlm's group_texts
// does, or packing that never crosses a document. Examples are unpadded Encodings; to_batch stacks
// them and MlmCollator masks them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "foundry/core/error.hpp"
#include "foundry/core/generator.hpp"
#include "foundry/core/tensor.hpp"
#include "foundry/text/batch_encoding.hpp"
#include "foundry/text/bert_tokenizer.hpp"
#include "foundry/text/corpus.hpp"
#include "foundry/text/encoding.hpp"

namespace foundry::text {

// One document: its sentences (or lines) as token ids, without special tokens.
using Document = std::vector<std::vector<std::int32_t>>;

struct DocumentOptions {
  // false: each corpus line is one sentence, as both references expect (a sentence per line, a blank
  // line between documents). true: lines are also cut after sentence-final punctuation (. ! ? 。 ！ ？;
  // a run such as "?!" stays together), for corpora with a paragraph per line such as sotu.txt. The cut
  // is a heuristic: "Mr. Smith" becomes two sentences.
  bool split_sentences = false;
};

// The documents of `corpus` tokenized, index for index (a document whose lines hold no tokens stays,
// empty; empty sentences are dropped).
//   auto docs = tokenize_documents(read_corpus(path, DocumentLayout::kBlankLineSeparated), tok, {.split_sentences = true});
inline std::vector<Document> tokenize_documents(const Corpus& corpus, const BertTokenizer& tokenizer,
                                                const DocumentOptions& options = {}) {
  std::vector<std::int32_t> enders;
  if (options.split_sentences) {
    for (std::string_view p : {".", "!", "?", "\u3002", "\uFF01", "\uFF1F"})
      if (const std::int32_t id = tokenizer.vocab().find(p); id >= 0) enders.push_back(id);
  }
  const auto is_ender = [&](std::int32_t id) { return std::find(enders.begin(), enders.end(), id) != enders.end(); };
  std::vector<Document> documents(corpus.documents.size());
  std::vector<std::int32_t> ids;
  for (std::size_t d = 0; d < corpus.documents.size(); ++d) {
    for (const std::string& line : corpus.documents[d]) {
      ids.clear();
      tokenizer.append_ids(line, ids);
      std::size_t start = 0;
      for (std::size_t i = 0; i < ids.size(); ++i) {
        const bool cut = !enders.empty() && is_ender(ids[i]) && (i + 1 == ids.size() || !is_ender(ids[i + 1]));
        if (cut || i + 1 == ids.size()) {
          documents[d].emplace_back(ids.begin() + static_cast<std::ptrdiff_t>(start), ids.begin() + static_cast<std::ptrdiff_t>(i + 1));
          start = i + 1;
        }
      }
    }
  }
  return documents;
}

struct NspOptions {
  std::size_t max_seq_length = 128;  // [CLS] A [SEP] B [SEP] never exceeds it
  double short_seq_prob = 0.1;       // chance that a document aims at a random length in [2, max - 3] instead
  double nsp_probability = 0.5;      // chance of a random B for a chunk of two or more segments
};

struct NspExample {
  Encoding encoding;                 // [CLS] A [SEP] B [SEP], unpadded; token type 1 on B [SEP]
  std::int64_t next_sentence_label;  // 0: B continues A (IsNext, as HF), 1: B comes from another document
  std::size_t document;              // index of A's document
  std::size_t b_document;            // index of B's document: `document` when the label is 0
};

namespace detail {

// Google's randint(a, b): an integer in [a, b], both ends included.
inline std::size_t randint_closed(Generator& gen, std::size_t a, std::size_t b) { return a + gen.randint(b - a + 1); }

// truncate_seq_pair: while A + B exceeds max_tokens, drop a token from the longer one (B on ties),
// from its front or back with equal chance, so the model sees both kinds of cut. Works on [lo, hi)
// windows so a long cut is linear, not quadratic.
inline void truncate_seq_pair(std::vector<std::int32_t>& a, std::vector<std::int32_t>& b, std::size_t max_tokens, Generator& gen) {
  std::size_t a_lo = 0, a_hi = a.size(), b_lo = 0, b_hi = b.size();
  while ((a_hi - a_lo) + (b_hi - b_lo) > max_tokens) {
    const bool cut_a = a_hi - a_lo > b_hi - b_lo;
    std::size_t& lo = cut_a ? a_lo : b_lo;
    std::size_t& hi = cut_a ? a_hi : b_hi;
    if (gen.uniform() < 0.5) {
      ++lo;
    } else {
      --hi;
    }
  }
  a = std::vector<std::int32_t>(a.begin() + static_cast<std::ptrdiff_t>(a_lo), a.begin() + static_cast<std::ptrdiff_t>(a_hi));
  b = std::vector<std::int32_t>(b.begin() + static_cast<std::ptrdiff_t>(b_lo), b.begin() + static_cast<std::ptrdiff_t>(b_hi));
}

}  // namespace detail

// NSP examples from every document, in document order, as create_instances_from_document:
// accumulate a document's sentences until they reach the target length (max_seq_length - 3, or with
// short_seq_prob a random shorter one, drawn once per document); cut the chunk at a random sentence
// boundary into A and B; with nsp_probability (and always when the chunk is one sentence) replace B
// by sentences from a random position of another document, uniform over the others, and put the unused
// sentences of the chunk back for the next example; finally truncate the pair to max_seq_length - 3.
// A never crosses a document. One-sentence chunks make label 1 a little more frequent than
// nsp_probability, as in both references. Google's script also repeats all this dupe_factor times with
// masks fixed in advance; here masking is dynamic, in MlmCollator, as in HF: call again with the same
// generator for another epoch's pairs. Shuffle the examples before batching (text::shuffle).
inline std::vector<NspExample> create_nsp_examples(std::span<const Document> documents, const BertTokenizer& tokenizer,
                                                   const NspOptions& options, Generator& gen) {
  if (options.max_seq_length < 5) {
    foundry::detail::fail<ValueError>("create_nsp_examples: max_seq_length ", options.max_seq_length,
                                      " leaves no room for A and B next to [CLS] [SEP] [SEP]; it must be at least 5");
  }
  for (const auto& [name, p] : {std::pair{"short_seq_prob", options.short_seq_prob}, std::pair{"nsp_probability", options.nsp_probability}}) {
    if (!(p >= 0.0 && p <= 1.0)) foundry::detail::fail<ValueError>("create_nsp_examples: ", name, " must be in [0, 1], got ", p);
  }
  // Non-empty sentences of each document, and the documents that have any (the references drop the rest).
  std::vector<std::vector<const std::vector<std::int32_t>*>> sentences(documents.size());
  std::vector<std::size_t> usable, rank(documents.size());
  for (std::size_t d = 0; d < documents.size(); ++d) {
    for (const auto& s : documents[d])
      if (!s.empty()) sentences[d].push_back(&s);
    rank[d] = usable.size();
    if (!sentences[d].empty()) usable.push_back(d);
  }
  if (usable.size() < 2) {
    foundry::detail::fail<ValueError>("create_nsp_examples: random next segments need at least 2 documents with tokens, got ",
                                      usable.size(), " of ", documents.size());
  }
  const std::int32_t cls = tokenizer.cls_id(), sep = tokenizer.sep_id();
  const std::size_t max_tokens = options.max_seq_length - 3;
  std::vector<NspExample> examples;
  std::vector<std::int32_t> a, b;
  for (const std::size_t d : usable) {
    const auto& doc = sentences[d];
    std::size_t target = max_tokens;
    if (gen.uniform() < options.short_seq_prob) target = detail::randint_closed(gen, 2, max_tokens);
    std::size_t chunk_begin = 0, chunk_length = 0;  // the chunk is doc[chunk_begin, i]
    for (std::size_t i = 0; i < doc.size(); ++i) {
      chunk_length += doc[i]->size();
      if (i + 1 < doc.size() && chunk_length < target) continue;
      const std::size_t n_chunk = i + 1 - chunk_begin;
      const std::size_t a_end = n_chunk >= 2 ? detail::randint_closed(gen, 1, n_chunk - 1) : 1;
      a.clear();
      b.clear();
      for (std::size_t j = 0; j < a_end; ++j) a.insert(a.end(), doc[chunk_begin + j]->begin(), doc[chunk_begin + j]->end());
      NspExample example{.encoding = {}, .next_sentence_label = 0, .document = d, .b_document = d};
      if (n_chunk == 1 || gen.uniform() < options.nsp_probability) {
        example.next_sentence_label = 1;
        std::size_t other = gen.randint(usable.size() - 1);  // uniform over the usable documents but d
        if (other >= rank[d]) ++other;
        example.b_document = usable[other];
        const auto& random_doc = sentences[example.b_document];
        const std::size_t target_b = target > a.size() ? target - a.size() : 0;
        for (std::size_t j = detail::randint_closed(gen, 0, random_doc.size() - 1); j < random_doc.size(); ++j) {
          b.insert(b.end(), random_doc[j]->begin(), random_doc[j]->end());
          if (b.size() >= target_b) break;
        }
        i -= n_chunk - a_end;  // the chunk's unused sentences start the next chunk
      } else {
        for (std::size_t j = chunk_begin + a_end; j <= i; ++j) b.insert(b.end(), doc[j]->begin(), doc[j]->end());
      }
      detail::truncate_seq_pair(a, b, max_tokens, gen);
      example.encoding = assemble(a, &b, true, cls, sep);
      examples.push_back(std::move(example));
      chunk_begin = i + 1;
      chunk_length = 0;
    }
  }
  return examples;
}

enum class Packing {
  kStream,     // run_mlm's group_texts: all documents as one stream, a [SEP] after each document, cut into
               // full blocks (the last partial block is dropped); blocks cross documents
  kDocument,   // each document's tokens cut alone: no block holds two documents; a document's last block
               // may be shorter
  kSentences,  // whole sentences of one document per block (RoBERTa's DOC-SENTENCES); a sentence longer
               // than a block is cut, its remainder starts the next block
};

struct PackOptions {
  std::size_t max_seq_length = 128;  // block length, [CLS] and [SEP] included
  Packing packing = Packing::kDocument;
};

// Blocks [CLS] tokens [SEP] for MLM without NSP, token type 0, unpadded; at most max_seq_length long.
inline std::vector<Encoding> pack_blocks(std::span<const Document> documents, const BertTokenizer& tokenizer,
                                         const PackOptions& options = {}) {
  if (options.max_seq_length < 3) {
    foundry::detail::fail<ValueError>("pack_blocks: max_seq_length ", options.max_seq_length,
                                      " leaves no room for a token between [CLS] and [SEP]; it must be at least 3");
  }
  const std::int32_t cls = tokenizer.cls_id(), sep = tokenizer.sep_id();
  const std::size_t capacity = options.max_seq_length - 2;
  std::vector<Encoding> blocks;
  std::vector<std::int32_t> block;
  const auto emit = [&] {
    if (block.empty()) return;
    Encoding e = assemble(block, nullptr, true, cls, sep);
    if (options.packing == Packing::kStream) {  // the [SEP]s that close documents are special: never masked
      for (std::size_t i = 1; i + 1 < e.size(); ++i) e.special_tokens_mask[i] = e.ids[i] == sep ? 1 : 0;
    }
    blocks.push_back(std::move(e));
    block.clear();
  };
  // Appends `tokens`, emitting every block that fills up on the way.
  const auto append = [&](std::span<const std::int32_t> tokens) {
    while (!tokens.empty()) {
      const std::size_t n = std::min(tokens.size(), capacity - block.size());
      block.insert(block.end(), tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(n));
      tokens = tokens.subspan(n);
      if (block.size() == capacity) emit();
    }
  };
  for (const Document& doc : documents) {
    for (const auto& sentence : doc) {
      if (options.packing == Packing::kSentences && block.size() + sentence.size() > capacity) emit();
      append(sentence);
    }
    if (options.packing == Packing::kStream) {
      bool any = false;
      for (const auto& s : doc) any = any || !s.empty();
      if (any) append(std::span<const std::int32_t>(&sep, 1));
    } else {
      emit();
    }
  }
  return blocks;  // kStream: the partial block left in `block` is dropped, as group_texts drops its remainder
}

// NSP examples as one batch: to_batch of their encodings plus next_sentence_label [B].
inline BatchEncoding to_batch(std::span<const NspExample> examples, const BertTokenizer& tokenizer) {
  std::vector<Encoding> encodings;
  encodings.reserve(examples.size());
  std::vector<std::int64_t> labels;
  for (const NspExample& e : examples) {
    encodings.push_back(e.encoding);
    labels.push_back(e.next_sentence_label);
  }
  BatchEncoding batch = to_batch(encodings, tokenizer);
  batch.next_sentence_label = Tensor<std::int64_t>::from(labels, {static_cast<Index>(labels.size())});
  return batch;
}

}  // namespace foundry::text
