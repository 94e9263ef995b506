// The CPU codec's only parallel construct: split [0, n) into contiguous ranges over threads.
#pragma once

#include <cstddef>
#include <functional>

namespace co3::detail {

int resolve_threads(int requested);  // 0 -> hardware concurrency

// Calls fn(begin, end) on up to `threads` threads over contiguous ranges of at least
// `min_per_thread` items; rethrows the first exception a worker threw.
void parallel_for(size_t n, int threads, size_t min_per_thread,
                  const std::function<void(size_t, size_t)>& fn);

}  // namespace co3::detail
