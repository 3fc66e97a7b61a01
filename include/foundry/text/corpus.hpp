// text/corpus.hpp: reading text datasets from disk. A plain-text corpus is a document per line or
// documents of consecutive lines separated by blank lines; a classification set is TSV with a
// "label<TAB>text" header, labels numbered by a LabelMap. A malformed line is an IoError naming the
// file and line, or, when the caller asks, skipped and counted. Tokenizing is the tokenizer's job.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "foundry/core/error.hpp"
#include "foundry/text/utf8.hpp"
#include "foundry/text/vocab.hpp"

namespace foundry::text {

// The whole file as bytes; IoError names the path when it cannot be read.
inline std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) foundry::detail::fail<IoError>("read_text_file: cannot open '", path.string(), "'");
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

namespace detail {

// Calls f(line_number, line) for every line (1-based), without "\n" or a trailing "\r".
template <class F>
void for_each_line(std::string_view contents, F&& f) {
  std::size_t number = 1;
  for (std::size_t i = 0; i < contents.size(); ++number) {
    std::size_t end = contents.find('\n', i);
    if (end == std::string_view::npos) end = contents.size();
    std::string_view line = contents.substr(i, end - i);
    if (line.ends_with('\r')) line.remove_suffix(1);
    f(number, line);
    i = end + 1;
  }
}

inline bool is_blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t' || c == '\f' || c == '\v'; });
}

}  // namespace detail

enum class DocumentLayout {
  kLinePerDocument,     // every non-blank line is a document
  kBlankLineSeparated,  // consecutive non-blank lines form a document (e.g. moby_dick.txt, sotu.txt)
};

struct ReadOptions {
  bool skip_malformed = false;  // count and skip bad lines instead of throwing IoError
};

// Documents as lists of their lines (paragraphs); a line-per-document corpus has one line each.
struct Corpus {
  std::vector<std::vector<std::string>> documents;
  std::size_t skipped_lines = 0;  // malformed lines dropped under skip_malformed
};

// Reads a UTF-8 corpus; a line with ill-formed UTF-8 is malformed.
//   Corpus c = read_corpus(dir / "pretrain/sotu.txt", DocumentLayout::kBlankLineSeparated);
inline Corpus read_corpus(const std::filesystem::path& path, DocumentLayout layout, const ReadOptions& options = {}) {
  const std::string contents = read_text_file(path);
  Corpus corpus;
  bool open = false;  // whether the last document may still grow
  detail::for_each_line(contents, [&](std::size_t number, std::string_view line) {
    if (const std::size_t bad = utf8::first_invalid(line); bad != line.size()) {
      if (!options.skip_malformed) {
        foundry::detail::fail<IoError>("read_corpus: ", path.string(), ":", number, ": invalid UTF-8 at byte ", bad + 1);
      }
      ++corpus.skipped_lines;
      return;
    }
    if (detail::is_blank(line)) {
      open = false;
      return;
    }
    if (layout == DocumentLayout::kLinePerDocument || !open) corpus.documents.emplace_back();
    corpus.documents.back().emplace_back(line);
    open = true;
  });
  return corpus;
}

// Label names <-> dense ids. Built from a fixed list (ids in list order) or grown by add().
//   LabelMap labels({"ham", "spam"});  labels.id("spam") == 1
class LabelMap {
 public:
  LabelMap() = default;
  explicit LabelMap(std::vector<std::string> labels) {
    for (std::string& l : labels) add(l);
  }

  std::int32_t add(std::string_view label) {
    if (const std::int32_t i = find(label); i >= 0) return i;
    const auto id = static_cast<std::int32_t>(labels_.size());
    labels_.emplace_back(label);
    ids_.emplace(std::string(label), id);
    return id;
  }
  std::int32_t find(std::string_view label) const noexcept {
    const auto it = ids_.find(label);
    return it == ids_.end() ? -1 : it->second;
  }
  std::int32_t id(std::string_view label) const {
    const std::int32_t i = find(label);
    if (i < 0) foundry::detail::fail<ValueError>("LabelMap::id: unknown label '", label, "'");
    return i;
  }
  const std::string& label(std::int32_t id) const {
    if (id < 0 || id >= size()) foundry::detail::fail<IndexError>("LabelMap::label: id ", id, " out of range [0, ", size(), ")");
    return labels_[static_cast<std::size_t>(id)];
  }
  std::int32_t size() const noexcept { return static_cast<std::int32_t>(labels_.size()); }
  const std::vector<std::string>& labels() const noexcept { return labels_; }

 private:
  std::vector<std::string> labels_;
  StringMap<std::int32_t> ids_;
};

struct LabeledText {
  std::int32_t label;
  std::string text;
  friend bool operator==(const LabeledText&, const LabeledText&) = default;
};

struct TsvOptions {
  bool skip_malformed = false;
  // Fixed labels: a row with another label is malformed. Without it the labels found are numbered in
  // sorted order, so a train and a dev file with the same labels agree (ham = 0, spam = 1).
  std::optional<LabelMap> labels{};
  std::string header = "label\ttext";  // the first line must equal it
};

struct TsvDataset {
  std::vector<LabeledText> examples;
  LabelMap labels;
  std::size_t skipped_lines = 0;
};

// Reads "label<TAB>text" rows; the text is everything after the first tab and may hold more tabs.
// A row without a tab, with an empty label or text, an unknown label or ill-formed UTF-8 is malformed.
// A missing or different header is always an IoError: it means the wrong file.
inline TsvDataset read_tsv(const std::filesystem::path& path, const TsvOptions& options = {}) {
  const std::string contents = read_text_file(path);
  TsvDataset data;
  std::vector<std::pair<std::string, std::string>> rows;  // (label, text) until labels are numbered
  const auto malformed = [&](std::size_t number, std::string_view why) {
    if (!options.skip_malformed) foundry::detail::fail<IoError>("read_tsv: ", path.string(), ":", number, ": ", why);
    ++data.skipped_lines;
  };
  bool header_seen = false;
  detail::for_each_line(contents, [&](std::size_t number, std::string_view line) {
    if (number == 1) {
      if (line != options.header) {
        foundry::detail::fail<IoError>("read_tsv: ", path.string(), ":1: expected the header '", options.header,
                                       "', found '", line.substr(0, 80), "'");
      }
      header_seen = true;
      return;
    }
    if (const std::size_t bad = utf8::first_invalid(line); bad != line.size()) return malformed(number, "invalid UTF-8");
    const std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos) return malformed(number, "no tab between label and text");
    const std::string_view label = line.substr(0, tab), text = line.substr(tab + 1);
    if (label.empty()) return malformed(number, "empty label");
    if (text.empty()) return malformed(number, "empty text");
    if (options.labels && options.labels->find(label) < 0) return malformed(number, "unknown label '" + std::string(label) + "'");
    rows.emplace_back(label, text);
  });
  if (!header_seen) foundry::detail::fail<IoError>("read_tsv: ", path.string(), " is empty, expected the header '", options.header, "'");
  if (options.labels) {
    data.labels = *options.labels;
  } else {
    std::vector<std::string> names;
    for (const auto& r : rows) names.push_back(r.first);
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    data.labels = LabelMap(std::move(names));
  }
  data.examples.reserve(rows.size());
  for (auto& [label, text] : rows) data.examples.push_back({data.labels.id(label), std::move(text)});
  return data;
}

}  // namespace foundry::text
