// How a batched kernel finds its segment: grids run over global indices (tiles, symbol tiles,
// chunks) of all segments at once, and each segment owns a contiguous range of them starting at
// a prefix sum. Host+device so that the CPU tests check it.
#pragma once

#include <cstdint>

#include "co3/detail/hd.h"

namespace co3::detail {

// The last segment s in [0, n) with key(s) ≤ idx, for keys sorted ascending with key(0) = 0 (the
// first index of each segment). Empty segments share the next segment's key and are never
// chosen for an index that segment holds: ties resolve to the last of them.
template <class Key>
CO3_HD uint32_t find_segment(uint32_t n, uint64_t idx, Key key) {
  uint32_t lo = 0, hi = n;  // invariant: key(lo) ≤ idx, the answer is below hi
  while (hi - lo > 1) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (key(mid) <= idx) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

}  // namespace co3::detail
