// core/threading.hpp: one thread count for the whole library. Eigen's GEMM and foundry's own
// OpenMP loops both honour set_num_threads(); a loop that is already inside a parallel region
// runs serially, so the two pools never oversubscribe the cores.
#pragma once

#include <algorithm>
#include <thread>

#include <Eigen/Core>

#include "foundry/core/error.hpp"
#include "foundry/core/shape.hpp"

#if defined(FOUNDRY_HAS_OPENMP) || defined(_OPENMP)
#include <omp.h>
#define FOUNDRY_OMP 1
#endif

namespace foundry {

namespace detail {
inline int& thread_count() {
  static int n = [] {
#ifdef FOUNDRY_OMP
    return std::max(1, omp_get_max_threads());
#else
    return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
#endif
  }();
  return n;
}
}  // namespace detail

// Sets the number of threads foundry uses (default: the hardware threads, or OMP_NUM_THREADS).
inline void set_num_threads(int n) {
  if (n < 1) detail::fail<ValueError>("set_num_threads: need at least 1 thread, got ", n);
  detail::thread_count() = n;
#ifdef FOUNDRY_OMP
  omp_set_num_threads(n);
#endif
  Eigen::setNbThreads(n);
}

inline int get_num_threads() { return detail::thread_count(); }

namespace detail {

inline bool in_parallel_region() {
#ifdef FOUNDRY_OMP
  return omp_in_parallel() != 0;
#else
  return false;
#endif
}

// Calls fn(begin, end) over [0, n) split into contiguous chunks, one per thread, when the work is
// large enough to pay for the fork (n >= 2 * grain); serially otherwise or when already nested.
template <class F>
void parallel_for(Index n, Index grain, F&& fn) {
  if (n <= 0) return;
  const int threads = get_num_threads();
  if (threads <= 1 || n < 2 * grain || in_parallel_region()) {
    fn(Index{0}, n);
    return;
  }
#ifdef FOUNDRY_OMP
  const Index chunks = std::min<Index>(threads, (n + grain - 1) / grain);
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static)
  for (Index c = 0; c < chunks; ++c) {
    const Index begin = n * c / chunks, end = n * (c + 1) / chunks;
    fn(begin, end);
  }
#else
  fn(Index{0}, n);
#endif
}

}  // namespace detail
}  // namespace foundry
