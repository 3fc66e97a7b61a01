// tests/io/safetensors_test.cpp mirrors include/foundry/io/safetensors.hpp
#include "foundry/io/safetensors.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "foundry/core/half.hpp"

#ifndef FOUNDRY_TEST_DATA_DIR
#define FOUNDRY_TEST_DATA_DIR "tests/fixtures"
#endif

namespace foundry::io {
namespace {

namespace fs = std::filesystem;
using testing::AllOf;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::ThrowsMessage;

template <class T>
std::span<const std::byte> bytes_of(const std::vector<T>& values) {
  return std::as_bytes(std::span<const T>(values));
}

// A file from a hand-written header (length prefix computed, no padding) and a data buffer.
std::vector<std::byte> make_file(std::string_view header, std::string_view data = "") {
  std::string raw;
  for (int i = 0; i < 8; ++i) raw += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  raw.append(header).append(data);
  const auto* p = reinterpret_cast<const std::byte*>(raw.data());
  return {p, p + raw.size()};
}

std::vector<std::byte> u64_le(std::uint64_t value, std::size_t extra_bytes) {
  std::vector<std::byte> out(8 + extra_bytes, std::byte{' '});
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::byte>((value >> (8 * i)) & 0xFF);
  return out;
}

std::string to_string(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Asserts that parsing `bytes` fails with an IoError naming the file and containing each of `parts`.
template <class... Parts>
void expect_rejected(std::vector<std::byte> bytes, const Parts&... parts) {
  EXPECT_THAT([&] { SafetensorsFile::from_bytes(std::move(bytes), "bad.safetensors"); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("safetensors file 'bad.safetensors'"), HasSubstr(parts)...)));
}

// A fresh directory per test, removed afterwards.
class SafetensorsDisk : public testing::Test {
 protected:
  void SetUp() override {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("foundry_io_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& item : fs::directory_iterator(dir_)) names.push_back(item.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  fs::path dir_;
};

const std::vector<float> kWeight = {0.5f, -1.0f, 2.0f, 3.25f, -0.125f, 8.0f};
const std::vector<std::int64_t> kIds = {-7, std::int64_t{1} << 40};
const std::vector<std::uint16_t> kHalfBits = {bf16_from_float(1.0f), bf16_from_float(-2.5f), bf16_from_float(3.0f)};
const std::vector<std::uint8_t> kMask = {1, 0};
const std::vector<double> kScalar = {0.1};

std::vector<SafetensorsEntry> sample_entries() {
  return {{"weight", Dtype::F32, {2, 3}, bytes_of(kWeight)}, {"ids", Dtype::I64, {2}, bytes_of(kIds)},
          {"scale", Dtype::BF16, {3}, bytes_of(kHalfBits)},  {"empty", Dtype::U8, {0, 4}, {}},
          {"mask", Dtype::Bool, {2}, bytes_of(kMask)},       {"temperature", Dtype::F64, {}, bytes_of(kScalar)}};
}

TEST(Dtype, NamesAndSizesFollowTheFormat) {
  EXPECT_EQ(dtype_name(Dtype::BF16), "BF16");
  EXPECT_EQ(dtype_name(Dtype::Bool), "BOOL");
  EXPECT_EQ(dtype_size(Dtype::F64), 8u);
  EXPECT_EQ(dtype_size(Dtype::F16), 2u);
  EXPECT_EQ(dtype_size(Dtype::I32), 4u);
  EXPECT_EQ(dtype_size(Dtype::Bool), 1u);
  for (Dtype dtype : kAllDtypes) EXPECT_EQ(dtype_from_name(dtype_name(dtype)), dtype);
  EXPECT_EQ(dtype_from_name("F8_E4M3"), std::nullopt);
  EXPECT_EQ(dtype_from_name("f32"), std::nullopt);
}

TEST(Safetensors, MatchesReferenceWriterByteForByte) {
  // The reference implementation's own serialization tests: one F32 [1, 2, 3] tensor whose header is
  // exactly 64 bytes, an empty file padded to 8, and metadata alone padded from 35 to 40 bytes.
  const std::vector<float> values = {0, 1, 2, 3, 4, 5};
  const std::vector<SafetensorsEntry> one = {{"attn.0", Dtype::F32, {1, 2, 3}, bytes_of(values)}};
  const std::vector<std::byte> bytes = serialize_safetensors(one);
  EXPECT_EQ(to_string(bytes), to_string(make_file(R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})",
                                                  to_string(bytes_of(values)))));
  EXPECT_EQ(to_string(serialize_safetensors({})), std::string("\x08\0\0\0\0\0\0\0{}      ", 16));
  EXPECT_EQ(to_string(serialize_safetensors({}, {{"framework", "pt"}})),
            std::string("\x28\0\0\0\0\0\0\0", 8) + R"({"__metadata__":{"framework":"pt"}})" + "     ");
}

TEST(Safetensors, HeaderIsSortedByNameAndDataKeepsTheGivenOrder) {
  const std::vector<std::byte> bytes = serialize_safetensors(sample_entries(), {{"format", "pt"}});
  const auto header_bytes = static_cast<std::size_t>(bytes[0]) | static_cast<std::size_t>(bytes[1]) << 8;
  EXPECT_EQ(header_bytes % 8, 0u);
  EXPECT_EQ(to_string(std::span(bytes).subspan(8, header_bytes)),
            R"({"__metadata__":{"format":"pt"},)"
            R"("empty":{"dtype":"U8","shape":[0,4],"data_offsets":[46,46]},)"
            R"("ids":{"dtype":"I64","shape":[2],"data_offsets":[24,40]},)"
            R"("mask":{"dtype":"BOOL","shape":[2],"data_offsets":[46,48]},)"
            R"("scale":{"dtype":"BF16","shape":[3],"data_offsets":[40,46]},)"
            R"("temperature":{"dtype":"F64","shape":[],"data_offsets":[48,56]},)"
            R"("weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}       )");
  EXPECT_EQ(bytes.size(), 8 + header_bytes + 56);
}

TEST_F(SafetensorsDisk, RoundTripsEveryEntryThroughAFile) {
  const fs::path path = dir_ / "model.safetensors";
  write_safetensors(path, sample_entries(), {{"format", "pt"}, {"note", "é"}});
  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.source(), path.string());
  EXPECT_THAT(file.metadata(), ElementsAre(std::pair<const std::string, std::string>("format", "pt"),
                                           std::pair<const std::string, std::string>("note", "é")));
  const std::vector<SafetensorsEntry> want = sample_entries();
  ASSERT_EQ(file.entries().size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    const SafetensorsEntry& got = file.entries()[i];
    EXPECT_EQ(got.name, want[i].name);
    EXPECT_EQ(got.dtype, want[i].dtype);
    EXPECT_EQ(got.shape, want[i].shape);
    EXPECT_EQ(to_string(got.data), to_string(want[i].data)) << got.name;
  }
  EXPECT_EQ(copy_values<float>(file.at("weight")), kWeight);
  EXPECT_EQ(copy_values<std::int64_t>(file.at("ids")), kIds);
  EXPECT_EQ(copy_values<std::uint16_t>(file.at("scale")), kHalfBits);
  EXPECT_EQ(float_from_bf16(copy_values<std::uint16_t>(file.at("scale"))[1]), -2.5f);
  EXPECT_THAT(copy_values<bool>(file.at("mask")), ElementsAre(true, false));
  EXPECT_EQ(copy_values<double>(file.at("temperature")), kScalar);
  EXPECT_TRUE(copy_values<std::uint8_t>(file.at("empty")).empty());
  EXPECT_EQ(file.find("absent"), nullptr);
  EXPECT_THAT([&] { file.at("absent"); },
              ThrowsMessage<IoError>(AllOf(HasSubstr(path.string()), HasSubstr("no tensor named 'absent'"))));
}

TEST(Safetensors, CopyValuesChecksTheType) {
  const std::vector<std::uint8_t> odd = {1, 2, 3};  // U8 [3] first puts the F32 at an unaligned offset
  const std::vector<float> one = {1.5f};
  SafetensorsFile file = SafetensorsFile::from_bytes(serialize_safetensors(
      std::vector<SafetensorsEntry>{{"a", Dtype::U8, {3}, bytes_of(odd)}, {"b", Dtype::F32, {1}, bytes_of(one)}}));
  EXPECT_EQ(copy_values<float>(file.at("b")), one);
  EXPECT_THAT([&] { copy_values<double>(file.at("b")); },
              ThrowsMessage<ValueError>(HasSubstr("tensor 'b' has dtype F32, which the requested C++ type (8 bytes)")));
  EXPECT_THAT(
      [&] {
        copy_values<bool>(SafetensorsEntry{"flags", Dtype::Bool, {3}, bytes_of(odd)});
      },
      ThrowsMessage<ValueError>(HasSubstr("tensor 'flags' holds a BOOL byte other than 0 or 1")));
}

TEST(Safetensors, ReadsFilesWhoseDataOrderDiffersFromTheHeader) {
  // Offsets need not follow header order; entries come back in data order.
  const SafetensorsFile file = SafetensorsFile::from_bytes(make_file(
      R"({"z":{"dtype":"U8","shape":[1],"data_offsets":[2,3]},"a":{"dtype":"I16","shape":[],"data_offsets":[0,2]},)"
      R"("e":{"dtype":"F16","shape":[0],"data_offsets":[3,3],"extra":"ignored"}}    )",
      "\x01\x02\x03"));
  ASSERT_EQ(file.entries().size(), 3u);
  EXPECT_EQ(file.entries()[0].name, "a");
  EXPECT_EQ(file.entries()[1].name, "z");
  EXPECT_EQ(file.entries()[2].name, "e");
  EXPECT_EQ(copy_values<std::int16_t>(file.entries()[0]), std::vector<std::int16_t>{0x0201});
  EXPECT_TRUE(file.metadata().empty());
}

TEST(SafetensorsMalformed, TruncatedFile) {
  expect_rejected(std::vector<std::byte>(5), "file is 5 bytes, shorter than the 8-byte header length");
  expect_rejected({}, "file is 0 bytes");
}

TEST(SafetensorsMalformed, HeaderLengthBeyondFileOrAbsurd) {
  expect_rejected(u64_le(100, 10), "header length 100 runs past the end of the file (18 bytes)");
  expect_rejected(u64_le(~std::uint64_t{0}, 10), "header length 18446744073709551615 exceeds the limit");
  expect_rejected(u64_le(100'000'001, 10), "exceeds the limit of 100000000 bytes");
}

TEST(SafetensorsMalformed, HeaderNotJsonOrNotAnObject) {
  expect_rejected(make_file(R"({"a": })"), "header: invalid JSON at byte 6", "expected a value");
  expect_rejected(make_file("{\"a\xff\": 1}"), "invalid UTF-8");
  expect_rejected(make_file(R"([1, 2])"), "header is not a JSON object");
  expect_rejected(make_file(""), "unexpected end of input");
  expect_rejected(make_file(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"a":{}})"), "duplicate key 'a'");
}

TEST(SafetensorsMalformed, EntryFieldsMissingOrMistyped) {
  expect_rejected(make_file(R"({"w": 3})"), "tensor 'w': entry must be an object, got an integer");
  expect_rejected(make_file(R"({"w": {"shape": [1], "data_offsets": [0, 1]}})", "x"),
                  "tensor 'w': missing field 'dtype'");
  expect_rejected(make_file(R"({"w": {"dtype": "U8", "data_offsets": [0, 1]}})", "x"),
                  "tensor 'w': missing field 'shape'");
  expect_rejected(make_file(R"({"w": {"dtype": "U8", "shape": [1]}})", "x"),
                  "tensor 'w': missing field 'data_offsets'");
  expect_rejected(make_file(R"({"w": {"dtype": 4, "shape": [1], "data_offsets": [0, 1]}})", "x"),
                  "tensor 'w': dtype must be a string, got 4");
  expect_rejected(make_file(R"({"w": {"dtype": "U8", "shape": 1, "data_offsets": [0, 1]}})", "x"),
                  "tensor 'w': shape must be an array, got 1");
  expect_rejected(make_file(R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0]}})", "x"),
                  "tensor 'w': data_offsets must be [begin, end], got [0]");
  expect_rejected(make_file(R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1.0]}})", "x"),
                  "tensor 'w': data_offsets must hold two non-negative integers, got 1.0");
  expect_rejected(make_file(R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [-1, 0]}})", "x"),
                  "non-negative integers, got -1");
  expect_rejected(make_file(R"({"__metadata__": {"n": 1}})"), "__metadata__ value 'n' must be a string, got 1");
  expect_rejected(make_file(R"({"__metadata__": ["x"]})"), "__metadata__ must be an object of strings, got an array");
}

TEST(SafetensorsMalformed, UnknownDtype) {
  expect_rejected(make_file(R"({"w": {"dtype": "Q4_K", "shape": [1], "data_offsets": [0, 1]}})", "x"),
                  "tensor 'w': unknown dtype 'Q4_K'");
}

TEST(SafetensorsMalformed, BadShapeDims) {
  expect_rejected(make_file(R"({"w": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 1]}})", "x"),
                  "tensor 'w': shape must hold non-negative integers, got [-1]");
  expect_rejected(make_file(R"({"w": {"dtype": "U8", "shape": [2.0], "data_offsets": [0, 2]}})", "xx"),
                  "shape must hold non-negative integers, got [2.0]");
  expect_rejected(make_file(R"({"w": {"dtype": "U8", "shape": [1e30], "data_offsets": [0, 2]}})", "xx"),
                  "shape must hold non-negative integers");
  // 2^32 * 2^32 elements overflow a 64-bit byte count; the check must not wrap around to 0.
  expect_rejected(make_file(R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})"),
                  "tensor 'w': shape [4294967296,4294967296] overflows a 64-bit byte count");
  expect_rejected(make_file(R"({"w": {"dtype": "F64", "shape": [2305843009213693952], "data_offsets": [0, 0]}})"),
                  "overflows a 64-bit byte count");
}

TEST(SafetensorsMalformed, ShapeBytesMismatch) {
  expect_rejected(
      make_file(R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})", std::string(20, 'x')),
      "tensor 'w': shape [2, 3] of F32 needs 24 bytes but data_offsets [0, 20] span 20");
}

TEST(SafetensorsMalformed, OffsetsOutOfRangeOrReversed) {
  expect_rejected(make_file(R"({"w": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}})", "xx"),
                  "tensor 'w': data_offsets [0, 4] run past the data buffer (2 bytes)");
  expect_rejected(make_file(R"({"w": {"dtype": "U8", "shape": [0], "data_offsets": [2, 1]}})", "xx"),
                  "tensor 'w': data_offsets [2, 1] begin after they end");
  expect_rejected(make_file(R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 18446744073709551616]}})", "x"),
                  "non-negative integers");  // beyond int64: parsed as a double, rejected as one
}

TEST(SafetensorsMalformed, OverlappingTensors) {
  expect_rejected(make_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                            R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                            std::string(12, 'x')),
                  "tensor 'b' data_offsets [4, 12] overlap tensor 'a' [0, 8]");
  expect_rejected(make_file(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},)"
                            R"( "alias": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}})",
                            "xxxx"),
                  "overlap tensor 'a' [0, 4]");
}

TEST(SafetensorsMalformed, DataBufferNotFullyCovered) {
  expect_rejected(make_file(R"({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},)"
                            R"( "b": {"dtype": "U8", "shape": [2], "data_offsets": [3, 5]}})",
                            "xxxxx"),
                  "bytes [2, 3) of the data buffer belong to no tensor (gap before tensor 'b')");
  expect_rejected(make_file(R"({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}})", "xxxx"),
                  "data buffer is 4 bytes but the tensors cover only 2");
  expect_rejected(make_file(R"({})", "x"), "data buffer is 1 bytes but the tensors cover only 0");
}

TEST(SafetensorsMalformed, EveryTruncationAndByteFlipIsCaught) {
  // No prefix of a valid file is valid (the buffer must be fully covered), and corrupting any header
  // byte must end in a clean parse or an IoError: never a crash, never another exception type.
  const std::vector<std::byte> good = serialize_safetensors(sample_entries(), {{"format", "pt"}});
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_THROW(SafetensorsFile::from_bytes(
                     std::vector<std::byte>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n))),
                 IoError)
        << "prefix of " << n << " bytes";
  }
  const std::size_t header_end = 8 + static_cast<std::size_t>(good[0]) + (static_cast<std::size_t>(good[1]) << 8);
  for (std::size_t i = 0; i < header_end; ++i) {
    for (int flip : {0x01, 0x10, 0x80}) {
      std::vector<std::byte> bad = good;
      bad[i] ^= static_cast<std::byte>(flip);
      try {
        SafetensorsFile::from_bytes(std::move(bad));
      } catch (const IoError&) {
      }
    }
  }
}

TEST_F(SafetensorsDisk, OpenNamesThePathOfMissingOrBrokenFiles) {
  const fs::path missing = dir_ / "missing.safetensors";
  EXPECT_THAT([&] { SafetensorsFile::open(missing); },
              ThrowsMessage<IoError>(
                  AllOf(HasSubstr("safetensors file '" + missing.string() + "'"), HasSubstr("cannot open"))));
  const fs::path broken = dir_ / "broken.safetensors";
  std::ofstream(broken, std::ios::binary) << "abc";
  EXPECT_THAT([&] { SafetensorsFile::open(broken); },
              ThrowsMessage<IoError>(AllOf(HasSubstr(broken.string()), HasSubstr("file is 3 bytes"))));
}

TEST_F(SafetensorsDisk, FailedOverwriteLeavesTheOldFileByteIdentical) {
  const fs::path path = dir_ / "model.safetensors";
  write_safetensors(path, sample_entries(), {{"version", "1"}});
  const std::string before = read_all(path);
  ASSERT_FALSE(before.empty());

  const std::vector<float> big(4096, 7.0f);
  const std::vector<SafetensorsEntry> update = {{"weight", Dtype::F32, {4096}, bytes_of(big)}};
  SafetensorsWriteOptions options;
  options.chunk_bytes = 1024;
  options.after_chunk = [](std::size_t written) {
    if (written > 4096) throw std::runtime_error("disk full (simulated)");
  };
  EXPECT_THAT([&] { write_safetensors(path, update, {}, options); },
              ThrowsMessage<std::runtime_error>(testing::StrEq("disk full (simulated)")));
  EXPECT_EQ(read_all(path), before);
  EXPECT_THAT(listing(), ElementsAre("model.safetensors"));  // the temporary file is gone

  write_safetensors(path, update);  // the same write without the fault replaces the file
  EXPECT_EQ(copy_values<float>(SafetensorsFile::open(path).at("weight")), big);
  EXPECT_THAT(listing(), ElementsAre("model.safetensors"));
}

TEST_F(SafetensorsDisk, WriteIntoMissingDirectoryOrOverADirectoryThrowsIoError) {
  const fs::path nowhere = dir_ / "no_such_dir" / "model.safetensors";
  EXPECT_THAT([&] { write_safetensors(nowhere, sample_entries()); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("write_safetensors: cannot create temporary file"),
                                           HasSubstr("for '" + nowhere.string() + "'"))));
  const fs::path occupied = dir_ / "occupied";
  fs::create_directories(occupied / "child");
  EXPECT_THAT([&] { write_safetensors(occupied, sample_entries()); },
              ThrowsMessage<IoError>(AllOf(HasSubstr("cannot rename temporary file"), HasSubstr(occupied.string()))));
  EXPECT_THAT(listing(), ElementsAre("occupied"));
  EXPECT_TRUE(fs::is_directory(occupied / "child"));
}

TEST_F(SafetensorsDisk, WriterRejectsInconsistentEntriesBeforeTouchingDisk) {
  const fs::path path = dir_ / "model.safetensors";
  const std::vector<float> five(5);
  EXPECT_THAT(
      [&] {
        write_safetensors(path, std::vector<SafetensorsEntry>{{"w", Dtype::F32, {2, 3}, bytes_of(five)}});
      },
      ThrowsMessage<ValueError>(HasSubstr("tensor 'w' has shape [2, 3] of F32 (24 bytes) but 20 bytes of data")));
  EXPECT_THAT(
      [&] {
        write_safetensors(path, std::vector<SafetensorsEntry>{{"w", Dtype::F32, {-5}, {}}});
      },
      ThrowsMessage<ValueError>(HasSubstr("tensor 'w' has shape [-5] of F32 (invalid)")));
  EXPECT_THAT(
      [&] {
        write_safetensors(path, std::vector<SafetensorsEntry>{{"w", Dtype::U8, {0}, {}}, {"w", Dtype::U8, {0}, {}}});
      },
      ThrowsMessage<ValueError>(HasSubstr("two tensors are named 'w'")));
  EXPECT_THAT(
      [&] {
        write_safetensors(path, std::vector<SafetensorsEntry>{{"__metadata__", Dtype::U8, {0}, {}}});
      },
      ThrowsMessage<ValueError>(HasSubstr("'__metadata__' is reserved")));
  EXPECT_TRUE(listing().empty());
}

TEST(Safetensors, ReadsTheFixtureWrittenByPython) {
  // tests/reference/make_io_fixtures.py; the Python writer orders data by dtype size, then name.
  const SafetensorsFile file =
      SafetensorsFile::open(fs::path(FOUNDRY_TEST_DATA_DIR) / "io" / "python_written.safetensors");
  EXPECT_EQ(file.metadata().at("format"), "np");
  EXPECT_EQ(file.metadata().at("source"), "make_io_fixtures.py");
  std::vector<std::string> names;
  for (const auto& e : file.entries()) names.push_back(e.name);
  EXPECT_THAT(names, ElementsAre("encoder.bias", "token_ids", "encoder.weight", "scale.bf16", "scale.f16", "mask"));

  EXPECT_EQ(file.at("encoder.weight").shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_THAT(copy_values<float>(file.at("encoder.weight")), ElementsAre(-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f));
  EXPECT_THAT(copy_values<double>(file.at("encoder.bias")), ElementsAre(1.0 / 3.0, -2.5, 1e-300));
  EXPECT_EQ(file.at("token_ids").shape, (std::vector<std::int64_t>{2, 2}));
  EXPECT_THAT(copy_values<std::int64_t>(file.at("token_ids")), ElementsAre(-1, std::int64_t{1} << 40, 0, 7));
  EXPECT_EQ(file.at("scale.bf16").dtype, Dtype::BF16);
  EXPECT_THAT(copy_values<std::uint16_t>(file.at("scale.bf16")), ElementsAre(0x3F80, 0xC020, 0x4049, 0x3A83));
  EXPECT_EQ(file.at("scale.f16").dtype, Dtype::F16);
  EXPECT_THAT(copy_values<std::uint16_t>(file.at("scale.f16")), ElementsAre(0x3800, 0xFBFF, 0x0001));
  EXPECT_THAT(copy_values<bool>(file.at("mask")), ElementsAre(true, false, true));
  // numpy rounds to F16/BF16 the way core/half.hpp does.
  EXPECT_EQ(f16_from_float(6e-8f), 0x0001);
  EXPECT_EQ(bf16_from_float(3.14159f), 0x4049);
}

}  // namespace
}  // namespace foundry::io
