// core/storage.hpp: Storage<T>, one 64-byte-aligned heap buffer shared by every tensor that views it.
// It also carries the version counter that autograd uses to notice in-place writes to saved tensors.
// Shapes, strides and offsets belong to the tensor, not here; large buffers come from and return to
// the cache in buffer_cache.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

#include "foundry/core/buffer_cache.hpp"
#include "foundry/core/shape.hpp"

namespace foundry {

template <class T>
class Storage {
 public:
  static_assert(std::is_trivially_copyable_v<T>, "Storage holds plain numeric values");

  // Uninitialised buffer of n elements; callers fill it.
  explicit Storage(Index n) : size_(n) {
    if (n < 0) detail::fail<ValueError>("Storage: negative element count ", n);
    if (n == 0) return;
    const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(T);
    if (detail::kBufferCacheEnabled && bytes >= detail::BufferCache::kMinBytes) {
      const auto [p, capacity] = detail::BufferCache::instance().allocate(detail::BufferCache::size_class(bytes));
      data_ = static_cast<T*>(p);
      capacity_ = capacity;
    } else {
      data_ = static_cast<T*>(::operator new(bytes, std::align_val_t{kAlignment}));
    }
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage() {
    if (!data_) return;
    if (capacity_ > 0) detail::BufferCache::instance().release(data_, capacity_);
    else ::operator delete(data_, std::align_val_t{kAlignment});
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  Index size() const { return size_; }

  // Bumped by every in-place write; saved tensors compare it at backward time.
  std::uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  T* data_ = nullptr;
  Index size_ = 0;
  std::size_t capacity_ = 0;  // bytes, when the buffer belongs to the buffer cache's classes
  std::uint64_t version_ = 0;
};

}  // namespace foundry
