// The small-model case of issue 13: a LeNet-5's ten tensors (61,706 entries), whose fixed
// per-tensor costs the benchmarks weigh against their entries' streaming cost.
#pragma once

#include <cstddef>
#include <vector>

#include "co3/codec.h"

namespace co3::bench {

inline constexpr size_t kLeNetSizes[] = {150, 6, 2400, 16, 48000, 120, 10080, 84, 840, 10};

// The ten tensors cut one after another from x (which holds at least their 61,706 entries).
inline std::vector<EncodeInput> lenet_inputs(const float* x) {
  std::vector<EncodeInput> in;
  size_t at = 0;
  for (size_t n : kLeNetSizes) {
    EncodeInput e;
    e.grad = {x + at, n, DType::f32};
    at += n;
    in.push_back(e);
  }
  return in;
}

inline size_t lenet_entries() {
  size_t n = 0;
  for (size_t s : kLeNetSizes) n += s;
  return n;
}

}  // namespace co3::bench
