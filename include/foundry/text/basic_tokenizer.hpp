// text/basic_tokenizer.hpp: BasicTokenizer, BERT's pre-tokenization (HF BasicTokenizer): drop control
// characters, split on whitespace, isolate CJK ideographs, NFC, optionally lowercase and strip accents
// (NFD, drop Mn), split off punctuation. Words come out as UTF-8 views; WordPiece is wordpiece.hpp.
// Runs of ASCII take a byte-table fast path; anything else goes through code points and unicode.hpp.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "foundry/text/unicode.hpp"
#include "foundry/text/utf8.hpp"
#include "foundry/text/vocab.hpp"

namespace foundry::text {

struct BasicTokenizerOptions {
  bool lowercase = true;                // do_lower_case
  std::optional<bool> strip_accents{};    // unset: strip exactly when lowercasing (original BERT)
  bool tokenize_chinese_chars = true;   // each CJK ideograph becomes a word of its own
  bool split_on_punctuation = true;     // do_split_on_punc
  bool remove_control_chars = true;     // category C* (except \t \n \r) is dropped
  std::vector<std::string> never_split{};  // whole words kept as they are: not lowercased, not split
  // HF's BertTokenizer lowercases the text before its BasicTokenizer compares words with never_split;
  // the bare BasicTokenizer compares first. BertTokenizer sets this to reproduce that.
  bool lowercase_before_never_split = false;
};

// A non-owning reference to a callable taking (std::string_view word, bool never_split): the
// tokenizer body is compiled once instead of once per caller lambda, at one indirect call per word.
class WordSink {
 public:
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, WordSink>)
  WordSink(F&& f) noexcept  // NOLINT: implicit, so callers pass lambdas directly
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, std::string_view w, bool n) { (*static_cast<std::remove_reference_t<F>*>(o))(w, n); }) {}
  void operator()(std::string_view word, bool never_split) const { call_(object_, word, never_split); }

 private:
  void* object_;
  void (*call_)(void*, std::string_view, bool);
};

// Usage:
//   BasicTokenizer basic;
//   basic.tokenize(" \tHeLLo!how  \n Are yoU?  ")  // {"hello", "!", "how", "are", "you", "?"}
//   basic.for_each_word(text, [](std::string_view word, bool never_split) { ... });
class BasicTokenizer {
 public:
  explicit BasicTokenizer(BasicTokenizerOptions options = {}) : options_(std::move(options)) {
    strip_accents_ = options_.strip_accents.value_or(options_.lowercase);
    for (int b = 0; b < 256; ++b) {
      const auto cp = static_cast<char32_t>(b);
      const std::uint8_t p = b < 0x80 ? unicode::properties(cp) : 0;
      ByteClass c = kWord;
      if (b >= 0x80) {
        c = kHigh;
      } else if (b == 0 || (options_.remove_control_chars && (p & unicode::kControl))) {
        c = kDrop;
      } else if (p & (unicode::kWhitespace | unicode::kSpace)) {
        c = kSeparator;
      } else if (options_.split_on_punctuation && (p & unicode::kPunctuation)) {
        c = kPunct;
      }
      byte_class_[static_cast<std::size_t>(b)] = c;
      ascii_map_[static_cast<std::size_t>(b)] =
          static_cast<char>(options_.lowercase && b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b);
    }
    for (const std::string& w : options_.never_split) {
      if (w.empty()) continue;
      never_split_.insert(w);
      never_split_first_[static_cast<unsigned char>(w[0])] = true;
    }
  }

  const BasicTokenizerOptions& options() const noexcept { return options_; }

  // Calls emit(std::string_view word, bool never_split) for every word in order. The view is valid
  // only during the call. Ill-formed UTF-8 decodes to U+FFFD, which is dropped like HF drops it.
  void for_each_word(std::string_view text, WordSink emit) const {
    Scratch scratch;
    for (std::size_t i = 0; i < text.size();) {
      if (byte_class_[static_cast<unsigned char>(text[i])] == kSeparator) {
        ++i;
        continue;
      }
      // A segment runs to the next ASCII separator; non-ASCII separators are found in the slow path.
      bool ascii = true;
      std::size_t j = i;
      for (; j < text.size(); ++j) {
        const ByteClass c = byte_class_[static_cast<unsigned char>(text[j])];
        if (c == kSeparator) break;
        ascii &= c != kHigh;
      }
      const std::string_view segment = text.substr(i, j - i);
      if (ascii) {
        ascii_segment(segment, scratch, emit);
      } else {
        unicode_segment(segment, scratch, emit);
      }
      i = j;
    }
  }

  std::vector<std::string> tokenize(std::string_view text) const {
    std::vector<std::string> words;
    for_each_word(text, [&](std::string_view w, bool) { words.emplace_back(w); });
    return words;
  }

 private:
  enum ByteClass : std::uint8_t { kWord, kSeparator, kDrop, kPunct, kHigh };

  struct Scratch {
    std::string word;
    std::u32string cps, normalized;
  };

  static unsigned char ascii_lower(unsigned char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<unsigned char>(c + ('a' - 'A')) : c;
  }

  bool is_never_split(std::string_view w) const {
    return !never_split_.empty() && !w.empty() && never_split_first_[static_cast<unsigned char>(w[0])] &&
           never_split_.find(w) != never_split_.end();
  }

  // The whole pipeline for bytes < 0x80: dropping controls, lowercasing and punctuation splitting
  // are table lookups, and NFC/NFD are the identity.
  void ascii_segment(std::string_view segment, Scratch& s, WordSink emit) const {
    const bool lower_first = options_.lowercase && options_.lowercase_before_never_split;
    const auto first = static_cast<unsigned char>(segment[0]);
    // Build the cleaned word only when its first byte can start a never_split entry (BERT's: "[").
    if (!never_split_.empty() &&
        (byte_class_[first] == kDrop || never_split_first_[lower_first ? ascii_lower(first) : first])) {
      s.word.clear();
      for (char ch : segment) {
        if (byte_class_[static_cast<unsigned char>(ch)] == kDrop) continue;
        s.word.push_back(lower_first && ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch);
      }
      if (is_never_split(s.word)) {
        emit(std::string_view(s.word), true);
        return;
      }
    }
    // Words are written into one buffer the size of the segment and emitted as views of it.
    s.word.resize(std::max(s.word.size(), segment.size()));
    char* const out = s.word.data();
    std::size_t n = 0, word_start = 0;
    for (std::size_t k = 0; k < segment.size(); ++k) {
      const auto ch = static_cast<unsigned char>(segment[k]);
      const ByteClass c = byte_class_[ch];
      if (c == kWord) {
        out[n++] = ascii_map_[ch];
      } else if (c == kPunct) {
        if (n > word_start) emit(std::string_view(out + word_start, n - word_start), false);
        emit(segment.substr(k, 1), false);
        word_start = n;
      }  // kDrop: skipped
    }
    if (n > word_start) emit(std::string_view(out + word_start, n - word_start), false);
  }

  // Decode, clean and cut at whitespace and around CJK ideographs; each piece then goes through
  // word() exactly as HF handles one whitespace-separated token.
  void unicode_segment(std::string_view segment, Scratch& s, WordSink emit) const {
    s.cps.clear();
    const auto flush = [&] {
      if (!s.cps.empty()) word(s, emit);
      s.cps.clear();
    };
    for (std::size_t k = 0; k < segment.size();) {
      const utf8::Decoded d = utf8::decode(segment, k);
      k += d.length;
      if (d.cp == 0 || d.cp == utf8::kReplacement) continue;
      const std::uint8_t p = unicode::properties(d.cp);
      if (options_.remove_control_chars && (p & unicode::kControl)) continue;
      if (p & (unicode::kWhitespace | unicode::kSpace)) {
        flush();
      } else if (options_.tokenize_chinese_chars && (p & unicode::kChinese)) {
        flush();
        if (p & unicode::kInert) {
          // An ideograph alone is its own NFC and NFD, has no case, is no mark and no punctuation.
          s.word.clear();
          utf8::append(s.word, d.cp);
          emit(std::string_view(s.word), is_never_split(s.word));
        } else {
          s.cps.push_back(d.cp);  // a compatibility ideograph: NFC maps it to its unified form
          flush();
        }
      } else {
        s.cps.push_back(d.cp);
      }
    }
    flush();
  }

  void lower(Scratch& s) const {
    s.normalized.clear();
    for (char32_t cp : s.cps) unicode::append_lower(s.normalized, cp);
    s.cps.swap(s.normalized);
  }

  // One whitespace-free piece in s.cps: NFC, never_split check, lowercase, strip accents, punctuation.
  void word(Scratch& s, WordSink emit) const {
    const bool lowered = options_.lowercase && options_.lowercase_before_never_split;
    if (lowered) lower(s);
    const bool inert = unicode::is_inert(s.cps);
    if (!inert) {
      unicode::nfc(s.cps, s.normalized);
      s.cps.swap(s.normalized);
    }
    if (!never_split_.empty()) {
      s.word.clear();
      for (char32_t cp : s.cps) utf8::append(s.word, cp);
      if (is_never_split(s.word)) {
        emit(std::string_view(s.word), true);
        return;
      }
    }
    if (options_.lowercase && !(lowered && inert)) lower(s);  // lowering again matters only after NFC
    if (strip_accents_) {
      if (!unicode::is_inert(s.cps)) {
        unicode::nfd(s.cps, s.normalized);
        s.cps.swap(s.normalized);
      }
      std::erase_if(s.cps, [](char32_t cp) { return (unicode::properties(cp) & unicode::kNonspacingMark) != 0; });
    }
    s.word.clear();
    for (char32_t cp : s.cps) {
      if (options_.split_on_punctuation && unicode::is_punctuation(cp)) {
        if (!s.word.empty()) emit(std::string_view(s.word), false);
        s.word.clear();
        utf8::append(s.word, cp);
        emit(std::string_view(s.word), false);
        s.word.clear();
      } else {
        utf8::append(s.word, cp);
      }
    }
    if (!s.word.empty()) emit(std::string_view(s.word), false);
  }

  BasicTokenizerOptions options_;
  bool strip_accents_ = true;
  std::array<ByteClass, 256> byte_class_{};
  std::array<char, 256> ascii_map_{};  // lowercased when lowercasing
  std::unordered_set<std::string, StringHash, std::equal_to<>> never_split_;
  std::array<bool, 256> never_split_first_{};
};

}  // namespace foundry::text
