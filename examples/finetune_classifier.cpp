// examples/finetune_classifier.cpp: fine-tunes a BERT sequence classifier on labelled text
// (label<TAB>text, with a "label\ttext" header), picks the best epoch on a dev set, and reports
// accuracy, per-class precision / recall / F1 and the confusion matrix on a test set.
//
//   finetune_classifier --model runs/pretrain/final --train train.tsv --dev dev.tsv --test test.tsv
//     --max-train-examples 300 --epochs 4 --log runs/ft.jsonl --save runs/classifier
//   finetune_classifier --model runs/classifier --predict "win a free cruise now"
//
// --model is a checkpoint directory (config.json, vocab.txt, model.safetensors: ours or Hugging
// Face's). --from-scratch keeps its architecture and vocabulary but starts from random weights,
// for an honest comparison at the same budget. The last line of --log is a summary:
//   {"final": true, "dev_accuracy": ..., "test_accuracy": ..., "test_macro_f1": ..., ...}
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include <foundry/foundry.hpp>

#include "support/cli.hpp"

using namespace foundry;
namespace fs = std::filesystem;

namespace {

struct Options {
  std::string model, train, dev, test, log, save, predict;
  std::int64_t max_train_examples = 0, dev_from_train = 0;
  int epochs = 3, batch_size = 16, max_length = 128, threads = 0, freeze_layers = 0;
  double lr = 5e-5, weight_decay = 0.01, warmup_ratio = 0.1, layer_decay = 1.0, max_grad_norm = 1.0;
  std::int64_t seed = 42;
  bool from_scratch = false, freeze_encoder = false, cased = false, json = false, gradient_checkpointing = false;
};

// Examples in a stratified, seeded order: each class shuffled, then interleaved so that any prefix
// keeps the class proportions (a prefix of n is what --max-train-examples n takes).
std::vector<text::LabeledText> stratified(std::vector<text::LabeledText> examples, Index num_classes, Generator& gen) {
  std::vector<std::vector<text::LabeledText>> by_class(static_cast<std::size_t>(num_classes));
  for (auto& e : examples) by_class[static_cast<std::size_t>(e.label)].push_back(std::move(e));
  for (auto& c : by_class)
    text::shuffle(std::span(c), gen);
  // Interleave by quota: take from the class whose share of what is taken so far lags most.
  const double total = static_cast<double>(examples.size());
  std::vector<std::size_t> taken(by_class.size(), 0);
  std::vector<text::LabeledText> out;
  for (std::size_t n = 0; n < examples.size(); ++n) {
    std::size_t best = 0;
    double best_lag = -1e300;
    for (std::size_t c = 0; c < by_class.size(); ++c) {
      if (taken[c] == by_class[c].size()) continue;
      const double lag = static_cast<double>(by_class[c].size()) / total * static_cast<double>(n + 1) - static_cast<double>(taken[c]);
      if (lag > best_lag) best_lag = lag, best = c;
    }
    out.push_back(std::move(by_class[best][taken[best]++]));
  }
  return out;
}

struct Encoded {
  std::vector<text::Encoding> encodings;
  std::vector<std::int64_t> labels;
};

Encoded encode_all(const text::BertTokenizer& tokenizer, const std::vector<text::LabeledText>& data, int max_length) {
  Encoded out;
  text::EncodeOptions o;
  o.max_length = static_cast<std::size_t>(max_length);
  o.truncation = text::Truncation::kLongestFirst;
  for (const auto& e : data) {
    out.encodings.push_back(tokenizer.encode(e.text, o));
    out.labels.push_back(e.label);
  }
  return out;
}

// Rows `order[first, last)` of `data` as one padded batch.
models::BertInputs make_batch(const Encoded& data, const std::vector<std::size_t>& order, std::size_t first, std::size_t last,
                              const text::BertTokenizer& tokenizer, Tensor<std::int64_t>* labels) {
  std::vector<text::Encoding> rows;
  std::vector<std::int64_t> targets;
  for (std::size_t i = first; i < last; ++i) {
    rows.push_back(data.encodings[order[i]]);
    targets.push_back(data.labels[order[i]]);
  }
  if (labels) *labels = Tensor<std::int64_t>::from(targets, {static_cast<Index>(targets.size())});
  const text::BatchEncoding b = text::to_batch(rows, tokenizer);
  models::BertInputs in;
  in.input_ids = b.input_ids;
  in.attention_mask = b.attention_mask;
  in.token_type_ids = b.token_type_ids;
  return in;
}

heads::ClassificationReport evaluate(const heads::BertForSequenceClassification<float>& model, const Encoded& data, Index num_labels,
                                     int batch_size, const text::BertTokenizer& tokenizer) {
  autograd::NoGradGuard no_grad;
  heads::ClassificationReport report(num_labels);
  // Length-sorted batches waste no time on padding; the order does not change any prediction.
  std::vector<std::size_t> order(data.encodings.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return data.encodings[a].size() < data.encodings[b].size(); });
  for (std::size_t first = 0; first < order.size(); first += static_cast<std::size_t>(batch_size)) {
    const std::size_t last = std::min(order.size(), first + static_cast<std::size_t>(batch_size));
    Tensor<std::int64_t> labels;
    const auto inputs = make_batch(data, order, first, last, tokenizer, &labels);
    report.add_batch(labels, model.forward(inputs).logits);
  }
  return report;
}

void print_report(const heads::ClassificationReport& r, const text::LabelMap& labels, const char* title) {
  std::printf("\n%s: accuracy %.4f, macro F1 %.4f (%lld examples)\n", title, r.accuracy(), r.macro_f1(),
              static_cast<long long>(r.total()));
  std::printf("  %-12s %9s %9s %9s %8s\n", "class", "precision", "recall", "f1", "support");
  for (Index c = 0; c < r.num_classes(); ++c)
    std::printf("  %-12s %9.4f %9.4f %9.4f %8lld\n", labels.label(static_cast<std::int32_t>(c)).c_str(), r.precision(c), r.recall(c),
                r.f1(c), static_cast<long long>(r.support(c)));
  std::printf("  confusion (rows: truth, columns: predicted)\n  %-12s", "");
  for (Index p = 0; p < r.num_classes(); ++p) std::printf(" %8s", labels.label(static_cast<std::int32_t>(p)).c_str());
  std::printf("\n");
  for (Index t = 0; t < r.num_classes(); ++t) {
    std::printf("  %-12s", labels.label(static_cast<std::int32_t>(t)).c_str());
    for (Index p = 0; p < r.num_classes(); ++p) std::printf(" %8lld", static_cast<long long>(r.confusion(t, p)));
    std::printf("\n");
  }
}

io::Json report_json(const heads::ClassificationReport& r, const text::LabelMap& labels) {
  io::Json j = io::Json::object();
  j["accuracy"] = r.accuracy();
  j["macro_f1"] = r.macro_f1();
  io::Json per_class = io::Json::object();
  for (Index c = 0; c < r.num_classes(); ++c) {
    io::Json k = io::Json::object();
    k["precision"] = r.precision(c);
    k["recall"] = r.recall(c);
    k["f1"] = r.f1(c);
    k["support"] = r.support(c);
    per_class[labels.label(static_cast<std::int32_t>(c))] = k;
  }
  j["per_class"] = per_class;
  io::Json confusion = io::Json::array();
  for (Index t = 0; t < r.num_classes(); ++t) {
    io::Json row = io::Json::array();
    for (Index p = 0; p < r.num_classes(); ++p) row.push_back(r.confusion(t, p));
    confusion.push_back(row);
  }
  j["confusion"] = confusion;
  return j;
}

// The label names a saved classifier carries in config.json (Hugging Face's id2label).
text::LabelMap labels_of(const models::BertConfig& config, const std::string& dir) {
  if (!config.extra.contains("id2label"))
    throw std::runtime_error("'" + dir + "/config.json' has no id2label: is it a fine-tuned classifier (saved with --save)?");
  const io::Json& map = config.extra.at("id2label");
  std::vector<std::string> names(map.size());
  for (std::size_t i = 0; i < names.size(); ++i) names[i] = map.at(std::to_string(i)).as_string();
  return text::LabelMap(names);
}

text::BertTokenizer load_tokenizer(const std::string& dir, bool cased) {
  text::BertTokenizerOptions o;
  o.lowercase = !cased;
  return text::BertTokenizer::from_file(fs::path(dir) / "vocab.txt", o);
}

int predict(const Options& o) {
  const models::BertConfig config = io::read_bert_config(o.model);
  const text::LabelMap labels = labels_of(config, o.model);
  const text::BertTokenizer tokenizer = load_tokenizer(o.model, o.cased);
  heads::BertForSequenceClassification<float> model(config, labels.size());
  const nn::LoadResult r = io::load_pretrained_weights(model, o.model, /*verbose=*/true);
  if (!r.missing_keys.empty()) throw std::runtime_error("'" + o.model + "' lacks classifier weights; fine-tune and --save first");
  model.eval();
  Encoded data = encode_all(tokenizer, {{0, o.predict}}, o.max_length);
  autograd::NoGradGuard no_grad;
  const Tensor<float> probs = ops::softmax(model.forward(make_batch(data, {0}, 0, 1, tokenizer, nullptr)).logits, -1);
  Index best = 0;
  for (Index c = 1; c < labels.size(); ++c)
    if (probs.at({0, c}) > probs.at({0, best})) best = c;
  io::Json out = io::Json::object();
  out["text"] = o.predict;
  out["label"] = labels.label(static_cast<std::int32_t>(best));
  out["probability"] = static_cast<double>(probs.at({0, best}));
  if (o.json) {
    std::cout << out.dump() << "\n";
  } else {
    std::printf("%s (p = %.4f)\n", labels.label(static_cast<std::int32_t>(best)).c_str(), static_cast<double>(probs.at({0, best})));
  }
  return 0;
}

int run(const Options& o) {
  const auto start = std::chrono::steady_clock::now();
  examples::JsonLog log(o.log);
  Generator data_gen(static_cast<std::uint64_t>(o.seed));
  Generator model_gen(static_cast<std::uint64_t>(o.seed) + 1);

  // Data: labels are numbered from the training file (sorted names); dev and test must use them.
  text::TsvDataset train = text::read_tsv(o.train);
  const text::LabelMap labels = train.labels;
  const Index num_labels = labels.size();
  if (num_labels < 2) throw std::runtime_error("'" + o.train + "' holds fewer than two labels");
  std::vector<text::LabeledText> pool = stratified(std::move(train.examples), num_labels, data_gen);
  std::vector<text::LabeledText> dev_examples;
  if (o.dev_from_train > 0) {  // held out before the training subset is drawn, so the two never overlap
    if (static_cast<std::size_t>(o.dev_from_train) >= pool.size()) throw std::runtime_error("--dev-from-train leaves no training examples");
    // The tail of the interleaved order is stratified as well.
    dev_examples.assign(pool.end() - o.dev_from_train, pool.end());
    pool.resize(pool.size() - static_cast<std::size_t>(o.dev_from_train));
  } else if (!o.dev.empty()) {
    dev_examples = text::read_tsv(o.dev, {.labels = labels}).examples;
  }
  if (o.max_train_examples > 0 && static_cast<std::size_t>(o.max_train_examples) < pool.size()) pool.resize(static_cast<std::size_t>(o.max_train_examples));
  std::vector<text::LabeledText> test_examples;
  if (!o.test.empty()) test_examples = text::read_tsv(o.test, {.labels = labels}).examples;

  const text::BertTokenizer tokenizer = load_tokenizer(o.model, o.cased);
  const Encoded train_data = encode_all(tokenizer, pool, o.max_length);
  const Encoded dev_data = encode_all(tokenizer, dev_examples, o.max_length);
  const Encoded test_data = encode_all(tokenizer, test_examples, o.max_length);
  std::printf("labels:");
  for (const auto& name : labels.labels()) std::printf(" %s", name.c_str());
  std::printf(" | train %zu, dev %zu, test %zu examples | max_length %d\n", pool.size(), dev_examples.size(), test_examples.size(),
              o.max_length);

  // Model: the checkpoint's architecture; its weights unless --from-scratch.
  models::BertConfig config = io::read_bert_config(o.model);
  heads::BertForSequenceClassification<float> model(config, num_labels, heads::ProblemType::SingleLabel, model_gen);
  if (o.from_scratch) {
    std::printf("model: %s architecture, random initialisation (--from-scratch)\n", o.model.c_str());
  } else {
    const nn::LoadResult r = io::load_pretrained_weights(model, o.model, /*verbose=*/false);
    std::printf("model: loaded %s (newly initialised:", o.model.c_str());
    for (const auto& k : r.missing_keys) std::printf(" %s", k.c_str());
    std::printf(")\n");
  }
  // Freezing keeps the pooler and the classifier trainable: the pooler is not trained by MLM
  // pretraining, so a frozen one would be a fixed random projection.
  const Index layers_frozen = o.freeze_encoder ? config.num_hidden_layers : o.freeze_layers;
  if (o.freeze_encoder || o.freeze_layers > 0) {
    model.bert()->embeddings()->requires_grad_(false);
    for (Index i = 0; i < std::min<Index>(layers_frozen, config.num_hidden_layers); ++i) model.bert()->layer(i)->requires_grad_(false);
  }
  model.bert()->set_gradient_checkpointing(o.gradient_checkpointing);
  std::int64_t trainable = 0;
  for (const auto& p : model.parameters())
    if (p.requires_grad()) trainable += p.numel();
  std::printf("parameters: %lld, trainable %lld\n", static_cast<long long>(model.num_parameters()), static_cast<long long>(trainable));

  std::vector<optim::ParamGroup<float>> groups =
      o.layer_decay < 1.0 ? optim::layer_decay_groups(model, {.lr = o.lr, .layer_decay = o.layer_decay, .weight_decay = o.weight_decay})
                          : optim::weight_decay_groups(model, o.weight_decay);
  optim::AdamW<float> optimizer(groups, {.lr = o.lr, .weight_decay = o.weight_decay});
  const std::size_t n = train_data.encodings.size();
  const std::int64_t steps_per_epoch = static_cast<std::int64_t>((n + static_cast<std::size_t>(o.batch_size) - 1) / static_cast<std::size_t>(o.batch_size));
  const std::int64_t total_steps = steps_per_epoch * o.epochs;
  optim::Schedule schedule(optim::linear_with_warmup(static_cast<std::int64_t>(o.warmup_ratio * static_cast<double>(total_steps)), total_steps),
                           optimizer);
  std::vector<Tensor<float>> params;
  for (const auto& p : model.parameters())
    if (p.requires_grad()) params.push_back(p);

  double best_dev = -1;
  int best_epoch = 0;
  std::map<std::string, Tensor<float>> best_state;
  std::int64_t step = 0;
  examples::Progress progress(total_steps, std::max<std::int64_t>(steps_per_epoch / 4, 1));
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    model.train();
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    text::shuffle(std::span(order), data_gen);
    double loss_sum = 0;
    for (std::size_t first = 0; first < n; first += static_cast<std::size_t>(o.batch_size)) {
      const std::size_t last = std::min(n, first + static_cast<std::size_t>(o.batch_size));
      Tensor<std::int64_t> batch_labels;
      const auto inputs = make_batch(train_data, order, first, last, tokenizer, &batch_labels);
      const auto out = model.forward(inputs, batch_labels);
      out.loss.backward();
      if (o.max_grad_norm > 0) optim::clip_grad_norm(params, o.max_grad_norm);
      optimizer.step();
      schedule.step();
      optimizer.zero_grad();
      ++step;
      const double loss = out.loss.item();
      loss_sum += loss;
      char text[96];
      std::snprintf(text, sizeof text, "epoch %d | loss %.4f | lr %.2e", epoch, loss, schedule.last_lrs().back());
      progress.update(step, text);
      io::Json rec = io::Json::object();
      rec["step"] = step;
      rec["epoch"] = epoch;
      rec["loss"] = loss;
      log.write(rec);
    }
    progress.break_line();
    model.eval();
    io::Json rec = io::Json::object();
    rec["epoch"] = epoch;
    rec["train_loss"] = loss_sum / static_cast<double>(steps_per_epoch);
    if (!dev_data.encodings.empty()) {
      const auto dev = evaluate(model, dev_data, num_labels, o.batch_size * 2, tokenizer);
      rec["dev_accuracy"] = dev.accuracy();
      rec["dev_macro_f1"] = dev.macro_f1();
      std::printf("epoch %d: train loss %.4f | dev accuracy %.4f, macro F1 %.4f\n", epoch, loss_sum / static_cast<double>(steps_per_epoch),
                  dev.accuracy(), dev.macro_f1());
      if (dev.accuracy() > best_dev) {
        best_dev = dev.accuracy();
        best_epoch = epoch;
        best_state.clear();
        for (const auto& [name, t] : model.state_dict()) best_state.emplace(name, t.clone_data());
      }
    }
    log.write(rec);
  }
  if (!best_state.empty() && best_epoch != o.epochs) {
    model.load_state_dict(best_state);
    std::printf("restored the best epoch on dev: %d\n", best_epoch);
  }

  io::Json summary = io::Json::object();
  summary["final"] = true;
  summary["from_scratch"] = o.from_scratch;
  summary["best_epoch"] = best_epoch;
  summary["dev_accuracy"] = best_dev >= 0 ? io::Json(best_dev) : io::Json();
  if (!test_data.encodings.empty()) {
    const auto test = evaluate(model, test_data, num_labels, o.batch_size * 2, tokenizer);
    print_report(test, labels, "test");
    summary["test_accuracy"] = test.accuracy();
    summary["test_macro_f1"] = test.macro_f1();
    summary["test"] = report_json(test, labels);
  }
  summary["train_examples"] = static_cast<std::int64_t>(n);
  summary["steps"] = step;
  summary["seconds"] = examples::seconds_since(start);

  if (!o.save.empty()) {
    io::Json id2label = io::Json::object(), label2id = io::Json::object();
    for (Index c = 0; c < num_labels; ++c) {
      id2label[std::to_string(c)] = labels.label(static_cast<std::int32_t>(c));
      label2id[labels.label(static_cast<std::int32_t>(c))] = c;
    }
    config.extra["id2label"] = id2label;
    config.extra["label2id"] = label2id;
    io::save_pretrained(model, config, o.save, "BertForSequenceClassification", fs::path(o.model) / "vocab.txt");
    std::printf("saved the classifier to %s\n", o.save.c_str());
  }
  log.write(summary);
  std::cout << summary.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  examples::Flags flags("finetune_classifier", "Fine-tunes a BERT sequence classifier on label<TAB>text data.");
  flags.add("--model", o.model, "DIR", "checkpoint directory: config.json, vocab.txt, model.safetensors");
  flags.add("--train", o.train, "FILE.tsv", "training examples (label<TAB>text, header 'label\\ttext')");
  flags.add("--dev", o.dev, "FILE.tsv", "examples that pick the best epoch");
  flags.add("--dev-from-train", o.dev_from_train, "N", "instead of --dev: hold out N stratified training examples");
  flags.add("--test", o.test, "FILE.tsv", "examples for the final report");
  flags.add("--max-train-examples", o.max_train_examples, "N", "train on N examples (stratified, seeded; 0 = all)");
  flags.add("--from-scratch", o.from_scratch, "", "same architecture and vocabulary, random initial weights");
  flags.add("--freeze-encoder", o.freeze_encoder, "", "train only the pooler and the classifier");
  flags.add("--freeze-layers", o.freeze_layers, "K", "freeze the embeddings and the bottom K layers");
  flags.add("--layer-decay", o.layer_decay, "X", "layer-wise learning-rate decay (1 = off)");
  flags.add("--gradient-checkpointing", o.gradient_checkpointing, "",
            "recompute each encoder layer in backward: far less memory, ~1/3 more compute, same results");
  flags.add("--epochs", o.epochs, "N", "passes over the training examples");
  flags.add("--batch-size", o.batch_size, "N", "examples per step");
  flags.add("--max-length", o.max_length, "N", "tokens per example, [CLS] and [SEP] included");
  flags.add("--lr", o.lr, "X", "peak learning rate (AdamW, linear warmup and decay)");
  flags.add("--weight-decay", o.weight_decay, "X", "AdamW weight decay (not on biases and LayerNorm)");
  flags.add("--warmup-ratio", o.warmup_ratio, "X", "fraction of the steps spent warming up");
  flags.add("--max-grad-norm", o.max_grad_norm, "X", "gradient clipping (0 = off)");
  flags.add("--cased", o.cased, "", "do not lowercase (for cased vocabularies)");
  flags.add("--seed", o.seed, "N", "seed for the subset, shuffling, dropout and new weights");
  flags.add("--threads", o.threads, "N", "threads (0 = OpenMP's default)");
  flags.add("--log", o.log, "FILE", "JSON-lines metrics; the last line is the summary");
  flags.add("--save", o.save, "DIR", "save the fine-tuned classifier (Hugging Face layout)");
  flags.add("--predict", o.predict, "TEXT", "classify TEXT with the fine-tuned classifier in --model");
  flags.add("--json", o.json, "", "with --predict: print JSON");
  flags.parse(argc, argv);
  if (o.model.empty()) flags.die("--model is required");
  if (o.predict.empty() && o.train.empty()) flags.die("--train (or --predict) is required");
  if (o.epochs < 1 || o.batch_size < 1 || o.max_length < 2) flags.die("--epochs, --batch-size must be >= 1 and --max-length >= 2");
  try {
    if (o.threads > 0) set_num_threads(o.threads);
    return o.predict.empty() ? run(o) : predict(o);
  } catch (const std::exception& e) {
    std::cerr << "finetune_classifier: " << e.what() << "\n";
    return 1;
  }
}
