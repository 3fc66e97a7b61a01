// tests/text/corpus_test.cpp mirrors include/foundry/text/corpus.hpp
#include "foundry/text/corpus.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace foundry::text {
namespace {

using testing::StrEq;
using testing::ThrowsMessage;
using Lines = std::vector<std::string>;

// A file in the temp directory, removed when the test ends.
class TempFile {
 public:
  TempFile(const std::string& name, std::string_view contents)
      : path_(std::filesystem::temp_directory_path() / ("foundry_corpus_test_" + name)) {
    std::ofstream(path_, std::ios::binary) << contents;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(ReadCorpus, LinePerDocument) {
  const TempFile f("lines.txt", "first doc\n\nsecond doc\r\nthird");
  const Corpus c = read_corpus(f.path(), DocumentLayout::kLinePerDocument);
  ASSERT_EQ(c.documents.size(), 3u);
  EXPECT_EQ(c.documents[1], (Lines{"second doc"}));  // "\r\n" endings are fine
  EXPECT_EQ(c.documents[2], (Lines{"third"}));       // so is a missing final newline
}

TEST(ReadCorpus, BlankLineSeparatedDocuments) {
  const TempFile f("paragraphs.txt", "p1 of d1\np2 of d1\n\n \n\np1 of d2\n");
  const Corpus c = read_corpus(f.path(), DocumentLayout::kBlankLineSeparated);
  ASSERT_EQ(c.documents.size(), 2u);
  EXPECT_EQ(c.documents[0], (Lines{"p1 of d1", "p2 of d1"}));
  EXPECT_EQ(c.documents[1], (Lines{"p1 of d2"}));
}

TEST(ReadCorpus, MalformedLineIsAnErrorOrSkippedAndCounted) {
  const TempFile f("bad.txt", "good\nba\xC3(d\nalso good\n");
  EXPECT_THAT([&] { (void)read_corpus(f.path(), DocumentLayout::kLinePerDocument); },
              ThrowsMessage<IoError>(StrEq("read_corpus: " + f.str() + ":2: invalid UTF-8 at byte 3")));
  const Corpus c = read_corpus(f.path(), DocumentLayout::kLinePerDocument, {.skip_malformed = true});
  EXPECT_EQ(c.skipped_lines, 1u);
  EXPECT_EQ(c.documents.size(), 2u);
  EXPECT_THAT([] { (void)read_corpus("/nonexistent/x.txt", DocumentLayout::kLinePerDocument); },
              ThrowsMessage<IoError>(StrEq("read_text_file: cannot open '/nonexistent/x.txt'")));
}

TEST(ReadTsv, LabelsAreNumberedInSortedOrder) {
  const TempFile f("ok.tsv", "label\ttext\nspam\tbuy now\tcheap\nham\thello\n");
  const TsvDataset d = read_tsv(f.path());
  EXPECT_EQ(d.labels.labels(), (Lines{"ham", "spam"}));
  ASSERT_EQ(d.examples.size(), 2u);
  EXPECT_EQ(d.examples[0], (LabeledText{1, "buy now\tcheap"}));  // text runs past further tabs
  EXPECT_EQ(d.examples[1], (LabeledText{0, "hello"}));
}

TEST(ReadTsv, FixedLabelMap) {
  const TempFile f("fixed.tsv", "label\ttext\npos\tgood\nneg\tbad\n");
  const TsvDataset d = read_tsv(f.path(), {.labels = LabelMap({"pos", "neg"})});
  EXPECT_EQ(d.examples[1].label, 1);
  EXPECT_THAT([&] { (void)read_tsv(f.path(), {.labels = LabelMap({"pos"})}); },
              ThrowsMessage<IoError>(StrEq("read_tsv: " + f.str() + ":3: unknown label 'neg'")));
}

TEST(ReadTsv, MalformedRowsNameFileAndLineOrAreSkipped) {
  const TempFile f("bad.tsv", "label\ttext\nham\tfine\nno tab here\n\tno label\nspam\t\nham\tok\n");
  EXPECT_THAT([&] { (void)read_tsv(f.path()); },
              ThrowsMessage<IoError>(StrEq("read_tsv: " + f.str() + ":3: no tab between label and text")));
  const TsvDataset d = read_tsv(f.path(), {.skip_malformed = true});
  EXPECT_EQ(d.skipped_lines, 3u);
  EXPECT_EQ(d.examples.size(), 2u);
  const TempFile h("header.tsv", "text\tlabel\nham\tx\n");
  EXPECT_THAT([&] { (void)read_tsv(h.path(), {.skip_malformed = true}); },
              ThrowsMessage<IoError>(StrEq("read_tsv: " + h.str() + ":1: expected the header 'label\ttext', found 'text\tlabel'")));
}

TEST(LabelMap, IdsAndErrors) {
  LabelMap m;
  EXPECT_EQ(m.add("b"), 0);
  EXPECT_EQ(m.add("a"), 1);
  EXPECT_EQ(m.add("b"), 0);
  EXPECT_EQ(m.label(1), "a");
  EXPECT_THAT([&] { (void)m.id("c"); }, ThrowsMessage<ValueError>(StrEq("LabelMap::id: unknown label 'c'")));
  EXPECT_THAT([&] { (void)m.label(2); }, ThrowsMessage<IndexError>(StrEq("LabelMap::label: id 2 out of range [0, 2)")));
}

TEST(SharedData, SpamTrainAndSotu) {
  const std::filesystem::path dir = FOUNDRY_SHARED_DATA_DIR;
  if (!std::filesystem::exists(dir / "classify/spam_train.tsv")) GTEST_SKIP() << "shared data not found in " << dir;
  const TsvDataset spam = read_tsv(dir / "classify/spam_train.tsv");
  EXPECT_EQ(spam.examples.size(), 2718u);
  EXPECT_EQ(spam.labels.labels(), (Lines{"ham", "spam"}));
  EXPECT_EQ(std::count_if(spam.examples.begin(), spam.examples.end(), [](const LabeledText& e) { return e.label == 1; }), 408);
  const Corpus sotu = read_corpus(dir / "pretrain/sotu.txt", DocumentLayout::kBlankLineSeparated);
  EXPECT_EQ(sotu.documents.size(), 233u);  // one document per address
  std::size_t blocks = 0;
  for (const auto& d : sotu.documents) blocks += d.size();
  EXPECT_EQ(blocks, 14924u);
}

}  // namespace
}  // namespace foundry::text
