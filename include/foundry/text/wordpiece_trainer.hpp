// text/wordpiece_trainer.hpp: learning a WordPiece vocabulary from word counts (WordCounter counts the
// words BasicTokenizer produces from a corpus).
//
// The method is the one the Hugging Face course documents for WordPiece: start from single characters
// ("c" first in a word, "##c" elsewhere) and repeatedly merge the adjacent pair (x, y) with the highest
//     score(x, y) = count(x, y) / (freq(x) · freq(y)),
// i.e. the merge that most raises the corpus likelihood relative to its parts, writing the new token as
// x followed by y without its "##". MergeScore::kFrequency scores by count(x, y) alone, which is what HF
// tokenizers' WordPieceTrainer really does (its BpeTrainer with the "##" prefix). Ties go to the higher
// count, then the smaller (id x, id y); scores are compared as exact integer products, so the result is
// deterministic and does not depend on hash order. The vocabulary is: special tokens, the alphabet in
// code point order, the "##c" continuations in code point order, then merges in the order made.
// Words holding a character outside the (optionally limited) alphabet are left out: WordPiece could only
// ever turn them into [UNK].
//
// Merges update pair counts incrementally: every pair remembers the words it occurs in, so a merge
// rewrites only those words, and a lazy max-heap holds candidates whose count or part frequencies
// changed (stale entries are skipped when popped). No merge recounts the corpus.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "foundry/core/error.hpp"
#include "foundry/text/basic_tokenizer.hpp"
#include "foundry/text/utf8.hpp"
#include "foundry/text/vocab.hpp"

namespace foundry::text {

enum class MergeScore { kLikelihood, kFrequency };

struct WordPieceTrainerOptions {
  std::size_t vocab_size = 30000;  // stop once the vocabulary has this many tokens
  std::int64_t min_frequency = 2;  // a pair seen fewer times is never merged
  std::vector<std::string> special_tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  std::optional<std::size_t> limit_alphabet{};  // keep only the most frequent characters
  MergeScore score = MergeScore::kLikelihood;
  std::string continuing_prefix = "##";
};

// Counts the words of texts as BasicTokenizer splits them (same options as the tokenizer that will
// use the vocabulary).
//   WordCounter counter;
//   for (const std::string& line : lines) counter.add(line);
//   Vocab vocab = train_wordpiece(counter.counts(), {.vocab_size = 8000});
class WordCounter {
 public:
  explicit WordCounter(BasicTokenizerOptions options = {}) : basic_(std::move(options)) {}
  void add(std::string_view text) {
    basic_.for_each_word(text, [&](std::string_view word, bool) { add_word(word); });
  }
  void add_word(std::string_view word, std::int64_t count = 1) {
    if (auto it = counts_.find(word); it != counts_.end()) {
      it->second += count;
    } else {
      counts_.emplace(std::string(word), count);
    }
  }
  const StringMap<std::int64_t>& counts() const noexcept { return counts_; }

 private:
  BasicTokenizer basic_;
  StringMap<std::int64_t> counts_;
};

namespace detail {

class WordPieceTrainer {
 public:
  WordPieceTrainer(const StringMap<std::int64_t>& word_counts, const WordPieceTrainerOptions& o) : o_(o) {
    if (o.vocab_size == 0) foundry::detail::fail<ValueError>("train_wordpiece: vocab_size must be positive");
    for (const std::string& s : o.special_tokens) add_token(s);
    build_alphabet_and_words(word_counts);
  }

  Vocab train() {
    count_initial_pairs();
    for (std::size_t merge = 0; tokens_.size() < o_.vocab_size; ++merge) {
      const std::optional<Candidate> best = pop_best();
      if (!best) break;
      apply_merge(best->x, best->y, static_cast<std::int32_t>(merge));
    }
    return Vocab(std::move(tokens_));
  }

 private:
  struct Pair {
    std::int64_t count = 0;
    std::vector<std::int32_t> words;  // indices of words that contain (or once contained) the pair
    bool listed = false;              // registered in pairs_of_ of both symbols
  };
  // A heap entry: the pair's count and part frequencies when pushed; stale once any of them changed.
  struct Candidate {
    std::int64_t count, fx, fy;
    std::int32_t x, y;
  };
  // Max-heap order: a < b when b has the higher count / (fx fy), then the higher count, then smaller ids.
  struct Worse {
    bool operator()(const Candidate& a, const Candidate& b) const {
      // count * fx * fy reaches ~2^90 on large corpora: compare in 128 bits (a GCC/Clang extension).
      __extension__ using Int128 = __int128;
      const Int128 lhs = static_cast<Int128>(a.count) * (static_cast<Int128>(b.fx) * b.fy);
      const Int128 rhs = static_cast<Int128>(b.count) * (static_cast<Int128>(a.fx) * a.fy);
      if (lhs != rhs) return lhs < rhs;
      if (a.count != b.count) return a.count < b.count;
      return std::pair(a.x, a.y) > std::pair(b.x, b.y);
    }
  };

  static std::uint64_t key(std::int32_t x, std::int32_t y) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(x)) << 32) | static_cast<std::uint32_t>(y);
  }

  std::int32_t add_token(const std::string& token) {
    if (auto it = ids_.find(token); it != ids_.end()) return it->second;
    const auto id = static_cast<std::int32_t>(tokens_.size());
    ids_.emplace(token, id);
    tokens_.push_back(token);
    freq_.push_back(0);
    pairs_of_.emplace_back();
    return id;
  }

  void build_alphabet_and_words(const StringMap<std::int64_t>& word_counts) {
    std::unordered_map<char32_t, std::int64_t> alphabet;
    for (const auto& [word, count] : word_counts) {
      for (char32_t c : utf8::to_code_points(word)) alphabet[c] += count;
    }
    std::vector<std::pair<char32_t, std::int64_t>> chars(alphabet.begin(), alphabet.end());
    std::sort(chars.begin(), chars.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    if (o_.limit_alphabet && chars.size() > *o_.limit_alphabet) chars.resize(*o_.limit_alphabet);
    std::sort(chars.begin(), chars.end());
    std::unordered_map<char32_t, std::int32_t> first_id;
    for (const auto& [c, n] : chars) first_id[c] = add_token(utf8::from_code_points(std::u32string(1, c)));

    std::vector<std::pair<std::string_view, std::int64_t>> kept;
    std::vector<char32_t> continuing;
    for (const auto& [word, count] : word_counts) {
      const std::u32string cps = utf8::to_code_points(word);
      if (cps.empty() || !std::all_of(cps.begin(), cps.end(), [&](char32_t c) { return first_id.contains(c); })) continue;
      kept.emplace_back(word, count);
      continuing.insert(continuing.end(), cps.begin() + 1, cps.end());
    }
    std::sort(kept.begin(), kept.end());
    std::sort(continuing.begin(), continuing.end());
    continuing.erase(std::unique(continuing.begin(), continuing.end()), continuing.end());
    std::unordered_map<char32_t, std::int32_t> next_id;
    for (char32_t c : continuing) next_id[c] = add_token(o_.continuing_prefix + utf8::from_code_points(std::u32string(1, c)));

    for (const auto& [word, count] : kept) {
      const std::u32string cps = utf8::to_code_points(word);
      std::vector<std::int32_t> symbols;
      symbols.reserve(cps.size());
      symbols.push_back(first_id.at(cps[0]));
      for (std::size_t i = 1; i < cps.size(); ++i) symbols.push_back(next_id.at(cps[i]));
      for (std::int32_t s : symbols) freq_[static_cast<std::size_t>(s)] += count;
      words_.push_back(std::move(symbols));
      counts_.push_back(count);
    }
    stamp_.assign(words_.size(), -1);
  }

  void count_initial_pairs() {
    for (std::size_t i = 0; i < words_.size(); ++i) {
      const std::vector<std::int32_t>& w = words_[i];
      for (std::size_t k = 0; k + 1 < w.size(); ++k) add_to_pair(w[k], w[k + 1], counts_[i], static_cast<std::int32_t>(i));
    }
    for (const auto& [k, p] : pairs_) push(static_cast<std::int32_t>(k >> 32), static_cast<std::int32_t>(k & 0xFFFFFFFF));
  }

  void add_to_pair(std::int32_t x, std::int32_t y, std::int64_t count, std::int32_t word) {
    Pair& p = pairs_[key(x, y)];
    p.count += count;
    if (p.words.empty() || p.words.back() != word) p.words.push_back(word);
    if (!p.listed) {
      p.listed = true;
      pairs_of_[static_cast<std::size_t>(x)].push_back(key(x, y));
      if (y != x) pairs_of_[static_cast<std::size_t>(y)].push_back(key(x, y));
    }
  }

  bool likelihood() const { return o_.score == MergeScore::kLikelihood; }

  void push(std::int32_t x, std::int32_t y) {
    const auto it = pairs_.find(key(x, y));
    if (it == pairs_.end() || it->second.count < std::max<std::int64_t>(o_.min_frequency, 1)) return;
    const std::int64_t fx = likelihood() ? freq_[static_cast<std::size_t>(x)] : 1;
    const std::int64_t fy = likelihood() ? freq_[static_cast<std::size_t>(y)] : 1;
    heap_.push({it->second.count, fx, fy, x, y});
  }

  std::optional<Candidate> pop_best() {
    while (!heap_.empty()) {
      const Candidate c = heap_.top();
      heap_.pop();
      const auto it = pairs_.find(key(c.x, c.y));
      const bool fresh = it != pairs_.end() && it->second.count == c.count &&
                         (!likelihood() || (freq_[static_cast<std::size_t>(c.x)] == c.fx &&
                                            freq_[static_cast<std::size_t>(c.y)] == c.fy));
      if (fresh) return c;
    }
    return std::nullopt;
  }

  void apply_merge(std::int32_t x, std::int32_t y, std::int32_t merge) {
    const std::string& right = tokens_[static_cast<std::size_t>(y)];
    const std::string_view prefix = o_.continuing_prefix;
    const std::string_view tail = std::string_view(right).starts_with(prefix) && !prefix.empty()
                                      ? std::string_view(right).substr(prefix.size())
                                      : std::string_view(right);
    const std::int32_t z = add_token(tokens_[static_cast<std::size_t>(x)] + std::string(tail));

    std::unordered_map<std::uint64_t, std::int64_t> delta;  // net pair-count change of this merge
    const std::vector<std::int32_t> where = pairs_.at(key(x, y)).words;
    std::vector<std::int32_t> merged;
    for (std::int32_t i : where) {
      const auto wi = static_cast<std::size_t>(i);
      if (stamp_[wi] == merge) continue;
      stamp_[wi] = merge;
      std::vector<std::int32_t>& w = words_[wi];
      merged.clear();
      for (std::size_t k = 0; k < w.size(); ++k) {
        if (k + 1 < w.size() && w[k] == x && w[k + 1] == y) {
          merged.push_back(z);
          ++k;
        } else {
          merged.push_back(w[k]);
        }
      }
      if (merged.size() == w.size()) continue;  // stale entry: the pair left this word earlier
      const std::int64_t c = counts_[wi];
      for (std::size_t k = 0; k + 1 < w.size(); ++k) delta[key(w[k], w[k + 1])] -= c;
      for (std::size_t k = 0; k + 1 < merged.size(); ++k) {
        delta[key(merged[k], merged[k + 1])] += c;
        if (merged[k] == z || merged[k + 1] == z) add_to_pair(merged[k], merged[k + 1], 0, i);
      }
      // Each merged occurrence turns one x and one y into one z.
      const auto n = static_cast<std::int64_t>(w.size() - merged.size());
      freq_[static_cast<std::size_t>(x)] -= n * c;
      freq_[static_cast<std::size_t>(y)] -= n * c;
      freq_[static_cast<std::size_t>(z)] += n * c;
      w.swap(merged);
    }
    std::vector<std::uint64_t> dirty;
    for (const auto& [k, d] : delta) {
      if (d == 0) continue;
      pairs_[k].count += d;
      dirty.push_back(k);
    }
    // A changed frequency changes the score of every pair the symbol is part of.
    if (likelihood()) {
      for (std::int32_t s : {x, y, z}) {
        std::vector<std::uint64_t>& list = pairs_of_[static_cast<std::size_t>(s)];
        std::erase_if(list, [&](std::uint64_t k) {
          Pair& p = pairs_.at(k);
          if (p.count == 0) p.listed = false;  // re-listed should a later merge revive it
          return p.count == 0;
        });
        dirty.insert(dirty.end(), list.begin(), list.end());
      }
    }
    std::sort(dirty.begin(), dirty.end());
    dirty.erase(std::unique(dirty.begin(), dirty.end()), dirty.end());
    for (std::uint64_t k : dirty) push(static_cast<std::int32_t>(k >> 32), static_cast<std::int32_t>(k & 0xFFFFFFFF));
    if (heap_.size() > 4 * pairs_.size() + 1024) rebuild_heap();
  }

  // Drops stale entries once they outnumber the live pairs.
  void rebuild_heap() {
    heap_ = {};
    for (const auto& [k, p] : pairs_) push(static_cast<std::int32_t>(k >> 32), static_cast<std::int32_t>(k & 0xFFFFFFFF));
  }

  const WordPieceTrainerOptions& o_;
  std::vector<std::string> tokens_;
  StringMap<std::int32_t> ids_;
  std::vector<std::int64_t> freq_;                      // occurrences of each token id in the current words
  std::vector<std::vector<std::uint64_t>> pairs_of_;   // pair keys each token id takes part in
  std::vector<std::vector<std::int32_t>> words_;       // each distinct word as token ids
  std::vector<std::int64_t> counts_;                   // how often each word occurs
  std::vector<std::int32_t> stamp_;                    // last merge that rewrote each word
  std::unordered_map<std::uint64_t, Pair> pairs_;
  std::priority_queue<Candidate, std::vector<Candidate>, Worse> heap_;
};

}  // namespace detail

// Learns a vocabulary from word -> count (see the top of this header for the method).
inline Vocab train_wordpiece(const StringMap<std::int64_t>& word_counts, const WordPieceTrainerOptions& options = {}) {
  return detail::WordPieceTrainer(word_counts, options).train();
}

}  // namespace foundry::text
