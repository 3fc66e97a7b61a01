// tests/core/half_test.cpp mirrors include/foundry/core/half.hpp
#include "foundry/core/half.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace foundry {
namespace {

float from_bits(std::uint32_t bits) { return std::bit_cast<float>(bits); }
std::uint32_t bits_of(float x) { return std::bit_cast<std::uint32_t>(x); }
bool is_f16_nan(std::uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }

TEST(Half, F16FromFloatMatchesKnownBitPatterns) {
  EXPECT_EQ(f16_from_float(1.0f), 0x3C00);
  EXPECT_EQ(f16_from_float(-2.0f), 0xC000);
  EXPECT_EQ(f16_from_float(0.5f), 0x3800);
  EXPECT_EQ(f16_from_float(0.1f), 0x2E66);
  EXPECT_EQ(f16_from_float(1.0f / 3.0f), 0x3555);
  EXPECT_EQ(f16_from_float(65504.0f), 0x7BFF);  // largest finite
  EXPECT_EQ(f16_from_float(-65504.0f), 0xFBFF);
  EXPECT_EQ(f16_from_float(65519.996f), 0x7BFF);  // just below the midpoint to Inf
  EXPECT_EQ(f16_from_float(65520.0f), 0x7C00);    // the midpoint rounds to even: Inf
  EXPECT_EQ(f16_from_float(1e10f), 0x7C00);
  EXPECT_EQ(f16_from_float(std::ldexp(1.0f, -14)), 0x0400);     // smallest normal
  EXPECT_EQ(f16_from_float(std::ldexp(1.0f, -24)), 0x0001);     // smallest subnormal
  EXPECT_EQ(f16_from_float(std::ldexp(1023.0f, -24)), 0x03FF);  // largest subnormal
  EXPECT_EQ(f16_from_float(6e-8f), 0x0001);
  EXPECT_EQ(f16_from_float(std::ldexp(1.0f, -25)), 0x0000);  // half the smallest subnormal: ties to even
  EXPECT_EQ(f16_from_float(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 subnormal ulps: ties to even
  EXPECT_EQ(f16_from_float(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(f16_from_float(1e-30f), 0x0000);
  EXPECT_EQ(f16_from_float(-1e-30f), 0x8000);
  EXPECT_EQ(f16_from_float(from_bits(0x00000001)), 0x0000);         // float subnormals vanish
  EXPECT_EQ(f16_from_float(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie, even mantissa kept
  EXPECT_EQ(f16_from_float(1.0f + std::ldexp(3.0f, -11)), 0x3C02);  // tie, odd mantissa rounds up
  EXPECT_EQ(f16_from_float(std::ldexp(2047.0f, -25)), 0x0400);      // rounds up out of the subnormals
  EXPECT_EQ(f16_from_float(0.0f), 0x0000);
  EXPECT_EQ(f16_from_float(-0.0f), 0x8000);
  EXPECT_EQ(f16_from_float(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(f16_from_float(-std::numeric_limits<float>::infinity()), 0xFC00);
}

TEST(Half, F16NaNStaysNaNWithSign) {
  EXPECT_TRUE(is_f16_nan(f16_from_float(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(is_f16_nan(f16_from_float(from_bits(0x7F800001))));  // payload only in low bits
  EXPECT_EQ(f16_from_float(from_bits(0xFFC00000)) & 0x8000, 0x8000);
  EXPECT_TRUE(std::isnan(float_from_f16(0x7E00)));
  EXPECT_TRUE(std::isnan(float_from_f16(0x7C01)));  // signalling F16 NaN widens to a NaN
}

TEST(Half, FloatFromF16MatchesKnownValues) {
  EXPECT_EQ(float_from_f16(0x3C00), 1.0f);
  EXPECT_EQ(float_from_f16(0xC000), -2.0f);
  EXPECT_EQ(float_from_f16(0x3555), 0.333251953125f);
  EXPECT_EQ(float_from_f16(0x7BFF), 65504.0f);
  EXPECT_EQ(float_from_f16(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(float_from_f16(0x83FF), -std::ldexp(1023.0f, -24));
  EXPECT_EQ(float_from_f16(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(float_from_f16(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(float_from_f16(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(bits_of(float_from_f16(0x8000)), 0x80000000u);  // -0 keeps its sign
}

TEST(Half, EveryF16SurvivesARoundTrip) {
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    if (is_f16_nan(bits)) continue;
    ASSERT_EQ(f16_from_float(float_from_f16(bits)), bits) << std::hex << h;
  }
}

// Between each pair of adjacent positive F16 values the midpoint (exact in float) must round to
// the one with an even mantissa, and the floats just either side of it to the nearer neighbour.
TEST(Half, F16RoundsToNearestEvenAcrossEveryBinade) {
  for (std::uint16_t lo = 0; lo < 0x7BFF; ++lo) {
    const auto hi = static_cast<std::uint16_t>(lo + 1);
    const float a = float_from_f16(lo), b = float_from_f16(hi);
    const float mid = a + (b - a) / 2;
    ASSERT_EQ(static_cast<double>(mid), (static_cast<double>(a) + static_cast<double>(b)) / 2);
    ASSERT_EQ(f16_from_float(mid), (lo & 1) ? hi : lo) << std::hex << lo;
    ASSERT_EQ(f16_from_float(std::nextafter(mid, a)), lo) << std::hex << lo;
    ASSERT_EQ(f16_from_float(std::nextafter(mid, b)), hi) << std::hex << lo;
    ASSERT_EQ(f16_from_float(-mid), 0x8000 | ((lo & 1) ? hi : lo)) << std::hex << lo;
  }
}

TEST(Half, Bf16FromFloatMatchesKnownBitPatterns) {
  EXPECT_EQ(bf16_from_float(1.0f), 0x3F80);
  EXPECT_EQ(bf16_from_float(-2.5f), 0xC020);
  EXPECT_EQ(bf16_from_float(3.14159f), 0x4049);
  EXPECT_EQ(bf16_from_float(1e-3f), 0x3A83);
  EXPECT_EQ(bf16_from_float(from_bits(0x3F808000)), 0x3F80);  // tie, even kept
  EXPECT_EQ(bf16_from_float(from_bits(0x3F818000)), 0x3F82);  // tie, odd rounds up
  EXPECT_EQ(bf16_from_float(from_bits(0x3F808001)), 0x3F81);  // just past the tie
  EXPECT_EQ(bf16_from_float(from_bits(0x3F807FFF)), 0x3F80);
  EXPECT_EQ(bf16_from_float(std::numeric_limits<float>::max()), 0x7F80);  // rounds up to Inf
  EXPECT_EQ(bf16_from_float(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(bf16_from_float(-std::numeric_limits<float>::infinity()), 0xFF80);
  EXPECT_EQ(bf16_from_float(-0.0f), 0x8000);
  EXPECT_EQ(bf16_from_float(from_bits(0x00008000)), 0x0000);  // subnormal tie, even kept
  EXPECT_EQ(bf16_from_float(from_bits(0x00018000)), 0x0002);  // subnormal tie, odd rounds up
  EXPECT_EQ(bf16_from_float(from_bits(0x007FFFFF)), 0x0080);  // largest subnormal rounds to min normal
}

TEST(Half, Bf16NaNStaysQuietNaN) {
  EXPECT_EQ(bf16_from_float(from_bits(0x7FC00000)), 0x7FC0);
  EXPECT_EQ(bf16_from_float(from_bits(0x7F800001)), 0x7FC0);  // would truncate to Inf without the quiet bit
  EXPECT_EQ(bf16_from_float(from_bits(0xFF800001)), 0xFFC0);
  EXPECT_EQ(bf16_from_float(from_bits(0x7FFFFFFF)), 0x7FFF);  // rounding must not carry into the sign
  EXPECT_TRUE(std::isnan(float_from_bf16(0x7FC0)));
}

TEST(Half, FloatFromBf16IsTheTopHalf) {
  EXPECT_EQ(float_from_bf16(0x3F80), 1.0f);
  EXPECT_EQ(float_from_bf16(0xC020), -2.5f);
  EXPECT_EQ(float_from_bf16(0x4049), 3.140625f);
  EXPECT_EQ(float_from_bf16(0x7F80), std::numeric_limits<float>::infinity());
  EXPECT_EQ(float_from_bf16(0x0001), from_bits(0x00010000));
  for (std::uint32_t b = 0; b <= 0xFFFF; ++b) {
    const auto bits = static_cast<std::uint16_t>(b);
    if ((b & 0x7F80u) == 0x7F80u && (b & 0x7Fu) != 0) continue;  // NaN
    ASSERT_EQ(bf16_from_float(float_from_bf16(bits)), bits) << std::hex << b;
  }
}

}  // namespace
}  // namespace foundry
