// examples/mlm_pretrain.cpp: pretrains a BERT with masked-language modelling (and, with --nsp,
// next-sentence prediction) on plain text, from a fresh WordPiece vocabulary or a given vocab.txt.
//
//   mlm_pretrain --corpus ../shared/data/pretrain/moby_dick.txt --out runs/mlm --steps 2000
//     --hidden 256 --layers 4 --heads 4 --log runs/mlm.jsonl
//   mlm_pretrain --resume runs/mlm --steps 4000 ...same flags...   # continues exactly where it stopped
//
// --corpus takes .txt files (documents separated by blank lines; --line-per-document for one per
// line) and .tsv files (label<TAB>text with a header: each text is a document, the label unused).
// Every --eval-every steps it reports masked-token accuracy and perplexity on held-out documents
// (the same masks each time). --out DIR always holds the latest checkpoint: config.json, vocab.txt,
// model.safetensors (Hugging Face layout, for finetune_classifier or transformers) and
// training_state.safetensors (model, optimizer, schedule, step, generators) for --resume.
// Ctrl-C saves a checkpoint and exits.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <foundry/foundry.hpp>

#include "support/cli.hpp"

using namespace foundry;
namespace fs = std::filesystem;

namespace {

struct Options {
  std::vector<std::string> corpus;
  std::string vocab, config, out, resume, log;
  bool line_per_document = false, nsp = false, whole_word_mask = false, all_positions = false, cased = false;
  bool gradient_checkpointing = false;
  std::int64_t vocab_size = 8000, min_frequency = 2;
  int hidden = 256, layers = 4, heads = 4, intermediate = 0, max_seq_length = 128;
  int batch_size = 32, grad_accum = 1, threads = 0;
  std::int64_t steps = 1000, stop_after = 0, warmup_steps = -1, eval_every = 200, save_every = 0, eval_blocks = 256, seed = 42;
  double lr = 5e-4, weight_decay = 0.01, warmup_ratio = 0.06, max_grad_norm = 1.0, mlm_probability = 0.15, heldout_fraction = 0.02;
  double dropout = 0.1;
};

// What a run must keep to resume exactly: these flags are saved in the checkpoint and compared.
io::Json run_signature(const Options& o) {
  io::Json j = io::Json::object();
  j["seed"] = o.seed;
  j["batch_size"] = o.batch_size;
  j["grad_accum"] = o.grad_accum;
  j["max_seq_length"] = o.max_seq_length;
  j["nsp"] = o.nsp;
  j["whole_word_mask"] = o.whole_word_mask;
  j["mlm_probability"] = o.mlm_probability;
  j["heldout_fraction"] = o.heldout_fraction;
  j["line_per_document"] = o.line_per_document;
  io::Json corpora = io::Json::array();
  for (const auto& c : o.corpus) corpora.push_back(fs::path(c).filename().string());
  j["corpus"] = corpora;
  return j;
}

text::Corpus read_corpora(const Options& o) {
  text::Corpus all;
  for (const auto& path : o.corpus) {
    if (fs::path(path).extension() == ".tsv") {
      for (auto& e : text::read_tsv(path).examples) all.documents.push_back({std::move(e.text)});
    } else {
      text::Corpus c = text::read_corpus(
          path, o.line_per_document ? text::DocumentLayout::kLinePerDocument : text::DocumentLayout::kBlankLineSeparated);
      for (auto& d : c.documents) all.documents.push_back(std::move(d));
    }
  }
  return all;
}

text::Vocab train_vocab(const text::Corpus& corpus, const Options& o) {
  text::BasicTokenizerOptions basic;
  basic.lowercase = !o.cased;
  text::WordCounter counter(basic);
  for (const auto& doc : corpus.documents)
    for (const auto& line : doc) counter.add(line);
  // Pair-frequency merges (Hugging Face's trainer in practice) segment far better than the
  // likelihood score at small vocabularies; see text/wordpiece_trainer.hpp.
  return text::train_wordpiece(counter.counts(), {.vocab_size = static_cast<std::size_t>(o.vocab_size),
                                                  .min_frequency = o.min_frequency,
                                                  .score = text::MergeScore::kFrequency});
}

// A generator for one purpose and one index (epoch, step), independent of every other: Philox
// streams at offset index * 2^32 of a purpose-specific seed. Nothing about it needs saving.
Generator stream(std::uint64_t seed, std::uint64_t purpose, std::uint64_t index) {
  Generator g;
  g.set_state(seed * 0x9E3779B97F4A7C15ull + purpose, index << 32);
  return g;
}

// Pretraining examples for the training documents, reshuffled each epoch; epoch e's order depends
// only on (seed, e), so a resumed run sees the same examples at the same steps.
class ExampleStream {
 public:
  ExampleStream(std::vector<text::Document> docs, const text::BertTokenizer& tok, const Options& o)
      : docs_(std::move(docs)), tok_(&tok), o_(&o) {
    if (!o.nsp) blocks_ = text::pack_blocks(docs_, tok, {.max_seq_length = static_cast<std::size_t>(o.max_seq_length)});
    load_epoch(0);
    if (size() == 0) throw std::runtime_error("the corpus gives no training examples");
  }
  std::size_t size() const { return order_.size(); }

  // Examples [index, index + n) of the endless sequence epoch 0, epoch 1, ...
  text::BatchEncoding batch(std::uint64_t index, std::size_t n) {
    std::vector<text::Encoding> enc;
    std::vector<std::int64_t> nsp_labels;
    for (std::size_t i = 0; i < n; ++i, ++index) {
      const std::uint64_t epoch = index / size();
      if (epoch != epoch_) load_epoch(epoch);
      const std::size_t k = order_[index % size()];
      if (o_->nsp) {
        enc.push_back(nsp_[k].encoding);
        nsp_labels.push_back(nsp_[k].next_sentence_label);
      } else {
        enc.push_back(blocks_[k]);
      }
    }
    text::BatchEncoding b = text::to_batch(enc, *tok_);
    if (o_->nsp) b.next_sentence_label = Tensor<std::int64_t>::from(nsp_labels, {static_cast<Index>(nsp_labels.size())});
    return b;
  }

 private:
  void load_epoch(std::uint64_t epoch) {
    Generator g = stream(static_cast<std::uint64_t>(o_->seed), 1, epoch);
    if (o_->nsp) nsp_ = text::create_nsp_examples(docs_, *tok_, {.max_seq_length = static_cast<std::size_t>(o_->max_seq_length)}, g);
    order_.resize(o_->nsp ? nsp_.size() : blocks_.size());
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    text::shuffle(std::span(order_), g);
    epoch_ = epoch;
  }

  std::vector<text::Document> docs_;
  const text::BertTokenizer* tok_;
  const Options* o_;
  std::vector<text::Encoding> blocks_;
  std::vector<text::NspExample> nsp_;
  std::vector<std::size_t> order_;
  std::uint64_t epoch_ = ~std::uint64_t{0};
};

// BertForMaskedLM, or BertForPreTraining with --nsp, behind one forward.
struct Model {
  std::shared_ptr<heads::BertForMaskedLM<float>> mlm;
  std::shared_ptr<heads::BertForPreTraining<float>> pre;

  struct Out {
    Tensor<float> loss, mlm_loss, logits, nsp_logits;
    Tensor<std::int64_t> positions;
  };
  nn::Module<float>& module() const { return mlm ? static_cast<nn::Module<float>&>(*mlm) : *pre; }
  const char* architecture() const { return mlm ? "BertForMaskedLM" : "BertForPreTraining"; }
  Out forward(const text::BatchEncoding& b, bool masked_only) const {
    models::BertInputs in;
    in.input_ids = b.input_ids;
    in.attention_mask = b.attention_mask;
    in.token_type_ids = b.token_type_ids;
    if (mlm) {
      auto o = mlm->forward(in, b.labels, masked_only);
      return {o.loss, o.loss, o.logits, {}, o.positions};
    }
    auto o = pre->forward(in, b.labels, b.next_sentence_label, masked_only);
    return {o.loss, o.mlm_loss, o.prediction_logits, o.seq_relationship_logits, o.positions};
  }
};

struct EvalResult {
  double accuracy = 0, perplexity = 0, loss = 0, nsp_accuracy = -1;
  std::int64_t predictions = 0;
};

// Masked-token accuracy and perplexity (exp of the mean cross-entropy over the masked tokens) on the
// held-out examples, with the same masks every time.
EvalResult evaluate(const Model& model, const std::vector<text::BatchEncoding>& batches) {
  autograd::NoGradGuard no_grad;
  model.module().eval();
  double loss_sum = 0;
  std::int64_t right = 0, total = 0, nsp_right = 0, nsp_total = 0;
  for (const auto& b : batches) {
    const auto out = model.forward(b, /*masked_only=*/true);
    const Index n = out.logits.size(0), V = out.logits.size(1);
    const Tensor<float> logits = out.logits.contiguous();
    const Tensor<std::int64_t> labels = b.labels.contiguous(), positions = out.positions.contiguous();
    for (Index i = 0; i < n; ++i) {
      const float* row = logits.data() + i * V;
      const Index best = std::max_element(row, row + V) - row;
      right += best == labels.data()[positions.data()[i]];
    }
    loss_sum += static_cast<double>(out.mlm_loss.item()) * static_cast<double>(n);
    total += n;
    if (out.nsp_logits.defined()) {
      const Tensor<float> s = out.nsp_logits.contiguous();
      for (Index i = 0; i < s.size(0); ++i)
        nsp_right += (s.data()[2 * i + 1] > s.data()[2 * i]) == (b.next_sentence_label.data()[i] == 1);
      nsp_total += s.size(0);
    }
  }
  model.module().train();
  EvalResult r;
  r.predictions = total;
  r.loss = total ? loss_sum / static_cast<double>(total) : 0;
  r.accuracy = total ? static_cast<double>(right) / static_cast<double>(total) : 0;
  r.perplexity = std::exp(r.loss);
  if (nsp_total) r.nsp_accuracy = static_cast<double>(nsp_right) / static_cast<double>(nsp_total);
  return r;
}

io::Json eval_json(const EvalResult& r, std::int64_t step) {
  io::Json j = io::Json::object();
  j["step"] = step;
  j["eval_masked_accuracy"] = r.accuracy;
  j["eval_perplexity"] = r.perplexity;
  j["eval_loss"] = r.loss;
  j["eval_predictions"] = r.predictions;
  if (r.nsp_accuracy >= 0) j["eval_nsp_accuracy"] = r.nsp_accuracy;
  return j;
}

int run(Options o) {
  const auto start = std::chrono::steady_clock::now();
  examples::install_interrupt_handler();
  examples::JsonLog log(o.log);
  const bool resuming = !o.resume.empty();
  if (resuming && o.out.empty()) o.out = o.resume;
  if (o.out.empty()) throw std::runtime_error("--out DIR is required (where checkpoints go)");

  // Text, vocabulary, tokenizer.
  const text::Corpus corpus = read_corpora(o);
  std::size_t lines = 0;
  for (const auto& d : corpus.documents) lines += d.size();
  std::printf("corpus: %zu documents, %zu lines from %zu file(s)\n", corpus.documents.size(), lines, o.corpus.size());
  fs::create_directories(o.out);
  const fs::path vocab_path = resuming ? fs::path(o.resume) / "vocab.txt" : fs::path(o.out) / "vocab.txt";
  if (!resuming) {
    if (!o.vocab.empty()) {
      if (fs::absolute(o.vocab) != fs::absolute(vocab_path)) fs::copy_file(o.vocab, vocab_path, fs::copy_options::overwrite_existing);
    } else {
      const auto t0 = std::chrono::steady_clock::now();
      train_vocab(corpus, o).save(vocab_path);
      std::printf("trained a WordPiece vocabulary in %.2f s -> %s\n", examples::seconds_since(t0), vocab_path.string().c_str());
    }
  }
  text::BertTokenizerOptions tok_options;
  tok_options.lowercase = !o.cased;
  const text::BertTokenizer tokenizer = text::BertTokenizer::from_file(vocab_path, tok_options);

  // Documents -> held-out and training sets (a seeded choice of whole documents).
  auto docs = text::tokenize_documents(corpus, tokenizer, {.split_sentences = o.nsp});
  std::vector<std::size_t> doc_order(docs.size());
  std::iota(doc_order.begin(), doc_order.end(), std::size_t{0});
  Generator split_gen = stream(static_cast<std::uint64_t>(o.seed), 2, 0);
  text::shuffle(std::span(doc_order), split_gen);
  const auto n_heldout = static_cast<std::size_t>(std::ceil(o.heldout_fraction * static_cast<double>(docs.size())));
  std::vector<text::Document> train_docs, heldout_docs;
  for (std::size_t i = 0; i < doc_order.size(); ++i) (i < n_heldout ? heldout_docs : train_docs).push_back(std::move(docs[doc_order[i]]));
  ExampleStream examples_stream(std::move(train_docs), tokenizer, o);

  // Held-out batches with fixed masks.
  const text::MlmCollator collate(tokenizer, {.mlm_probability = o.mlm_probability, .whole_word_mask = o.whole_word_mask});
  std::vector<text::BatchEncoding> eval_batches;
  {
    Generator g = stream(static_cast<std::uint64_t>(o.seed), 3, 0);
    std::vector<text::Encoding> blocks;
    std::vector<text::NspExample> pairs;
    if (o.nsp && heldout_docs.size() >= 2) {
      pairs = text::create_nsp_examples(heldout_docs, tokenizer, {.max_seq_length = static_cast<std::size_t>(o.max_seq_length)}, g);
      if (pairs.size() > static_cast<std::size_t>(o.eval_blocks)) pairs.resize(static_cast<std::size_t>(o.eval_blocks));
    } else {
      blocks = text::pack_blocks(heldout_docs, tokenizer, {.max_seq_length = static_cast<std::size_t>(o.max_seq_length)});
      if (blocks.size() > static_cast<std::size_t>(o.eval_blocks)) blocks.resize(static_cast<std::size_t>(o.eval_blocks));
    }
    const std::size_t n = o.nsp ? pairs.size() : blocks.size();
    for (std::size_t first = 0; first < n; first += static_cast<std::size_t>(o.batch_size)) {
      const std::size_t last = std::min(n, first + static_cast<std::size_t>(o.batch_size));
      text::BatchEncoding b = o.nsp ? text::to_batch(std::span(pairs).subspan(first, last - first), tokenizer)
                                    : text::to_batch(std::span(blocks).subspan(first, last - first), tokenizer);
      eval_batches.push_back(collate(b, g));
    }
    std::printf("data: %zu training examples of <= %d tokens, %zu held-out documents -> %zu held-out examples\n",
                examples_stream.size(), o.max_seq_length, heldout_docs.size(), n);
  }

  // Model.
  models::BertConfig config;
  if (resuming) {
    config = io::read_bert_config(o.resume);
  } else {
    if (!o.config.empty()) config = models::BertConfig::load(o.config);
    else {
      config.hidden_size = o.hidden;
      config.num_hidden_layers = o.layers;
      config.num_attention_heads = o.heads;
      config.intermediate_size = o.intermediate > 0 ? o.intermediate : 4 * o.hidden;
      config.max_position_embeddings = std::max(o.max_seq_length, 128);
      config.hidden_dropout_prob = config.attention_probs_dropout_prob = o.dropout;
    }
    config.vocab_size = tokenizer.vocab().size();
    config.pad_token_id = tokenizer.pad_id();
  }
  if (config.max_position_embeddings < o.max_seq_length)
    throw std::runtime_error("--max-seq-length exceeds the config's max_position_embeddings");
  Generator model_gen(static_cast<std::uint64_t>(o.seed));
  Model model;
  if (o.nsp) model.pre = std::make_shared<heads::BertForPreTraining<float>>(config, model_gen);
  else model.mlm = std::make_shared<heads::BertForMaskedLM<float>>(config, model_gen);
  model.module().train();
  (model.mlm ? model.mlm->bert() : model.pre->bert())->set_gradient_checkpointing(o.gradient_checkpointing);
  std::printf("model: %s, L=%lld H=%lld A=%lld I=%lld V=%lld, %lld parameters\n", model.architecture(),
              static_cast<long long>(config.num_hidden_layers), static_cast<long long>(config.hidden_size),
              static_cast<long long>(config.num_attention_heads), static_cast<long long>(config.intermediate_size),
              static_cast<long long>(config.vocab_size), static_cast<long long>(model.module().num_parameters()));

  optim::AdamW<float> optimizer(optim::weight_decay_groups(model.module(), o.weight_decay), {.lr = o.lr, .weight_decay = o.weight_decay});
  const std::int64_t warmup = o.warmup_steps >= 0 ? o.warmup_steps : static_cast<std::int64_t>(o.warmup_ratio * static_cast<double>(o.steps));
  optim::Schedule schedule(optim::linear_with_warmup(warmup, o.steps), optimizer);
  io::TrainingState<float> state(model.module(), optimizer, &schedule);
  state.add_generator("model", model_gen);
  const std::string signature = run_signature(o).dump();

  std::int64_t step = 0;
  if (resuming) {
    const io::CheckpointInfo info = io::load_checkpoint(fs::path(o.resume) / "training_state.safetensors", state);
    if (info.metadata.count("run") && info.metadata.at("run") != signature)
      throw std::runtime_error("--resume: the data flags differ from the checkpoint's run (" + info.metadata.at("run") + ")");
    step = info.step;
    std::printf("resumed from %s at step %lld\n", o.resume.c_str(), static_cast<long long>(step));
  }

  const auto save = [&](const char* why) {
    const auto t0 = std::chrono::steady_clock::now();
    io::save_checkpoint(fs::path(o.out) / "training_state.safetensors", state, step, {{"run", signature}});
    io::save_pretrained(model.module(), config, o.out, model.architecture());  // vocab.txt is already there
    if (fs::absolute(vocab_path) != fs::absolute(fs::path(o.out) / "vocab.txt"))
      fs::copy_file(vocab_path, fs::path(o.out) / "vocab.txt", fs::copy_options::overwrite_existing);
    std::printf("saved a checkpoint at step %lld to %s (%s, %.2f s)\n", static_cast<long long>(step), o.out.c_str(), why,
                examples::seconds_since(t0));
  };

  std::vector<Tensor<float>> params = model.module().parameters();
  const std::size_t examples_per_step = static_cast<std::size_t>(o.batch_size) * static_cast<std::size_t>(o.grad_accum);
  EvalResult first_eval{}, last_eval{};
  bool have_eval = false;
  const auto run_eval = [&]() {
    last_eval = evaluate(model, eval_batches);
    if (!have_eval) first_eval = last_eval, have_eval = true;
    io::Json rec = eval_json(last_eval, step);
    log.write(rec);
    std::printf("eval @ step %lld: masked-token accuracy %.4f, perplexity %.2f", static_cast<long long>(step), last_eval.accuracy,
                last_eval.perplexity);
    if (last_eval.nsp_accuracy >= 0) std::printf(", NSP accuracy %.4f", last_eval.nsp_accuracy);
    std::printf("\n");
  };
  if (!eval_batches.empty() && o.eval_every > 0 && step == 0) run_eval();  // the untrained baseline

  examples::Progress progress(o.steps, std::max<std::int64_t>(o.steps / 20, 1), step);
  std::int64_t tokens_since = 0;
  auto window_start = std::chrono::steady_clock::now();
  double tokens_total = 0;
  bool stopped = false;
  while (step < o.steps) {
    double loss_value = 0;
    std::int64_t tokens = 0;
    Generator mask_gen = stream(static_cast<std::uint64_t>(o.seed), 4, static_cast<std::uint64_t>(step));
    for (int micro = 0; micro < o.grad_accum; ++micro) {
      const std::uint64_t index = static_cast<std::uint64_t>(step) * examples_per_step + static_cast<std::uint64_t>(micro) * static_cast<std::uint64_t>(o.batch_size);
      const text::BatchEncoding batch = collate(examples_stream.batch(index, static_cast<std::size_t>(o.batch_size)), mask_gen);
      const auto out = model.forward(batch, !o.all_positions);
      const Tensor<float> loss = o.grad_accum > 1 ? out.loss * (1.0f / static_cast<float>(o.grad_accum)) : out.loss;
      loss.backward();
      loss_value += static_cast<double>(loss.item());
      const Tensor<std::int64_t> mask = batch.attention_mask.contiguous();
      tokens += std::accumulate(mask.data(), mask.data() + mask.numel(), std::int64_t{0});
    }
    const double grad_norm = o.max_grad_norm > 0 ? optim::clip_grad_norm(params, o.max_grad_norm) : optim::grad_norm(params);
    optimizer.step();
    schedule.step();
    optimizer.zero_grad();
    ++step;
    tokens_since += tokens;
    tokens_total += static_cast<double>(tokens);
    const double window = examples::seconds_since(window_start);
    const double tokens_per_s = static_cast<double>(tokens_since) / std::max(window, 1e-9);
    if (window > 5) tokens_since = 0, window_start = std::chrono::steady_clock::now();
    char text[128];
    std::snprintf(text, sizeof text, "loss %.4f | lr %.2e | %.0f tok/s", loss_value, schedule.last_lrs().front(), tokens_per_s);
    progress.update(step, text);
    io::Json rec = io::Json::object();
    rec["step"] = step;
    rec["loss"] = loss_value;
    rec["lr"] = schedule.last_lrs().front();
    rec["grad_norm"] = grad_norm;
    rec["tokens_per_second"] = tokens_per_s;
    log.write(rec);
    if (o.eval_every > 0 && step % o.eval_every == 0 && !eval_batches.empty()) {
      progress.break_line();
      run_eval();
    }
    if (examples::interrupted() || (o.stop_after > 0 && step == o.stop_after)) {
      progress.break_line();
      std::printf("%s at step %lld\n", examples::interrupted() ? "interrupted" : "stopping (--stop-after)", static_cast<long long>(step));
      stopped = true;
      break;
    }
    if (o.save_every > 0 && step % o.save_every == 0 && step < o.steps) {
      progress.break_line();
      save("every --save-every steps");
    }
  }
  progress.break_line();
  if (!stopped && !eval_batches.empty() && o.eval_every > 0 && step % o.eval_every != 0) run_eval();
  save(stopped ? "stopped early" : "final");

  io::Json summary = io::Json::object();
  summary["final"] = !stopped;
  summary["steps"] = step;
  if (have_eval) {
    if (!resuming) {  // the untrained model's scores; a resumed run reports them in its first log
      summary["initial_masked_accuracy"] = first_eval.accuracy;
      summary["initial_perplexity"] = first_eval.perplexity;
    }
    summary["eval_masked_accuracy"] = last_eval.accuracy;
    summary["eval_perplexity"] = last_eval.perplexity;
    if (last_eval.nsp_accuracy >= 0) summary["eval_nsp_accuracy"] = last_eval.nsp_accuracy;
  }
  const double seconds = examples::seconds_since(start);
  summary["seconds"] = seconds;
  summary["tokens"] = tokens_total;
  summary["checkpoint"] = o.out;
  log.write(summary);
  std::cout << summary.dump() << "\n";
  return examples::interrupted() ? 130 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  examples::Flags flags("mlm_pretrain", "Pretrains a BERT with masked-language modelling (and optionally NSP) on text files.");
  flags.add("--corpus", o.corpus, "FILE", "a .txt (blank-line-separated documents) or .tsv (label<TAB>text) file; repeatable");
  flags.add("--line-per-document", o.line_per_document, "", ".txt files hold one document per line");
  flags.add("--vocab", o.vocab, "FILE", "use this vocab.txt instead of training one");
  flags.add("--vocab-size", o.vocab_size, "N", "size of the trained WordPiece vocabulary");
  flags.add("--min-frequency", o.min_frequency, "N", "WordPiece training: the least count of a merged pair");
  flags.add("--cased", o.cased, "", "keep case (default: lowercase, strip accents)");
  flags.add("--config", o.config, "FILE", "config.json for the model (else the size flags below)");
  flags.add("--hidden", o.hidden, "N", "hidden size");
  flags.add("--layers", o.layers, "N", "Transformer layers");
  flags.add("--heads", o.heads, "N", "attention heads");
  flags.add("--intermediate", o.intermediate, "N", "feed-forward size (0 = 4 x hidden)");
  flags.add("--dropout", o.dropout, "X", "hidden and attention dropout");
  flags.add("--max-seq-length", o.max_seq_length, "N", "tokens per example, [CLS] and [SEP] included");
  flags.add("--nsp", o.nsp, "", "also train next-sentence prediction (BertForPreTraining)");
  flags.add("--whole-word-mask", o.whole_word_mask, "", "mask whole words");
  flags.add("--mlm-probability", o.mlm_probability, "X", "share of tokens to predict");
  flags.add("--all-positions", o.all_positions, "", "run the decoder on every position (as HF), not only the masked ones");
  flags.add("--steps", o.steps, "N", "optimizer steps in all (a resumed run continues to N)");
  flags.add("--stop-after", o.stop_after, "N", "save and stop once step N is done (resume later with --resume)");
  flags.add("--batch-size", o.batch_size, "N", "examples per micro-batch");
  flags.add("--grad-accum", o.grad_accum, "N", "micro-batches per optimizer step");
  flags.add("--gradient-checkpointing", o.gradient_checkpointing, "",
            "recompute each encoder layer in backward: far less memory, ~1/3 more compute, same results");
  flags.add("--lr", o.lr, "X", "peak learning rate (AdamW)");
  flags.add("--weight-decay", o.weight_decay, "X", "AdamW weight decay (not on biases and LayerNorm)");
  flags.add("--warmup-ratio", o.warmup_ratio, "X", "share of the steps spent warming up");
  flags.add("--warmup-steps", o.warmup_steps, "N", "warm-up steps (overrides --warmup-ratio)");
  flags.add("--max-grad-norm", o.max_grad_norm, "X", "gradient clipping (0 = off)");
  flags.add("--eval-every", o.eval_every, "N", "evaluate on held-out documents every N steps (0 = never)");
  flags.add("--eval-blocks", o.eval_blocks, "N", "at most N held-out examples");
  flags.add("--heldout-fraction", o.heldout_fraction, "X", "share of the documents held out");
  flags.add("--save-every", o.save_every, "N", "checkpoint every N steps (0 = only at the end or on Ctrl-C)");
  flags.add("--out", o.out, "DIR", "checkpoint directory (Hugging Face layout + training_state.safetensors)");
  flags.add("--resume", o.resume, "DIR", "continue the run saved in DIR (pass the same data flags)");
  flags.add("--log", o.log, "FILE", "JSON-lines metrics");
  flags.add("--seed", o.seed, "N", "seed for the split, the data order, masks, dropout and weights");
  flags.add("--threads", o.threads, "N", "threads (0 = OpenMP's default)");
  flags.parse(argc, argv);
  if (o.corpus.empty()) flags.die("--corpus is required");
  if (o.steps < 1 || o.batch_size < 1 || o.grad_accum < 1 || o.max_seq_length < 8) flags.die("--steps, --batch-size, --grad-accum must be >= 1, --max-seq-length >= 8");
  try {
    if (o.threads > 0) set_num_threads(o.threads);
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "mlm_pretrain: " << e.what() << "\n";
    return 1;
  }
}
