// tests/core/generator_test.cpp mirrors include/foundry/core/generator.hpp
#include "support/testing.hpp"

namespace foundry {
namespace {

TEST(Generator, PhiloxMatchesPublishedKnownAnswer) {
  // Random123's kat_vectors: philox4x32_10 with counter 0 and key 0.
  const auto b = detail::philox(0, 0);
  EXPECT_EQ(b[0], 0x6627e8d5u);
  EXPECT_EQ(b[1], 0xe169c58du);
  EXPECT_EQ(b[2], 0xbc57ac4cu);
  EXPECT_EQ(b[3], 0x9b00dbd8u);
}

// Dropout's keep-bits: 16 Philox blocks at once in AVX2 registers must give the bits of philox()
// per block, including where the counter's low word wraps inside the 16 and at the extreme thresholds.
TEST(Generator, KeepBitsOfSixteenBlocksMatchPhiloxPerBlock) {
  for (std::uint64_t first : {0ull, 1ull, 7ull, 0xFFFFFFF9ull, 0xFFFFFFFFull, 0x1FFFFFFF5ull, 123456789012345ull})
    for (std::uint64_t seed : {0ull, 42ull, 0xDEADBEEFCAFEull})
      for (std::uint32_t threshold : {0u, 1u, 0x19999999u, 0x80000000u, 0xFFFFFFFFu}) {
        std::uint64_t want = 0;
        for (int j = 0; j < 16; ++j) {
          const auto lanes = detail::philox(first + static_cast<std::uint64_t>(j), seed);
          for (int l = 0; l < 4; ++l) want |= static_cast<std::uint64_t>(lanes[static_cast<std::size_t>(l)] >= threshold) << (4 * j + l);
        }
        EXPECT_EQ(detail::keep_bits64(first, seed, threshold), want) << "first " << first << " seed " << seed << " threshold " << threshold;
        EXPECT_EQ(detail::keep_bits64_scalar(first, seed, threshold), want);
      }
  EXPECT_EQ(detail::keep_bits64(5, 9, 0), ~std::uint64_t{0});  // threshold 0 keeps everything
}

TEST(Generator, SameSeedSameNumbersAcrossThreadCounts) {
  const int saved = get_num_threads();
  set_num_threads(1);
  Generator g1(42);
  auto a = randn<float>({100000}, g1);
  set_num_threads(2);
  Generator g2(42);
  auto b = randn<float>({100000}, g2);
  set_num_threads(saved);
  EXPECT_EQ(a, b);
  EXPECT_EQ(g1.offset(), g2.offset());
}

TEST(Generator, PinnedValuesNeverChange) {
  // Reproducibility across releases: these values are part of foundry's contract.
  Generator g(0);
  auto u = rand<double>({2}, g);
  auto n = randn<float>({2}, g);
  Generator g2(0);
  EXPECT_DOUBLE_EQ(g2.uniform(), detail::unit_double(detail::philox(0, 0)[0], detail::philox(0, 0)[1]));
  EXPECT_NEAR(u.data()[0], detail::unit_double(0x6627e8d5u, 0xe169c58du), 0);
  EXPECT_TRUE(std::isfinite(n.data()[0]) && std::isfinite(n.data()[1]));
}

TEST(Generator, MomentsOfDistributions) {
  Generator g(7);
  const Index n = 200000;
  auto u = uniform<double>({n}, -1, 3, g);
  auto z = normal<double>({n}, 2, 0.5, g);
  auto b = bernoulli<float>({n}, 0.3, g);
  double su = 0, sz = 0, szz = 0, sb = 0, umin = 1e9, umax = -1e9;
  for (Index i = 0; i < n; ++i) {
    su += u.data()[i];
    umin = std::min(umin, u.data()[i]);
    umax = std::max(umax, u.data()[i]);
    sz += z.data()[i];
    szz += z.data()[i] * z.data()[i];
    sb += b.data()[i];
  }
  EXPECT_NEAR(su / n, 1.0, 0.02);
  EXPECT_GE(umin, -1.0);
  EXPECT_LT(umax, 3.0);
  const double mean = sz / n, var = szz / n - mean * mean;
  EXPECT_NEAR(mean, 2.0, 0.01);
  EXPECT_NEAR(var, 0.25, 0.01);
  EXPECT_NEAR(sb / n, 0.3, 0.01);
}

TEST(Generator, StateRoundTripContinuesTheStream) {
  Generator g(5);
  randn<float>({10}, g);
  const auto seed = g.seed(), offset = g.offset();
  auto next = randn<float>({10}, g);
  Generator h;
  h.set_state(seed, offset);
  EXPECT_EQ(randn<float>({10}, h), next);
}

TEST(Generator, ManualSeedResetsDefault) {
  manual_seed(3);
  auto a = randn<double>({5});
  manual_seed(3);
  EXPECT_EQ(randn<double>({5}), a);
}

TEST(Generator, RandintStaysInRange) {
  Generator g(1);
  auto r = randint(-3, 4, {10000}, g);
  std::vector<int> counts(7, 0);
  for (Index i = 0; i < r.numel(); ++i) {
    ASSERT_GE(r.data()[i], -3);
    ASSERT_LT(r.data()[i], 4);
    ++counts[static_cast<std::size_t>(r.data()[i] + 3)];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000 / 7.0, 150);
  EXPECT_THAT([&] { randint(2, 2, {1}, g); }, ::testing::ThrowsMessage<ValueError>(::testing::HasSubstr("empty range [2, 2)")));
}

}  // namespace
}  // namespace foundry
