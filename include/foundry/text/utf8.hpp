// text/utf8.hpp: UTF-8 decoding and encoding of code points, safe on any bytes.
// Ill-formed input never reads past the end: each maximal ill-formed subpart becomes one U+FFFD
// (Unicode §3.9 "U+FFFD substitution of maximal subparts", what Python's errors="replace" does), so
// decoding here and in the Python reference agree byte for byte. No normalization lives here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace foundry::text::utf8 {

inline constexpr char32_t kReplacement = 0xFFFD;

// One decoded code point and the number of bytes (1..4) it consumed; never 0 bytes on a non-empty input.
struct Decoded {
  char32_t cp;
  std::uint32_t length;
};

// Decodes the code point starting at s[i] (requires i < s.size()).
//   auto [cp, n] = utf8::decode("\xC3\xA9!", 0);  // cp = U+00E9, n = 2
inline Decoded decode(std::string_view s, std::size_t i) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return {b0, 1};
  // Table 3-7 of the Unicode standard: the allowed range of the second byte depends on the first,
  // which rules out overlong forms, surrogates and code points above U+10FFFF.
  std::uint32_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  char32_t cp;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1, cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2, cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3, cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {kReplacement, 1};  // a continuation byte or C0, C1, F5..FF: never a lead byte
  }
  for (std::uint32_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) return {kReplacement, k};
    const unsigned char b = byte(i + k);
    if (b < lo || b > hi) return {kReplacement, k};
    lo = 0x80, hi = 0xBF;
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, need + 1};
}

// Appends the UTF-8 form of cp; surrogates and values above U+10FFFF are written as U+FFFD.
inline void append(std::string& out, char32_t cp) {
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = kReplacement;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    const char b[2] = {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
    out.append(b, 2);
  } else if (cp < 0x10000) {
    const char b[3] = {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                       static_cast<char>(0x80 | (cp & 0x3F))};
    out.append(b, 3);
  } else {
    const char b[4] = {static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
                       static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
    out.append(b, 4);
  }
}

// Decodes all of s, replacing ill-formed parts by U+FFFD.
inline std::u32string to_code_points(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const Decoded d = decode(s, i);
    out.push_back(d.cp);
    i += d.length;
  }
  return out;
}

inline std::string from_code_points(std::u32string_view cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t cp : cps) append(out, cp);
  return out;
}

// Byte offset of the first ill-formed subpart, or s.size() when s is valid UTF-8.
inline std::size_t first_invalid(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const Decoded d = decode(s, i);
    if (d.cp == kReplacement && !(d.length == 3 && s.substr(i, 3) == "\xEF\xBF\xBD")) return i;
    i += d.length;
  }
  return s.size();
}

inline bool is_valid(std::string_view s) noexcept { return first_invalid(s) == s.size(); }

// Number of code points in s, ill-formed subparts counting one each (Python's len() after decoding).
inline std::size_t count_code_points(std::string_view s) noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++n) {
    i += static_cast<unsigned char>(s[i]) < 0x80 ? 1 : decode(s, i).length;
  }
  return n;
}

}  // namespace foundry::text::utf8
