// tests/text/batch_encoding_test.cpp mirrors include/foundry/text/batch_encoding.hpp
#include "foundry/text/batch_encoding.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace foundry::text {
namespace batch_encoding_test {

using I64 = Tensor<std::int64_t>;
using testing::StrEq;
using testing::ThrowsMessage;

// HF's test vocabulary plus [PAD], [MASK] and punctuation:
// [PAD]0 [UNK]1 [CLS]2 [SEP]3 [MASK]4 want5 ##want6 ##ed7 wa8 un9 runn10 ##ing11 ,12 low13 lowest14 .15
BertTokenizer small_tokenizer() {
  return BertTokenizer(Vocab({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "want", "##want", "##ed", "wa", "un", "runn", "##ing",
                              ",", "low", "lowest", "."}));
}

TEST(BatchEncoding, StacksIntoInt64TensorsPaddedToTheLongest) {
  const BertTokenizer tok = small_tokenizer();
  const std::vector<std::string> texts = {"UNwanted running", "low"};
  const BatchEncoding b = batch_encode(tok, texts);
  EXPECT_EQ(b.batch_size(), 2);
  EXPECT_EQ(b.seq_length(), 7);
  EXPECT_EQ(b.input_ids, I64::from({{2, 9, 6, 7, 10, 11, 3}, {2, 13, 3, 0, 0, 0, 0}}));
  EXPECT_EQ(b.attention_mask, I64::from({{1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 0, 0, 0, 0}}));
  EXPECT_EQ(b.token_type_ids, I64::zeros({2, 7}));
  EXPECT_EQ(b.special_tokens_mask, I64::from({{1, 0, 0, 0, 0, 0, 1}, {1, 0, 1, 1, 1, 1, 1}}));
  EXPECT_EQ(b.word_ids, I64::from({{-1, 0, 0, 0, 1, 1, -1}, {-1, 0, -1, -1, -1, -1, -1}}));
  EXPECT_FALSE(b.labels.defined());
  EXPECT_FALSE(b.next_sentence_label.defined());
}

TEST(BatchEncoding, PairsTruncationAndMaxLengthPaddingComeFromEncodeOptions) {
  const BertTokenizer tok = small_tokenizer();
  const std::vector<std::pair<std::string, std::string>> pairs = {{"unwanted", "low, lowest"}, {"running", "want"}};
  const BatchEncoding b = batch_encode_pairs(tok, pairs, {.max_length = 9, .truncation = Truncation::kLongestFirst,
                                                          .padding = Padding::kMaxLength});
  // Row 0: [CLS] un ##want ##ed [SEP] low , lowest [SEP] is 9 tokens and fits; row 1 is padded to 9.
  EXPECT_EQ(b.input_ids, I64::from({{2, 9, 6, 7, 3, 13, 12, 14, 3}, {2, 10, 11, 3, 5, 3, 0, 0, 0}}));
  EXPECT_EQ(b.token_type_ids, I64::from({{0, 0, 0, 0, 0, 1, 1, 1, 1}, {0, 0, 0, 0, 1, 1, 0, 0, 0}}));
  EXPECT_EQ(b.attention_mask, I64::from({{1, 1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 0, 0, 0}}));
  // Word ids restart at the second sequence, as a fast tokenizer's word_ids().
  EXPECT_EQ(b.word_ids, I64::from({{-1, 0, 0, 0, -1, 0, 1, 2, -1}, {-1, 0, 0, -1, 0, -1, -1, -1, -1}}));
  const BatchEncoding cut = batch_encode_pairs(tok, pairs, {.max_length = 7, .truncation = Truncation::kLongestFirst});
  EXPECT_EQ(cut.input_ids, I64::from({{2, 9, 6, 3, 13, 12, 3}, {2, 10, 11, 3, 5, 3, 0}}));
}

TEST(BatchEncoding, WordIdsJoinHashPiecesAndLetALeadingPieceStartAWord) {
  const Vocab vocab = small_tokenizer().vocab();
  // [CLS] ##want ##ed low [SEP]: a block cut mid-word starts with a piece, which begins word 0.
  const Encoding e = assemble(std::vector<std::int32_t>{6, 7, 13}, nullptr, true, 2, 3);
  EXPECT_EQ(word_ids(e, vocab), (std::vector<std::int64_t>{-1, 0, 0, 1, -1}));
  // Without special tokens a pair restarts its count where the token type changes.
  const std::vector<std::int32_t> second = {13, 12};
  const Encoding pair = assemble(std::vector<std::int32_t>{9, 6}, &second, false, 2, 3);
  EXPECT_EQ(word_ids(pair, vocab), (std::vector<std::int64_t>{0, 0, 0, 1}));
}

TEST(BatchEncoding, ToBatchNamesEmptyRaggedAndOutOfVocabularyInput) {
  const BertTokenizer tok = small_tokenizer();
  EXPECT_THAT([&] { to_batch(std::vector<Encoding>{}, tok); },
              ThrowsMessage<ValueError>(StrEq("to_batch: empty batch, nothing to stack into [B, S]")));
  Encoding ragged = tok.encode("low");
  ragged.token_type_ids.pop_back();
  EXPECT_THAT([&] { to_batch(std::vector<Encoding>{tok.encode("want"), ragged}, tok); },
              ThrowsMessage<ValueError>(StrEq("to_batch: encoding 1 is ragged: 3 ids, 2 token_type_ids, 3 attention_mask, "
                                              "3 special_tokens_mask")));
  Encoding bad = tok.encode("low");
  bad.ids[1] = 99;
  EXPECT_THAT([&] { to_batch(std::vector<Encoding>{bad}, tok); },
              ThrowsMessage<ValueError>(StrEq("to_batch: encoding 0 has id 99 at position 1, outside the vocabulary of 16 tokens")));
  // Without [PAD] equal lengths still stack; unequal ones say what is missing.
  const BertTokenizer no_pad(Vocab({"[UNK]", "[CLS]", "[SEP]", "low", "want"}));
  EXPECT_EQ(to_batch(std::vector<Encoding>{no_pad.encode("low"), no_pad.encode("want")}, no_pad).input_ids,
            I64::from({{1, 3, 2}, {1, 4, 2}}));
  EXPECT_THAT([&] { to_batch(std::vector<Encoding>{no_pad.encode("low"), no_pad.encode("low want")}, no_pad); },
              ThrowsMessage<ValueError>(StrEq("BertTokenizer: special token '[PAD]' is not in the vocabulary")));
}

TEST(BatchEncoding, ShuffleIsASeededPermutation) {
  std::vector<int> a(50), b(50);
  for (int i = 0; i < 50; ++i) a[static_cast<std::size_t>(i)] = b[static_cast<std::size_t>(i)] = i;
  Generator g1(5), g2(5), g3(6);
  shuffle(std::span<int>(a), g1);
  shuffle(std::span<int>(b), g2);
  EXPECT_EQ(a, b);
  std::vector<int> c = b;
  shuffle(std::span<int>(c), g3);
  EXPECT_NE(c, b);
  std::sort(c.begin(), c.end());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(c[static_cast<std::size_t>(i)], i);
}

}  // namespace batch_encoding_test
}  // namespace foundry::text
