// tests/io/tensor_file_test.cpp mirrors include/foundry/io/tensor_file.hpp
#include <filesystem>

#include "support/fixtures.hpp"

namespace foundry {
namespace {

TEST(TensorFile, ReadsEveryDtypeWrittenByPythonAsRequestedType) {
  auto t = support::load_fixture<double>("io/python_written.safetensors");
  EXPECT_EQ(t.at("encoder.weight"), Tensor<double>::from({{-1, -0.5, 0}, {0.5, 1, 1.5}}));
  EXPECT_EQ(t.at("encoder.bias").data()[1], -2.5);
  EXPECT_EQ(t.at("token_ids"), Tensor<double>::from({{-1, 1099511627776.0}, {0, 7}}));
  EXPECT_EQ(t.at("scale.bf16").data()[1], -2.5);
  EXPECT_EQ(t.at("scale.f16").data()[1], -65504.0);
  EXPECT_EQ(t.at("mask"), Tensor<double>::from({1, 0, 1}));
  auto ids = support::load_fixture<std::int64_t>("io/python_written.safetensors");
  EXPECT_EQ(ids.at("token_ids").data()[1], std::int64_t{1} << 40);
}

TEST(TensorFile, RoundTripKeepsValuesShapesAndLayout) {
  const auto dir = std::filesystem::temp_directory_path() / ("foundry_tf_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Generator rng(1);
  std::map<std::string, Tensor<float>> tensors{{"a", randn<float>({3, 4}, rng).t()},  // non-contiguous is written row-major
                                               {"b.c", randn<float>({5}, rng)},
                                               {"s", scalar_tensor(2.5f)}};
  io::save_tensors(dir / "x.safetensors", tensors, {{"step", "7"}});
  auto back = io::load_tensors<float>(dir / "x.safetensors");
  ASSERT_EQ(back.size(), 3u);
  for (const auto& [name, t] : tensors) EXPECT_EQ(back.at(name), t.contiguous()) << name;
  EXPECT_EQ(io::SafetensorsFile::open(dir / "x.safetensors").metadata().at("step"), "7");
  io::save_tensors(dir / "h.safetensors", tensors, {}, io::SaveAs::BF16);
  auto half = io::load_tensors<float>(dir / "h.safetensors");
  EXPECT_TRUE(support::allclose(half.at("a"), tensors.at("a").contiguous(), 1e-2, 1e-2));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace foundry
