// io/tensor_file.hpp: named tensors to and from safetensors files. Loading converts any numeric
// dtype in the file (F64, F32, F16, BF16, integers, BOOL) to the requested element type, so an fp32
// model reads an fp16 or bf16 checkpoint; saving writes each tensor in its own type (or bf16/f16 on
// request). Module state dicts and training checkpoints build on these two functions.
#pragma once

#include <map>
#include <string>

#include "foundry/core/half.hpp"
#include "foundry/core/tensor.hpp"
#include "foundry/io/safetensors.hpp"

namespace foundry::io {

template <class T>
constexpr Dtype dtype_of() {
  if constexpr (std::is_same_v<T, double>) return Dtype::F64;
  else if constexpr (std::is_same_v<T, float>) return Dtype::F32;
  else if constexpr (std::is_same_v<T, std::int64_t>) return Dtype::I64;
  else if constexpr (std::is_same_v<T, std::int32_t>) return Dtype::I32;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return Dtype::U8;
  else return Dtype::Bool;
}

// The entry's values converted to T, in a new contiguous tensor of the entry's shape.
template <class T>
Tensor<T> to_tensor(const SafetensorsEntry& e, std::string_view source = "") {
  Tensor<T> t = Tensor<T>::empty(Shape(std::span<const Index>(e.shape.data(), e.shape.size())));
  T* out = t.data();
  const std::byte* in = e.data.data();
  const Index n = t.numel();
  auto convert = [&]<class S>(S* /*tag*/) {
    for (Index i = 0; i < n; ++i) {
      S v;
      std::memcpy(&v, in + i * sizeof(S), sizeof(S));  // the data may be unaligned
      out[i] = static_cast<T>(v);
    }
  };
  switch (e.dtype) {
    case Dtype::F64: convert(static_cast<double*>(nullptr)); break;
    case Dtype::F32: convert(static_cast<float*>(nullptr)); break;
    case Dtype::I64: convert(static_cast<std::int64_t*>(nullptr)); break;
    case Dtype::I32: convert(static_cast<std::int32_t*>(nullptr)); break;
    case Dtype::I16: convert(static_cast<std::int16_t*>(nullptr)); break;
    case Dtype::I8: convert(static_cast<std::int8_t*>(nullptr)); break;
    case Dtype::U8: convert(static_cast<std::uint8_t*>(nullptr)); break;
    case Dtype::Bool: convert(static_cast<std::uint8_t*>(nullptr)); break;
    case Dtype::F16:
    case Dtype::BF16:
      for (Index i = 0; i < n; ++i) {
        std::uint16_t h;
        std::memcpy(&h, in + i * 2, 2);
        out[i] = static_cast<T>(e.dtype == Dtype::F16 ? float_from_f16(h) : float_from_bf16(h));
      }
      break;
  }
  (void)source;
  return t;
}

// All tensors of a safetensors file, converted to T, by name.
template <class T>
std::map<std::string, Tensor<T>> load_tensors(const std::filesystem::path& path) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  std::map<std::string, Tensor<T>> out;
  for (const auto& e : file.entries()) out.emplace(e.name, to_tensor<T>(e, file.source()));
  return out;
}

enum class SaveAs { Native, BF16, F16 };

// Writes the tensors atomically (see write_safetensors); floating tensors may be stored as bf16/f16.
template <class T>
void save_tensors(const std::filesystem::path& path, const std::map<std::string, Tensor<T>>& tensors,
                  const std::map<std::string, std::string>& metadata = {}, SaveAs as = SaveAs::Native) {
  std::vector<std::vector<std::byte>> buffers;
  std::vector<SafetensorsEntry> entries;
  buffers.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    const Tensor<T> c = t.contiguous_data();
    SafetensorsEntry e;
    e.name = name;
    e.shape = c.shape().to_vector();
    if (std::is_floating_point_v<T> && as != SaveAs::Native) {
      e.dtype = as == SaveAs::BF16 ? Dtype::BF16 : Dtype::F16;
      std::vector<std::byte> bytes(static_cast<std::size_t>(c.numel()) * 2);
      for (Index i = 0; i < c.numel(); ++i) {
        const auto f = static_cast<float>(c.data()[i]);
        const std::uint16_t h = as == SaveAs::BF16 ? bf16_from_float(f) : f16_from_float(f);
        std::memcpy(bytes.data() + i * 2, &h, 2);
      }
      buffers.push_back(std::move(bytes));
    } else {
      e.dtype = dtype_of<T>();
      const auto* p = reinterpret_cast<const std::byte*>(c.data());
      buffers.emplace_back(p, p + c.numel() * static_cast<Index>(sizeof(T)));
    }
    e.data = buffers.back();
    entries.push_back(std::move(e));
  }
  write_safetensors(path, entries, metadata);
}

}  // namespace foundry::io
