// How large a GPU test's cases are, read once from the environment (tests/gpu/README.md):
//   full   (nothing set)           a GPU's sizes: millions of entries, many waves of blocks;
//   small  CO3_GPU_TEST_SMALL=1    scripts/gpu_check.sh's compute-sanitizer and ncu runs: a few
//                                  blocks' worth per case (2^16 to 2^18 entries);
//   sim    CO3_GPU_TEST_SIM=1      scripts/gpu_sim_check.sh, the simulated GPU (GPGPU-Sim runs
//                                  about 1.7 million thread-instructions a second): 2^12 to 2^14
//                                  entries per case.
// Every level still covers every path: partial last tiles and chunks, empty segments, every
// dtype and format. Cases that need a size (many waves, > 2^31 entries) skip below full.
#pragma once

#include <cstdlib>

namespace co3::testing {

enum class GpuTestSize { full, small, sim };

inline GpuTestSize gpu_test_size() {
  static const GpuTestSize size = std::getenv("CO3_GPU_TEST_SIM")     ? GpuTestSize::sim
                                  : std::getenv("CO3_GPU_TEST_SMALL") ? GpuTestSize::small
                                                                      : GpuTestSize::full;
  return size;
}

// The value for this run's level.
template <class T>
T by_size(T full, T small, T sim) {
  switch (gpu_test_size()) {
    case GpuTestSize::small: return small;
    case GpuTestSize::sim: return sim;
    default: return full;
  }
}

}  // namespace co3::testing
