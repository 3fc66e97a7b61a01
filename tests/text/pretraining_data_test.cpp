// tests/text/pretraining_data_test.cpp mirrors include/foundry/text/pretraining_data.hpp. Synthetic
// documents give every sentence its own token id (5 + document * kStride + sentence), so each token
// says where it came from: A and B layout, document boundaries and true-next order are checked exactly,
// the NSP label ratio statistically.
#include "foundry/text/pretraining_data.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "foundry/core/print.hpp"
#include "foundry/heads/mlm_head.hpp"
#include "foundry/heads/pretraining.hpp"
#include "foundry/ops/tensor_methods.hpp"
#include "foundry/text/mlm_collator.hpp"

namespace foundry::text {
namespace pretraining_data_test {

using Ids = std::vector<std::int32_t>;
using I64 = Tensor<std::int64_t>;
using testing::StrEq;
using testing::ThrowsMessage;

constexpr std::int32_t kCls = 2, kSep = 3, kStride = 3000, kDocs = 20;

// [PAD] [UNK] [CLS] [SEP] [MASK], then "t5" ... one token per (document, sentence) of synthetic_documents.
const BertTokenizer& id_tokenizer() {
  static const BertTokenizer tok = [] {
    std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (std::int32_t id = 5; id < 5 + kDocs * kStride; ++id) tokens.push_back(std::string("t").append(std::to_string(id)));
    return BertTokenizer(Vocab(std::move(tokens)));
  }();
  return tok;
}

std::int32_t doc_of(std::int32_t id) { return (id - 5) / kStride; }
std::int32_t sentence_of(std::int32_t id) { return (id - 5) % kStride; }

// D documents of n sentences; sentence s of document d is 1..max_length copies of 5 + d * kStride + s.
std::vector<Document> synthetic_documents(std::int32_t D, std::int32_t n, std::uint64_t max_length, std::uint64_t seed) {
  Generator g(seed);
  std::vector<Document> docs(static_cast<std::size_t>(D));
  for (std::int32_t d = 0; d < D; ++d)
    for (std::int32_t s = 0; s < n; ++s) docs[static_cast<std::size_t>(d)].push_back(Ids(1 + g.randint(max_length), 5 + d * kStride + s));
  return docs;
}

struct SplitPair {
  Ids a, b;
};

// Checks the [CLS] A [SEP] B [SEP] layout of an encoding and returns A and B.
SplitPair split_nsp_encoding(const Encoding& e) {
  SplitPair p;
  std::size_t i = 1;
  for (; i < e.size() && e.ids[i] != kSep; ++i) p.a.push_back(e.ids[i]);
  for (++i; i + 1 < e.size(); ++i) p.b.push_back(e.ids[i]);
  EXPECT_EQ(e.ids.front(), kCls);
  EXPECT_EQ(e.ids.back(), kSep);
  EXPECT_EQ(e.size(), p.a.size() + p.b.size() + 3);
  const std::size_t sep = p.a.size() + 1;
  for (std::size_t j = 0; j < e.size(); ++j) {
    EXPECT_EQ(e.token_type_ids[j], j <= sep ? 0 : 1) << "position " << j;
    EXPECT_EQ(e.special_tokens_mask[j], j == 0 || j == sep || j + 1 == e.size() ? 1 : 0) << "position " << j;
    EXPECT_EQ(e.attention_mask[j], 1);
  }
  return p;
}

TEST(TokenizeDocuments, LinesAreSentencesOrAreCutAfterFinalPunctuation) {
  // [PAD]0 [UNK]1 [CLS]2 [SEP]3 [MASK]4 un5 ##want6 ##ed7 runn8 ##ing9 low10 .11 ?12 !13
  const BertTokenizer tok(Vocab({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##want", "##ed", "runn", "##ing", "low", ".",
                                 "?", "!"}));
  Corpus corpus;
  corpus.documents = {{"Unwanted. Running?! low", "low"}, {""}};
  const auto lines = tokenize_documents(corpus, tok);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], (Document{{5, 6, 7, 11, 8, 9, 12, 13, 10}, {10}}));
  EXPECT_TRUE(lines[1].empty());  // kept, so indices match the corpus
  const auto sentences = tokenize_documents(corpus, tok, {.split_sentences = true});
  EXPECT_EQ(sentences[0], (Document{{5, 6, 7, 11}, {8, 9, 12, 13}, {10}, {10}}));
}

TEST(NspExamples, ExactPairsWhereTheDrawsCannotMatter) {
  const std::vector<Document> docs = {{{10, 11}, {12, 13}}, {{20, 21, 22}}};
  Generator g(1);
  // nsp_probability 0: doc 0 gives its true continuation; doc 1, one sentence, must take a random B.
  const auto kept = create_nsp_examples(docs, id_tokenizer(), {.max_seq_length = 64, .short_seq_prob = 0.0, .nsp_probability = 0.0}, g);
  ASSERT_EQ(kept.size(), 2u);
  const Ids true_b = {12, 13};
  EXPECT_EQ(kept[0].encoding, assemble(Ids{10, 11}, &true_b, true, kCls, kSep));
  EXPECT_EQ(kept[0].next_sentence_label, 0);
  EXPECT_EQ(kept[0].b_document, 0u);
  EXPECT_EQ(kept[1].next_sentence_label, 1);
  EXPECT_EQ(kept[1].document, 1u);
  EXPECT_EQ(kept[1].b_document, 0u);
  const SplitPair p = split_nsp_encoding(kept[1].encoding);
  EXPECT_EQ(p.a, (Ids{20, 21, 22}));
  EXPECT_TRUE(p.b == (Ids{10, 11, 12, 13}) || p.b == (Ids{12, 13})) << "B starts at a random sentence and runs on";
  // nsp_probability 1: the unused second sentence of doc 0 is put back and becomes the next A.
  const auto random = create_nsp_examples(docs, id_tokenizer(), {.max_seq_length = 64, .short_seq_prob = 0.0, .nsp_probability = 1.0}, g);
  ASSERT_EQ(random.size(), 3u);
  const Ids doc1 = {20, 21, 22};
  EXPECT_EQ(random[0].encoding, assemble(Ids{10, 11}, &doc1, true, kCls, kSep));
  EXPECT_EQ(random[1].encoding, assemble(Ids{12, 13}, &doc1, true, kCls, kSep));
  EXPECT_EQ(random[0].next_sentence_label + random[1].next_sentence_label + random[2].next_sentence_label, 3);
}

TEST(NspExamples, LayoutDocumentsAndTrueNextOrderHoldAndLabelsAreHalfRandom) {
  // 20 documents of 3000 one-to-three-token sentences: ~2700 examples of at most 64 tokens.
  const auto docs = synthetic_documents(kDocs, kStride, 3, 17);
  Generator g(5);
  const auto examples = create_nsp_examples(docs, id_tokenizer(), {.max_seq_length = 64, .short_seq_prob = 0.0}, g);
  ASSERT_GT(examples.size(), 2000u);
  double random = 0;
  for (const NspExample& e : examples) {
    ASSERT_LE(e.encoding.size(), 64u);
    const SplitPair p = split_nsp_encoding(e.encoding);
    ASSERT_FALSE(p.a.empty());
    ASSERT_FALSE(p.b.empty());
    for (std::size_t i = 0; i < p.a.size(); ++i) {
      ASSERT_EQ(doc_of(p.a[i]), static_cast<std::int32_t>(e.document)) << "A crosses a document";
      if (i > 0) {
        const std::int32_t step = sentence_of(p.a[i]) - sentence_of(p.a[i - 1]);
        ASSERT_TRUE(step == 0 || step == 1) << "A is not consecutive sentences";
      }
    }
    for (std::int32_t id : p.b) ASSERT_EQ(doc_of(id), static_cast<std::int32_t>(e.b_document));
    if (e.next_sentence_label == 0) {
      ASSERT_EQ(e.b_document, e.document);
      ASSERT_LT(sentence_of(p.a.back()), sentence_of(p.b.front())) << "a true B follows its A";
    } else {
      ASSERT_EQ(e.next_sentence_label, 1);
      ASSERT_NE(e.b_document, e.document) << "a random B comes from another document";
      ++random;
    }
  }
  // Half random, plus the rare one-sentence chunk at a document's end that must take a random B
  // (at most one per document: under 1% here). 5 standard deviations: a fixed seed, not a flaky test.
  const double n = static_cast<double>(examples.size());
  EXPECT_NEAR(random / n, 0.5, 5 * std::sqrt(0.25 / n) + kDocs / n);
  // The same seed replays the examples; another seed gives others.
  Generator again(5), other(6);
  const auto replay = create_nsp_examples(docs, id_tokenizer(), {.max_seq_length = 64, .short_seq_prob = 0.0}, again);
  const auto different = create_nsp_examples(docs, id_tokenizer(), {.max_seq_length = 64, .short_seq_prob = 0.0}, other);
  ASSERT_EQ(replay.size(), examples.size());
  for (std::size_t i = 0; i < examples.size(); ++i) {
    ASSERT_EQ(replay[i].encoding, examples[i].encoding);
    ASSERT_EQ(replay[i].next_sentence_label, examples[i].next_sentence_label);
  }
  EXPECT_FALSE(different.size() == examples.size() && different[0].encoding == examples[0].encoding &&
               different[1].encoding == examples[1].encoding);
}

TEST(NspExamples, ShortSequenceProbabilityShortensTargets) {
  const auto docs = synthetic_documents(4, 400, 3, 2);
  Generator g1(3), g2(3);
  const auto mean_length = [](const std::vector<NspExample>& examples) {
    double total = 0;
    for (const auto& e : examples) total += static_cast<double>(e.encoding.size());
    return total / static_cast<double>(examples.size());
  };
  const auto full = create_nsp_examples(docs, id_tokenizer(), {.max_seq_length = 128, .short_seq_prob = 0.0}, g1);
  const auto shortened = create_nsp_examples(docs, id_tokenizer(), {.max_seq_length = 128, .short_seq_prob = 1.0}, g2);
  EXPECT_GT(mean_length(full), 100.0);
  EXPECT_LT(mean_length(shortened), mean_length(full));
  for (const auto& e : shortened) EXPECT_LE(e.encoding.size(), 128u);
}

TEST(NspExamples, TruncationCutsTheLongerSideFromEitherEnd) {
  Ids long_a(100), long_b(100);
  for (std::int32_t i = 0; i < 100; ++i) long_a[static_cast<std::size_t>(i)] = 100 + i, long_b[static_cast<std::size_t>(i)] = 300 + i;
  const std::vector<Document> docs = {{long_a}, {long_b}};
  bool front_cut = false, back_cut = false;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    Generator g(seed);
    const auto examples = create_nsp_examples(docs, id_tokenizer(), {.max_seq_length = 32, .short_seq_prob = 0.0}, g);
    ASSERT_EQ(examples.size(), 2u);
    for (const NspExample& e : examples) {
      ASSERT_EQ(e.encoding.size(), 32u);
      const SplitPair p = split_nsp_encoding(e.encoding);
      // 100 + 100 tokens cut to 29, the longer side first and B on ties: 15 and 14, each a window.
      ASSERT_EQ(p.a.size(), 15u);
      ASSERT_EQ(p.b.size(), 14u);
      for (const Ids* side : {&p.a, &p.b})
        for (std::size_t i = 1; i < side->size(); ++i) ASSERT_EQ((*side)[i], (*side)[i - 1] + 1) << "not a contiguous window";
      front_cut = front_cut || p.a.front() != 100;
      back_cut = back_cut || p.a.back() != 199;
    }
  }
  EXPECT_TRUE(front_cut);
  EXPECT_TRUE(back_cut);
}

TEST(NspExamples, ErrorsNameTheOptionAndTheDocuments) {
  Generator g(0);
  const std::vector<Document> docs = {{{10}}, {{}}};
  EXPECT_THAT([&] { create_nsp_examples(docs, id_tokenizer(), {.max_seq_length = 4}, g); },
              ThrowsMessage<ValueError>(StrEq("create_nsp_examples: max_seq_length 4 leaves no room for A and B next to "
                                              "[CLS] [SEP] [SEP]; it must be at least 5")));
  EXPECT_THAT([&] { create_nsp_examples(docs, id_tokenizer(), {.nsp_probability = 2.0}, g); },
              ThrowsMessage<ValueError>(StrEq("create_nsp_examples: nsp_probability must be in [0, 1], got 2")));
  EXPECT_THAT([&] { create_nsp_examples(docs, id_tokenizer(), {}, g); },
              ThrowsMessage<ValueError>(StrEq("create_nsp_examples: random next segments need at least 2 documents with "
                                              "tokens, got 1 of 2")));
}

// The text tokens of a [CLS] ... [SEP] block.
Ids block_text(const Encoding& e) { return Ids(e.ids.begin() + 1, e.ids.end() - 1); }

TEST(PackBlocks, HandWorkedBlocksForEachPacking) {
  const std::vector<Document> docs = {{{10, 10, 10}, {11, 11}, {12}, {13, 13, 13, 13, 13, 13}}, {{20}}, {}};
  const auto texts = [&](Packing packing, std::size_t max_seq_length) {
    std::vector<Ids> out;
    for (const Encoding& e : pack_blocks(docs, id_tokenizer(), {.max_seq_length = max_seq_length, .packing = packing})) {
      EXPECT_EQ(e.ids.front(), kCls);
      EXPECT_EQ(e.ids.back(), kSep);
      EXPECT_LE(e.size(), max_seq_length);
      EXPECT_EQ(e.token_type_ids, Ids(e.size(), 0));
      out.push_back(block_text(e));
    }
    return out;
  };
  // Whole sentences while they fit 4 tokens; the six-token sentence is cut, its rest opens a block.
  EXPECT_EQ(texts(Packing::kSentences, 6), (std::vector<Ids>{{10, 10, 10}, {11, 11, 12}, {13, 13, 13, 13}, {13, 13}, {20}}));
  EXPECT_EQ(texts(Packing::kDocument, 6), (std::vector<Ids>{{10, 10, 10, 11}, {11, 12, 13, 13}, {13, 13, 13, 13}, {20}}));
  // One stream, a [SEP] closing each non-empty document, full blocks only: "13 [SEP] 20" crosses.
  const auto stream = pack_blocks(docs, id_tokenizer(), {.max_seq_length = 8, .packing = Packing::kStream});
  ASSERT_EQ(stream.size(), 2u);
  EXPECT_EQ(block_text(stream[0]), (Ids{10, 10, 10, 11, 11, 12}));
  EXPECT_EQ(block_text(stream[1]), (Ids{13, 13, 13, 13, 13, 13}));
  const auto crossing = pack_blocks(docs, id_tokenizer(), {.max_seq_length = 6, .packing = Packing::kStream});
  ASSERT_EQ(crossing.size(), 3u);  // 10 10 10 11 | 11 12 13 13 | 13 13 13 13; the rest, [SEP] 20 [SEP], is dropped
  const auto closing = pack_blocks(docs, id_tokenizer(), {.max_seq_length = 5, .packing = Packing::kStream});
  ASSERT_EQ(closing.size(), 5u);  // 10 10 10 | 11 11 12 | 13 13 13 | 13 13 13 | [SEP] 20 [SEP]
  EXPECT_EQ(closing[4].ids, (Ids{kCls, kSep, 20, kSep, kSep}));
  EXPECT_EQ(closing[4].special_tokens_mask, (Ids{1, 1, 0, 1, 1}));
  EXPECT_THAT([&] { pack_blocks(docs, id_tokenizer(), {.max_seq_length = 2}); },
              ThrowsMessage<ValueError>(StrEq("pack_blocks: max_seq_length 2 leaves no room for a token between [CLS] and "
                                              "[SEP]; it must be at least 3")));
}

TEST(PackBlocks, DocumentAndSentencePackingNeverCrossDocumentsAndLoseNothing) {
  const auto docs = synthetic_documents(30, 40, 20, 9);
  for (Packing packing : {Packing::kDocument, Packing::kSentences}) {
    SCOPED_TRACE(packing == Packing::kDocument ? "kDocument" : "kSentences");
    const auto blocks = pack_blocks(docs, id_tokenizer(), {.max_seq_length = 32, .packing = packing});
    std::vector<Ids> streams(docs.size());
    std::vector<std::vector<std::size_t>> cuts(docs.size());  // where each document's blocks start
    for (const Encoding& e : blocks) {
      ASSERT_LE(e.size(), 32u);
      const Ids text = block_text(e);
      ASSERT_FALSE(text.empty());
      const auto d = static_cast<std::size_t>(doc_of(text.front()));
      for (std::int32_t id : text) ASSERT_EQ(doc_of(id), static_cast<std::int32_t>(d)) << "a block crosses documents";
      cuts[d].push_back(streams[d].size());
      streams[d].insert(streams[d].end(), text.begin(), text.end());
    }
    for (std::size_t d = 0; d < docs.size(); ++d) {
      Ids whole;
      std::vector<std::size_t> sentence_starts;
      for (const auto& s : docs[d]) {
        sentence_starts.push_back(whole.size());
        whole.insert(whole.end(), s.begin(), s.end());
      }
      ASSERT_EQ(streams[d], whole) << "document " << d << " is not its blocks in order";
      // Sentences are at most 20 < 30 tokens, so sentence packing starts every block at a sentence.
      if (packing != Packing::kSentences) continue;
      for (std::size_t c : cuts[d]) {
        ASSERT_TRUE(std::count(sentence_starts.begin(), sentence_starts.end(), c)) << "block starts mid-sentence at " << c;
      }
    }
  }
  const auto stream = pack_blocks(docs, id_tokenizer(), {.max_seq_length = 32, .packing = Packing::kStream});
  for (const Encoding& e : stream) ASSERT_EQ(e.size(), 32u);
}

TEST(PretrainingData, NspBatchMaskedFeedsBertForPreTraining) {
  const auto docs = synthetic_documents(4, 12, 5, 1);
  Generator g(12);
  auto examples = create_nsp_examples(docs, id_tokenizer(), {.max_seq_length = 32}, g);
  shuffle(std::span<NspExample>(examples), g);
  ASSERT_GE(examples.size(), 4u);
  const std::span<const NspExample> first4(examples.data(), 4);
  const BatchEncoding b = MlmCollator(id_tokenizer())(to_batch(first4, id_tokenizer()), g);
  EXPECT_EQ(b.next_sentence_label, I64::from({examples[0].next_sentence_label, examples[1].next_sentence_label,
                                              examples[2].next_sentence_label, examples[3].next_sentence_label}));
  EXPECT_EQ(b.labels.shape(), b.input_ids.shape());
  models::BertConfig config;
  config.vocab_size = id_tokenizer().vocab().size();
  config.hidden_size = 8;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 2;
  config.intermediate_size = 16;
  config.max_position_embeddings = 32;
  heads::BertForPreTraining<float> model(config, g);
  const models::BertInputs in{.input_ids = b.input_ids, .attention_mask = b.attention_mask, .token_type_ids = b.token_type_ids};
  const auto out = model.forward(in, b.labels, b.next_sentence_label);
  EXPECT_EQ(out.seq_relationship_logits.shape(), Shape({4, 2}));
  const auto labels = b.labels.to_vector();
  ASSERT_GT(std::count_if(labels.begin(), labels.end(), [](std::int64_t l) { return l != -100; }), 0);
  EXPECT_TRUE(std::isfinite(out.nsp_loss.item()));
  EXPECT_TRUE(std::isfinite(out.mlm_loss.item()));
  EXPECT_NEAR(out.loss.item(), out.mlm_loss.item() + out.nsp_loss.item(), 1e-5);
}

}  // namespace pretraining_data_test
}  // namespace foundry::text
