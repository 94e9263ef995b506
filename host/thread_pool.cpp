#include "thread_pool.h"

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace co3::detail {

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}

void parallel_for(size_t n, int threads, size_t min_per_thread,
                  const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  const size_t by_size = std::max<size_t>(1, n / std::max<size_t>(1, min_per_thread));
  const size_t t = std::min<size_t>(static_cast<size_t>(resolve_threads(threads)), by_size);
  if (t <= 1) {
    fn(0, n);
    return;
  }
  std::exception_ptr first;
  std::mutex mu;
  std::vector<std::thread> pool;
  pool.reserve(t - 1);
  auto run = [&](size_t b, size_t e) {
    try {
      fn(b, e);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!first) first = std::current_exception();
    }
  };
  for (size_t i = 1; i < t; ++i) pool.emplace_back(run, n * i / t, n * (i + 1) / t);
  run(0, n / t);
  for (auto& th : pool) th.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace co3::detail
