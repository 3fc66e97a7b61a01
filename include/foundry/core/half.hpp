// core/half.hpp: conversions between float and the two 16-bit float formats checkpoints use,
// IEEE binary16 ("F16": 1 sign, 5 exponent, 10 mantissa bits) and bfloat16 ("BF16": the top half
// of a binary32). Values travel as raw uint16_t bit patterns; there is no arithmetic half type here.
// Narrowing rounds to nearest, ties to even, like torch and numpy; widening is exact.
#pragma once

#include <bit>
#include <cstdint>

namespace foundry {

// F16 -> float is exact: every binary16 value, subnormals included, is a binary32 value.
inline float float_from_f16(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) {  // Inf keeps mantissa 0; NaN keeps its payload and stays quiet.
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x400000u : 0u));
  }
  if (exponent == 0) {  // Zero or subnormal: mantissa * 2^-24, exact in float.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  // Normal: rebias the exponent from 15 to 127 and widen the mantissa from 10 to 23 bits.
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

namespace detail {
// Shifts `value` right by `shift` (1..31) bits, rounding to nearest with ties to even.
inline std::uint32_t shift_right_rne(std::uint32_t value, std::uint32_t shift) {
  const std::uint32_t kept = value >> shift;
  const std::uint32_t rest = value & ((1u << shift) - 1u);
  const std::uint32_t halfway = 1u << (shift - 1u);
  return kept + ((rest > halfway || (rest == halfway && (kept & 1u))) ? 1u : 0u);
}
}  // namespace detail

// float -> F16, rounding to nearest even. |x| >= 65520 becomes Inf (65504 is the largest finite
// F16 and 65520 the midpoint past it); values below 2^-14 become subnormals or signed zero.
inline std::uint16_t f16_from_float(float x) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) {  // Inf, or NaN with the top payload bits kept and forced quiet.
    const bool nan = magnitude > 0x7f800000u;
    return static_cast<std::uint16_t>(sign | 0x7c00u | (nan ? 0x200u | ((magnitude >> 13) & 0x3ffu) : 0u));
  }
  if (magnitude >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (magnitude < 0x38800000u) {
    // Subnormal result: round(|x| / 2^-24). With the implicit bit restored |x| = m * 2^(e-150),
    // so the quotient is m shifted right by 126 - e; anything shifted past 24 bits is below 2^-25.
    const std::uint32_t exponent = magnitude >> 23;
    const std::uint32_t shift = 126u - exponent;
    if (shift > 24u) return sign;
    const std::uint32_t m = (magnitude & 0x7fffffu) | 0x800000u;
    return static_cast<std::uint16_t>(sign | detail::shift_right_rne(m, shift));
  }
  // Normal: rebias 127 -> 15 and round away 13 mantissa bits. A carry out of the mantissa bumps
  // the exponent, which is exactly the right result (and cannot reach Inf below 65520).
  const std::uint32_t rebiased = magnitude - ((127u - 15u) << 23);
  return static_cast<std::uint16_t>(sign | detail::shift_right_rne(rebiased, 13));
}

// BF16 -> float is exact: a bfloat16 is the top 16 bits of the binary32 with the same value.
inline float float_from_bf16(std::uint16_t b) { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }

// float -> BF16, rounding to nearest even; overflow rounds to Inf as the format prescribes.
inline std::uint16_t bf16_from_float(float x) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {  // NaN: truncate, then force quiet so it stays NaN.
    return static_cast<std::uint16_t>((bits >> 16) | 0x40u);
  }
  // Adding 0x7fff (+1 when the kept lsb is odd) carries into bit 16 exactly when rounding up.
  return static_cast<std::uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

}  // namespace foundry
