// tests/support/fixtures.hpp: reads the fixture files that tests/reference/*.py write with PyTorch.
#pragma once

#include <map>
#include <string>

#include "foundry/io/tensor_file.hpp"
#include "support/testing.hpp"

namespace foundry::support {

// Every tensor of tests/fixtures/<relative>, converted to T.
template <class T>
std::map<std::string, Tensor<T>> load_fixture(const std::string& relative) {
  return io::load_tensors<T>(fixture_path(relative));
}

// One named tensor of a loaded fixture, with a clear failure when the name is missing.
template <class T>
const Tensor<T>& fixture_tensor(const std::map<std::string, Tensor<T>>& fixture, const std::string& name) {
  auto it = fixture.find(name);
  if (it == fixture.end()) throw std::runtime_error("fixture has no tensor named '" + name + "'");
  return it->second;
}

}  // namespace foundry::support
