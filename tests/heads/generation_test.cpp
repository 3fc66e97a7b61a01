// tests/heads/generation_test.cpp mirrors include/foundry/heads/generation.hpp (and the KV cache
// in nn/multi_head_attention.hpp and models/gpt.hpp).
#include "support/testing.hpp"

namespace foundry {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

models::GptConfig tiny_gpt() {
  models::GptConfig c;
  c.vocab_size = 23;
  c.n_positions = 32;
  c.n_embd = 16;
  c.n_layer = 2;
  c.n_head = 2;
  c.initializer_range = 0.3;
  return c;
}

TEST(KvCache, CachedStepsGiveTheSameLogitsAsFullRecomputation) {
  Generator g(1);
  models::GptModel<double> gpt(tiny_gpt(), g);
  gpt.eval();
  const auto ids = randint(0, 23, {2, 9}, g);
  NoGradGuard no_grad;
  const auto full = gpt.logits(gpt.forward(ids));  // [2, 9, V]
  models::GptModel<double>::Cache cache;
  auto prefix = gpt.logits(gpt.forward(ids.slice(1, 0, 4), {}, &cache));  // 4 positions, then 1 at a time
  EXPECT_TRUE(support::allclose(prefix, full.slice(1, 0, 4), 1e-12));
  for (Index t = 4; t < 9; ++t) {
    auto step = gpt.logits(gpt.forward(ids.slice(1, t, t + 1), {}, &cache));
    EXPECT_TRUE(support::allclose(step, full.slice(1, t, t + 1), 1e-12)) << "position " << t;
  }
  EXPECT_EQ(cache.length(), 9);
}

TEST(KvCache, PaddingMaskCoversCachedAndNewPositions) {
  Generator g(2);
  models::GptModel<double> gpt(tiny_gpt(), g);
  gpt.eval();
  const auto ids = randint(0, 23, {2, 5}, g);
  const auto mask = Tensor<std::int64_t>::from({{1, 1, 1, 1, 1}, {1, 0, 1, 1, 1}});
  NoGradGuard no_grad;
  const auto full = gpt.forward(ids, mask);
  models::GptModel<double>::Cache cache;
  gpt.forward(ids.slice(1, 0, 3), mask.slice(1, 0, 3).contiguous(), &cache);
  const auto last = gpt.forward(ids.slice(1, 3, 5), mask, &cache);
  EXPECT_TRUE(support::allclose(last, full.slice(1, 3, 5), 1e-12));
  EXPECT_THAT([&] { gpt.forward(ids.slice(1, 0, 1), mask, &cache); },
              ThrowsMessage<ShapeError>(HasSubstr("attention_mask shape [2, 5] does not match [B, positions] = [2, 6]")));
}

TEST(Generate, GreedyWithAndWithoutCacheAgreeAndStopAtEos) {
  Generator g(3);
  models::GptModel<double> gpt(tiny_gpt(), g);
  gpt.eval();
  const auto prompt = randint(0, 23, {2, 3}, g);
  heads::GenerationConfig cfg;
  cfg.max_new_tokens = 8;
  const auto cached = heads::generate(gpt, prompt, cfg);
  cfg.use_cache = false;
  const auto uncached = heads::generate(gpt, prompt, cfg);
  EXPECT_EQ(cached, uncached);
  EXPECT_EQ(cached.shape(), (Shape{2, 11}));
  EXPECT_EQ(cached.slice(1, 0, 3).contiguous(), prompt);
  // Stopping: make the first generated token of row 0 the eos; row 0 is then padded.
  cfg.use_cache = true;
  cfg.eos_token_id = cached.at({0, 3});
  cfg.pad_token_id = 22;
  const auto stopped = heads::generate(gpt, prompt, cfg);
  EXPECT_EQ(stopped.at({0, 3}), *cfg.eos_token_id);
  for (Index b = 0; b < 2; ++b) {  // after a row's first eos only padding follows
    bool ended = false;
    for (Index t = 3; t < stopped.size(1); ++t) {
      if (ended) {
        EXPECT_EQ(stopped.at({b, t}), 22) << "row " << b << " position " << t;
      }
      ended = ended || stopped.at({b, t}) == *cfg.eos_token_id;
    }
  }
  cfg.eos_token_id = 1000;  // never produced: runs the full budget
  EXPECT_EQ(heads::generate(gpt, prompt, cfg).size(1), 11);
}

TEST(Generate, SamplingIsSeededAndFiltersRespectTopKAndTopP) {
  Generator g(4);
  models::GptModel<double> gpt(tiny_gpt(), g);
  gpt.eval();
  const auto prompt = randint(0, 23, {1, 2}, g);
  heads::GenerationConfig cfg;
  cfg.do_sample = true;
  cfg.max_new_tokens = 10;
  cfg.temperature = 1.5;
  Generator a(7), b(7), c(8);
  const auto first = heads::generate(gpt, prompt, cfg, a);
  EXPECT_EQ(heads::generate(gpt, prompt, cfg, b), first);
  EXPECT_FALSE(heads::generate(gpt, prompt, cfg, c) == first);
  // top_k = 1 and a tiny top_p both reduce sampling to greedy.
  heads::GenerationConfig greedy;
  greedy.max_new_tokens = 10;
  const auto expected = heads::generate(gpt, prompt, greedy);
  cfg.top_k = 1;
  EXPECT_EQ(heads::generate(gpt, prompt, cfg, c), expected);
  cfg.top_k = 0;
  cfg.top_p = 1e-9;
  EXPECT_EQ(heads::generate(gpt, prompt, cfg, c), expected);
}

TEST(Generate, TopKSamplesOnlyAmongTheKMostLikely) {
  const std::vector<double> logits{0.0, 5.0, 1.0, 4.0, -2.0};
  heads::GenerationConfig cfg;
  cfg.do_sample = true;
  cfg.top_k = 2;
  Generator g(5);
  int counts[5] = {0, 0, 0, 0, 0};
  for (int i = 0; i < 2000; ++i) ++counts[heads::detail::choose_token(logits.data(), 5, cfg, g)];
  EXPECT_EQ(counts[0] + counts[2] + counts[4], 0);
  EXPECT_NEAR(counts[1] / 2000.0, std::exp(5.0) / (std::exp(5.0) + std::exp(4.0)), 0.03);
}

TEST(Generate, BadConfigurationsAreRejected) {
  Generator g(6);
  models::GptModel<double> gpt(tiny_gpt(), g);
  heads::GenerationConfig cfg;
  cfg.temperature = 0;
  EXPECT_THAT([&] { heads::generate(gpt, Tensor<std::int64_t>::zeros({1, 2}), cfg); },
              ThrowsMessage<ValueError>(HasSubstr("temperature must be > 0")));
  EXPECT_THAT([&] { heads::generate(gpt, Tensor<std::int64_t>::zeros({2})); }, ThrowsMessage<ShapeError>(HasSubstr("prompt must be [B, S]")));
}

}  // namespace
}  // namespace foundry
