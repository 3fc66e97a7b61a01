// tests/text/basic_tokenizer_test.cpp mirrors include/foundry/text/basic_tokenizer.hpp
#include "foundry/text/basic_tokenizer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace foundry::text {
namespace {

using Words = std::vector<std::string>;
using Ids = std::vector<std::int32_t>;

// The cases of HF's test_tokenization_bert.py, BasicTokenizer part.
TEST(BasicTokenizer, Chinese) {
  EXPECT_EQ(BasicTokenizer().tokenize("ah\u535A\u63A8zz"), (Words{"ah", "\u535A", "\u63A8", "zz"}));
}

TEST(BasicTokenizer, Lower) {
  const BasicTokenizer t({.lowercase = true});
  EXPECT_EQ(t.tokenize(" \tHeLLo!how  \n Are yoU?  "), (Words{"hello", "!", "how", "are", "you", "?"}));
  EXPECT_EQ(t.tokenize("H\u00E9llo"), (Words{"hello"}));
}

TEST(BasicTokenizer, LowerStripAccentsFalse) {
  const BasicTokenizer t({.lowercase = true, .strip_accents = false});
  EXPECT_EQ(t.tokenize(" \tHäLLo!how  \n Are yoU?  "), (Words{"hällo", "!", "how", "are", "you", "?"}));
  EXPECT_EQ(t.tokenize("H\u00E9llo"), (Words{"h\u00E9llo"}));
}

TEST(BasicTokenizer, LowerStripAccentsTrue) {
  const BasicTokenizer t({.lowercase = true, .strip_accents = true});
  EXPECT_EQ(t.tokenize(" \tHäLLo!how  \n Are yoU?  "), (Words{"hallo", "!", "how", "are", "you", "?"}));
  EXPECT_EQ(t.tokenize("H\u00E9llo"), (Words{"hello"}));
}

TEST(BasicTokenizer, NoLower) {
  const BasicTokenizer t({.lowercase = false});
  EXPECT_EQ(t.tokenize(" \tHeLLo!how  \n Are yoU?  "), (Words{"HeLLo", "!", "how", "Are", "yoU", "?"}));
}

TEST(BasicTokenizer, NoLowerStripAccents) {
  EXPECT_EQ(BasicTokenizer({.lowercase = false, .strip_accents = false}).tokenize(" \tHäLLo!how  \n Are yoU?  "), (Words{"HäLLo", "!", "how", "Are", "yoU", "?"}));
  EXPECT_EQ(BasicTokenizer({.lowercase = false, .strip_accents = true}).tokenize(" \tHäLLo!how  \n Are yoU?  "), (Words{"HaLLo", "!", "how", "Are", "yoU", "?"}));
}

TEST(BasicTokenizer, RespectsNeverSplit) {
  const BasicTokenizer t({.lowercase = false, .never_split = {"[UNK]"}});
  EXPECT_EQ(t.tokenize(" \tHeLLo!how  \n Are yoU? [UNK]"), (Words{"HeLLo", "!", "how", "Are", "yoU", "?", "[UNK]"}));
  // Only whole whitespace-separated words are kept: glued to text, "[UNK]" is split like any word.
  EXPECT_EQ(t.tokenize("x[UNK]"), (Words{"x", "[", "UNK", "]"}));
}

TEST(BasicTokenizer, SplitsOnPunctuation) {
  EXPECT_EQ(BasicTokenizer().tokenize("a\n'll !!to?'d of, can't."), (Words{"a", "'", "ll", "!", "!", "to", "?", "'", "d", "of", ",", "can", "'", "t", "."}));
  EXPECT_EQ(BasicTokenizer({.split_on_punctuation = false}).tokenize("can't stop!"), (Words{"can't", "stop!"}));
}

TEST(BasicTokenizer, RemoveControlChars) {
  EXPECT_TRUE(BasicTokenizer({.remove_control_chars = true}).tokenize("\u200E\u200F").empty());
  EXPECT_EQ(BasicTokenizer({.remove_control_chars = false}).tokenize("\u200E\u200F"), (Words{"\u200E\u200F"}));
  // Without removal, controls that Python's str.split() treats as space still separate words.
  EXPECT_EQ(BasicTokenizer({.remove_control_chars = false}).tokenize("a\x0B" "b\x1F" "c"), (Words{"a", "b", "c"}));
  EXPECT_EQ(BasicTokenizer().tokenize("a\x0B" "b\x01" "c\x7F"), (Words{"abc"}));
}

TEST(BasicTokenizer, CleansInvalidAndSpecialCharacters) {
  const BasicTokenizer t;
  EXPECT_EQ(t.tokenize("ab\xFF" "cd \xEF\xBF\xBD ef"), (Words{"abcd", "ef"}));  // U+FFFD is dropped
  EXPECT_EQ(t.tokenize(std::string("nu\0ll", 5)), (Words{"null"}));
  EXPECT_EQ(t.tokenize("x\u00A0y\u3000z\u2028w"), (Words{"x", "y", "z", "w"}));
  EXPECT_TRUE(t.tokenize("\u00AD").empty());  // soft hyphen (Cf), from HF's test_clean_text
}

TEST(BasicTokenizer, NormalizesToNfcBeforeCasedSplitting) {
  const BasicTokenizer cased({.lowercase = false});
  EXPECT_EQ(cased.tokenize("e\u0301t\u00E9"), (Words{"\u00E9t\u00E9"}));  // combining acute composed
  EXPECT_EQ(cased.tokenize("\u212B"), (Words{"\u00C5"}));                 // Angstrom sign -> Å
  EXPECT_EQ(cased.tokenize("\u1100\u1161"), (Words{"\uAC00"}));           // jamo -> syllable
  EXPECT_EQ(BasicTokenizer().tokenize("\uAC00"), (Words{"\u1100\u1161"}));  // stripping accents decomposes
}

TEST(BasicTokenizer, LowercasesEveryCodePointAlone) {
  EXPECT_EQ(BasicTokenizer().tokenize("ΟΔΟΣ İstanbul"), (Words{"οδοσ", "istanbul"}));
  EXPECT_EQ(BasicTokenizer({.strip_accents = false}).tokenize("İ"), (Words{"i\u0307"}));
}

TEST(BasicTokenizer, IsolatesIdeographsButNotKana) {
  EXPECT_EQ(BasicTokenizer().tokenize("日本語のテキスト"), (Words{"日", "本", "語", "のテキスト"}));
  EXPECT_EQ(BasicTokenizer({.tokenize_chinese_chars = false}).tokenize("中文，好"), (Words{"中文", "，", "好"}));
}

TEST(BasicTokenizer, WordSinkReportsNeverSplit) {
  const BasicTokenizer t({.never_split = {"[MASK]"}});
  std::vector<std::pair<std::string, bool>> seen;
  t.for_each_word("a [MASK] b", [&](std::string_view w, bool keep) { seen.emplace_back(w, keep); });
  const std::vector<std::pair<std::string, bool>> expected = {{"a", false}, {"[MASK]", true}, {"b", false}};
  EXPECT_EQ(seen, expected);
}

}  // namespace
}  // namespace foundry::text
