// The opt-in exhaustive tests' loop: a count of mismatches over all 2^32 float32 bit patterns,
// spread over the machine's threads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

#include "co3/detail/hd.h"

namespace co3::testing {

// Σ mismatches(x) over every float x (mismatches returns how many checks x failed).
template <class Mismatches>
uint64_t mismatches_over_all_floats(Mismatches mismatches) {
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<uint64_t> bad(threads, 0);
  std::vector<std::thread> pool;
  for (unsigned k = 0; k < threads; ++k)
    pool.emplace_back([&, k] {
      for (uint64_t b = k; b < (uint64_t{1} << 32); b += threads)
        bad[k] += mismatches(co3::detail::bits_f32(static_cast<uint32_t>(b)));
    });
  for (auto& th : pool) th.join();
  uint64_t total = 0;
  for (uint64_t b : bad) total += b;
  return total;
}

}  // namespace co3::testing
