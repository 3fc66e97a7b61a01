// tests/io/json_test.cpp mirrors include/foundry/io/json.hpp
#include "foundry/io/json.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace foundry::io {
namespace {

using testing::HasSubstr;
using testing::ThrowsMessage;

// Asserts that parsing `text` throws IoError whose message contains every one of `parts`.
template <class... Parts>
void expect_parse_error(std::string_view text, const Parts&... parts) {
  EXPECT_THAT([&] { Json::parse(text, "bad.json"); },
              ThrowsMessage<IoError>(testing::AllOf(HasSubstr("bad.json"), HasSubstr(parts)...)))
      << "input: " << text;
}

TEST(Json, ParsesEveryKindWithExactValues) {
  const Json j = Json::parse(R"({"n": null, "t": true, "f": false, "i": -42, "d": 2.5e-3,
                                  "s": "hi", "a": [1, [2]], "o": {"k": "v"}})");
  EXPECT_TRUE(j.at("n").is_null());
  EXPECT_TRUE(j.at("t").as_bool());
  EXPECT_FALSE(j.at("f").as_bool());
  EXPECT_EQ(j.at("i").as_int(), -42);
  EXPECT_EQ(j.at("d").as_double(), 2.5e-3);
  EXPECT_EQ(j.at("s").as_string(), "hi");
  EXPECT_EQ(j.at("a").size(), 2u);
  EXPECT_EQ(j.at("a").at(1).at(0).as_int(), 2);
  EXPECT_EQ(j.at("o").at("k").as_string(), "v");
}

TEST(Json, ObjectsKeepInsertionOrder) {
  const Json j = Json::parse(R"({"zeta": 1, "alpha": 2, "mid": 3})");
  std::vector<std::string> keys;
  for (const auto& [key, value] : j.as_object()) keys.push_back(key);
  EXPECT_THAT(keys, testing::ElementsAre("zeta", "alpha", "mid"));
  EXPECT_EQ(j.dump(), R"({"zeta":1,"alpha":2,"mid":3})");
}

TEST(Json, IntegersStayExactAndDoublesStayDoubles) {
  const Json j = Json::parse(
      "[9223372036854775807, -9223372036854775808, 9007199254740993, 1.0, 1e2, "
      "9223372036854775808]");
  EXPECT_EQ(j.at(0).as_int(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(j.at(1).as_int(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(j.at(2).as_int(), 9007199254740993);  // 2^53 + 1: a double would lose the last bit
  EXPECT_EQ(j.at(3).kind(), Json::Kind::Double);
  EXPECT_EQ(j.at(4).kind(), Json::Kind::Double);
  EXPECT_EQ(j.at(4).as_double(), 100.0);
  EXPECT_EQ(j.at(5).kind(), Json::Kind::Double);  // beyond int64: a double, as Python and serde do
  EXPECT_EQ(j.at(5).as_double(), 9223372036854775808.0);
  EXPECT_EQ(j.at(0).as_double(), 9223372036854775807.0);  // an integer reads as a double on request
}

TEST(Json, DoublesRoundTripBitExactly) {
  for (double d : {0.1, 1.0 / 3.0, -2.5e-300, 4.9406564584124654e-324, 1.7976931348623157e308, 1e21, -0.0, 3.0}) {
    const Json back = Json::parse(Json(d).dump());
    EXPECT_EQ(back.kind(), Json::Kind::Double) << Json(d).dump();
    EXPECT_EQ(std::bit_cast<std::uint64_t>(back.as_double()), std::bit_cast<std::uint64_t>(d)) << Json(d).dump();
  }
  EXPECT_EQ(Json(3.0).dump(), "3.0");
  EXPECT_EQ(Json(0.1).dump(), "0.1");
}

TEST(Json, WritingNonFiniteDoublesThrows) {
  EXPECT_THAT([] { Json(std::numeric_limits<double>::quiet_NaN()).dump(); },
              ThrowsMessage<ValueError>(HasSubstr("JSON cannot represent")));
  EXPECT_THROW(Json(std::numeric_limits<double>::infinity()).dump(), ValueError);
}

TEST(Json, StringEscapesDecodeToUtf8) {
  const Json j = Json::parse(R"(["a\"b\\c\/d\b\f\n\r\t", "\u00e9\u20AC", "\ud83d\ude00", "\u0000x", "é😀"])");
  EXPECT_EQ(j.at(0).as_string(), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(j.at(1).as_string(), "\xC3\xA9\xE2\x82\xAC");      // é €
  EXPECT_EQ(j.at(2).as_string(), "\xF0\x9F\x98\x80");          // U+1F600 from a surrogate pair
  EXPECT_EQ(j.at(3).as_string(), std::string("\0x", 2));       // embedded NUL survives
  EXPECT_EQ(j.at(4).as_string(), "\xC3\xA9\xF0\x9F\x98\x80");  // raw UTF-8 passes through
}

TEST(Json, StringsRoundTripThroughDump) {
  const std::string nasty = "q\"b\\s\n\t\x01\x1f end \xC3\xA9";
  Json doc;
  doc[nasty] = nasty;
  EXPECT_EQ(Json(std::string("\x01")).dump(), R"("\u0001")");
  const Json back = Json::parse(doc.dump());
  EXPECT_EQ(back.at(nasty).as_string(), nasty);
  EXPECT_EQ(back, doc);
}

TEST(Json, PrettyDumpMatchesPythonIndentStyle) {
  Json doc;
  doc["name"] = "bert";
  doc["dims"].push_back(2);
  doc["dims"].push_back(3);
  doc["empty"] = Json::array();
  doc["nested"]["ok"] = true;
  EXPECT_EQ(doc.dump(2),
            "{\n  \"name\": \"bert\",\n  \"dims\": [\n    2,\n    3\n  ],\n  \"empty\": [],\n"
            "  \"nested\": {\n    \"ok\": true\n  }\n}");
  EXPECT_EQ(doc.dump(), R"({"name":"bert","dims":[2,3],"empty":[],"nested":{"ok":true}})");
  EXPECT_EQ(Json::parse(doc.dump(2)), doc);
}

TEST(Json, WhitespaceAndBomAreAccepted) {
  EXPECT_EQ(Json::parse(" \t\r\n[ 1 , 2 ]\n ").size(), 2u);
  EXPECT_EQ(Json::parse("\xEF\xBB\xBF{}").size(), 0u);
  EXPECT_EQ(Json::parse("7").as_int(), 7);
}

TEST(Json, ParseErrorsNameSourceOffsetLineAndColumn) {
  EXPECT_THAT([] { Json::parse("{\n  \"a\" 1}", "config.json"); },
              ThrowsMessage<IoError>(testing::StrEq(
                  "config.json: invalid JSON at byte 8 (line 2, column 7): expected ':' after object key")));
}

TEST(Json, RejectsMalformedInput) {
  expect_parse_error("", "unexpected end of input");
  expect_parse_error("[1, 2", "expected ',' or ']'");
  expect_parse_error("[1, 2,]", "byte 6", "expected a value");
  expect_parse_error("{\"a\": 1,}", "expected a string key");
  expect_parse_error("{a: 1}", "expected a string key");
  expect_parse_error("{\"a\": 1} x", "byte 9", "unexpected characters after the JSON value");
  expect_parse_error("[1] [2]", "unexpected characters after");
  expect_parse_error("tru", "expected 'true'");
  expect_parse_error("nul", "expected 'null'");
  expect_parse_error("'x'", "unexpected character");
  expect_parse_error("// c\n1", "unexpected character");
  expect_parse_error("{\"a\": 1, \"a\": 2}", "byte 0", "duplicate key 'a'");
}

TEST(Json, RejectsNumbersJsonDoesNotAllow) {
  expect_parse_error("01", "leading zeros");
  expect_parse_error("-01", "leading zeros");
  expect_parse_error("NaN", "unexpected character 'N'");
  expect_parse_error("Infinity", "unexpected character 'I'");
  expect_parse_error("-Infinity", "expected a digit");
  expect_parse_error("+1", "unexpected character '+'");
  expect_parse_error("1.", "after the decimal point");
  expect_parse_error(".5", "unexpected character '.'");
  expect_parse_error("1e", "exponent");
  expect_parse_error("1e+", "exponent");
  expect_parse_error("0x10", "unexpected characters after");
  expect_parse_error("1.5.2", "unexpected characters after");
  expect_parse_error("1e400", "out of the range");
  EXPECT_EQ(Json::parse("-0").as_int(), 0);
  EXPECT_EQ(Json::parse("0.5e+1").as_double(), 5.0);
  EXPECT_EQ(Json::parse("1E-2").as_double(), 0.01);
}

TEST(Json, RejectsBadStrings) {
  expect_parse_error("\"abc", "unterminated string");
  expect_parse_error("\"a\nb\"", "unescaped control character");
  expect_parse_error(R"("\x")", "invalid escape '\\x'");
  expect_parse_error(R"("\u12")", "\\u escape");
  expect_parse_error(R"("\u12G4")", "invalid hex digit");
  expect_parse_error(R"("\ud83d")", "high surrogate");
  expect_parse_error(R"("\ud83dx")", "high surrogate");
  expect_parse_error(R"("\ud83d\u0041")", "low surrogate");
  expect_parse_error(R"("\ude00")", "unpaired low surrogate");
  expect_parse_error("\"\xC3\"", "invalid UTF-8");              // truncated sequence
  expect_parse_error("\"\xC0\xAF\"", "invalid UTF-8");          // overlong '/'
  expect_parse_error("\"\xED\xA0\x80\"", "invalid UTF-8");      // encoded surrogate
  expect_parse_error("\"\xF4\x90\x80\x80\"", "invalid UTF-8");  // beyond U+10FFFF
  expect_parse_error("\"\xFF\"", "invalid UTF-8");
}

TEST(Json, DepthLimitStopsHostileNesting) {
  const std::string ok = std::string(Json::kMaxDepth, '[') + std::string(Json::kMaxDepth, ']');
  EXPECT_NO_THROW(Json::parse(ok));
  const std::string deep(100000, '[');
  expect_parse_error(deep, "nesting deeper than 512 levels", "byte 512");
  const std::string deep_objects = [] {
    std::string s;
    for (int i = 0; i < 600; ++i) s += "{\"a\":";
    return s;
  }();
  expect_parse_error(deep_objects, "nesting deeper than 512");
}

TEST(Json, AccessorErrorsNameTheKeyAndBothTypes) {
  const Json config = Json::parse(R"({"hidden_size": "768", "text_config": {"layers": [1, "two"]}})");
  EXPECT_THAT([&] { config.at("hidden_size").as_int(); },
              ThrowsMessage<ValueError>(
                  testing::StrEq("json value 'hidden_size': expected an integer, got a string (\"768\")")));
  EXPECT_THAT([&] { config.at("text_config").at("layers").at(1).as_int(); },
              ThrowsMessage<ValueError>(HasSubstr("json value 'text_config.layers[1]': expected an integer")));
  EXPECT_THAT([&] { config.at("text_config").at("heads"); },
              ThrowsMessage<ValueError>(testing::StrEq("json object 'text_config' has no key 'heads'")));
  EXPECT_THAT([&] { config.at("text_config").at("layers").at(5); },
              ThrowsMessage<IndexError>(HasSubstr("index 5 out of range for size 2")));
  EXPECT_THAT([&] { config.at("hidden_size").as_array(); },
              ThrowsMessage<ValueError>(HasSubstr("expected an array, got a string")));
  EXPECT_THAT([&] { config.at("text_config").as_double(); },
              ThrowsMessage<ValueError>(HasSubstr("expected a number, got an object")));
  EXPECT_THAT([&] { config.at("text_config").at("layers").contains("x"); },
              ThrowsMessage<ValueError>(HasSubstr("expected an object, got an array")));
}

TEST(Json, ContainsAndGetOr) {
  const Json config = Json::parse(R"({"eps": 1e-5, "vocab": 30522, "act": "gelu", "pad": null, "big": 3000000000})");
  EXPECT_TRUE(config.contains("eps"));
  EXPECT_FALSE(config.contains("missing"));
  EXPECT_EQ(config.get_or("eps", 1e-12), 1e-5);
  EXPECT_EQ(config.get_or("missing_eps", 1e-12), 1e-12);
  EXPECT_EQ(config.get_or("vocab", 0), 30522);
  EXPECT_EQ(config.get_or("pad", 7), 7);  // null counts as missing
  EXPECT_EQ(config.get_or("act", "relu"), "gelu");
  EXPECT_EQ(config.get_or("missing_act", "relu"), "relu");
  EXPECT_EQ(config.get_or("flag", true), true);
  EXPECT_EQ(config.get_or("vocab", 0.0), 30522.0);  // an integer reads as a double
  EXPECT_EQ(config.get_or("big", std::int64_t{0}), 3000000000);
  EXPECT_THAT([&] { config.get_or("big", 0); },
              ThrowsMessage<ValueError>(HasSubstr("'big': 3000000000 is out of range")));
  EXPECT_THAT([&] { config.get_or("act", 0); }, ThrowsMessage<ValueError>(HasSubstr("'act': expected an integer")));
}

TEST(Json, BuildsValuesInPlace) {
  Json doc;
  doc["a"] = 1;
  doc["b"] = std::uint64_t{5};
  doc["a"] = "replaced";  // same key: assignment, not a second member
  doc["list"].push_back(Json());
  doc["list"].push_back(false);
  EXPECT_EQ(doc.size(), 3u);
  EXPECT_EQ(doc.dump(), R"({"a":"replaced","b":5,"list":[null,false]})");
  EXPECT_THROW(Json{std::numeric_limits<std::uint64_t>::max()}, ValueError);
  EXPECT_NE(Json(1), Json(1.0));  // an integer and a double are different values
  EXPECT_THAT([&] { doc.at("a").as_int(); },  // built values are labelled too
              ThrowsMessage<ValueError>(HasSubstr("json value 'a': expected an integer")));
}

TEST(Json, AssigningFromOwnChildIsSafe) {
  Json j = Json::parse(R"([[1, {"k": [2, 3]}], 4])");
  j = j.at(0);
  EXPECT_EQ(j.dump(), R"([1,{"k":[2,3]}])");
  Json k = j;
  k = std::move(k.as_array()[1]);
  EXPECT_EQ(k.dump(), R"({"k":[2,3]})");
  EXPECT_EQ(j.dump(), R"([1,{"k":[2,3]}])");  // copies are independent
}

}  // namespace
}  // namespace foundry::io
