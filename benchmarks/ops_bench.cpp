// benchmarks/ops_bench.cpp: the hot ops, each beside a plain-Eigen baseline on the same shapes in
// the same run. Counters: GFLOP/s for products, GB/s (bytes read + written) for memory-bound ops.
// Run: build/benchmarks/bench_ops_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <foundry/foundry.hpp>

namespace {

using foundry::Index;
using foundry::Tensor;
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void set_flops(benchmark::State& state, double flops_per_iter) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
void set_bytes(benchmark::State& state, double bytes_per_iter) {
  state.counters["GB/s"] = benchmark::Counter(bytes_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// ---- matmul: square sizes and the BERT feed-forward shape [2048x256]x[256x1024] ----------------
void BM_FoundryMatmul(benchmark::State& state) {
  const Index m = state.range(0), k = state.range(1), n = state.range(2);
  foundry::Generator g(0);
  auto a = foundry::randn<float>({m, k}, g), b = foundry::randn<float>({k, n}, g);
  for (auto _ : state) benchmark::DoNotOptimize(foundry::matmul(a, b).data());
  set_flops(state, 2.0 * m * k * n);
}
void BM_EigenGemm(benchmark::State& state) {
  const Index m = state.range(0), k = state.range(1), n = state.range(2);
  RowMatrix a = RowMatrix::Random(m, k), b = RowMatrix::Random(k, n), c(m, n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
  set_flops(state, 2.0 * m * k * n);
}
// Backward products of a linear layer: grad_x = g·W (W [out, in]), grad_W = gᵀ·x, with transposed views.
void BM_FoundryMatmulTransposedA(benchmark::State& state) {
  const Index m = state.range(0), k = state.range(1), n = state.range(2);
  foundry::Generator g(0);
  auto at = foundry::randn<float>({k, m}, g), b = foundry::randn<float>({k, n}, g);
  for (auto _ : state) benchmark::DoNotOptimize(foundry::matmul(at.t(), b).data());
  set_flops(state, 2.0 * m * k * n);
}
void BM_FoundryMatmulTransposedB(benchmark::State& state) {
  const Index m = state.range(0), k = state.range(1), n = state.range(2);
  foundry::Generator g(0);
  auto a = foundry::randn<float>({m, k}, g), bt = foundry::randn<float>({n, k}, g);
  for (auto _ : state) benchmark::DoNotOptimize(foundry::matmul(a, bt.t()).data());
  set_flops(state, 2.0 * m * k * n);
}
void BM_FoundryLinear(benchmark::State& state) {  // x [B*T, in] · Wᵀ + b
  const Index m = state.range(0), k = state.range(1), n = state.range(2);
  foundry::Generator g(0);
  auto x = foundry::randn<float>({m, k}, g), w = foundry::randn<float>({n, k}, g), b = foundry::randn<float>({n}, g);
  for (auto _ : state) benchmark::DoNotOptimize(foundry::linear(x, w, b).data());
  set_flops(state, 2.0 * m * k * n);
}

void MatmulShapes(benchmark::internal::Benchmark* b) {
  for (Index s : {256, 512, 1024, 2048}) b->Args({s, s, s});
  b->Args({2048, 256, 1024});
  b->Args({2048, 1024, 256});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}
BENCHMARK(BM_FoundryMatmul)->Apply(MatmulShapes);
BENCHMARK(BM_EigenGemm)->Apply(MatmulShapes);
BENCHMARK(BM_FoundryMatmulTransposedA)->Args({2048, 256, 1024})->Args({256, 2048, 1024})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_FoundryMatmulTransposedB)->Args({2048, 1024, 256})->Args({2048, 256, 1024})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_FoundryLinear)->Args({2048, 256, 1024})->Args({2048, 1024, 256})->Unit(benchmark::kMillisecond)->UseRealTime();

// Batched attention-shaped products: [B*H, S, D]·[B*H, D, S].
void BM_FoundryBatchedMatmul(benchmark::State& state) {
  const Index bh = 64, s = state.range(0), d = 64;
  foundry::Generator g(0);
  auto q = foundry::randn<float>({bh, s, d}, g), k = foundry::randn<float>({bh, s, d}, g);
  for (auto _ : state) benchmark::DoNotOptimize(foundry::matmul(q, k.transpose(1, 2)).data());
  set_flops(state, 2.0 * bh * s * s * d);
}
BENCHMARK(BM_FoundryBatchedMatmul)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- memory-bound ops on a BERT-sized activation [B*T, C] = [2048, 768] ------------------------
void BM_Softmax(benchmark::State& state) {
  foundry::Generator g(0);
  auto x = foundry::randn<float>({2048, state.range(0)}, g);
  for (auto _ : state) benchmark::DoNotOptimize(foundry::softmax(x, -1).data());
  set_bytes(state, 2.0 * 4 * x.numel());
}
void BM_EigenSoftmax(benchmark::State& state) {  // baseline: the same three passes in plain Eigen
  RowMatrix x = RowMatrix::Random(2048, state.range(0)), y(2048, state.range(0));
  for (auto _ : state) {
    y = (x.colwise() - x.rowwise().maxCoeff()).array().exp().matrix();
    y.array().colwise() /= y.rowwise().sum().array();
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 2.0 * 4 * x.size());
}
void BM_LayerNorm(benchmark::State& state) {
  foundry::Generator g(0);
  const Index C = state.range(0);
  auto x = foundry::randn<float>({2048, C}, g), w = foundry::ones<float>({C}), b = foundry::zeros<float>({C});
  for (auto _ : state) benchmark::DoNotOptimize(foundry::layer_norm(x, w, b, 1e-12).data());
  set_bytes(state, 2.0 * 4 * x.numel());
}
void BM_Gelu(benchmark::State& state) {
  foundry::Generator g(0);
  auto x = foundry::randn<float>({2048, state.range(0)}, g);
  for (auto _ : state) benchmark::DoNotOptimize(foundry::gelu(x).data());
  set_bytes(state, 2.0 * 4 * x.numel());
}
void BM_BroadcastAdd(benchmark::State& state) {  // [B*T, C] + [C]
  foundry::Generator g(0);
  auto x = foundry::randn<float>({2048, state.range(0)}, g), b = foundry::randn<float>({state.range(0)}, g);
  for (auto _ : state) benchmark::DoNotOptimize((x + b).data());
  set_bytes(state, 2.0 * 4 * x.numel());
}
void BM_EigenBroadcastAdd(benchmark::State& state) {
  RowMatrix x = RowMatrix::Random(2048, state.range(0)), y(2048, state.range(0));
  Eigen::RowVectorXf b = Eigen::RowVectorXf::Random(state.range(0));
  for (auto _ : state) {
    y.noalias() = x.rowwise() + b;
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 2.0 * 4 * x.size());
}
BENCHMARK(BM_Softmax)->Arg(128)->Arg(768)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_EigenSoftmax)->Arg(128)->Arg(768)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_LayerNorm)->Arg(256)->Arg(768)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Gelu)->Arg(1024)->Arg(3072)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_BroadcastAdd)->Arg(768)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_EigenBroadcastAdd)->Arg(768)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
