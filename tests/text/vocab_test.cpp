// tests/text/vocab_test.cpp mirrors include/foundry/text/vocab.hpp
#include "foundry/text/vocab.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace foundry::text {
namespace {

using Words = std::vector<std::string>;
using Ids = std::vector<std::int32_t>;
using testing::StrEq;
using testing::ThrowsMessage;

TEST(Vocab, IdIsLineNumber) {
  const Vocab v({"[PAD]", "[UNK]", "hello", "##lo"});
  EXPECT_EQ(v.size(), 4);
  EXPECT_EQ(v.find("hello"), 2);
  EXPECT_EQ(v.find("##lo"), 3);
  EXPECT_EQ(v.find("absent"), -1);
  EXPECT_TRUE(v.contains("[UNK]"));
  EXPECT_EQ(v.token(1), "[UNK]");
}

TEST(Vocab, ParsesLikePythonUniversalNewlines) {
  // "\r\n" and a lone "\r" end lines too; a last line without newline is a token; an empty line is "".
  const Vocab v = Vocab::parse("a\r\nb\rc\n\nd");
  EXPECT_EQ(v.tokens(), (Words{"a", "b", "c", "", "d"}));
  EXPECT_EQ(Vocab::parse("").size(), 0);
  EXPECT_EQ(Vocab::parse("x\n").size(), 1);
}

TEST(Vocab, RepeatedTokenKeepsItsLastId) {
  const Vocab v = Vocab::parse("a\nb\na\n");  // HF load_vocab: vocab[token] = index, last one wins
  EXPECT_EQ(v.size(), 3);
  EXPECT_EQ(v.find("a"), 2);
  EXPECT_EQ(v.token(0), "a");
}

TEST(Vocab, SaveWritesOneTokenPerLineAndLoadsBack) {
  const auto path = std::filesystem::temp_directory_path() / "foundry_vocab_test.txt";
  const Vocab v({"[PAD]", "中", "##ing", ""});
  v.save(path);
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "[PAD]\n中\n##ing\n\n");
  EXPECT_EQ(Vocab::load(path), v);
  std::filesystem::remove(path);
}

TEST(Vocab, ErrorsNameTheProblem) {
  const Vocab v({"a", "b"});
  EXPECT_THAT([&] { (void)v.token(2); }, ThrowsMessage<IndexError>(StrEq("Vocab::token: id 2 out of range [0, 2)")));
  EXPECT_THAT([&] { (void)v.id("zz"); },
              ThrowsMessage<ValueError>(StrEq("Vocab::id: token 'zz' is not in the vocabulary of 2 tokens")));
  EXPECT_THAT([] { (void)Vocab::parse("ok\nbad\xFFtoken\n", "my_vocab.txt"); },
              ThrowsMessage<IoError>(StrEq("my_vocab.txt:2: invalid UTF-8 at byte 4 of the token")));
  EXPECT_THAT([] { (void)Vocab::load("/nonexistent/vocab.txt"); },
              ThrowsMessage<IoError>(StrEq("Vocab::load: cannot open '/nonexistent/vocab.txt'")));
  EXPECT_THAT([] { (void)Vocab({"two\nlines"}).to_text(); },
              ThrowsMessage<ValueError>(StrEq("Vocab: token 0 contains a line break and cannot be written to vocab.txt")));
}

TEST(Vocab, LooksUpStringViewsWithoutCopies) {
  const Vocab v({"alpha", "beta"});
  const std::string text = "xxbetaxx";
  EXPECT_EQ(v.find(std::string_view(text).substr(2, 4)), 1);
  EXPECT_EQ(StringHash{}("beta"), StringHash{}(std::string("beta")));
}

TEST(SpecialTokens, HuggingFaceOrder) {
  EXPECT_EQ(SpecialTokens{}.all(), (Words{"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"}));
}

}  // namespace
}  // namespace foundry::text
