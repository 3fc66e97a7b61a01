// text/bert_tokenizer.hpp: BertTokenizer, text <-> ids as Hugging Face's (slow, Python) BertTokenizer
// does it: special tokens are cut out of the raw text first, the rest goes through BasicTokenizer and
// WordPiece; encodings add [CLS]/[SEP], truncate and pad; decode joins "##" pieces and applies HF's
// clean_up_tokenization. Batching into Tensors and MLM masking live in the collators, not here.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "foundry/core/error.hpp"
#include "foundry/text/basic_tokenizer.hpp"
#include "foundry/text/encoding.hpp"
#include "foundry/text/unicode.hpp"
#include "foundry/text/vocab.hpp"
#include "foundry/text/wordpiece.hpp"

namespace foundry::text {

struct BertTokenizerOptions {
  bool lowercase = true;              // do_lower_case: true for *-uncased checkpoints
  std::optional<bool> strip_accents{};  // unset: follows lowercase
  bool tokenize_chinese_chars = true;
  bool split_on_punctuation = true;
  bool remove_control_chars = true;
  std::vector<std::string> never_split{};  // words passed to the vocabulary whole
  SpecialTokens special_tokens{};
  std::size_t max_input_chars_per_word = 100;
};

struct DecodeOptions {
  bool skip_special_tokens = false;          // drop [UNK] [SEP] [PAD] [CLS] [MASK] (HF all_special_ids)
  bool clean_up_tokenization_spaces = true;  // " ," -> ",", " n't" -> "n't", ...
};

// Usage:
//   BertTokenizer tok(Vocab::load("vocab.txt"));
//   tok.tokenize("UNwant\u00E9d,running")         // {"un", "##want", "##ed", ",", "runn", "##ing"}
//   Encoding e = tok.encode("first", "second", {.max_length = 128, .truncation = Truncation::kLongestFirst});
//   tok.decode(e.ids, {.skip_special_tokens = true})
class BertTokenizer {
 public:
  explicit BertTokenizer(Vocab vocab, BertTokenizerOptions options = {})
      : options_(std::move(options)),
        basic_(basic_options(options_)),
        wordpiece_(std::move(vocab), {.unk_token = options_.special_tokens.unk,
                                      .max_input_chars_per_word = options_.max_input_chars_per_word}) {
    const SpecialTokens& s = options_.special_tokens;
    const Vocab& v = wordpiece_.vocab();
    pad_id_ = v.find(s.pad), cls_id_ = v.find(s.cls), sep_id_ = v.find(s.sep), mask_id_ = v.find(s.mask);
    for (const std::string& name : s.all()) {
      if (name.empty()) continue;
      specials_.push_back(name);
      if (special_first_bytes_.find(name[0]) == std::string::npos) special_first_bytes_ += name[0];
      if (const std::int32_t id = v.find(name); id >= 0) special_ids_.push_back(id);
    }
    user_never_split_.insert(options_.never_split.begin(), options_.never_split.end());
  }

  static BertTokenizer from_file(const std::filesystem::path& vocab_txt, BertTokenizerOptions options = {}) {
    return BertTokenizer(Vocab::load(vocab_txt), std::move(options));
  }

  const Vocab& vocab() const noexcept { return wordpiece_.vocab(); }
  const BertTokenizerOptions& options() const noexcept { return options_; }
  std::int32_t unk_id() const noexcept { return wordpiece_.unk_id(); }
  std::int32_t pad_id() const { return required(pad_id_, options_.special_tokens.pad); }
  std::int32_t cls_id() const { return required(cls_id_, options_.special_tokens.cls); }
  std::int32_t sep_id() const { return required(sep_id_, options_.special_tokens.sep); }
  std::int32_t mask_id() const { return required(mask_id_, options_.special_tokens.mask); }
  bool is_special_id(std::int32_t id) const noexcept {
    return std::find(special_ids_.begin(), special_ids_.end(), id) != special_ids_.end();
  }

  // Appends the ids of `text`, without [CLS]/[SEP]. The hot path: no allocation per word.
  void append_ids(std::string_view text, std::vector<std::int32_t>& out) const {
    for_each_chunk(text, [&](std::string_view chunk, bool is_special) {
      if (is_special) {
        const std::int32_t id = vocab().find(chunk);
        out.push_back(id >= 0 ? id : unk_id());
        return;
      }
      basic_.for_each_word(chunk, [&](std::string_view word, bool never_split) {
        if (never_split && user_never_split_.contains(word)) {
          const std::int32_t id = vocab().find(word);
          out.push_back(id >= 0 ? id : unk_id());
        } else {
          wordpiece_.append_word(word, out);
        }
      });
    });
  }

  std::vector<std::int32_t> encode_ids(std::string_view text) const {
    std::vector<std::int32_t> ids;
    append_ids(text, ids);
    return ids;
  }

  // HF tokenize(): the token strings, special tokens and never_split words as written.
  std::vector<std::string> tokenize(std::string_view text) const {
    std::vector<std::string> tokens;
    std::vector<std::int32_t> ids;
    for_each_chunk(text, [&](std::string_view chunk, bool is_special) {
      if (is_special) {
        tokens.emplace_back(chunk);
        return;
      }
      basic_.for_each_word(chunk, [&](std::string_view word, bool never_split) {
        if (never_split && user_never_split_.contains(word)) {
          tokens.emplace_back(word);
          return;
        }
        ids.clear();
        wordpiece_.append_word(word, ids);
        for (std::int32_t id : ids) tokens.push_back(vocab().token(id));
      });
    });
    return tokens;
  }

  Encoding encode(std::string_view text, const EncodeOptions& options = {}) const {
    return encode_impl(text, nullptr, options);
  }
  Encoding encode(std::string_view first, std::string_view second, const EncodeOptions& options = {}) const {
    return encode_impl(first, &second, options);
  }

  // Each text encoded with `options`, then the batch padded together (Padding::kLongest pads to the
  // longest member).
  template <class Texts>
    requires std::convertible_to<std::ranges::range_reference_t<const Texts&>, std::string_view>
  std::vector<Encoding> encode_batch(const Texts& texts, const EncodeOptions& options = {}) const {
    std::vector<Encoding> batch;
    for (const auto& t : texts) batch.push_back(encode_impl(std::string_view(t), nullptr, unpadded(options)));
    pad(batch, options, options.padding == Padding::kNone ? 0 : pad_id());
    return batch;
  }

  // Pairs (anything with .first and .second convertible to string_view), padded together.
  template <class Pairs>
    requires requires(std::ranges::range_reference_t<const Pairs&> p) { std::string_view(p.first); std::string_view(p.second); }
  std::vector<Encoding> encode_pair_batch(const Pairs& pairs, const EncodeOptions& options = {}) const {
    std::vector<Encoding> batch;
    for (const auto& p : pairs) {
      const std::string_view second(p.second);
      batch.push_back(encode_impl(std::string_view(p.first), &second, unpadded(options)));
    }
    pad(batch, options, options.padding == Padding::kNone ? 0 : pad_id());
    return batch;
  }

  // Token strings of ids; out-of-range ids throw IndexError.
  std::vector<std::string> convert_ids_to_tokens(std::span<const std::int32_t> ids, bool skip_special_tokens = false) const {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (std::int32_t id : ids) {
      if (skip_special_tokens && is_special_id(id)) continue;
      tokens.push_back(vocab().token(id));
    }
    return tokens;
  }

  // HF convert_tokens_to_string: " ".join(tokens).replace(" ##", "").strip().
  static std::string convert_tokens_to_string(std::span<const std::string> tokens) {
    std::string text;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) text += ' ';
      text += tokens[i];
    }
    replace_all(text, " ##", "");
    return python_strip(text);
  }

  // HF clean_up_tokenization: the same ten replacements, one after another, over the whole string.
  static std::string clean_up_tokenization(std::string text) {
    static constexpr std::pair<std::string_view, std::string_view> kRules[] = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
        {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (const auto& [from, to] : kRules) replace_all(text, from, to);
    return text;
  }

  std::string decode(std::span<const std::int32_t> ids, const DecodeOptions& options = {}) const {
    std::string text = convert_tokens_to_string(convert_ids_to_tokens(ids, options.skip_special_tokens));
    return options.clean_up_tokenization_spaces ? clean_up_tokenization(std::move(text)) : text;
  }

 private:
  static BasicTokenizerOptions basic_options(const BertTokenizerOptions& o) {
    std::vector<std::string> never_split = o.never_split;
    for (const std::string& s : o.special_tokens.all()) never_split.push_back(s);
    return {.lowercase = o.lowercase,
            .strip_accents = o.strip_accents,
            .tokenize_chinese_chars = o.tokenize_chinese_chars,
            .split_on_punctuation = o.split_on_punctuation,
            .remove_control_chars = o.remove_control_chars,
            .never_split = std::move(never_split),
            .lowercase_before_never_split = true};
  }

  std::int32_t required(std::int32_t id, const std::string& name) const {
    if (id < 0) foundry::detail::fail<ValueError>("BertTokenizer: special token '", name, "' is not in the vocabulary");
    return id;
  }

  // Splits the raw text at occurrences of special tokens (earliest first, then longest), like HF's
  // added-token trie, and calls f(chunk, is_special) for each non-empty chunk.
  template <class F>
  void for_each_chunk(std::string_view text, F&& f) const {
    // find_first_of tests every byte against the set with a call; one first byte ("[") is a memchr.
    const auto next = [&](std::size_t from) {
      return special_first_bytes_.size() == 1 ? text.find(special_first_bytes_[0], from)
                                              : text.find_first_of(special_first_bytes_, from);
    };
    std::size_t chunk_start = 0;
    for (std::size_t i = next(0); i != std::string_view::npos;) {
      std::size_t best = 0;
      for (const std::string& s : specials_) {
        if (s.size() > best && text.substr(i, s.size()) == s) best = s.size();
      }
      if (best == 0) {
        i = next(i + 1);
        continue;
      }
      if (i > chunk_start) f(text.substr(chunk_start, i - chunk_start), false);
      f(text.substr(i, best), true);
      chunk_start = i + best;
      i = next(chunk_start);
    }
    if (chunk_start < text.size()) f(text.substr(chunk_start), false);
  }

  static EncodeOptions unpadded(EncodeOptions o) {
    o.padding = Padding::kNone;
    return o;
  }

  Encoding encode_impl(std::string_view first, const std::string_view* second, const EncodeOptions& options) const {
    if (options.truncation != Truncation::kNone && !options.max_length) {
      foundry::detail::fail<ValueError>("BertTokenizer::encode: truncation needs max_length");
    }
    std::vector<std::int32_t> a = encode_ids(first), b;
    if (second != nullptr) b = encode_ids(*second);
    const std::size_t n_special = options.add_special_tokens ? (second ? 3 : 2) : 0;
    if (options.max_length) truncate(a, second ? &b : nullptr, n_special, *options.max_length, options.truncation);
    const std::int32_t cls = options.add_special_tokens ? cls_id() : 0, sep = options.add_special_tokens ? sep_id() : 0;
    Encoding e = assemble(a, second ? &b : nullptr, options.add_special_tokens, cls, sep);
    if (options.padding == Padding::kMaxLength) pad(std::span<Encoding>(&e, 1), options, pad_id());
    return e;
  }

  static void replace_all(std::string& s, std::string_view from, std::string_view to) {
    std::string out;
    std::size_t start = 0;
    for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, start)) {
      out.append(s, start, at - start);
      out += to;
      start = at + from.size();
    }
    if (start == 0) return;
    out.append(s, start);
    s = std::move(out);
  }

  // Python's str.strip(): removes leading and trailing code points with str.isspace().
  static std::string python_strip(std::string_view s) {
    std::size_t begin = s.size(), end = 0;
    for (std::size_t i = 0; i < s.size();) {
      const utf8::Decoded d = utf8::decode(s, i);
      if (!unicode::is_space(d.cp)) {
        begin = std::min(begin, i);
        end = i + d.length;
      }
      i += d.length;
    }
    return begin < end ? std::string(s.substr(begin, end - begin)) : std::string();
  }

  BertTokenizerOptions options_;
  BasicTokenizer basic_;
  WordPiece wordpiece_;
  std::int32_t pad_id_ = -1, cls_id_ = -1, sep_id_ = -1, mask_id_ = -1;
  std::vector<std::string> specials_;
  std::string special_first_bytes_;  // "[" for BERT's names
  std::vector<std::int32_t> special_ids_;
  std::unordered_set<std::string, StringHash, std::equal_to<>> user_never_split_;
};

}  // namespace foundry::text
