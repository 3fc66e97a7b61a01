// benchmarks/text_bench.cpp: the text layer on the shared corpora, one thread.
//   BM_TrainWordPiece/8000        word counting + an 8k WordPiece vocabulary from sotu.txt (10.7 MB)
//   BM_TokenizeSotu/{0,1}         BertTokenizer::append_ids over sotu.txt, MB/s; vocabulary trained by
//                                 MergeScore::kLikelihood (0) or kFrequency (1), 8k tokens
//   BM_TokenizeZhPoems            the same over zh_poems.txt (the non-ASCII path)
//   BM_BasicTokenizerSotu         pre-tokenization alone
//   BM_CollateMlm/{0,1}           MlmCollator on a [32, 128] batch, tokens/s; per token (0) or whole words (1)
//   BM_NspExamplesSotu            create_nsp_examples over sotu.txt, already tokenized and cut into sentences
// Correctness of what is measured here is tests/text/bert_tokenizer_test.cpp,
// wordpiece_trainer_test.cpp, mlm_collator_test.cpp and pretraining_data_test.cpp. Data comes from FOUNDRY_SHARED_DATA_DIR (default ../shared/data).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "foundry/text/basic_tokenizer.hpp"
#include "foundry/text/bert_tokenizer.hpp"
#include "foundry/text/corpus.hpp"
#include "foundry/text/mlm_collator.hpp"
#include "foundry/text/pretraining_data.hpp"
#include "foundry/text/wordpiece_trainer.hpp"

#ifndef FOUNDRY_SHARED_DATA_DIR
#define FOUNDRY_SHARED_DATA_DIR "../shared/data"
#endif

namespace {

using namespace foundry::text;

struct Text {
  std::string contents;
  std::vector<std::string_view> lines;
};

// The file split into lines (views into contents); empty when the file is missing.
const Text& corpus(const std::string& name) {
  static std::map<std::string, Text> cache;
  auto [it, inserted] = cache.try_emplace(name);
  if (inserted) {
    const std::filesystem::path path = std::filesystem::path(FOUNDRY_SHARED_DATA_DIR) / name;
    if (!std::filesystem::exists(path)) return it->second;
    it->second.contents = read_text_file(path);
    const std::string_view all = it->second.contents;
    for (std::size_t start = 0, end; start < all.size(); start = end + 1) {
      end = all.find('\n', start);
      if (end == std::string_view::npos) end = all.size();
      it->second.lines.push_back(all.substr(start, end - start));
    }
  }
  return it->second;
}

Vocab train_sotu(std::size_t vocab_size, MergeScore score) {
  WordCounter counter;
  for (std::string_view line : corpus("pretrain/sotu.txt").lines) counter.add(line);
  return train_wordpiece(counter.counts(), {.vocab_size = vocab_size, .score = score});
}

const BertTokenizer& sotu_tokenizer(MergeScore score) {
  static const BertTokenizer likelihood(train_sotu(8000, MergeScore::kLikelihood));
  static const BertTokenizer frequency(train_sotu(8000, MergeScore::kFrequency));
  return score == MergeScore::kLikelihood ? likelihood : frequency;
}

void BM_TrainWordPiece(benchmark::State& state) {
  if (corpus("pretrain/sotu.txt").lines.empty()) return state.SkipWithError("sotu.txt not found");
  std::int32_t size = 0;
  for (auto _ : state) {
    const Vocab v = train_sotu(static_cast<std::size_t>(state.range(0)), MergeScore::kLikelihood);
    size = v.size();
    benchmark::DoNotOptimize(size);
  }
  state.counters["vocab"] = size;
}
BENCHMARK(BM_TrainWordPiece)->Arg(8000)->Unit(benchmark::kMillisecond)->Iterations(3);

void tokenize_all(benchmark::State& state, const BertTokenizer& tok, const Text& text) {
  std::vector<std::int32_t> ids;
  for (auto _ : state) {
    ids.clear();
    for (std::string_view line : text.lines) tok.append_ids(line, ids);
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.contents.size()));
  state.counters["tokens"] = static_cast<double>(ids.size());
}

void BM_TokenizeSotu(benchmark::State& state) {
  const Text& text = corpus("pretrain/sotu.txt");
  if (text.lines.empty()) return state.SkipWithError("sotu.txt not found");
  tokenize_all(state, sotu_tokenizer(state.range(0) == 0 ? MergeScore::kLikelihood : MergeScore::kFrequency), text);
}
BENCHMARK(BM_TokenizeSotu)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_TokenizeZhPoems(benchmark::State& state) {
  const Text& text = corpus("pretrain/zh_poems.txt");
  if (text.lines.empty()) return state.SkipWithError("zh_poems.txt not found");
  WordCounter counter;
  for (std::string_view line : text.lines) counter.add(line);
  const BertTokenizer tok(train_wordpiece(counter.counts(), {.vocab_size = 4000}));
  tokenize_all(state, tok, text);
}
BENCHMARK(BM_TokenizeZhPoems)->Unit(benchmark::kMillisecond);

void BM_BasicTokenizerSotu(benchmark::State& state) {
  const Text& text = corpus("pretrain/sotu.txt");
  if (text.lines.empty()) return state.SkipWithError("sotu.txt not found");
  const BasicTokenizer basic;
  std::size_t words = 0;
  for (auto _ : state) {
    words = 0;
    for (std::string_view line : text.lines) basic.for_each_word(line, [&](std::string_view, bool) { ++words; });
    benchmark::DoNotOptimize(words);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.contents.size()));
  state.counters["words"] = static_cast<double>(words);
}
BENCHMARK(BM_BasicTokenizerSotu)->Unit(benchmark::kMillisecond);

// 32 rows of 128 tokens: [CLS], random non-special ids, [SEP], and rows ending in up to 63 [PAD]s.
std::vector<Encoding> random_rows(const BertTokenizer& tok) {
  foundry::Generator g(1);
  std::vector<Encoding> rows;
  for (int r = 0; r < 32; ++r) {
    std::vector<std::int32_t> ids(static_cast<std::size_t>(126 - r * 2));
    for (auto& id : ids) id = 5 + static_cast<std::int32_t>(g.randint(static_cast<std::uint64_t>(tok.vocab().size() - 5)));
    rows.push_back(assemble(ids, nullptr, true, tok.cls_id(), tok.sep_id()));
  }
  return rows;
}

void BM_CollateMlm(benchmark::State& state) {
  if (corpus("pretrain/sotu.txt").lines.empty()) return state.SkipWithError("sotu.txt not found");
  const BertTokenizer& tok = sotu_tokenizer(MergeScore::kLikelihood);
  const BatchEncoding batch = to_batch(random_rows(tok), tok);
  const MlmCollator collate(tok, {.whole_word_mask = state.range(0) == 1});
  foundry::Generator gen(0);
  for (auto _ : state) {
    BatchEncoding out = collate(batch, gen);
    benchmark::DoNotOptimize(out.labels.data());
  }
  state.SetItemsProcessed(state.iterations() * batch.input_ids.numel());
}
BENCHMARK(BM_CollateMlm)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_NspExamplesSotu(benchmark::State& state) {
  if (corpus("pretrain/sotu.txt").lines.empty()) return state.SkipWithError("sotu.txt not found");
  const BertTokenizer& tok = sotu_tokenizer(MergeScore::kLikelihood);
  static const std::vector<Document> docs = tokenize_documents(
      read_corpus(std::filesystem::path(FOUNDRY_SHARED_DATA_DIR) / "pretrain/sotu.txt", DocumentLayout::kBlankLineSeparated), tok,
      {.split_sentences = true});
  std::size_t examples = 0, tokens = 0;
  for (auto _ : state) {
    foundry::Generator gen(0);
    const auto out = create_nsp_examples(docs, tok, {.max_seq_length = 128}, gen);
    examples = out.size();
    tokens = 0;
    for (const auto& e : out) tokens += e.encoding.size();
    benchmark::DoNotOptimize(tokens);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * tokens));
  state.counters["examples"] = static_cast<double>(examples);
}
BENCHMARK(BM_NspExamplesSotu)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
