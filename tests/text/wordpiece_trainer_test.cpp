// tests/text/wordpiece_trainer_test.cpp mirrors include/foundry/text/wordpiece_trainer.hpp
#include "foundry/text/wordpiece_trainer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

namespace foundry::text {
namespace {

using Words = std::vector<std::string>;

std::string fixture(const std::string& name) { return FOUNDRY_TEST_DATA_DIR "/text/" + name; }

std::string hash_of(const std::vector<std::string>& strings) {
  std::uint64_t h = 0xCBF29CE484222325ull;  // hash_strings of bert_tokenizer_ref.py
  for (const std::string& s : strings) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
    h = (h ^ 0x1F) * 0x100000001B3ull;
  }
  std::ostringstream out;
  out << std::hex << std::setfill('0') << std::setw(16) << h;
  return out.str();
}

WordCounter sample_counts() {
  WordCounter counter;
  std::ifstream in(fixture("samples.txt"));
  for (std::string line; std::getline(in, line);) counter.add(line);
  return counter;
}

TEST(WordPieceTrainer, HandWorkedLikelihoodMerges) {
  // "ab" x3 and "ac" x1. Initial vocabulary: specials, a b c, ##b ##c. Pair scores count / (fx fy):
  // (a, ##b) = 3 / (4 * 3) = 1/4 and (a, ##c) = 1 / (4 * 1) = 1/4; the tie goes to the higher count,
  // so "ab" first; then (a, ##c) = 1 / (1 * 1) = 1 makes "ac".
  StringMap<std::int64_t> counts;
  counts["ab"] = 3;
  counts["ac"] = 1;
  const Vocab v = train_wordpiece(counts, {.vocab_size = 100, .min_frequency = 1, .special_tokens = {"[UNK]"}});
  EXPECT_EQ(v.tokens(), (Words{"[UNK]", "a", "b", "c", "##b", "##c", "ab", "ac"}));
}

TEST(WordPieceTrainer, LikelihoodPrefersPairsOfRareParts) {
  // freq: t 15, ##h 10, ##e 15, ##a 5, x 2, ##y 2. Under the likelihood score (x, ##y) = 2 / (2 * 2)
  // beats (t, ##h) = 10 / (15 * 10); plain counts merge the frequent pairs first.
  StringMap<std::int64_t> counts;
  counts["the"] = 10;
  counts["tea"] = 5;
  counts["xy"] = 2;
  const auto merges = [](const Vocab& v) { return Words(v.tokens().begin() + 10, v.tokens().end()); };
  const Vocab likelihood = train_wordpiece(counts, {.vocab_size = 13, .special_tokens = {}});
  const Vocab frequency = train_wordpiece(counts, {.vocab_size = 13, .special_tokens = {}, .score = MergeScore::kFrequency});
  EXPECT_EQ(merges(likelihood), (Words{"xy", "th", "the"}));
  EXPECT_EQ(merges(frequency), (Words{"th", "the", "te"}));  // ties go to the smaller ids: t before ##h
}

TEST(WordPieceTrainer, StopsAtVocabSizeOrWhenNoPairIsFrequentEnough) {
  StringMap<std::int64_t> counts;
  counts["aaaa"] = 1;
  const Vocab v = train_wordpiece(counts, {.vocab_size = 100, .min_frequency = 2, .special_tokens = {}});
  // (##a, ##a) occurs twice (overlapping); merged left to right "a ##aa ##a" leaves no pair seen twice.
  EXPECT_EQ(v.tokens(), (Words{"a", "##a", "##aa"}));
  EXPECT_EQ(train_wordpiece(counts, {.vocab_size = 2, .special_tokens = {}}).size(), 2);
}

TEST(WordPieceTrainer, WordsWithCharactersOutsideTheAlphabetAreLeftOut) {
  StringMap<std::int64_t> counts;
  counts["ab"] = 5;
  counts["zq"] = 1;  // z and q are the rarest: dropped by limit_alphabet
  const Vocab v = train_wordpiece(counts, {.vocab_size = 100, .min_frequency = 1, .special_tokens = {}, .limit_alphabet = 2});
  EXPECT_EQ(v.tokens(), (Words{"a", "b", "##b", "ab"}));
}

// The Python reference trainer (a full recount per merge) on the 200 sample lines.
TEST(WordPieceTrainer, MatchesPythonReferenceOnSamples) {
  const WordCounter counter = sample_counts();
  const Vocab v = train_wordpiece(counter.counts(), {.vocab_size = 3000, .min_frequency = 2});
  EXPECT_EQ(v, Vocab::load(fixture("vocab_uncased.txt")));
  std::ifstream in(fixture("trainer_hashes.txt"));
  int runs = 0;
  for (std::string line; std::getline(in, line); ++runs) {
    std::istringstream fields(line);
    std::size_t vocab_size, limit, size;
    std::int64_t min_frequency;
    std::string score, hash;
    fields >> vocab_size >> min_frequency >> score >> limit >> size >> hash;
    const Vocab t = train_wordpiece(counter.counts(),
                                    {.vocab_size = vocab_size,
                                     .min_frequency = min_frequency,
                                     .limit_alphabet = limit ? std::optional<std::size_t>(limit) : std::nullopt,
                                     .score = score == "frequency" ? MergeScore::kFrequency : MergeScore::kLikelihood});
    EXPECT_EQ(static_cast<std::size_t>(t.size()), size) << line;
    EXPECT_EQ(hash_of(t.tokens()), hash) << line;
  }
  EXPECT_EQ(runs, 3);
}

TEST(WordPieceTrainer, RejectsZeroVocabSize) {
  EXPECT_THAT([] { (void)train_wordpiece({}, {.vocab_size = 0}); },
              testing::ThrowsMessage<ValueError>(testing::StrEq("train_wordpiece: vocab_size must be positive")));
}

}  // namespace
}  // namespace foundry::text
