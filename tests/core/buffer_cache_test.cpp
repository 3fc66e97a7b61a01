// tests/core/buffer_cache_test.cpp mirrors include/foundry/core/buffer_cache.hpp
#include <cstdint>

#include "support/testing.hpp"

namespace foundry {
namespace {

using detail::BufferCache;

TEST(BufferCache, SizeClassesRoundUpByAtMostAnEighth) {
  std::size_t previous = 0;
  for (std::size_t bytes = BufferCache::kMinBytes; bytes < (std::size_t{1} << 32); bytes = bytes * 9 / 8 + 13) {
    const std::size_t c = BufferCache::size_class(bytes);
    EXPECT_GE(c, bytes);
    EXPECT_LE(c, bytes + bytes / 8);
    EXPECT_GE(c, previous);  // monotone
    EXPECT_EQ(c % kAlignment, 0u);
    EXPECT_EQ(BufferCache::size_class(c), c);  // a class is its own class
    previous = c;
  }
}

TEST(BufferCache, FreedLargeBufferIsReusedBySameSizeClass) {
  if (!detail::kBufferCacheEnabled) GTEST_SKIP() << "AddressSanitizer build: the cache is bypassed";
  release_cached_buffers();
  const float* first = nullptr;
  {
    auto t = Tensor<float>::empty({1000, 100});  // 400 kB
    first = t.data();
  }
  EXPECT_GE(cached_buffer_bytes(), std::size_t{400000});
  auto u = Tensor<float>::empty({1001, 100});  // same size class
  EXPECT_EQ(u.data(), first);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(u.data()) % kAlignment, 0u);
  u = Tensor<float>();
  auto v = Tensor<float>::empty({600, 100});  // 240 kB: the 400 kB buffer is at most twice as large
  EXPECT_EQ(v.data(), first);
  auto w = Tensor<float>::empty({100, 100});  // 40 kB: below the cache's minimum, never from it
  EXPECT_NE(w.data(), first);
  release_cached_buffers();
  EXPECT_EQ(cached_buffer_bytes(), 0u);
}

TEST(BufferCache, LimitAndReleaseBoundWhatIsKept) {
  if (!detail::kBufferCacheEnabled) GTEST_SKIP() << "AddressSanitizer build: the cache is bypassed";
  { auto t = Tensor<double>::zeros({300, 300}); }
  EXPECT_GT(cached_buffer_bytes(), 0u);
  release_cached_buffers();
  EXPECT_EQ(cached_buffer_bytes(), 0u);
  set_buffer_cache_limit(0);  // no cache: freed buffers go straight back
  { auto t = Tensor<double>::zeros({300, 300}); }
  EXPECT_EQ(cached_buffer_bytes(), 0u);
  set_buffer_cache_limit(std::size_t{1} << 30);
  { auto t = Tensor<double>::zeros({300, 300}); }
  EXPECT_GT(cached_buffer_bytes(), 0u);
}

TEST(BufferCache, CountsBytesInUseAndTheirPeak) {
  if (!detail::kBufferCacheEnabled) GTEST_SKIP() << "AddressSanitizer build: the cache is bypassed";
  release_cached_buffers();  // every buffer below is new, of exactly its size class (a cached one may be larger)
  const std::size_t base = buffer_bytes_in_use();
  reset_peak_buffer_bytes();
  EXPECT_EQ(peak_buffer_bytes_in_use(), base);
  {
    auto a = Tensor<float>::empty({1 << 18});  // 1 MiB, exactly a size class
    EXPECT_EQ(buffer_bytes_in_use(), base + (std::size_t{1} << 20));
    auto b = Tensor<float>::empty({1 << 17});
    EXPECT_EQ(buffer_bytes_in_use(), base + (std::size_t{3} << 19));
  }
  EXPECT_EQ(buffer_bytes_in_use(), base);
  EXPECT_EQ(peak_buffer_bytes_in_use(), base + (std::size_t{3} << 19));
  { auto c = Tensor<float>::empty({1 << 18}); }  // from the cache: counted again while held
  EXPECT_EQ(buffer_bytes_in_use(), base);
  EXPECT_EQ(peak_buffer_bytes_in_use(), base + (std::size_t{3} << 19));
  reset_peak_buffer_bytes();
  EXPECT_EQ(peak_buffer_bytes_in_use(), base);
}

}  // namespace
}  // namespace foundry
