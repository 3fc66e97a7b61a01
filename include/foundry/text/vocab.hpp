// text/vocab.hpp: Vocab, the token <-> id table of a WordPiece model, and its vocab.txt format
// (Hugging Face's: one token per line, id = line number). Lookups take string_view and never
// allocate. Which tokens are special is only a naming convention here (SpecialTokens); how they are
// used lives in bert_tokenizer.hpp.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "foundry/core/error.hpp"
#include "foundry/text/utf8.hpp"

namespace foundry::text {

// A transparent hash so maps keyed by std::string answer string_view queries without a copy.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    // Eight bytes per multiply-xorshift round; tokens are short, so this is a handful of instructions.
    std::uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
    const char* p = s.data();
    std::size_t n = s.size();
    for (; n >= 8; p += 8, n -= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
      h ^= h >> 31;
    }
    std::uint64_t w = 0;
    if (n > 0) std::memcpy(&w, p, n);  // p may be null for an empty view
    h = (h ^ w) * 0x94D049BB133111EBull;
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
};

template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// The names BERT gives its special tokens; the vocabulary decides their ids.
struct SpecialTokens {
  std::string pad = "[PAD]", unk = "[UNK]", cls = "[CLS]", sep = "[SEP]", mask = "[MASK]";
  // In the order of HF's all_special_tokens.
  std::vector<std::string> all() const { return {unk, sep, pad, cls, mask}; }
};

// Tokens in id order plus a hash index. A token listed twice keeps the id of its last line, as in
// HF's load_vocab; size() counts lines (ids), not distinct tokens.
//   Vocab v({"[PAD]", "[UNK]", "hello"});
//   v.find("hello") == 2;  v.token(1) == "[UNK]";  v.find("nope") == -1
class Vocab {
 public:
  Vocab() = default;
  explicit Vocab(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
    ids_.reserve(tokens_.size());
    for (std::size_t i = 0; i < tokens_.size(); ++i) ids_.insert_or_assign(tokens_[i], static_cast<std::int32_t>(i));
  }

  // Parses vocab.txt contents. Lines end at \n, \r\n or \r (Python's universal newlines); a final line
  // without a newline is a token; `source` names the file in errors.
  static Vocab parse(std::string_view contents, std::string_view source = "vocab") {
    std::vector<std::string> tokens;
    std::size_t line = 1;
    for (std::size_t i = 0; i < contents.size(); ++line) {
      const std::size_t end = contents.find_first_of("\r\n", i);
      const std::string_view token = contents.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
      if (const std::size_t bad = utf8::first_invalid(token); bad != token.size()) {
        foundry::detail::fail<IoError>(source, ":", line, ": invalid UTF-8 at byte ", bad + 1, " of the token");
      }
      tokens.emplace_back(token);
      if (end == std::string_view::npos) break;
      i = end + (contents[end] == '\r' && end + 1 < contents.size() && contents[end + 1] == '\n' ? 2 : 1);
    }
    return Vocab(std::move(tokens));
  }

  static Vocab load(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) foundry::detail::fail<IoError>("Vocab::load: cannot open '", path.string(), "'");
    std::ostringstream contents;
    contents << in.rdbuf();
    return parse(contents.str(), path.string());
  }

  // vocab.txt contents: every token followed by "\n", in id order.
  std::string to_text() const {
    std::string out;
    for (std::size_t i = 0; i < tokens_.size(); ++i) {
      if (tokens_[i].find_first_of("\r\n") != std::string::npos) {
        foundry::detail::fail<ValueError>("Vocab: token ", i, " contains a line break and cannot be written to vocab.txt");
      }
      out += tokens_[i];
      out += '\n';
    }
    return out;
  }

  void save(const std::filesystem::path& path) const {
    const std::string text = to_text();
    std::ofstream out(path, std::ios::binary);
    if (!out.write(text.data(), static_cast<std::streamsize>(text.size()))) {
      foundry::detail::fail<IoError>("Vocab::save: cannot write '", path.string(), "'");
    }
  }

  std::int32_t size() const noexcept { return static_cast<std::int32_t>(tokens_.size()); }
  const std::vector<std::string>& tokens() const noexcept { return tokens_; }

  // Id of `token`, or -1 when it is not in the vocabulary.
  std::int32_t find(std::string_view token) const noexcept {
    const auto it = ids_.find(token);
    return it == ids_.end() ? -1 : it->second;
  }
  bool contains(std::string_view token) const noexcept { return find(token) >= 0; }

  // Id of `token`; throws ValueError when it is missing (use find() to test).
  std::int32_t id(std::string_view token) const {
    const std::int32_t i = find(token);
    if (i < 0) foundry::detail::fail<ValueError>("Vocab::id: token '", token, "' is not in the vocabulary of ", size(), " tokens");
    return i;
  }

  const std::string& token(std::int32_t id) const {
    if (id < 0 || id >= size()) foundry::detail::fail<IndexError>("Vocab::token: id ", id, " out of range [0, ", size(), ")");
    return tokens_[static_cast<std::size_t>(id)];
  }

  friend bool operator==(const Vocab& a, const Vocab& b) { return a.tokens_ == b.tokens_; }

 private:
  std::vector<std::string> tokens_;
  StringMap<std::int32_t> ids_;
};

}  // namespace foundry::text
