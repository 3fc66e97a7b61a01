// benchmarks/bert_bench.cpp: BERT-mini (L=4, H=256, A=4, I=1024, V=8192) at batch 16 x seq 128:
// encoder forward (inference, no graph), forward + backward of a scalar loss (the training step
// without optimizer), the full MLM training step (BertForMaskedLM, cross-entropy, backward, AdamW;
// also for BERT-small, L=6, H=512, A=8, I=2048, V=16384),
// and the fused attention op alone at S = 128 and 512. tokens/s, GFLOP/s and peak RSS counters.
// benchmarks/compare_pytorch.py runs the same configuration in PyTorch and prints the ratios.
#include <sys/resource.h>
#include <time.h>

#include <fstream>
#include <string>

#include <benchmark/benchmark.h>

#include <foundry/foundry.hpp>

namespace {

using foundry::Index;
using foundry::Tensor;

foundry::models::BertConfig bert_config(Index layers, Index hidden, Index heads, Index vocab) {
  foundry::models::BertConfig c;
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.intermediate_size = 4 * hidden;
  c.max_position_embeddings = 512;
  return c;
}
foundry::models::BertConfig bert_mini() { return bert_config(4, 256, 4, 8192); }    // L=4, H=256, A=4, I=1024, V=8192
foundry::models::BertConfig bert_small() { return bert_config(6, 512, 8, 16384); }  // L=6, H=512, A=8, I=2048, V=16384

struct Batch {
  Tensor<std::int64_t> ids, mask;
};
Batch make_batch(Index B, Index S, Index V, foundry::Generator& g) {
  Batch b{foundry::randint(1, V, {B, S}, g), Tensor<std::int64_t>::ones({B, S})};
  for (Index i = 0; i < B; ++i)  // every other sequence padded to 3/4 length
    if (i % 2) b.mask.slice(1, 3 * S / 4, S).select(0, i).fill_(0);
  return b;
}

void BM_BertMiniForward(benchmark::State& state) {
  const Index B = state.range(0), S = state.range(1);
  foundry::Generator g(0);
  foundry::models::BertModel<float> bert(bert_mini(), g);
  bert.eval();
  const Batch batch = make_batch(B, S, 8192, g);
  for (auto _ : state) {
    foundry::NoGradGuard no_grad;
    auto out = bert.forward(batch.ids, batch.mask);
    benchmark::DoNotOptimize(out.pooler_output.data());
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(B * S), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_BertMiniForwardBackward(benchmark::State& state) {
  const Index B = state.range(0), S = state.range(1);
  foundry::Generator g(0);
  foundry::models::BertModel<float> bert(bert_mini(), g);
  bert.train();  // dropout on, as in training
  const Batch batch = make_batch(B, S, 8192, g);
  const Tensor<float> r = foundry::randn<float>({B, S, 256}, g);
  for (auto _ : state) {
    auto out = bert.forward(batch.ids, batch.mask);
    auto loss = (out.last_hidden_state * r).sum();
    loss.backward();
    bert.zero_grad();
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(B * S), benchmark::Counter::kIsIterationInvariantRate);
}

// MLM labels as a collator would leave them: 15% of the real (non-padding) tokens, here every
// position whose flat index b·S + s is 0, 1 or 2 mod 20, labelled with its own id; -100 elsewhere.
// benchmarks/compare_pytorch.py builds the same labels.
Tensor<std::int64_t> mlm_labels(const Batch& b) {
  Tensor<std::int64_t> labels = Tensor<std::int64_t>::full(b.ids.shape(), -100);
  for (Index i = 0; i < b.ids.numel(); ++i)
    if (b.mask.data()[i] != 0 && i % 20 < 3) labels.data()[i] = b.ids.data()[i];
  return labels;
}

// Multiply-add FLOPs of one forward pass of BERT-mini with the MLM head over `rows` positions
// (backward costs twice as much, so a training step is 3x this).
double mlm_forward_flops(const foundry::models::BertConfig& c, Index B, Index S, Index rows) {
  const double N = static_cast<double>(B * S), C = static_cast<double>(c.hidden_size), I = static_cast<double>(c.intermediate_size);
  const double V = static_cast<double>(c.vocab_size), L = static_cast<double>(c.num_hidden_layers);
  const double layer = 2 * N * C * (4 * C + 2 * I) + 2 * 2 * static_cast<double>(B) * S * S * C;  // projections, FFN, q·kᵀ and p·v
  return L * layer + 2 * static_cast<double>(rows) * C * (C + V);
}

double process_cpu_seconds() {  // all threads of the process: the work done, whatever else runs on the machine
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Peak resident memory of this process image (VmHWM): unlike getrusage's ru_maxrss, it does not
// inherit the high-water mark of the parent that forked and exec'd us (a Python script with torch).
double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// One optimizer step of MLM pretraining: zero_grad, BertForMaskedLM forward with labels and dropout
// 0.1, cross-entropy, backward, AdamW. range(0) = 1: the decoder runs only at the labelled positions
// (BertForMaskedLM's default); 0: at all B·S positions, as Hugging Face's BertForMaskedLM (same loss).
// range(3) = 1: activation checkpointing per encoder layer. Run one variant per process to read its peak RSS.
void mlm_train_step(benchmark::State& state, const foundry::models::BertConfig& config) {
  const Index B = state.range(1), S = state.range(2);
  const bool masked_only = state.range(0) != 0;
  foundry::Generator g(0);
  foundry::heads::BertForMaskedLM<float> model(config, g);
  model.train();
  model.bert()->set_gradient_checkpointing(state.range(3) != 0);
  const Batch batch = make_batch(B, S, config.vocab_size, g);
  const Tensor<std::int64_t> labels = mlm_labels(batch);
  Index labelled = 0;
  for (Index i = 0; i < labels.numel(); ++i) labelled += labels.data()[i] != -100;
  foundry::optim::AdamW<float> optimizer(model.parameters(), {.lr = 1e-4, .weight_decay = 0.01});
  foundry::models::BertInputs inputs;
  inputs.input_ids = batch.ids;
  inputs.attention_mask = batch.mask;
  const double cpu_start = process_cpu_seconds();
  for (auto _ : state) {
    optimizer.zero_grad();
    auto out = model.forward(inputs, labels, masked_only);
    out.loss.backward();
    optimizer.step();
    benchmark::DoNotOptimize(out.loss.item());
  }
  const double flops = 3 * mlm_forward_flops(config, B, S, masked_only ? labelled : B * S);
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(B * S), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_RSS_MB"] = peak_rss_mb();
  state.counters["peak_tensor_MB"] = static_cast<double>(foundry::peak_buffer_bytes_in_use()) / (1 << 20);
  state.counters["process_cpu_ms"] = 1e3 * (process_cpu_seconds() - cpu_start) / static_cast<double>(state.iterations());
}
void BM_BertMiniMlmTrainStep(benchmark::State& state) { mlm_train_step(state, bert_mini()); }
void BM_BertSmallMlmTrainStep(benchmark::State& state) { mlm_train_step(state, bert_small()); }

void BM_AttentionForwardBackward(benchmark::State& state) {
  const Index B = 16, H = 4, S = state.range(0), D = 64;
  foundry::Generator g(0);
  auto q = foundry::randn<float>({B, H, S, D}, g).requires_grad_(true);
  auto k = foundry::randn<float>({B, H, S, D}, g).requires_grad_(true);
  auto v = foundry::randn<float>({B, H, S, D}, g).requires_grad_(true);
  foundry::AttentionOptions<float> opt;
  opt.key_lengths = Tensor<std::int64_t>::full({B}, S);
  const Tensor<float> grad = foundry::randn<float>({B, H, S, D}, g);
  for (auto _ : state) {
    auto out = foundry::scaled_dot_product_attention(q, k, v, opt);
    out.backward(grad);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(4.0 * 3 * B * H * S * S * D * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_AttentionForward(benchmark::State& state) {
  const Index B = 16, H = 4, S = state.range(0), D = 64;
  foundry::Generator g(0);
  auto q = foundry::randn<float>({B, H, S, D}, g), k = foundry::randn<float>({B, H, S, D}, g), v = foundry::randn<float>({B, H, S, D}, g);
  for (auto _ : state) benchmark::DoNotOptimize(foundry::scaled_dot_product_attention(q, k, v).data());
  state.counters["GFLOP/s"] = benchmark::Counter(4.0 * B * H * S * S * D * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// The fp32 FMA peak of this machine at the current thread count, measured rather than assumed from
// a nominal clock (cloud CPUs boost above it): each thread runs 12 independent chains of 8-wide
// FMAs, enough to cover the FMA latency on both pipes. compare_pytorch.py divides by this.
#ifdef FOUNDRY_SGEMM_X86
FOUNDRY_TARGET_AVX2 float fma_chains(long iterations) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * static_cast<float>(i));
  const __m256 a = _mm256_set1_ps(0.9999f), b = _mm256_set1_ps(1e-4f);
  for (long k = 0; k < iterations; ++k)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  return _mm256_cvtss_f32(s);
}
#endif

void BM_Fp32FmaPeak(benchmark::State& state) {
#ifdef FOUNDRY_SGEMM_X86
  if (!foundry::ops::detail::own_sgemm_enabled()) {
    state.SkipWithError("no AVX2+FMA");
    return;
  }
  constexpr long kIterations = 20'000'000;  // 3.8 GFLOP per thread
  const int threads = foundry::get_num_threads();
  for (auto _ : state) {
    float sink = 0.0f;
#pragma omp parallel for num_threads(threads) reduction(+ : sink)
    for (int t = 0; t < threads; ++t) sink += fma_chains(kIterations);
    benchmark::DoNotOptimize(sink);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * 8 * 12 * kIterations * threads * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
#else
  state.SkipWithError("x86-64 only");
#endif
}

BENCHMARK(BM_Fp32FmaPeak)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BertMiniForward)->Args({1, 128})->Args({16, 128})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BertMiniForwardBackward)->Args({16, 128})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BertMiniMlmTrainStep)->Args({1, 16, 128, 0})->Args({0, 16, 128, 0})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BertSmallMlmTrainStep)
    ->Args({1, 16, 128, 0})
    ->Args({0, 16, 128, 0})
    ->Args({1, 16, 128, 1})
    ->Args({0, 16, 128, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_AttentionForward)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AttentionForwardBackward)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
