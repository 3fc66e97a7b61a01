// tests/text/unicode_test.cpp mirrors include/foundry/text/unicode.hpp
#include "foundry/text/unicode.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "foundry/text/utf8.hpp"

namespace foundry::text {
namespace {

// FNV-1a 64 over strings, each followed by 0x1F: hash_strings in tests/reference/bert_tokenizer_ref.py.
class StringHasher {
 public:
  void add(std::string_view s) {
    for (unsigned char c : s) h_ = (h_ ^ c) * 0x100000001B3ull;
    h_ = (h_ ^ 0x1F) * 0x100000001B3ull;
  }
  std::string hex() const {
    std::ostringstream out;
    out << std::hex << std::setfill('0') << std::setw(16) << h_;
    return out.str();
  }

 private:
  std::uint64_t h_ = 0xCBF29CE484222325ull;
};

std::map<std::string, std::string> summary_fixture() {
  std::ifstream in(FOUNDRY_TEST_DATA_DIR "/text/unicode_summary.txt");
  std::map<std::string, std::string> m;
  std::string name, hash;
  while (in >> name >> hash) m[name] = hash;
  return m;
}

std::u32string nfd(std::u32string_view s) {
  std::u32string out;
  unicode::nfd(s, out);
  return out;
}
std::u32string nfc(std::u32string_view s) {
  std::u32string out;
  unicode::nfc(s, out);
  return out;
}
std::u32string lower(std::u32string_view s) {
  std::u32string out;
  for (char32_t c : s) unicode::append_lower(out, c);
  return out;
}

// The cases of HF's test_is_whitespace / test_is_control / test_is_punctuation.
TEST(Unicode, CharacterClassesMatchHuggingFaceTests) {
  for (char32_t c : {U' ', U'\t', U'\r', U'\n', char32_t{0xA0}}) EXPECT_TRUE(unicode::is_whitespace(c)) << std::hex << static_cast<std::uint32_t>(c);
  EXPECT_FALSE(unicode::is_whitespace(U'A'));
  EXPECT_FALSE(unicode::is_whitespace(U'-'));
  EXPECT_TRUE(unicode::is_control(0x05));
  for (char32_t c : {U'A', U' ', U'\t', U'\r'}) EXPECT_FALSE(unicode::is_control(c));
  for (char32_t c : {U'-', U'$', U'`', U'.'}) EXPECT_TRUE(unicode::is_punctuation(c));
  EXPECT_FALSE(unicode::is_punctuation(U'A'));
  EXPECT_FALSE(unicode::is_punctuation(U' '));
}

TEST(Unicode, ClassesOfNonAsciiCharacters) {
  EXPECT_TRUE(unicode::is_punctuation(U'\u3002'));   // 。 ideographic full stop (Po)
  EXPECT_FALSE(unicode::is_punctuation(U'\u20AC'));  // € is Sc, not punctuation
  EXPECT_TRUE(unicode::is_control(U'\u00AD'));       // soft hyphen (Cf)
  EXPECT_TRUE(unicode::is_control(U'\u0378'));       // unassigned (Cn)
  EXPECT_TRUE(unicode::is_space(U'\u2028'));         // str.split() cuts at LINE SEPARATOR (Zl)...
  EXPECT_FALSE(unicode::is_whitespace(U'\u2028'));   // ...which HF's _is_whitespace does not list
  EXPECT_TRUE(unicode::is_chinese_char(U'\u535A'));
  EXPECT_TRUE(unicode::is_chinese_char(U'\U00020000'));
  EXPECT_FALSE(unicode::is_chinese_char(U'\u306E'));  // の: Hiragana is written with spaces
}

TEST(Unicode, LowercaseIsPythonsStrLower) {
  EXPECT_EQ(lower(U"HeLLo \u00C9\u0391\u03A3"), U"hello \u00E9\u03B1\u03C3");  // no final-sigma rule
  EXPECT_EQ(lower(U"\u0130"), U"i\u0307");                                     // İ -> i + combining dot
  EXPECT_EQ(lower(U"\u212A\u2126\u1F88"), U"k\u03C9\u1F80");                   // Kelvin, Ohm, Greek
  EXPECT_EQ(lower(U"\uFF21\U00010400"), U"\uFF41\U00010428");                  // full-width, Deseret
}

TEST(Unicode, NormalizationHandWorked) {
  EXPECT_EQ(nfd(U"\u00C5"), U"A\u030A");
  EXPECT_EQ(nfd(U"\u1E9B\u0323"), U"\u017F\u0323\u0307");  // marks reordered by combining class
  EXPECT_EQ(nfc(U"A\u030A"), U"\u00C5");
  EXPECT_EQ(nfc(U"\u212B"), U"\u00C5");                     // singleton decomposition
  EXPECT_EQ(nfc(U"\u0958"), U"\u0915\u093C");               // composition exclusion stays apart
  EXPECT_EQ(nfc(U"\u1100\u1161\u11A8"), U"\uAC01");         // Hangul L V T -> LVT syllable
  EXPECT_EQ(nfd(U"\uAC01"), U"\u1100\u1161\u11A8");
  EXPECT_EQ(nfc(U"e\u0301\u0301"), U"\u00E9\u0301");        // the second acute is blocked
  EXPECT_TRUE(unicode::is_inert(U"plain ascii \u4E2D\u6587"));
  EXPECT_FALSE(unicode::is_inert(U"\u00E9"));
}

// Every code point against Python's str.lower(), NFD, NFC and HF's character classes.
TEST(Unicode, EveryCodePointMatchesPython) {
  const auto expected = summary_fixture();
  ASSERT_EQ(expected.size(), 6u) << "missing fixture unicode_summary.txt";
  StringHasher h_lower, h_nfd, h_nfc, h_classes;
  std::string buf;
  const auto utf = [&](std::u32string_view s) -> const std::string& {
    buf = utf8::from_code_points(s);
    return buf;
  };
  for (char32_t cp = 0; cp < 0x110000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    const std::u32string one(1, cp);
    h_lower.add(utf(lower(one)));
    h_nfd.add(utf(nfd(one)));
    h_nfc.add(utf(nfc(one)));
    const std::uint8_t p = unicode::properties(cp);
    std::string bits;
    for (std::uint8_t bit : {unicode::kControl, unicode::kWhitespace, unicode::kSpace, unicode::kPunctuation,
                             unicode::kNonspacingMark, unicode::kChinese}) {
      bits += (p & bit) ? '1' : '0';
    }
    h_classes.add(bits);
  }
  EXPECT_EQ(h_lower.hex(), expected.at("lower"));
  EXPECT_EQ(h_nfd.hex(), expected.at("nfd"));
  EXPECT_EQ(h_nfc.hex(), expected.at("nfc"));
  EXPECT_EQ(h_classes.hex(), expected.at("classes"));
}

// Sequences of marks, jamo and precomposed letters: canonical reordering, blocking, Hangul.
TEST(Unicode, MarkSequencesMatchPython) {
  const auto expected = summary_fixture();
  ASSERT_EQ(expected.size(), 6u) << "missing fixture unicode_summary.txt";
  // The generator and pool of pseudo_random_sequences in make_text_fixtures.py.
  const std::vector<std::pair<char32_t, char32_t>> ranges = {
      {0x41, 0x5A}, {0x61, 0x7A}, {0x300, 0x36F}, {0x591, 0x5C7}, {0x900, 0x97F}, {0x1100, 0x1112}, {0x1161, 0x1175},
      {0x11A8, 0x11C2}, {0x1F00, 0x1FFF}, {0x3099, 0x309A}, {0x304B, 0x3062}, {0xAC00, 0xAC20}, {0x1E00, 0x1E0F},
      {0x0F71, 0x0F84}, {0x1D15E, 0x1D16D}};
  std::vector<char32_t> pool;
  for (auto [a, b] : ranges) {
    for (char32_t c = a; c <= b; ++c) pool.push_back(c);
  }
  std::uint64_t x = 1;
  const auto next = [&] {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x >> 33;
  };
  StringHasher h_nfd, h_nfc;
  for (int i = 0; i < 20000; ++i) {
    std::u32string s(1 + next() % 6, U'\0');
    for (char32_t& c : s) c = pool[next() % pool.size()];
    h_nfd.add(utf8::from_code_points(nfd(s)));
    h_nfc.add(utf8::from_code_points(nfc(s)));
  }
  EXPECT_EQ(h_nfd.hex(), expected.at("nfd_sequences"));
  EXPECT_EQ(h_nfc.hex(), expected.at("nfc_sequences"));
}

}  // namespace
}  // namespace foundry::text
