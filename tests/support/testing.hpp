// tests/support/testing.hpp: helpers shared by the test executables: seeded random tensors,
// elementwise closeness with a readable failure message, and paths of fixtures and shared data.
#pragma once

#include <cmath>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "foundry/foundry.hpp"

#ifndef FOUNDRY_TEST_DATA_DIR
#define FOUNDRY_TEST_DATA_DIR "tests/fixtures"
#endif
#ifndef FOUNDRY_SHARED_DATA_DIR
#define FOUNDRY_SHARED_DATA_DIR "../shared/data"
#endif

namespace foundry::support {

inline std::string fixture_path(const std::string& relative) { return std::string(FOUNDRY_TEST_DATA_DIR) + "/" + relative; }
inline std::string shared_data_path(const std::string& relative) { return std::string(FOUNDRY_SHARED_DATA_DIR) + "/" + relative; }

// Standard-normal values from a test-local generator (never the global one).
template <class T>
Tensor<T> random_tensor(const Shape& shape, Generator& rng, double scale = 1.0) {
  return normal<T>(shape, 0.0, scale, rng);
}

// Values in [lo, hi): keeps log/sqrt/pow inputs away from their singularities.
template <class T>
Tensor<T> random_uniform(const Shape& shape, Generator& rng, double lo, double hi) {
  return uniform<T>(shape, lo, hi, rng);
}

// |a - b| <= atol + rtol * |b| elementwise, shapes equal; names the first offending element.
template <class T>
::testing::AssertionResult allclose(const Tensor<T>& a, const Tensor<T>& b, double atol = 1e-6, double rtol = 1e-5) {
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure() << "shapes differ: " << a.shape() << " vs " << b.shape();
  const auto va = a.to_vector(), vb = b.to_vector();
  int bad = 0;
  std::ostringstream msg;
  double worst = 0;
  for (std::size_t i = 0; i < va.size(); ++i) {
    const double x = static_cast<double>(va[i]), y = static_cast<double>(vb[i]);
    const double err = std::abs(x - y);
    const bool both_nan = std::isnan(x) && std::isnan(y);
    if (!both_nan && !(err <= atol + rtol * std::abs(y))) {
      if (bad++ < 5) msg << "  element " << i << ": " << x << " vs " << y << " (|diff| " << err << ")\n";
      worst = std::max(worst, err);
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << va.size() << " elements differ (worst |diff| " << worst
                                       << ", atol " << atol << ", rtol " << rtol << "):\n"
                                       << msg.str();
}

}  // namespace foundry::support
