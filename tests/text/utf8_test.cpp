// tests/text/utf8_test.cpp mirrors include/foundry/text/utf8.hpp
#include "foundry/text/utf8.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iomanip>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace foundry::text {
namespace {

std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 0xCBF29CE484222325ull) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return (h ^ 0x1F) * 0x100000001B3ull;  // each string is followed by the 0x1F separator
}

std::string unhex(std::string_view hex) {
  std::string out;
  if (hex == "-") return out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

TEST(Utf8, DecodesEveryLengthOfWellFormedInput) {
  EXPECT_EQ(utf8::to_code_points("a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80"), (std::u32string{U'a', 0xE9, 0x4E2D, 0x1F600}));
  const utf8::Decoded d = utf8::decode("\xF4\x8F\xBF\xBF", 0);
  EXPECT_EQ(d.cp, 0x10FFFFu);
  EXPECT_EQ(d.length, 4u);
}

TEST(Utf8, ReplacesEachMaximalIllFormedSubpartOnce) {
  // Values from Python: bytes.decode("utf-8", errors="replace").
  EXPECT_EQ(utf8::to_code_points("\xC0\x80"), (std::u32string{0xFFFD, 0xFFFD}));              // overlong
  EXPECT_EQ(utf8::to_code_points("\xED\xA0\x80"), (std::u32string{0xFFFD, 0xFFFD, 0xFFFD}));  // surrogate
  EXPECT_EQ(utf8::to_code_points("\xF0\x9F\x98"), (std::u32string{0xFFFD}));                  // truncated
  EXPECT_EQ(utf8::to_code_points("\xF0\x9F\x98!"), (std::u32string{0xFFFD, U'!'}));
  EXPECT_EQ(utf8::to_code_points("\xF4\x90\x80\x80"), (std::u32string(4, 0xFFFD)));           // above U+10FFFF
  EXPECT_EQ(utf8::to_code_points("\xE0\x9F\xBF"), (std::u32string(3, 0xFFFD)));
  EXPECT_EQ(utf8::to_code_points("\xFFz\x80"), (std::u32string{0xFFFD, U'z', 0xFFFD}));
}

TEST(Utf8, EncodesAndRejectsUnencodableValues) {
  std::string s;
  utf8::append(s, 0x4E2D);
  utf8::append(s, 0xD800);    // a surrogate
  utf8::append(s, 0x110000);  // beyond Unicode
  EXPECT_EQ(s, "\xE4\xB8\xAD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(utf8::from_code_points(U"h\u00E9\U0001F600"), "h\xC3\xA9\xF0\x9F\x98\x80");
}

TEST(Utf8, ValidityAndLength) {
  EXPECT_TRUE(utf8::is_valid("plain \xEF\xBF\xBD replacement char is valid"));
  EXPECT_EQ(utf8::first_invalid("ok\xC3"), 2u);
  EXPECT_EQ(utf8::count_code_points("a\xC3\xA9\xFF"), 3u);
}

TEST(Utf8, MatchesPythonOnRandomBytes) {
  std::ifstream in(FOUNDRY_TEST_DATA_DIR "/text/utf8_cases.txt");
  ASSERT_TRUE(in) << "missing fixture utf8_cases.txt";
  std::string hex, text_hash, tokens_hash;
  int cases = 0;
  while (in >> hex >> text_hash >> tokens_hash) {
    const std::string bytes = unhex(hex);
    std::ostringstream got;
    got << std::hex << std::setfill('0') << std::setw(16) << fnv1a(utf8::from_code_points(utf8::to_code_points(bytes)));
    EXPECT_EQ(got.str(), text_hash) << "bytes " << hex;
    ++cases;
  }
  EXPECT_EQ(cases, 200);
}

// Random bytes under ASan: decoding never reads out of bounds, consumes every byte, and any
// well-formed decode re-encodes to the same bytes.
TEST(Utf8, RandomBytesNeverCrashAndRoundTripWhenValid) {
  std::mt19937 rng(7);
  for (int round = 0; round < 20000; ++round) {
    std::string bytes(std::uniform_int_distribution<int>(0, 12)(rng), '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 4 == 0 ? rng() % 0x80 : 0x80 + rng() % 0x80);
    std::size_t consumed = 0, replaced = 0;
    for (std::size_t i = 0; i < bytes.size();) {
      const utf8::Decoded d = utf8::decode(std::string_view(bytes.data(), bytes.size()), i);
      ASSERT_GE(d.length, 1u);
      ASSERT_LE(d.length, 4u);
      ASSERT_LE(i + d.length, bytes.size());
      ASSERT_LE(d.cp, 0x10FFFFu);
      replaced += d.cp == utf8::kReplacement;
      i += d.length;
      consumed += d.length;
    }
    ASSERT_EQ(consumed, bytes.size());
    if (replaced == 0) {
      ASSERT_EQ(utf8::from_code_points(utf8::to_code_points(bytes)), bytes);
    }
    ASSERT_EQ(utf8::is_valid(bytes), utf8::from_code_points(utf8::to_code_points(bytes)) == bytes);
  }
}

}  // namespace
}  // namespace foundry::text
