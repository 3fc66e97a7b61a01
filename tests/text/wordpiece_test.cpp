// tests/text/wordpiece_test.cpp mirrors include/foundry/text/wordpiece.hpp
#include "foundry/text/wordpiece.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace foundry::text {
namespace {

using Words = std::vector<std::string>;
using Ids = std::vector<std::int32_t>;

WordPiece hf_test_wordpiece() {
  // The vocabulary of HF's test_wordpiece_tokenizer.
  return WordPiece(Vocab({"[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un", "runn", "##ing"}));
}

TEST(WordPiece, MatchesHuggingFaceTest) {
  const WordPiece wp = hf_test_wordpiece();
  EXPECT_TRUE(wp.tokenize("").empty());
  EXPECT_EQ(wp.tokenize("unwanted running"), (Words{"un", "##want", "##ed", "runn", "##ing"}));
  EXPECT_EQ(wp.tokenize("unwantedX running"), (Words{"[UNK]", "runn", "##ing"}));
}

TEST(WordPiece, GreedyLongestMatchFirst) {
  const WordPiece wp(Vocab({"[UNK]", "a", "ab", "abc", "##c", "##cd", "##d", "##bcd"}));
  // "abc" wins over "ab" + "##cd" although the latter also covers the word: greedy, not optimal.
  EXPECT_EQ(wp.encode_word("abcd"), (Ids{3, 6}));
  EXPECT_EQ(wp.encode_word("abd"), (Ids{2, 6}));
  EXPECT_EQ(wp.encode_word("ax"), (Ids{0}));  // an unmatched rest makes the whole word [UNK]
}

TEST(WordPiece, MultiByteCharactersMatchWhole) {
  const WordPiece wp(Vocab({"[UNK]", "中", "##国", "##国人", "é", "##t\u00E9"}));
  EXPECT_EQ(wp.tokenize("中国人 中国 \u00E9t\u00E9"), (Words{"中", "##国人", "中", "##国", "é", "##t\u00E9"}));
}

TEST(WordPiece, WordsOverMaxCharsAreUnknown) {
  const WordPiece wp(Vocab({"[UNK]", "a", "##a", "é", "##é"}));
  EXPECT_EQ(wp.encode_word(std::string(100, 'a')).size(), 100u);
  EXPECT_EQ(wp.encode_word(std::string(101, 'a')), (Ids{0}));
  std::string accents;  // 100 code points but 200 bytes: the limit counts code points
  for (int i = 0; i < 100; ++i) accents += "é";
  EXPECT_EQ(wp.encode_word(accents).size(), 100u);
}

TEST(WordPiece, SplitsOnEveryPythonWhitespace) {
  const WordPiece wp = hf_test_wordpiece();
  EXPECT_EQ(wp.tokenize("want\u3000wa\u2028un\t"), (Words{"want", "wa", "un"}));
}

TEST(WordPiece, RepeatedTokenUsesLastId) {
  const WordPiece wp(Vocab({"[UNK]", "ab", "##c", "ab", "##c"}));
  EXPECT_EQ(wp.encode_word("abc"), (Ids{3, 4}));
}

TEST(WordPiece, MissingUnknownTokenNamesIt) {
  EXPECT_THAT([] { WordPiece(Vocab({"a", "b"})); },
              testing::ThrowsMessage<ValueError>(
                  testing::StrEq("WordPiece: the unknown token '[UNK]' is not in the vocabulary of 2 tokens")));
}

}  // namespace
}  // namespace foundry::text
