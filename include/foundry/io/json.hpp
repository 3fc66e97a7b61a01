// io/json.hpp: Json, a small strict JSON value (RFC 8259) with its parser and writer, enough for
// config.json, tokenizer files and safetensors headers. Objects keep insertion order and integer
// literals stay exact int64. Deliberately absent: comments, NaN/Infinity, streaming, lenient modes.
//
//   Json config = Json::parse(text, "config.json");
//   std::int64_t C = config.at("hidden_size").as_int();
//   double eps = config.get_or("layer_norm_eps", 1e-12);  // missing or null -> the default
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "foundry/core/error.hpp"

namespace foundry::io {

namespace detail {
using foundry::detail::fail;  // io::detail would otherwise hide it
class JsonParser;
}  // namespace detail

class Json {
 public:
  enum class Kind { Null, Bool, Int, Double, String, Array, Object };  // order of value_'s alternatives
  using Array = std::vector<Json>;
  using Member = std::pair<std::string, Json>;
  using Object = std::vector<Member>;

  // Nesting deeper than this is rejected, so hostile input cannot overflow the parser's stack.
  static constexpr int kMaxDepth = 512;

  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool b) : value_(b) {}
  template <std::integral I>
    requires(!std::same_as<I, bool>)
  Json(I i) : value_(to_int64(i)) {}
  Json(double d) : value_(d) {}
  Json(std::string s) : value_(std::move(s)) {}
  Json(std::string_view s) : value_(std::string(s)) {}
  Json(const char* s) : value_(std::string(s)) {}
  Json(Array a) : value_(std::move(a)) {}
  Json(Object o) : value_(std::move(o)) {}
  static Json array() { return Json(Array{}); }
  static Json object() { return Json(Object{}); }

  // Assignment replaces the value but keeps label(), which names the place being assigned to. Taking
  // `other` by value first makes `j = j.at(0)` safe.
  Json(const Json&) = default;
  Json(Json&&) noexcept = default;
  Json& operator=(Json other) {
    value_ = std::move(other.value_);
    return *this;
  }

  // Throws IoError "<source>: invalid JSON at byte 17 (line 2, column 5): <what>".
  static Json parse(std::string_view text, std::string_view source = "json");
  // indent < 0: compact, no spaces (as safetensors headers are written); indent >= 0: one item per
  // line, like Python's json.dumps(indent=...). Doubles round-trip exactly; NaN/Inf throw ValueError.
  std::string dump(int indent = -1) const;

  Kind kind() const { return static_cast<Kind>(value_.index()); }
  bool is_null() const { return kind() == Kind::Null; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_int() const { return kind() == Kind::Int; }
  bool is_number() const { return kind() == Kind::Int || kind() == Kind::Double; }
  bool is_string() const { return kind() == Kind::String; }
  bool is_array() const { return kind() == Kind::Array; }
  bool is_object() const { return kind() == Kind::Object; }

  // Typed access; a mismatch throws ValueError naming where the value sits and both types:
  // "json value 'text_config.hidden_size': expected an integer, got a string (\"768\")".
  bool as_bool() const { return get<bool>(Kind::Bool); }
  std::int64_t as_int() const { return get<std::int64_t>(Kind::Int); }
  double as_double() const { return is_int() ? static_cast<double>(as_int()) : get<double>(Kind::Double); }
  const std::string& as_string() const { return get<std::string>(Kind::String); }
  const Array& as_array() const { return get<Array>(Kind::Array); }
  const Object& as_object() const { return get<Object>(Kind::Object); }
  Array& as_array() { return const_cast<Array&>(std::as_const(*this).as_array()); }
  Object& as_object() { return const_cast<Object&>(std::as_const(*this).as_object()); }

  std::size_t size() const { return is_array() ? as_array().size() : as_object().size(); }
  // Object lookups are linear scans: fine for configs and headers, which are read once.
  const Json* find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  const Json& at(std::string_view key) const;  // missing key: ValueError naming it
  const Json& at(std::size_t i) const;         // out of range: IndexError
  Json& operator[](std::string_view key);      // inserts null when missing; null becomes {}
  void push_back(Json item);                   // null becomes []

  // The value at `key`, or `fallback` when the key is missing or null; a present value of another
  // type still throws. T is bool, an integer type (range-checked), a floating type or std::string.
  template <class T>
  T get_or(std::string_view key, T fallback) const;
  std::string get_or(std::string_view key, const char* fallback) const { return get_or(key, std::string(fallback)); }

  // Where the parser found this value, as a path from the root: "layers[2].name"; "" for the root.
  const std::string& label() const { return label_; }
  friend bool operator==(const Json& a, const Json& b) { return a.value_ == b.value_; }

 private:
  friend class detail::JsonParser;

  template <class I>
  static std::int64_t to_int64(I i) {
    if (!std::in_range<std::int64_t>(i)) detail::fail<ValueError>("json: integer ", i, " does not fit int64");
    return static_cast<std::int64_t>(i);
  }
  template <class V>
  const V& get(Kind want) const {
    if (kind() != want) type_error(want);
    return std::get<V>(value_);
  }
  [[noreturn]] void type_error(Kind want) const;
  std::string where() const { return label_.empty() ? "json value" : "json value '" + label_ + "'"; }
  // Paths stay short so a hostile file cannot make every label a copy of one huge key.
  static std::string child_label(const std::string& parent, std::string_view child, bool index) {
    if (parent.empty() || parent.size() + child.size() > 120) return std::string(child);
    return parent + (index ? "" : ".") + std::string(child);
  }
  void write(std::string& out, int indent, int level) const;

  std::variant<std::nullptr_t, bool, std::int64_t, double, std::string, Array, Object> value_;
  std::string label_;  // for messages only; not part of the value
};

namespace detail {

inline const char* json_kind_name(Json::Kind kind) {
  static constexpr const char* kNames[] = {"null",     "a boolean", "an integer", "a number",
                                           "a string", "an array",  "an object"};
  return kNames[static_cast<int>(kind)];
}

inline void json_write_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  static constexpr std::string_view kShort = "btn_fr";  // escapes for bytes 8..13 ('_': none for 11)
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u >= 8 && u <= 13 && u != 11) {
      out += '\\';
      out += kShort[u - 8];
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;  // UTF-8 passes through unescaped
    }
  }
  out += '"';
}

}  // namespace detail

inline void Json::type_error(Kind want) const {
  std::string preview = dump();
  if (preview.size() > 40) preview = preview.substr(0, 37) + "...";
  detail::fail<ValueError>(where(), ": expected ", detail::json_kind_name(want), ", got ",
                           detail::json_kind_name(kind()), " (", preview, ")");
}

inline const Json* Json::find(std::string_view key) const {
  for (const auto& [name, value] : as_object()) {
    if (name == key) return &value;
  }
  return nullptr;
}

inline const Json& Json::at(std::string_view key) const {
  if (const Json* value = find(key)) return *value;
  detail::fail<ValueError>(label_.empty() ? "json object" : "json object '" + label_ + "'", " has no key '", key, "'");
}

inline const Json& Json::at(std::size_t i) const {
  const Array& items = as_array();
  if (i >= items.size()) detail::fail<IndexError>(where(), ": index ", i, " out of range for size ", items.size());
  return items[i];
}

inline Json& Json::operator[](std::string_view key) {
  if (is_null()) value_ = Object{};
  Object& members = as_object();
  for (auto& [name, value] : members) {
    if (name == key) return value;
  }
  members.emplace_back(std::string(key), Json());
  members.back().second.label_ = child_label(label_, key, false);
  return members.back().second;
}

inline void Json::push_back(Json item) {
  if (is_null()) value_ = Array{};
  Array& items = as_array();
  item.label_ = child_label(label_, "[" + std::to_string(items.size()) + "]", true);
  items.push_back(std::move(item));
}

template <class T>
T Json::get_or(std::string_view key, T fallback) const {
  const Json* value = find(key);
  if (value == nullptr || value->is_null()) return fallback;
  if constexpr (std::is_same_v<T, bool>) {
    return value->as_bool();
  } else if constexpr (std::is_integral_v<T>) {
    const std::int64_t i = value->as_int();
    if (!std::in_range<T>(i)) {
      detail::fail<ValueError>(value->where(), ": ", i, " is out of range for the requested type");
    }
    return static_cast<T>(i);
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(value->as_double());
  } else {
    static_assert(std::is_same_v<T, std::string>, "get_or: T must be bool, integral, floating or std::string");
    return value->as_string();
  }
}

inline std::string Json::dump(int indent) const {
  std::string out;
  write(out, indent, 0);
  return out;
}

inline void Json::write(std::string& out, int indent, int level) const {
  // Between items: a comma, then (pretty) a newline and the indentation of `depth`.
  const auto newline = [&](int depth) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<std::size_t>(indent) * static_cast<std::size_t>(depth), ' ');
  };
  switch (kind()) {
    case Kind::Null: out += "null"; break;
    case Kind::Bool: out += std::get<bool>(value_) ? "true" : "false"; break;
    case Kind::Int: out += std::to_string(std::get<std::int64_t>(value_)); break;
    case Kind::Double: {
      const double d = std::get<double>(value_);
      if (!std::isfinite(d)) detail::fail<ValueError>(where(), ": JSON cannot represent ", d);
      char buf[32];
      const auto end = std::to_chars(buf, buf + sizeof buf, d).ptr;  // shortest form that reads back exactly
      const std::string_view text(buf, static_cast<std::size_t>(end - buf));
      out += text;
      if (text.find_first_of(".e") == std::string_view::npos) out += ".0";  // stays a double when re-read
      break;
    }
    case Kind::String: detail::json_write_string(out, std::get<std::string>(value_)); break;
    case Kind::Array:
    case Kind::Object: {
      const bool array = is_array();
      const std::size_t n = size();
      out += array ? '[' : '{';
      for (std::size_t i = 0; i < n; ++i) {
        if (i > 0) out += ',';
        newline(level + 1);
        if (!array) {
          detail::json_write_string(out, std::get<Object>(value_)[i].first);
          out += indent < 0 ? ":" : ": ";
        }
        (array ? std::get<Array>(value_)[i] : std::get<Object>(value_)[i].second).write(out, indent, level + 1);
      }
      if (n > 0) newline(level);
      out += array ? ']' : '}';
      break;
    }
  }
}

namespace detail {

// Recursive descent over the text; every error reports the byte offset it stopped at.
class JsonParser {
 public:
  JsonParser(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  Json parse_document() {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // RFC 8259 lets parsers skip a UTF-8 BOM
    Json root = parse_value(0, "");
    skip_whitespace();
    if (pos_ != text_.size()) fail("unexpected characters after the JSON value");
    return root;
  }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    const std::size_t at = std::min(pos_, text_.size());
    const std::string_view before = text_.substr(0, at);
    const std::size_t line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
    const std::size_t line_start = before.rfind('\n') == std::string_view::npos ? 0 : before.rfind('\n') + 1;
    detail::fail<IoError>(source_, ": invalid JSON at byte ", at, " (line ", line, ", column ", at - line_start + 1,
                          "): ", what);
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  void skip_whitespace() {
    while (!at_end() && (peek() == ' ' || peek() == '\n' || peek() == '\r' || peek() == '\t')) ++pos_;
  }
  void expect(char c, std::string_view what) {
    skip_whitespace();
    if (peek() != c) fail(what);
    ++pos_;
  }
  // After an item: true (and past the comma) when another item follows.
  bool next_item() {
    skip_whitespace();
    if (peek() != ',') return false;
    ++pos_;
    return true;
  }

  Json parse_value(int depth, std::string label) {
    skip_whitespace();
    if (at_end()) fail("unexpected end of input, expected a value");
    Json value;
    switch (peek()) {
      case '{': value = parse_object(depth + 1, label); break;
      case '[': value = parse_array(depth + 1, label); break;
      case '"': value = Json(parse_string()); break;
      case 't': value = parse_literal("true", Json(true)); break;
      case 'f': value = parse_literal("false", Json(false)); break;
      case 'n': value = parse_literal("null", Json()); break;
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) {
          value = parse_number();
        } else {
          fail("unexpected character '" + std::string(1, peek()) + "', expected a value");
        }
    }
    value.label_ = std::move(label);
    return value;
  }

  Json parse_literal(std::string_view word, Json value) {
    if (text_.substr(pos_, word.size()) != word) fail("invalid literal, expected '" + std::string(word) + "'");
    pos_ += word.size();
    return value;
  }

  void check_depth(int depth) const {
    if (depth > Json::kMaxDepth) fail("nesting deeper than " + std::to_string(Json::kMaxDepth) + " levels");
  }

  Json parse_array(int depth, const std::string& label) {
    check_depth(depth);
    ++pos_;  // '['
    Json::Array items;
    skip_whitespace();
    if (peek() != ']') {
      do {
        // Built by appending: GCC 12 warns falsely (-Wstringop-overflow) on "[" + std::to_string(i).
        std::string index = std::to_string(items.size());
        index.insert(index.begin(), '[');
        index.push_back(']');
        std::string item_label = Json::child_label(label, index, true);
        items.push_back(parse_value(depth, std::move(item_label)));
      } while (next_item());
    }
    expect(']', "expected ',' or ']' in array");
    return Json(std::move(items));
  }

  Json parse_object(int depth, const std::string& label) {
    check_depth(depth);
    const std::size_t start = pos_++;  // '{'
    Json::Object members;
    skip_whitespace();
    if (peek() != '}') {
      do {
        skip_whitespace();
        if (peek() != '"') fail("expected a string key in object");
        std::string key = parse_string();
        expect(':', "expected ':' after object key");
        Json value = parse_value(depth, Json::child_label(label, key, false));
        members.emplace_back(std::move(key), std::move(value));
      } while (next_item());
    }
    expect('}', "expected ',' or '}' in object");
    // Duplicate keys make lookups ambiguous; sorting views keeps this O(n log n) on huge headers.
    std::vector<std::string_view> keys;
    keys.reserve(members.size());
    for (const auto& member : members) keys.emplace_back(member.first);
    std::sort(keys.begin(), keys.end());
    if (auto dup = std::adjacent_find(keys.begin(), keys.end()); dup != keys.end()) {
      pos_ = start;
      fail("duplicate key '" + std::string(*dup) + "' in the object starting here");
    }
    return Json(std::move(members));
  }

  unsigned parse_hex4() {
    if (text_.size() - pos_ < 4) fail("truncated \\u escape");
    unsigned code = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {
      const char c = text_[pos_];
      unsigned digit = 16;
      if (c >= '0' && c <= '9') digit = static_cast<unsigned>(c - '0');
      if (c >= 'a' && c <= 'f') digit = static_cast<unsigned>(c - 'a' + 10);
      if (c >= 'A' && c <= 'F') digit = static_cast<unsigned>(c - 'A' + 10);
      if (digit == 16) fail("invalid hex digit in \\u escape");
      code = code * 16 + digit;
    }
    return code;
  }

  // Length of the well-formed UTF-8 sequence at pos_ (RFC 3629: no overlongs, no surrogates), or 0.
  std::size_t utf8_length() const {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text_[pos_ + i]); };
    const unsigned char b0 = byte(0);
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) n = 2;
    if (b0 >= 0xE0 && b0 <= 0xEF) n = 3, lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
    if (b0 >= 0xF0 && b0 <= 0xF4) n = 4, lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
    if (n == 0 || text_.size() - pos_ < n || byte(1) < lo || byte(1) > hi) return 0;
    for (std::size_t i = 2; i < n; ++i) {
      if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
    }
    return n;
  }

  static void append_utf8(std::string& out, unsigned code) {
    const auto put = [&](unsigned bits) { out += static_cast<char>(bits); };
    if (code < 0x80) return put(code);
    if (code < 0x800) {
      put(0xC0 | (code >> 6));
    } else if (code < 0x10000) {
      put(0xE0 | (code >> 12));
      put(0x80 | ((code >> 6) & 0x3F));
    } else {
      put(0xF0 | (code >> 18));
      put(0x80 | ((code >> 12) & 0x3F));
      put(0x80 | ((code >> 6) & 0x3F));
    }
    put(0x80 | (code & 0x3F));
    return;
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (at_end()) fail("unterminated string");
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') break;
      if (c < 0x20) fail("unescaped control character in string");
      if (c >= 0x80) {
        const std::size_t n = utf8_length();
        if (n == 0) fail("invalid UTF-8 in string");
        out.append(text_.substr(pos_, n));
        pos_ += n;
        continue;
      }
      if (c != '\\') {  // copy the run of plain ASCII in one append
        std::size_t end = pos_ + 1;
        while (end < text_.size() && text_[end] != '"' && text_[end] != '\\' &&
               static_cast<unsigned char>(text_[end]) >= 0x20 && static_cast<unsigned char>(text_[end]) < 0x80) {
          ++end;
        }
        out.append(text_.substr(pos_, end - pos_));
        pos_ = end;
        continue;
      }
      ++pos_;
      if (at_end()) fail("unterminated escape in string");
      const char e = text_[pos_++];
      if (const std::size_t k = std::string_view("\"\\/bfnrt").find(e); k != std::string_view::npos) {
        out += "\"\\/\b\f\n\r\t"[k];
        continue;
      }
      if (e != 'u') {
        --pos_;
        fail("invalid escape '\\" + std::string(1, e) + "' in string");
      }
      unsigned code = parse_hex4();
      if (code >= 0xDC00 && code <= 0xDFFF) fail("unpaired low surrogate in \\u escape");
      if (code >= 0xD800 && code <= 0xDBFF) {  // a UTF-16 pair: high then low surrogate
        if (text_.substr(pos_, 2) != "\\u") fail("high surrogate not followed by a \\u low surrogate");
        pos_ += 2;
        const unsigned low = parse_hex4();
        if (low < 0xDC00 || low > 0xDFFF) fail("high surrogate not followed by a low surrogate");
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
      }
      append_utf8(out, code);
    }
    ++pos_;  // closing quote
    return out;
  }

  Json parse_number() {
    const std::size_t start = pos_;
    const auto digits = [&] {
      const std::size_t from = pos_;
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
      return pos_ > from;
    };
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
      if (!at_end() && peek() >= '0' && peek() <= '9') fail("leading zeros are not allowed in numbers");
    } else if (!digits()) {
      fail("expected a digit in number");
    }
    bool integer = true;
    if (!at_end() && peek() == '.') {
      ++pos_;
      integer = false;
      if (!digits()) fail("expected a digit after the decimal point");
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      integer = false;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (!digits()) fail("expected a digit in the exponent");
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    if (integer) {
      std::int64_t i = 0;
      if (std::from_chars(first, last, i).ec == std::errc()) return Json(i);
      // Integers beyond int64 fall through and become doubles, as in Python's json and serde.
    }
    double d = 0;
    if (std::from_chars(first, last, d).ec != std::errc()) {
      pos_ = start;
      fail("number out of the range of a double");
    }
    return Json(d);
  }

  std::string_view text_;
  std::string_view source_;
  std::size_t pos_ = 0;
};

}  // namespace detail

inline Json Json::parse(std::string_view text, std::string_view source) {
  return detail::JsonParser(text, source).parse_document();
}

}  // namespace foundry::io
