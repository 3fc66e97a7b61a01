// io/safetensors.hpp: the safetensors file format on raw bytes (dtype, shape and a span of
// little-endian data per tensor). A file is an 8-byte little-endian header length N, N bytes of JSON
// header, then the data buffer that the header's data_offsets index. Tensor<T> conversion and
// parameter-path matching belong to the checkpoint layer above; this header only promises that
// every span it hands out lies inside the file and matches its dtype and shape.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "foundry/core/error.hpp"
#include "foundry/io/json.hpp"

namespace foundry::io {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; add byte swaps");

enum class Dtype { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

inline constexpr Dtype kAllDtypes[] = {Dtype::F64, Dtype::F32, Dtype::F16, Dtype::BF16, Dtype::I64,
                                       Dtype::I32, Dtype::I16, Dtype::I8,  Dtype::U8,   Dtype::Bool};

inline constexpr std::size_t dtype_size(Dtype dtype) {
  constexpr std::size_t kSizes[] = {8, 4, 2, 2, 8, 4, 2, 1, 1, 1};
  return kSizes[static_cast<int>(dtype)];
}
inline constexpr std::string_view dtype_name(Dtype dtype) {  // the spelling in safetensors headers
  constexpr std::string_view kNames[] = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"};
  return kNames[static_cast<int>(dtype)];
}
inline std::optional<Dtype> dtype_from_name(std::string_view name) {
  for (Dtype dtype : kAllDtypes) {
    if (dtype_name(dtype) == name) return dtype;
  }
  return std::nullopt;
}
inline std::ostream& operator<<(std::ostream& os, Dtype dtype) { return os << dtype_name(dtype); }

// One tensor of a file: row-major little-endian bytes. `data` views memory owned elsewhere (the
// SafetensorsFile it came from, or the caller's buffer when writing) and may be unaligned.
struct SafetensorsEntry {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<std::int64_t> shape;  // [] is a scalar
  std::span<const std::byte> data;
};

namespace detail {

inline std::string format_dims(std::span<const std::int64_t> dims) {
  std::string out = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + "]";
}

// A JSON value for a message, cut short: a hostile header can hold a million-element "shape".
inline std::string json_preview(const Json& value) {
  std::string text = value.dump();
  return text.size() <= 60 ? text : text.substr(0, 57) + "...";
}

// numel(shape) * dtype_size, or nullopt when a dim is negative or the product overflows uint64.
inline std::optional<std::uint64_t> tensor_bytes(std::span<const std::int64_t> shape, Dtype dtype) {
  std::uint64_t bytes = dtype_size(dtype);
  for (std::int64_t dim : shape) {
    if (dim < 0) return std::nullopt;
    const auto d = static_cast<std::uint64_t>(dim);
    if (d != 0 && bytes > UINT64_MAX / d) return std::nullopt;
    bytes *= d;
  }
  return bytes;
}

}  // namespace detail

// A parsed safetensors file that owns its bytes; entries() view into them, so it moves but never copies.
//
//   auto file = SafetensorsFile::open("model.safetensors");
//   for (const SafetensorsEntry& e : file.entries()) std::cout << e.name << " " << e.dtype << "\n";
//   std::vector<float> w = copy_values<float>(file.at("encoder.layer.0.attention.query.weight"));
class SafetensorsFile {
 public:
  // Longer headers are rejected before parsing, as the reference reader does.
  static constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

  static SafetensorsFile open(const std::filesystem::path& path) {
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    std::ifstream in(path, std::ios::binary);
    if (ec || !in) {
      detail::fail<IoError>("safetensors file '", path.string(),
                            "': cannot open: ", ec ? ec.message() : std::strerror(errno));
    }
    std::vector<std::byte> bytes(static_cast<std::size_t>(size));
    if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
      detail::fail<IoError>("safetensors file '", path.string(), "': read failed after ", in.gcount(), " of ", size,
                            " bytes");
    }
    return from_bytes(std::move(bytes), path.string());
  }

  // `source` names the bytes in error messages ("safetensors file '<source>': ...").
  static SafetensorsFile from_bytes(std::vector<std::byte> bytes, std::string source = "<memory>") {
    SafetensorsFile file;
    file.bytes_ = std::move(bytes);
    file.source_ = std::move(source);
    file.parse();
    return file;
  }

  // Moving keeps the byte buffer where it is, so the entries' spans stay valid.
  SafetensorsFile(SafetensorsFile&&) noexcept = default;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept = default;

  // In the order their bytes lie in the data buffer, which for files we write is the order given
  // (empty tensors sharing an offset follow header order).
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& source() const { return source_; }

  const SafetensorsEntry* find(std::string_view name) const {
    for (const SafetensorsEntry& entry : entries_) {
      if (entry.name == name) return &entry;
    }
    return nullptr;
  }
  const SafetensorsEntry& at(std::string_view name) const {
    if (const SafetensorsEntry* entry = find(name)) return *entry;
    detail::fail<IoError>("safetensors file '", source_, "': no tensor named '", name, "' among its ", entries_.size(),
                          " tensors");
  }

 private:
  SafetensorsFile() = default;
  SafetensorsFile(const SafetensorsFile&) = delete;

  struct Placed {  // an entry with its offsets into the data buffer, before the buffer is sliced
    std::uint64_t begin, end;
    SafetensorsEntry entry;
  };

  template <class... Parts>
  [[noreturn]] void bad(const Parts&... parts) const {
    detail::fail<IoError>("safetensors file '", source_, "': ", parts...);
  }

  static std::uint64_t read_u64_le(const std::byte* p) {
    std::uint64_t value = 0;
    for (int i = 7; i >= 0; --i) value = (value << 8) | std::to_integer<std::uint64_t>(p[i]);
    return value;
  }

  // A non-negative integer field of an entry, or an IoError naming tensor and field.
  std::uint64_t offset_field(const std::string& name, const Json& value) const {
    if (!value.is_int() || value.as_int() < 0) {
      bad("tensor '", name, "': data_offsets must hold two non-negative integers, got ", detail::json_preview(value));
    }
    return static_cast<std::uint64_t>(value.as_int());
  }

  void parse() {
    if (bytes_.size() < 8) bad("file is ", bytes_.size(), " bytes, shorter than the 8-byte header length");
    const std::uint64_t header_bytes = read_u64_le(bytes_.data());
    if (header_bytes > kMaxHeaderBytes) {
      bad("header length ", header_bytes, " exceeds the limit of ", kMaxHeaderBytes, " bytes");
    }
    if (header_bytes > bytes_.size() - 8) {
      bad("header length ", header_bytes, " runs past the end of the file (", bytes_.size(), " bytes)");
    }
    const std::string_view text(reinterpret_cast<const char*>(bytes_.data()) + 8, header_bytes);
    const Json header = Json::parse(text, "safetensors file '" + source_ + "': header");
    if (!header.is_object()) bad("header is not a JSON object");
    const std::span<const std::byte> buffer = std::span<const std::byte>(bytes_).subspan(8 + header_bytes);

    std::vector<Placed> placed;
    for (const auto& [name, info] : header.as_object()) {
      if (name == "__metadata__") {
        read_metadata(info);
        continue;
      }
      placed.push_back(read_entry(name, info, buffer.size()));
    }
    // The reference reader's rule: sorted by offset, tensors tile the data buffer exactly, with no
    // overlap (two names aliasing bytes), no gap and no trailing bytes (data no tensor accounts for).
    std::stable_sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    std::uint64_t covered = 0;
    for (std::size_t i = 0; i < placed.size(); ++i) {
      const Placed& p = placed[i];
      if (p.begin < covered) {
        const Placed& prev = placed[i - 1];
        bad("tensor '", p.entry.name, "' data_offsets [", p.begin, ", ", p.end, "] overlap tensor '", prev.entry.name,
            "' [", prev.begin, ", ", prev.end, "]");
      }
      if (p.begin > covered) {
        bad("bytes [", covered, ", ", p.begin, ") of the data buffer belong to no tensor (gap before tensor '",
            p.entry.name, "')");
      }
      covered = p.end;
    }
    if (covered != buffer.size()) {
      bad("data buffer is ", buffer.size(), " bytes but the tensors cover only ", covered,
          " (trailing bytes belong to no tensor)");
    }
    entries_.reserve(placed.size());
    for (Placed& p : placed) {
      p.entry.data = buffer.subspan(p.begin, p.end - p.begin);
      entries_.push_back(std::move(p.entry));
    }
  }

  void read_metadata(const Json& info) {
    if (!info.is_object()) bad("__metadata__ must be an object of strings, got ", detail::json_kind_name(info.kind()));
    for (const auto& [key, value] : info.as_object()) {
      if (!value.is_string()) bad("__metadata__ value '", key, "' must be a string, got ", detail::json_preview(value));
      metadata_.emplace(key, value.as_string());
    }
  }

  Placed read_entry(const std::string& name, const Json& info, std::uint64_t buffer_bytes) const {
    if (!info.is_object()) {
      bad("tensor '", name, "': entry must be an object, got ", detail::json_kind_name(info.kind()));
    }
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
      if (!info.contains(field)) bad("tensor '", name, "': missing field '", field, "'");
    }
    const Json& dtype = info.at("dtype");
    if (!dtype.is_string()) bad("tensor '", name, "': dtype must be a string, got ", detail::json_preview(dtype));
    const std::optional<Dtype> parsed = dtype_from_name(dtype.as_string());
    if (!parsed) bad("tensor '", name, "': unknown dtype '", dtype.as_string(), "'");

    Placed p{0, 0, SafetensorsEntry{name, *parsed, {}, {}}};
    const Json& shape = info.at("shape");
    if (!shape.is_array()) bad("tensor '", name, "': shape must be an array, got ", detail::json_preview(shape));
    for (const Json& dim : shape.as_array()) {
      if (!dim.is_int() || dim.as_int() < 0) {
        bad("tensor '", name, "': shape must hold non-negative integers, got ", detail::json_preview(shape));
      }
      p.entry.shape.push_back(dim.as_int());
    }
    const Json& offsets = info.at("data_offsets");
    if (!offsets.is_array() || offsets.size() != 2) {
      bad("tensor '", name, "': data_offsets must be [begin, end], got ", detail::json_preview(offsets));
    }
    p.begin = offset_field(name, offsets.at(0));
    p.end = offset_field(name, offsets.at(1));
    if (p.begin > p.end) bad("tensor '", name, "': data_offsets [", p.begin, ", ", p.end, "] begin after they end");
    if (p.end > buffer_bytes) {
      bad("tensor '", name, "': data_offsets [", p.begin, ", ", p.end, "] run past the data buffer (", buffer_bytes,
          " bytes)");
    }
    const std::optional<std::uint64_t> need = detail::tensor_bytes(p.entry.shape, p.entry.dtype);
    if (!need) bad("tensor '", name, "': shape ", detail::json_preview(shape), " overflows a 64-bit byte count");
    if (*need != p.end - p.begin) {
      bad("tensor '", name, "': shape ", detail::format_dims(p.entry.shape), " of ", p.entry.dtype, " needs ", *need,
          " bytes but data_offsets [", p.begin, ", ", p.end, "] span ", p.end - p.begin);
    }
    return p;
  }

  std::vector<std::byte> bytes_;  // the whole file; data spans point into it
  std::string source_;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// The C++ type whose bytes an entry of `dtype` holds: F16 and BF16 travel as raw uint16_t bits
// (see core/half.hpp); BOOL as bool, checked to be 0 or 1.
template <class T>
bool dtype_holds(Dtype dtype) {
  switch (dtype) {
    case Dtype::F64: return std::is_same_v<T, double>;
    case Dtype::F32: return std::is_same_v<T, float>;
    case Dtype::F16:
    case Dtype::BF16: return std::is_same_v<T, std::uint16_t>;
    case Dtype::I64: return std::is_same_v<T, std::int64_t>;
    case Dtype::I32: return std::is_same_v<T, std::int32_t>;
    case Dtype::I16: return std::is_same_v<T, std::int16_t>;
    case Dtype::I8: return std::is_same_v<T, std::int8_t>;
    case Dtype::U8: return std::is_same_v<T, std::uint8_t>;
    case Dtype::Bool: return std::is_same_v<T, bool>;
  }
  return false;
}

// Copies an entry's (possibly unaligned) bytes into a vector of T, checking T against the dtype.
template <class T>
std::vector<T> copy_values(const SafetensorsEntry& entry) {
  if (!dtype_holds<T>(entry.dtype)) {
    detail::fail<ValueError>("copy_values: tensor '", entry.name, "' has dtype ", entry.dtype,
                             ", which the requested C++ type (", sizeof(T), " bytes) does not hold");
  }
  std::vector<T> values;
  if constexpr (std::is_same_v<T, bool>) {  // std::vector<bool> packs bits, so no memcpy here
    values.reserve(entry.data.size());
    for (std::byte b : entry.data) {
      if (std::to_integer<int>(b) > 1) {
        detail::fail<ValueError>("copy_values: tensor '", entry.name, "' holds a BOOL byte other than 0 or 1");
      }
      values.push_back(b == std::byte{1});
    }
  } else {
    values.resize(entry.data.size() / sizeof(T));
    if (!values.empty()) std::memcpy(values.data(), entry.data.data(), values.size() * sizeof(T));
  }
  return values;
}

namespace detail {

// The 8-byte length and the header JSON as the reference writer lays it out: __metadata__ first, then
// tensors sorted by name, compact, padded with spaces to a multiple of 8 so the data starts aligned.
inline std::string safetensors_prefix(std::span<const SafetensorsEntry> entries,
                                      const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string_view, std::size_t>> order;  // (name, index into entries)
  std::vector<std::uint64_t> begins;
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const SafetensorsEntry& e = entries[i];
    if (e.name == "__metadata__") {
      fail<ValueError>("write_safetensors: '__metadata__' is reserved and cannot name a tensor");
    }
    const std::optional<std::uint64_t> need = tensor_bytes(e.shape, e.dtype);
    if (!need || *need != e.data.size()) {
      fail<ValueError>("write_safetensors: tensor '", e.name, "' has shape ", format_dims(e.shape), " of ", e.dtype,
                       need ? " (" + std::to_string(*need) + " bytes)" : std::string(" (invalid)"), " but ",
                       e.data.size(), " bytes of data");
    }
    order.emplace_back(e.name, i);
    begins.push_back(offset);
    offset += e.data.size();
  }
  std::sort(order.begin(), order.end());
  for (std::size_t i = 1; i < order.size(); ++i) {
    if (order[i].first == order[i - 1].first) {
      fail<ValueError>("write_safetensors: two tensors are named '", order[i].first, "'");
    }
  }
  Json::Object header;  // built as a vector: Json::operator[] would make this quadratic in tensors
  if (!metadata.empty()) {
    Json::Object meta;
    for (const auto& [key, value] : metadata) meta.emplace_back(key, value);
    header.emplace_back("__metadata__", std::move(meta));
  }
  for (const auto& [name, i] : order) {
    Json::Array shape(entries[i].shape.begin(), entries[i].shape.end());
    header.emplace_back(name,
                        Json::Object{{"dtype", dtype_name(entries[i].dtype)},
                                     {"shape", std::move(shape)},
                                     {"data_offsets", Json::Array{begins[i], begins[i] + entries[i].data.size()}}});
  }
  std::string text = Json(std::move(header)).dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string prefix;
  for (int i = 0; i < 8; ++i) prefix += static_cast<char>((text.size() >> (8 * i)) & 0xFF);
  return prefix + text;
}

}  // namespace detail

// The whole file as bytes, data in the order given. Caller mistakes (data size not matching dtype and
// shape, duplicate or reserved names) throw ValueError.
inline std::vector<std::byte> serialize_safetensors(std::span<const SafetensorsEntry> entries,
                                                    const std::map<std::string, std::string>& metadata = {}) {
  const std::string prefix = detail::safetensors_prefix(entries, metadata);
  std::vector<std::byte> out(reinterpret_cast<const std::byte*>(prefix.data()),
                             reinterpret_cast<const std::byte*>(prefix.data()) + prefix.size());
  for (const SafetensorsEntry& e : entries) out.insert(out.end(), e.data.begin(), e.data.end());
  return out;
}

struct SafetensorsWriteOptions {
  std::size_t chunk_bytes = std::size_t{1} << 20;
  // Called after each chunk reaches the temporary file with the bytes written so far. Tests throw
  // from it to play a disk that fails midway; the exception propagates after the cleanup.
  std::function<void(std::size_t)> after_chunk;
};

// Writes atomically: the bytes go to a temporary file beside `path`, are flushed and fsync'ed, and
// only then renamed over `path`. On any failure the temporary file is removed, an existing file at
// `path` is left byte-identical, and IoError names both files.
inline void write_safetensors(const std::filesystem::path& path, std::span<const SafetensorsEntry> entries,
                              const std::map<std::string, std::string>& metadata = {},
                              const SafetensorsWriteOptions& options = {}) {
  const std::string prefix = detail::safetensors_prefix(entries, metadata);  // validates before touching disk

  static std::atomic<unsigned> counter{0};
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  const auto fail_io = [&](std::string_view what, int err) {
    detail::fail<IoError>("write_safetensors: ", what, " '", tmp.string(), "' for '", path.string(),
                          "': ", std::strerror(err));
  };

  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) fail_io("cannot create temporary file", errno);
  try {
    std::size_t written = 0;
    const auto put = [&](const void* data, std::size_t size) {
      for (std::size_t done = 0; done < size;) {
        const std::size_t n = std::min(std::max<std::size_t>(options.chunk_bytes, 1), size - done);
        if (std::fwrite(static_cast<const char*>(data) + done, 1, n, f) != n) {
          fail_io("cannot write temporary file", errno);
        }
        done += n;
        written += n;
        if (options.after_chunk) options.after_chunk(written);
      }
    };
    put(prefix.data(), prefix.size());
    for (const SafetensorsEntry& e : entries) put(e.data.data(), e.data.size());
    if (std::fflush(f) != 0 || ::fsync(::fileno(f)) != 0) fail_io("cannot flush temporary file", errno);
    std::FILE* closing = std::exchange(f, nullptr);
    if (std::fclose(closing) != 0) fail_io("cannot close temporary file", errno);
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) fail_io("cannot rename temporary file", ec.value());
  } catch (...) {
    if (f != nullptr) std::fclose(f);
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
  // Make the rename itself durable; a failure here cannot undo a completed write, so it is ignored.
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  if (const int fd = ::open(dir.c_str(), O_RDONLY); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace foundry::io
