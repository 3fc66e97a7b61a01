// core/buffer_cache.hpp: a cache of large freed tensor buffers, so that a training loop stops paying
// the kernel for memory: every step allocates the same activation and gradient sizes again, and
// without the cache each such buffer is fresh pages from the OS (a page fault and a page clear per
// 4 KiB, about 100 MB per BERT-mini step). Storage<T> takes buffers of 64 KiB and more from here and
// gives them back; smaller ones go straight to operator new, whose own free lists serve them well.
//   foundry::set_buffer_cache_limit(512 << 20);  // bytes kept at most (default 1 GiB; 0: no cache)
//   foundry::release_cached_buffers();           // hand every cached buffer back to the system
// Builds with AddressSanitizer bypass the cache, so that a use after free is still caught.
#pragma once

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <map>
#include <mutex>
#include <new>
#include <utility>

namespace foundry {

inline constexpr std::size_t kAlignment = 64;  // one cache line, and a full AVX-512 register

namespace detail {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kBufferCacheEnabled = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kBufferCacheEnabled = false;
#else
inline constexpr bool kBufferCacheEnabled = true;
#endif
#else
inline constexpr bool kBufferCacheEnabled = true;
#endif

class BufferCache {
 public:
  static constexpr std::size_t kMinBytes = std::size_t{64} << 10;

  // The process-wide cache. Never destroyed: tensors in static storage may be freed after it.
  static BufferCache& instance() {
    static BufferCache* cache = new BufferCache();
    return *cache;
  }

  // The capacity actually allocated for a request of `bytes` >= kMinBytes: rounded up to one of
  // eight classes per power of two, so buffers of nearby sizes (a batch with a few more masked
  // tokens) share a class. The rounding wastes at most 1/8, and only address space: pages that are
  // never touched are never faulted in.
  static std::size_t size_class(std::size_t bytes) {
    std::size_t step = kMinBytes / 8;
    while (step * 16 <= bytes) step *= 2;
    return (bytes + step - 1) / step * step;
  }

  // A buffer of at least `bytes` (a size_class) and its capacity: the smallest cached one that is
  // no more than twice as large (its pages are resident already, so taking it costs no memory that
  // leaving it idle would not), else a new one of exactly `bytes`.
  std::pair<void*, std::size_t> allocate(std::size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.lower_bound(bytes);
      if (it != free_.end() && it->first <= 2 * bytes) {
        const std::pair<void*, std::size_t> found{it->second, it->first};
        free_.erase(it);
        cached_ -= found.second;
        count_in_use(found.second);
        return found;
      }
    }
    void* p = ::operator new(bytes, std::align_val_t{kAlignment});
    std::lock_guard<std::mutex> lock(mutex_);
    count_in_use(bytes);
    return {p, bytes};
  }

  // Takes back a buffer of `capacity` bytes from allocate(); frees it instead when the cache is full.
  void release(void* p, std::size_t capacity) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      in_use_ -= capacity;
      if (cached_ + capacity <= limit_) {
        try {
          free_.emplace(capacity, p);
          cached_ += capacity;
          return;
        } catch (const std::bad_alloc&) {  // no room to remember it: free it below
        }
      }
    }
    ::operator delete(p, std::align_val_t{kAlignment});
  }

  void set_limit(std::size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = bytes;
    trim_locked();
  }

  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t keep = limit_;
    limit_ = 0;
    trim_locked();
    limit_ = keep;
  }

  std::size_t cached_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }
  std::size_t in_use_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return in_use_;
  }
  std::size_t peak_in_use_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return peak_in_use_;
  }
  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    peak_in_use_ = in_use_;
  }

 private:
  BufferCache() = default;

  void count_in_use(std::size_t bytes) {  // mutex_ held
    in_use_ += bytes;
    peak_in_use_ = std::max(peak_in_use_, in_use_);
  }

  void trim_locked() {  // frees buffers, largest first, until the cache fits its limit
    while (cached_ > limit_ && !free_.empty()) {
      auto last = std::prev(free_.end());
      ::operator delete(last->second, std::align_val_t{kAlignment});
      cached_ -= last->first;
      free_.erase(last);
    }
  }

  std::mutex mutex_;
  std::multimap<std::size_t, void*> free_;  // capacity -> buffer
  std::size_t cached_ = 0;
  std::size_t in_use_ = 0, peak_in_use_ = 0;  // bytes of cache-class buffers held by live tensors
  std::size_t limit_ = std::size_t{1} << 30;
};

}  // namespace detail

// The most bytes of freed tensor buffers kept for reuse (default 1 GiB); 0 turns the cache off.
inline void set_buffer_cache_limit(std::size_t bytes) { detail::BufferCache::instance().set_limit(bytes); }
// Frees every cached buffer (tensors in use are untouched).
inline void release_cached_buffers() { detail::BufferCache::instance().clear(); }
// Bytes currently held by the cache, not in use by any tensor.
inline std::size_t cached_buffer_bytes() { return detail::BufferCache::instance().cached_bytes(); }
// Bytes of tensor buffers of 64 KiB and more (activations, gradients, weights) in use now, and the
// most in use at once since the start or the last reset_peak_buffer_bytes(): what a training step's
// activations really need, next to the process's peak RSS. Zero in AddressSanitizer builds.
inline std::size_t buffer_bytes_in_use() { return detail::BufferCache::instance().in_use_bytes(); }
inline std::size_t peak_buffer_bytes_in_use() { return detail::BufferCache::instance().peak_in_use_bytes(); }
inline void reset_peak_buffer_bytes() { detail::BufferCache::instance().reset_peak(); }

}  // namespace foundry
