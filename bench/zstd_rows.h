// libzstd on the bench's input, as reference rows beside co3 (issue 13): a general-purpose
// lossless compressor in the same process on the same float32 bytes. Built without libzstd,
// zstd_row returns false and the bench says the rows are absent.
#pragma once

#include <cstddef>
#include <vector>

#include "bench_timing.h"

namespace co3::bench {

struct ZstdResult {
  Timing encode, decode;
  size_t bytes = 0;  // the compressed frame
};

// Compresses and decompresses x at `level` with `threads` (0: all cores) compression workers
// (decompression is single-threaded in libzstd), median of `repeats`; checks the round trip.
bool zstd_row(const std::vector<float>& x, int level, int repeats, int threads, ZstdResult* out);

}  // namespace co3::bench
