// tests/text/bert_tokenizer_test.cpp mirrors include/foundry/text/bert_tokenizer.hpp
// Hand cases come from HF's test_tokenization_bert.py; fixture cases from tests/reference/
// make_text_fixtures.py, which runs the Python reference (bert_tokenizer_ref.py).
#include "foundry/text/bert_tokenizer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "foundry/text/corpus.hpp"

namespace foundry::text {
namespace {

using Words = std::vector<std::string>;
using Ids = std::vector<std::int32_t>;

// FNV-1a 64 over strings, each followed by 0x1F: hash_strings in bert_tokenizer_ref.py.
class StringHasher {
 public:
  void add(std::string_view s) {
    for (unsigned char c : s) h_ = (h_ ^ c) * 0x100000001B3ull;
    h_ = (h_ ^ 0x1F) * 0x100000001B3ull;
  }
  template <class Strings>
  StringHasher& add_all(const Strings& strings) {
    for (const auto& s : strings) add(s);
    return *this;
  }
  std::string hex() const {
    std::ostringstream out;
    out << std::hex << std::setfill('0') << std::setw(16) << h_;
    return out.str();
  }

 private:
  std::uint64_t h_ = 0xCBF29CE484222325ull;
};

std::string hash_of(const std::vector<std::string>& strings) { return StringHasher().add_all(strings).hex(); }

std::string join_ids(const std::vector<std::int32_t>& ids) {
  std::string s;
  for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  return s;
}

std::string fixture(const std::string& name) { return FOUNDRY_TEST_DATA_DIR "/text/" + name; }

std::vector<std::string> fixture_lines(const std::string& name) {
  std::vector<std::string> lines;
  std::ifstream in(fixture(name));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string unhex(std::string_view hex) {
  std::string out;
  if (hex == "-") return out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

std::vector<std::int32_t> parse_ids(std::string_view text) {
  std::vector<std::int32_t> ids;
  std::istringstream in{std::string(text)};
  for (std::int32_t id; in >> id;) ids.push_back(id);
  return ids;
}

// HF's test vocabulary (BertTokenizationTest.setUp).
BertTokenizer hf_test_tokenizer(BertTokenizerOptions options = {}) {
  return BertTokenizer(Vocab({"[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "want", "##want", "##ed", "wa", "un", "runn",
                              "##ing", ",", "low", "lowest"}),
                       std::move(options));
}

const Vocab& fixture_vocab() {
  static const Vocab v = Vocab::load(fixture("vocab_uncased.txt"));
  return v;
}

TEST(BertTokenizer, FullTokenizer) {
  const BertTokenizer tok = hf_test_tokenizer();
  EXPECT_EQ(tok.tokenize("UNwant\u00E9d,running"), (Words{"un", "##want", "##ed", ",", "runn", "##ing"}));
  EXPECT_EQ(tok.encode_ids("UNwant\u00E9d,running"), (Ids{9, 6, 7, 12, 10, 11}));
}

TEST(BertTokenizer, CleanText) {
  const BertTokenizer tok = hf_test_tokenizer();
  EXPECT_EQ(tok.tokenize("Test"), (Words{"[UNK]"}));
  EXPECT_TRUE(tok.tokenize("\xC2\xAD").empty());
  EXPECT_EQ(tok.tokenize("test"), (Words{"[UNK]"}));
}

TEST(BertTokenizer, DecodeJoinsPiecesAndCleansUpSpaces) {
  const BertTokenizer tok = hf_test_tokenizer();
  EXPECT_EQ(tok.decode(tok.encode_ids("UNwant\u00E9d,running")), "unwanted, running");
  const Encoding e = tok.encode("UNwant\u00E9d,running");
  EXPECT_EQ(tok.decode(e.ids), "[CLS] unwanted, running [SEP]");
  EXPECT_EQ(tok.decode(e.ids, {.skip_special_tokens = true}), "unwanted, running");
  EXPECT_EQ(tok.decode(e.ids, {.clean_up_tokenization_spaces = false}), "[CLS] unwanted , running [SEP]");
  EXPECT_EQ(BertTokenizer::clean_up_tokenization("do n't , it ' s . i 'm we 're they 've ?"), "don't, it's. i'm we're they've?");
  EXPECT_THAT([&] { (void)tok.decode(std::vector<std::int32_t>{1, 99}); },
              testing::ThrowsMessage<IndexError>(testing::StrEq("Vocab::token: id 99 out of range [0, 15)")));
}

TEST(BertTokenizer, SpecialTokensAreCutOutOfTheTextFirst) {
  const BertTokenizer tok = hf_test_tokenizer();
  EXPECT_EQ(tok.tokenize("want[MASK]running [SEP][CLS]"), (Words{"want", "[MASK]", "runn", "##ing", "[SEP]", "[CLS]"}));
  const BertTokenizer brackets(Vocab({"[UNK]", "[CLS]", "[", "]", "cls", "CLS"}), {.lowercase = false});
  EXPECT_EQ(brackets.tokenize("[cls] [CLS"), (Words{"[", "cls", "]", "[", "CLS"}));  // case and spelling matter
  // A special token that only appears after cleaning is still a whole word (HF's never_split)...
  EXPECT_EQ(brackets.tokenize("[CL\u200BS]"), (Words{"[CLS]"}));
  // ...unless lowercasing came first: HF lowercases the text outside exact special tokens.
  const BertTokenizer lower(Vocab({"[UNK]", "[CLS]", "[", "]", "cls"}));
  EXPECT_EQ(lower.tokenize("[CL\u200BS]"), (Words{"[", "cls", "]"}));
}

TEST(BertTokenizer, NeverSplitWordsSkipWordPiece) {
  const BertTokenizer tok = hf_test_tokenizer({.lowercase = false, .never_split = {"lowest!"}});
  EXPECT_EQ(tok.tokenize("lowest! lowest!x"), (Words{"lowest!", "lowest", "[UNK]", "[UNK]"}));
  EXPECT_EQ(tok.encode_ids("lowest!"), (Ids{0}));  // kept whole, but not in the vocabulary
}

TEST(BertTokenizer, ChineseCharactersAreWordsOfTheirOwn) {
  const BertTokenizer on(Vocab({"[UNK]", "的", "人", "有", "##人", "##有"}));
  EXPECT_EQ(on.tokenize("的人有"), (Words{"的", "人", "有"}));
  const BertTokenizer off(Vocab({"[UNK]", "的", "人", "有", "##人", "##有"}), {.tokenize_chinese_chars = false});
  EXPECT_EQ(off.tokenize("的人有"), (Words{"的", "##人", "##有"}));
}

TEST(BertTokenizer, SequenceBuilders) {
  const BertTokenizer tok = hf_test_tokenizer();
  const Encoding single = tok.encode("low");
  EXPECT_EQ(single.ids, (Ids{1, 13, 2}));
  EXPECT_EQ(single.special_tokens_mask, (Ids{1, 0, 1}));
  const Encoding pair = tok.encode("low", "lowest want");
  EXPECT_EQ(pair.ids, (Ids{1, 13, 2, 14, 5, 2}));
  EXPECT_EQ(pair.token_type_ids, (Ids{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(pair.attention_mask, (Ids{1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(pair.special_tokens_mask, (Ids{1, 0, 1, 0, 0, 1}));
  EXPECT_EQ(tok.encode("low", "want", {.add_special_tokens = false}).token_type_ids, (Ids{0, 1}));
}

TEST(BertTokenizer, BatchPaddingAndErrors) {
  const BertTokenizer tok = hf_test_tokenizer();
  const std::vector<std::string> texts = {"low", "lowest want want"};
  const auto batch = tok.encode_batch(texts, {.padding = Padding::kLongest});
  EXPECT_EQ(batch[0].ids, (Ids{1, 13, 2, 3, 3}));
  EXPECT_EQ(batch[0].attention_mask, (Ids{1, 1, 1, 0, 0}));
  EXPECT_EQ(batch[0].special_tokens_mask, (Ids{1, 0, 1, 1, 1}));
  EXPECT_EQ(batch[1].size(), 5u);
  EXPECT_EQ(tok.encode("low", {.max_length = 4, .padding = Padding::kMaxLength}).ids, (Ids{1, 13, 2, 3}));
  EXPECT_THAT([&] { (void)tok.encode("low", {.truncation = Truncation::kLongestFirst}); },
              testing::ThrowsMessage<ValueError>(testing::StrEq("BertTokenizer::encode: truncation needs max_length")));
  const BertTokenizer no_pad(Vocab({"[UNK]", "[CLS]", "[SEP]"}));
  EXPECT_THAT([&] { (void)no_pad.encode_batch(texts, {.padding = Padding::kLongest}); },
              testing::ThrowsMessage<ValueError>(testing::StrEq("BertTokenizer: special token '[PAD]' is not in the vocabulary")));
}

// ~200 lines of sotu, moby_dick, zh_poems and spam_train against the Python reference.
TEST(BertTokenizer, SamplesMatchPythonReference) {
  const std::vector<std::string> samples = fixture_lines("samples.txt");
  const std::vector<std::string> hashes = fixture_lines("expected_hashes.txt");
  ASSERT_EQ(samples.size(), 200u);
  ASSERT_EQ(hashes.size(), samples.size());
  const BertTokenizer uncased(fixture_vocab());
  const BertTokenizer cased(fixture_vocab(), {.lowercase = false});
  const BertTokenizer no_strip(fixture_vocab(), {.strip_accents = false});
  std::map<std::size_t, std::vector<std::int32_t>> full;
  for (const std::string& line : fixture_lines("expected_uncased.txt")) {
    const std::size_t space = line.find(' ');
    full[std::stoul(line.substr(0, space))] = parse_ids(line.substr(space + 1));
  }
  ASSERT_EQ(full.size(), 67u);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const std::vector<std::int32_t> ids = uncased.encode_ids(samples[i]);
    if (full.contains(i)) {
      EXPECT_EQ(ids, full[i]) << "line " << i << ": " << samples[i];
    }
    std::istringstream expected(hashes[i]);
    std::string ids_hash, cased_hash, no_strip_hash, decode_hash;
    expected >> ids_hash >> cased_hash >> no_strip_hash >> decode_hash;
    EXPECT_EQ(hash_of({join_ids(ids)}), ids_hash) << "line " << i << ": " << samples[i];
    EXPECT_EQ(hash_of(cased.tokenize(samples[i])), cased_hash) << "cased, line " << i;
    EXPECT_EQ(hash_of(no_strip.tokenize(samples[i])), no_strip_hash) << "no accent stripping, line " << i;
    EXPECT_EQ(hash_of({uncased.decode(ids)}), decode_hash) << "decode, line " << i;
  }
}

// Random strings of combining marks, jamo, compatibility characters, controls, odd spaces, special tokens.
TEST(BertTokenizer, AwkwardUnicodeMatchesPythonReference) {
  const BertTokenizer uncased(fixture_vocab());
  const BertTokenizer cased(fixture_vocab(), {.lowercase = false});
  const BertTokenizer no_strip(fixture_vocab(), {.strip_accents = false});
  int cases = 0;
  for (const std::string& line : fixture_lines("unicode_cases.txt")) {
    std::istringstream in(line);
    std::string hex, h_uncased, h_cased, h_no_strip;
    in >> hex >> h_uncased >> h_cased >> h_no_strip;
    const std::string text = unhex(hex);
    EXPECT_EQ(hash_of(uncased.tokenize(text)), h_uncased) << "uncased, input hex " << hex;
    EXPECT_EQ(hash_of(cased.tokenize(text)), h_cased) << "cased, input hex " << hex;
    EXPECT_EQ(hash_of(no_strip.tokenize(text)), h_no_strip) << "no accent stripping, input hex " << hex;
    ++cases;
  }
  EXPECT_EQ(cases, 300);
}

// Bytes that are not UTF-8: Python decodes with errors="replace" before tokenizing; so do we.
TEST(BertTokenizer, InvalidUtf8MatchesPythonReference) {
  const BertTokenizer uncased(fixture_vocab());
  int cases = 0;
  for (const std::string& line : fixture_lines("utf8_cases.txt")) {
    std::istringstream in(line);
    std::string hex, text_hash, tokens_hash;
    in >> hex >> text_hash >> tokens_hash;
    EXPECT_EQ(hash_of(uncased.tokenize(unhex(hex))), tokens_hash) << "input hex " << hex;
    ++cases;
  }
  EXPECT_EQ(cases, 200);
}

TEST(BertTokenizer, PairTruncationAndPaddingMatchPythonReference) {
  const std::vector<std::string> samples = fixture_lines("samples.txt");
  const auto first_chars = [](const std::string& s) { return utf8::from_code_points(utf8::to_code_points(s).substr(0, 12)); };
  std::map<std::string, std::vector<std::string>> sets;
  for (std::size_t i = 0; i < 3; ++i) {
    sets["long_a"].push_back(samples[3 + i]);
    sets["long_b"].push_back(samples[120 + i]);
    sets["short_a"].push_back(first_chars(samples[3 + i]));
    sets["short_b"].push_back(first_chars(samples[120 + i]));
  }
  const std::map<std::string, Truncation> truncation = {{"longest_first", Truncation::kLongestFirst},
                                                         {"only_first", Truncation::kOnlyFirst},
                                                         {"only_second", Truncation::kOnlySecond},
                                                         {"do_not_truncate", Truncation::kNone}};
  const BertTokenizer tok(fixture_vocab());
  int cases = 0;
  for (const std::string& line : fixture_lines("encode_cases.txt")) {
    std::istringstream in(line);
    std::size_t max_length, index;
    std::string strategy, padding, first, second;
    in >> max_length >> strategy >> padding >> first >> second >> index;
    std::string rest;
    std::getline(in, rest);
    std::vector<std::vector<std::int32_t>> expected;
    for (std::size_t at = 0, bar; at != std::string::npos; at = bar == std::string::npos ? bar : bar + 1) {
      bar = rest.find('|', at);
      expected.push_back(parse_ids(rest.substr(at, bar == std::string::npos ? std::string::npos : bar - at)));
    }
    std::vector<std::pair<std::string, std::string>> pairs;
    for (std::size_t i = 0; i < 3; ++i) pairs.emplace_back(sets[first][i], sets[second][i]);
    const auto batch = tok.encode_pair_batch(
        pairs, {.max_length = max_length,
                .truncation = truncation.at(strategy),
                .padding = padding == "longest" ? Padding::kLongest : Padding::kMaxLength});
    const Encoding& e = batch.at(index);
    EXPECT_EQ(e.ids, expected.at(0)) << line.substr(0, 60);
    EXPECT_EQ(e.token_type_ids, expected.at(1)) << line.substr(0, 60);
    EXPECT_EQ(e.attention_mask, expected.at(2)) << line.substr(0, 60);
    EXPECT_EQ(e.special_tokens_mask, expected.at(3)) << line.substr(0, 60);
    ++cases;
  }
  EXPECT_EQ(cases, 15);
}

// Every line of the shared corpora (15 MB) against the Python reference, through hashes.
TEST(BertTokenizer, WholeCorporaMatchPythonReference) {
  const BertTokenizer uncased(fixture_vocab());
  const BertTokenizer cased(fixture_vocab(), {.lowercase = false});
  const std::vector<std::string> expected = fixture_lines("corpus_hashes.txt");
  ASSERT_EQ(expected.size(), 5u);
  for (const std::string& line : expected) {
    std::istringstream in(line);
    std::string name, h_uncased, h_cased;
    std::size_t count;
    in >> name >> count >> h_uncased >> h_cased;
    const std::filesystem::path path = std::filesystem::path(FOUNDRY_SHARED_DATA_DIR) / name;
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "shared data not found: " << path;
    const std::string contents = read_text_file(path);
    std::vector<std::string_view> texts;
    for (std::size_t start = 0, end; start < contents.size(); start = end + 1) {
      end = contents.find('\n', start);
      if (end == std::string::npos) end = contents.size();
      texts.push_back(std::string_view(contents).substr(start, end - start));
    }
    if (name.ends_with(".tsv")) {
      texts.erase(texts.begin());
      for (std::string_view& t : texts) t = t.substr(t.find('\t') + 1);
    }
    ASSERT_EQ(texts.size(), count) << name;
    StringHasher hu, hc;
    for (std::string_view t : texts) {
      hu.add(join_ids(uncased.encode_ids(t)));
      hc.add_all(cased.tokenize(t)).add("\n");
    }
    EXPECT_EQ(hu.hex(), h_uncased) << name << " uncased ids";
    EXPECT_EQ(hc.hex(), h_cased) << name << " cased tokens";
  }
}

}  // namespace
}  // namespace foundry::text
