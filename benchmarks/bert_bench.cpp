// benchmarks/bert_bench.cpp: BERT-mini (L=4, H=256, A=4, I=1024, V=8192) at batch 16 x seq 128:
// encoder forward (inference, no graph), forward + backward of a scalar loss (the training step
// without optimizer), and the fused attention op alone at S = 128 and 512. tokens/s counters.
// benchmarks/compare_pytorch.py runs the same configuration in PyTorch and prints the ratios.
#include <benchmark/benchmark.h>

#include <foundry/foundry.hpp>

namespace {

using foundry::Index;
using foundry::Tensor;

foundry::models::BertConfig bert_mini() {
  foundry::models::BertConfig c;
  c.vocab_size = 8192;
  c.hidden_size = 256;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 4;
  c.intermediate_size = 1024;
  c.max_position_embeddings = 512;
  return c;
}

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

BENCHMARK(BM_BertMiniForward)->Args({1, 128})->Args({16, 128})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BertMiniForwardBackward)->Args({16, 128})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AttentionForward)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AttentionForwardBackward)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
