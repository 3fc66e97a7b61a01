// text/wordpiece.hpp: WordPiece, greedy longest-match-first subword splitting of one word (HF
// WordpieceTokenizer): the first piece is a vocabulary token, later pieces are "##" tokens; a word
// with an unmatchable rest, or longer than 100 code points, becomes [UNK] as a whole.
// Splitting text into words is basic_tokenizer.hpp's job; training a vocabulary is wordpiece_trainer.hpp's.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "foundry/core/error.hpp"
#include "foundry/text/unicode.hpp"
#include "foundry/text/utf8.hpp"
#include "foundry/text/vocab.hpp"

namespace foundry::text {

namespace detail {

// A byte trie answering "the longest key that is a prefix of s" in one walk over s: WordPiece's
// greedy longest match without trying every end. A node with many children (the root, common first
// letters) has a direct 256-entry table; the others list their edge bytes contiguously for a short scan.
class ByteTrie {
 public:
  // entries: (key, id), keys sorted and distinct.
  void build(const std::vector<std::pair<std::string_view, std::int32_t>>& entries) {
    nodes_.assign(1, Node{});
    edge_bytes_.clear();
    edge_child_.clear();
    dense_.clear();
    if (!entries.empty()) build_node(0, entries, 0, entries.size(), 0);
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      if (n != 0 && nodes_[n].count < kDenseFrom) continue;
      nodes_[n].dense = static_cast<std::int32_t>(dense_.size() / 256);
      dense_.resize(dense_.size() + 256, -1);
      for (std::uint32_t e = 0; e < nodes_[n].count; ++e) {
        dense_[static_cast<std::size_t>(nodes_[n].dense) * 256 + edge_bytes_[nodes_[n].first + e]] =
            edge_child_[nodes_[n].first + e];
      }
    }
  }

  // {length, id} of the longest key that starts s, or {0, -1}.
  std::pair<std::size_t, std::int32_t> longest_prefix(std::string_view s) const noexcept {
    std::pair<std::size_t, std::int32_t> best{0, -1};
    std::int32_t node = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      node = child(nodes_[static_cast<std::size_t>(node)], static_cast<unsigned char>(s[i]));
      if (node < 0) break;
      if (const std::int32_t id = nodes_[static_cast<std::size_t>(node)].id; id >= 0) best = {i + 1, id};
    }
    return best;
  }

 private:
  static constexpr std::uint32_t kDenseFrom = 12;  // children at which a node gets a direct table

  struct Node {
    std::int32_t id = -1;                // the key ending here, if any
    std::int32_t dense = -1;             // its row in dense_, if it has one
    std::uint32_t first = 0, count = 0;  // its edges: edge_bytes_[first, first + count)
  };

  std::int32_t child(const Node& n, unsigned char b) const noexcept {
    if (n.dense >= 0) return dense_[static_cast<std::size_t>(n.dense) * 256 + b];
    for (std::uint32_t e = n.first, end = n.first + n.count; e < end; ++e) {
      if (edge_bytes_[e] == b) return edge_child_[e];
    }
    return -1;
  }

  void build_node(std::size_t node, const std::vector<std::pair<std::string_view, std::int32_t>>& e, std::size_t lo,
                  std::size_t hi, std::size_t depth) {
    if (e[lo].first.size() == depth) nodes_[node].id = e[lo++].second;
    std::vector<std::pair<std::size_t, std::size_t>> groups;  // [lo, hi) of each child, by next byte
    for (std::size_t i = lo; i < hi;) {
      std::size_t j = i + 1;
      while (j < hi && e[j].first[depth] == e[i].first[depth]) ++j;
      groups.emplace_back(i, j);
      i = j;
    }
    const auto first = static_cast<std::uint32_t>(edge_bytes_.size());
    nodes_[node].first = first;
    nodes_[node].count = static_cast<std::uint32_t>(groups.size());
    for (const auto& g : groups) {
      edge_bytes_.push_back(static_cast<unsigned char>(e[g.first].first[depth]));
      edge_child_.push_back(-1);
    }
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const auto child = static_cast<std::int32_t>(nodes_.size());
      nodes_.emplace_back();
      edge_child_[first + g] = child;
      build_node(static_cast<std::size_t>(child), e, groups[g].first, groups[g].second, depth + 1);
    }
  }

  std::vector<Node> nodes_;
  std::vector<unsigned char> edge_bytes_;
  std::vector<std::int32_t> edge_child_;
  std::vector<std::int32_t> dense_;  // 256 children per dense node, -1 for none
};

}  // namespace detail

struct WordPieceOptions {
  std::string unk_token = "[UNK]";
  std::string continuing_prefix = "##";
  std::size_t max_input_chars_per_word = 100;  // in code points, as HF counts them
};

// Usage:
//   WordPiece wp(Vocab({"[UNK]", "un", "##want", "##ed"}));
//   wp.tokenize("unwanted wanted")  // {"un", "##want", "##ed", "[UNK]"}
class WordPiece {
 public:
  explicit WordPiece(Vocab vocab, WordPieceOptions options = {}) : vocab_(std::move(vocab)), options_(std::move(options)) {
    unk_id_ = vocab_.find(options_.unk_token);
    if (unk_id_ < 0) {
      foundry::detail::fail<ValueError>("WordPiece: the unknown token '", options_.unk_token, "' is not in the vocabulary of ",
                               vocab_.size(), " tokens");
    }
    // Distinct keys, each with the id of its last line, sorted for the tries.
    std::vector<std::pair<std::string_view, std::int32_t>> first, continuing;  // views into vocab_
    const std::string& prefix = options_.continuing_prefix;
    for (std::int32_t id = 0; id < vocab_.size(); ++id) {
      const std::string& t = vocab_.token(id);
      if (t.empty() || vocab_.find(t) != id) continue;
      first.emplace_back(t, id);
      if (!prefix.empty() && t.size() > prefix.size() && t.compare(0, prefix.size(), prefix) == 0) {
        continuing.emplace_back(std::string_view(t).substr(prefix.size()), id);
      }
    }
    std::sort(first.begin(), first.end());
    std::sort(continuing.begin(), continuing.end());
    first_.build(first);
    continuing_.build(continuing);
  }

  const Vocab& vocab() const noexcept { return vocab_; }
  const WordPieceOptions& options() const noexcept { return options_; }
  std::int32_t unk_id() const noexcept { return unk_id_; }

  // Appends the ids of the pieces of `word` (UTF-8 without whitespace) to `out`.
  void append_word(std::string_view word, std::vector<std::int32_t>& out) const {
    if (word.empty()) return;
    if (too_long(word)) {
      out.push_back(unk_id_);
      return;
    }
    const std::size_t mark = out.size();
    // Greedy longest match first: the longest vocabulary token that starts the rest of the word.
    for (std::size_t start = 0; start < word.size();) {
      const auto [length, id] = (start == 0 ? first_ : continuing_).longest_prefix(word.substr(start));
      if (length == 0) {
        out.resize(mark);
        out.push_back(unk_id_);
        return;
      }
      out.push_back(id);
      start += length;
    }
  }

  std::vector<std::int32_t> encode_word(std::string_view word) const {
    std::vector<std::int32_t> ids;
    append_word(word, ids);
    return ids;
  }

  // HF WordpieceTokenizer.tokenize: split `text` at whitespace (Python's str.split) and return the
  // pieces of every word as strings.
  std::vector<std::string> tokenize(std::string_view text) const {
    std::vector<std::int32_t> ids;
    std::size_t word_start = 0;
    for (std::size_t i = 0; i < text.size();) {
      const utf8::Decoded d = utf8::decode(text, i);
      if (unicode::is_space(d.cp)) {
        append_word(text.substr(word_start, i - word_start), ids);
        word_start = i + d.length;
      }
      i += d.length;
    }
    append_word(text.substr(word_start), ids);
    std::vector<std::string> pieces;
    pieces.reserve(ids.size());
    for (std::int32_t id : ids) pieces.push_back(vocab_.token(id));
    return pieces;
  }

 private:
  static bool is_continuation_byte(char c) noexcept { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

  bool too_long(std::string_view word) const noexcept {
    if (word.size() <= options_.max_input_chars_per_word) return false;  // bytes >= code points
    std::size_t n = 0;
    for (char c : word) n += !is_continuation_byte(c);
    return n > options_.max_input_chars_per_word;
  }

  Vocab vocab_;
  WordPieceOptions options_;
  std::int32_t unk_id_ = -1;
  detail::ByteTrie first_;       // every token
  detail::ByteTrie continuing_;  // "##" tokens without the "##"
};

}  // namespace foundry::text
