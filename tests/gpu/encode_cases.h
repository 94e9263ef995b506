// Encoder cases that the CPU emulation (test_gpu_encode_emulated.cpp) and the device
// (test_gpu_encode.cpp) both run, each against the CPU codec's packet and error memory: paths a
// golden packet does not reach. One definition here, so that the two tests cannot drift apart.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "../golden/golden_cases.h"

namespace co3::testing {

// Chunks of 65,536 bf16 symbols (20-bit codewords at most): beyond the pack kernel's shared
// buffer, so that it packs with global atomicOr (pack_kernel<false>).
inline golden::Case chunks_too_large_for_shared_memory() {
  golden::Case c;
  c.name = "chunks_too_large_for_shared_memory";
  c.config = golden::config(formats::bf16, Rounding::nearest_even, ScalePolicy::absmax,
                            CodeSource::histogram);
  c.config.chunk_symbols = 65536;
  c.tensors = {golden::synthetic(70000, 5), golden::synthetic(3, 6, DType::f16)};
  return c;
}

// bf16 under a deterministic rounding converts by code_shift.h in the kernels: NaN, ±Inf,
// overflowing u (the clamp policy codes them) and subnormals, with error memory, two steps.
inline golden::Case bf16_rounded_bits_under_clamp(Rounding r) {
  golden::Case c;
  c.name = "bf16_rounded_bits_under_clamp";
  c.config = golden::config(formats::bf16, r, ScalePolicy::gennorm, CodeSource::histogram);
  c.config.non_finite = NonFinitePolicy::clamp;
  std::vector<float> v(6000);
  for (uint64_t i = 0; i < v.size(); ++i) v[i] = golden::synthetic_value(77, i);
  v[3] = NAN, v[40] = INFINITY, v[41] = -INFINITY, v[500] = 3e38f, v[501] = -3e38f;
  v[900] = 1e-40f, v[901] = -1e-42f;
  c.tensors = {golden::make_tensor(v, DType::f32)};
  c.tensors[0].gamma = 0.7f;
  c.tensors[0].memory.assign(v.size(), 1e-5f);
  c.steps = 2;
  return c;
}

// A batch with no tensors; one of only empty tensors (one with shape {0, 5}); the same with a
// shared code.
inline std::vector<golden::Case> no_tensors_and_only_empty_ones() {
  golden::Case c;
  c.name = "no_tensors";
  c.config = golden::config(formats::e5m2, Rounding::nearest_even, ScalePolicy::gennorm,
                            CodeSource::gennorm);
  std::vector<golden::Case> cases = {c};
  c.name = "only_empty_tensors";
  c.tensors = {golden::synthetic(0, 1), golden::synthetic(0, 2, DType::bf16)};
  c.tensors[1].shape = std::vector<int64_t>{0, 5};
  cases.push_back(c);
  c.name = "only_empty_tensors_shared_code";
  c.config.shared_code = true;
  cases.push_back(c);
  return cases;
}

// A histogram code that may fail (max code length 7, 256 symbols) with error memory: the
// encoder defers writing the memory until the code exists (the deferred memory pass), and here
// the code succeeds, so the deferred pass writes it.
inline golden::Case deferred_memory_when_the_code_may_fail() {
  golden::Case c;
  c.name = "deferred_memory";
  c.config = golden::config(formats::e5m2, Rounding::stochastic, ScalePolicy::absmax,
                            CodeSource::histogram);
  c.config.max_code_length = 7;  // 128 codes for 256 symbols: enough for these tensors
  c.tensors = {golden::synthetic(20000, 83), golden::synthetic(777, 84)};
  for (golden::Tensor& t : c.tensors) {
    t.gamma = 0.7f;
    t.memory.resize(t.numel);
    for (uint64_t i = 0; i < t.numel; ++i) t.memory[i] = golden::synthetic_value(85, i);
  }
  c.steps = 2;
  return c;
}

}  // namespace co3::testing
