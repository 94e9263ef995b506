// What every GPU bench case shares: CUDA error checks, event timing (warm-up, then the median
// of repeated runs) and the result row a case returns. A case is a function
//
//   BenchResult run_<stage>(const GpuInput& in, cudaStream_t stream, const TimingOptions& t);
//
// that sets up its buffers, times its work with time_on_stream and fills in what the GB/s and
// the transfer model need (bench/bench_gpu.cpp lists them).
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace co3::bench {

inline void cuda_check(cudaError_t e, const char* what, const char* file, int line) {
  if (e != cudaSuccess) {
    throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what + ": " +
                             cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
  }
}
#define CO3_CUDA_CHECK(expr) ::co3::bench::cuda_check((expr), #expr, __FILE__, __LINE__)

struct TimingOptions {
  int warmup = 3;    // untimed runs first: module load, first-touch and clocks stay out
  int repeats = 25;  // timed runs; the median is reported
};

struct Timing {
  double median_ms = 0;
  double min_ms = 0;
  double max_ms = 0;
  int runs = 0;
};

// Times `enqueue(run)` with CUDA events on `stream`: `warmup` untimed calls, then `repeats`
// timed ones, each alone between two events and finished before the next starts. `run` counts
// 0, 1, ... over warm-up and timed calls alike, so that a case can rotate among copies of its
// input and keep repeated runs from finding it in the L2 cache. `enqueue` only enqueues work
// on `stream` (no synchronization); a launch error or a failure of the work throws.
inline Timing time_on_stream(cudaStream_t stream, const TimingOptions& opt,
                             const std::function<void(int run)>& enqueue) {
  cudaEvent_t start, stop;
  CO3_CUDA_CHECK(cudaEventCreate(&start));
  CO3_CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<double> ms;
  try {
    int run = 0;
    for (int w = 0; w < opt.warmup; ++w) enqueue(run++);
    CO3_CUDA_CHECK(cudaGetLastError());
    CO3_CUDA_CHECK(cudaStreamSynchronize(stream));
    for (int r = 0; r < opt.repeats; ++r) {
      CO3_CUDA_CHECK(cudaEventRecord(start, stream));
      enqueue(run++);
      CO3_CUDA_CHECK(cudaGetLastError());
      CO3_CUDA_CHECK(cudaEventRecord(stop, stream));
      CO3_CUDA_CHECK(cudaEventSynchronize(stop));
      float t = 0;
      CO3_CUDA_CHECK(cudaEventElapsedTime(&t, start, stop));
      ms.push_back(t);
    }
  } catch (...) {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    throw;
  }
  CO3_CUDA_CHECK(cudaEventDestroy(start));
  CO3_CUDA_CHECK(cudaEventDestroy(stop));
  Timing t;
  t.runs = static_cast<int>(ms.size());
  if (ms.empty()) return t;
  std::sort(ms.begin(), ms.end());
  // The middle run; for an even count the mean of the two middle runs.
  const size_t h = ms.size() / 2;
  t.median_ms = ms.size() % 2 ? ms[h] : 0.5 * (ms[h - 1] + ms[h]);
  t.min_ms = ms.front();
  t.max_ms = ms.back();
  return t;
}

// One row of the bench: a stage on an input, timed.
struct BenchResult {
  std::string stage;          // "copy d2d", "copy h2d pinned", ..., "encode", "decode"
  std::string input;          // the input's name ("16M", "resnet50")
  std::string format;         // codec rows: format and code source ("fp4 histogram"); else ""
  uint64_t entries = 0;       // float32 entries of the uncompressed gradient
  uint64_t tensors = 1;       // how many tensors they form
  double counted_bytes = 0;   // the bytes that GB/s counts (the stage says which)
  uint64_t packet_bytes = 0;  // codec rows: the packet's size; 0 for copies
  double entropy_bits = 0;    // encode rows: entropy of the quantized entries, bits per entry
  Timing timing;

  double gb_per_s() const {
    return timing.median_ms > 0 ? counted_bytes / (timing.median_ms * 1e-3) / 1e9 : 0;
  }
};

}  // namespace co3::bench
