// text/unicode.hpp: the Unicode knowledge BERT tokenization needs, as Python answers it: character
// classes of HF's tokenizer (control, whitespace, punctuation, CJK), str.lower(), NFD and NFC.
// Lookups read the generated tables in unicode_tables.hpp; ASCII never reaches them. There is no
// case folding, compatibility (NFKC/NFKD) normalization or segmentation here: BERT needs none.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>

#include "foundry/text/unicode_tables.hpp"

namespace foundry::text::unicode {

// Property bits of a code point; the generator writes them with the same values.
enum Property : std::uint8_t {
  kControl = 1,          // general category C* except \t \n \r (HF _is_control)
  kWhitespace = 2,       // ' ', \t, \n, \r or category Zs (HF _is_whitespace)
  kSpace = 4,            // str.isspace(): where str.split() cuts, e.g. also U+2028, U+2029
  kPunctuation = 8,      // category P* or ASCII non-alphanumeric printable (HF _is_punctuation)
  kNonspacingMark = 16,  // category Mn: what strip_accents removes after NFD
  kChinese = 32,         // the CJK ideograph blocks of HF _is_chinese_char
  kInert = 64,           // NFD(c) == c, combining class 0, never the second of a composition
};

namespace detail {

inline constexpr std::uint8_t ascii_properties(char32_t c) {
  std::uint8_t p = kInert;
  if (c < 0x20 || c == 0x7F) p |= kControl;
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r') p = kInert | kWhitespace | kSpace;
  if (c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1F)) p |= kSpace;
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) p |= kPunctuation;
  return p;
}

}  // namespace detail

inline std::uint8_t properties(char32_t cp) noexcept {
  static constexpr auto kAscii = [] {
    std::array<std::uint8_t, 128> t{};
    for (char32_t c = 0; c < 128; ++c) t[c] = detail::ascii_properties(c);
    return t;
  }();
  if (cp < 0x80) return kAscii[cp];
  if (cp > 0x10FFFF) return kControl;
  const std::uint32_t key = (static_cast<std::uint32_t>(cp) << 8) | 0xFF;
  const auto* run = std::upper_bound(std::begin(tables::kPropertyRuns), std::end(tables::kPropertyRuns), key);
  return static_cast<std::uint8_t>(*(run - 1) & 0xFF);  // kPropertyRuns[0] starts at U+0000
}

inline bool is_control(char32_t cp) noexcept { return properties(cp) & kControl; }
inline bool is_whitespace(char32_t cp) noexcept { return properties(cp) & kWhitespace; }
inline bool is_punctuation(char32_t cp) noexcept { return properties(cp) & kPunctuation; }
inline bool is_chinese_char(char32_t cp) noexcept { return properties(cp) & kChinese; }
inline bool is_space(char32_t cp) noexcept { return properties(cp) & kSpace; }

// Appends Python's cp.lower(): one code point, except U+0130 -> "i" U+0307. No final-sigma rule:
// HF's slow tokenizer lowercases one character at a time (PreTrainedTokenizer.tokenize), so Σ -> σ always.
inline void append_lower(std::u32string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    return;
  }
  if (cp == 0x130) {
    out.push_back(U'i');
    out.push_back(0x307);
    return;
  }
  const auto* r = std::upper_bound(std::begin(tables::kLowerRanges), std::end(tables::kLowerRanges), cp,
                                   [](char32_t c, const tables::LowerRange& x) { return c < x.first; });
  if (r != std::begin(tables::kLowerRanges)) {
    --r;
    if (cp <= r->last && (cp - r->first) % r->stride == 0) {
      out.push_back(static_cast<char32_t>(static_cast<std::int64_t>(cp) + r->delta));
      return;
    }
  }
  out.push_back(cp);
}

inline std::uint32_t combining_class(char32_t cp) noexcept {
  if (cp < 0x300) return 0;
  const auto* r = std::upper_bound(std::begin(tables::kCombiningRanges), std::end(tables::kCombiningRanges), cp,
                                   [](char32_t c, const tables::CombiningRange& x) { return c < x.first; });
  if (r == std::begin(tables::kCombiningRanges)) return 0;
  --r;
  return cp <= r->last ? r->ccc : 0;
}

namespace detail {

// Hangul syllables decompose and compose arithmetically (Unicode §3.12), not through the tables.
inline constexpr char32_t kHangulS = 0xAC00, kHangulL = 0x1100, kHangulV = 0x1161, kHangulT = 0x11A7;
inline constexpr char32_t kHangulLCount = 19, kHangulVCount = 21, kHangulTCount = 28;
inline constexpr char32_t kHangulNCount = kHangulVCount * kHangulTCount, kHangulSCount = kHangulLCount * kHangulNCount;

inline const tables::Decomposition* find_decomposition(char32_t cp) noexcept {
  const auto* d = std::lower_bound(std::begin(tables::kDecompositions), std::end(tables::kDecompositions), cp,
                                   [](const tables::Decomposition& x, char32_t c) { return x.cp < c; });
  return d != std::end(tables::kDecompositions) && d->cp == cp ? d : nullptr;
}

inline void append_nfd(std::u32string& out, char32_t cp) {
  if (cp >= kHangulS && cp < kHangulS + kHangulSCount) {
    const char32_t s = cp - kHangulS;
    out.push_back(kHangulL + s / kHangulNCount);
    out.push_back(kHangulV + (s % kHangulNCount) / kHangulTCount);
    if (s % kHangulTCount != 0) out.push_back(kHangulT + s % kHangulTCount);
    return;
  }
  const tables::Decomposition* d = find_decomposition(cp);
  if (d == nullptr) {
    out.push_back(cp);
    return;
  }
  append_nfd(out, d->first);  // decompositions nest at most a few levels deep
  if (d->second != 0) append_nfd(out, d->second);
}

inline char32_t compose(char32_t a, char32_t b) {
  if (a >= kHangulL && a < kHangulL + kHangulLCount && b >= kHangulV && b < kHangulV + kHangulVCount) {
    return kHangulS + ((a - kHangulL) * kHangulVCount + (b - kHangulV)) * kHangulTCount;
  }
  if (a >= kHangulS && a < kHangulS + kHangulSCount && (a - kHangulS) % kHangulTCount == 0 && b > kHangulT &&
      b < kHangulT + kHangulTCount) {
    return a + (b - kHangulT);
  }
  const auto* c = std::lower_bound(std::begin(tables::kCompositions), std::end(tables::kCompositions), std::pair{a, b},
                                   [](const tables::Composition& x, std::pair<char32_t, char32_t> key) {
                                     return x.first < key.first || (x.first == key.first && x.second < key.second);
                                   });
  return c != std::end(tables::kCompositions) && c->first == a && c->second == b ? c->composite : 0;
}

}  // namespace detail

// True when every code point is normalization-inert, so NFC(s) == NFD(s) == s: the quick check
// that lets ASCII, CJK and most real text skip normalization.
inline bool is_inert(std::u32string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char32_t c) { return (properties(c) & kInert) != 0; });
}

// Canonical decomposition (NFD): decompose fully, then stably sort each run of non-starters by class.
inline void nfd(std::u32string_view in, std::u32string& out) {
  out.clear();
  for (char32_t cp : in) detail::append_nfd(out, cp);
  // Insertion sort: runs of marks are a few code points long, and it is stable.
  for (std::size_t i = 1; i < out.size(); ++i) {
    const std::uint32_t ccc = combining_class(out[i]);
    if (ccc == 0) continue;
    for (std::size_t j = i; j > 0 && combining_class(out[j - 1]) > ccc; --j) std::swap(out[j - 1], out[j]);
  }
}

// Canonical composition (NFC): NFD, then compose each character with the last starter unless a
// character between them blocks it (class 0, or a class not below its own). Unicode §3.11 D117.
inline void nfc(std::u32string_view in, std::u32string& out) {
  std::u32string d;
  nfd(in, d);
  out.clear();
  std::ptrdiff_t starter = -1;
  std::uint32_t last_ccc = 0;
  for (char32_t cp : d) {
    const std::uint32_t ccc = combining_class(cp);
    const bool adjacent = starter >= 0 && static_cast<std::size_t>(starter) + 1 == out.size();
    if (starter >= 0 && (adjacent || last_ccc < ccc)) {
      if (const char32_t c = detail::compose(out[static_cast<std::size_t>(starter)], cp)) {
        out[static_cast<std::size_t>(starter)] = c;
        continue;
      }
    }
    if (ccc == 0) starter = static_cast<std::ptrdiff_t>(out.size());
    last_ccc = ccc;
    out.push_back(cp);
  }
}

}  // namespace foundry::text::unicode
