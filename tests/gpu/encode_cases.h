// Encoder cases that the CPU emulation (test_gpu_encode_emulated.cpp) and the device
// (test_gpu_encode.cpp) both run, each against the CPU codec's packet and error memory: paths a
// golden packet does not reach. One definition here, so that the two tests cannot drift apart.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
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

// ---- Zero-block maps (FORMAT.md §6b) ----

// n entries, entry i synthetic_value(seed, i) where keep(i), else exactly 0 (a zero symbol: +0).
template <class Keep>
std::vector<float> sparse_values(uint64_t n, uint64_t seed, Keep keep) {
  std::vector<float> v(n, 0.0f);
  for (uint64_t i = 0; i < n; ++i)
    if (keep(i)) v[i] = golden::synthetic_value(seed, i);
  return v;
}
template <class Keep>
golden::Tensor sparse_tensor(uint64_t n, uint64_t seed, DType dtype, Keep keep) {
  return golden::make_tensor(sparse_values(n, seed, keep), dtype);
}

// A zero-block case and what the CPU encoder decides for it: each segment's descriptor zero_block
// (b when it takes its map, else 0), and whether some chunk codes no block (0 words).
struct ZeroBlockCase {
  golden::Case c;
  std::vector<uint8_t> taken;
  bool empty_chunk = false;
};

// `format` under `rounding` and the scale `policy`, a histogram code, g entries a symbol (0:
// automatic), chunks of chunk_symbols, blocks of zero_block symbols.
inline ZeroBlockCase zero_block_case(const char* name, FloatFormat format, Rounding rounding,
                                     ScalePolicy policy, int g, uint32_t chunk_symbols,
                                     int zero_block, std::vector<golden::Tensor> tensors,
                                     std::vector<uint8_t> taken, bool empty_chunk) {
  ZeroBlockCase z;
  z.c.name = name;
  z.c.config = golden::config(format, rounding, policy, CodeSource::histogram);
  z.c.config.entries_per_symbol = g;
  z.c.config.chunk_symbols = chunk_symbols;
  z.c.config.zero_block = zero_block;
  z.c.tensors = std::move(tensors);
  z.taken = std::move(taken);
  z.empty_chunk = empty_chunk;
  return z;
}

// Zero-block cases of about n entries a tensor (n ≥ 4096): blocks of 2 and 64, a chunk with no
// coded block, every block coded, everything left out, a map not taken because it does not
// save, batches mixing segments that take a map with others (empty, dense, all zero; with and
// without a shared code, histogram and model codes; error feedback over two steps), fp4 pairs
// with class maps beside the maps ('propagate').
inline std::vector<ZeroBlockCase> zero_block_cases(uint64_t n) {
  using R = Rounding;
  using P = ScalePolicy;
  std::vector<ZeroBlockCase> out;
  // Nonzero entries 9 in 40 and the last 3: most blocks of 2 fp4 pairs (4 entries) are zero,
  // every chunk codes some.
  out.push_back(zero_block_case(
      "zero_blocks_of_2_fp4_pairs", formats::fp4, R::nearest_even, P::absmax, 2, 256, 2,
      {sparse_tensor(n + 3, 201, DType::f32, [n](uint64_t i) { return i % 40 < 9 || i >= n; })},
      {1}, false));
  // The same pairs in blocks of 2 in chunks of 4096 pairs, nonzero entries 4 in 12: a packing
  // lane's symbols (a chunk over the kernel's threads: 8 or more) hold several runs of coded
  // blocks, each packed where the last one's codewords ended.
  out.push_back(zero_block_case(
      "zero_blocks_of_2_several_runs_a_lane", formats::fp4, R::nearest_even, P::absmax, 2, 4096, 2,
      {sparse_tensor(n, 210, DType::f32, [](uint64_t i) { return i % 12 < 4; })}, {1}, false));
  // Blocks of 64 in chunks of 128: only the first and last eighth hold nonzero entries, so the
  // chunks between code no block; an odd size leaves a short last block.
  const uint64_t m = 2 * n + 1;
  out.push_back(zero_block_case(
      "zero_blocks_of_64_empty_chunks", formats::e4m3, R::stochastic, P::gennorm, 0, 128, 64,
      {sparse_tensor(m, 202, DType::bf16, [m](uint64_t i) { return i < m / 8 || i >= m - m / 8; })},
      {6}, true));
  // Every block coded: entries of at least half the largest at the absmax scale code no 0, so
  // the map cannot save and is not taken (a version-1 packet).
  std::vector<float> v(n);
  for (uint64_t i = 0; i < n; ++i) {
    const float x = golden::synthetic_value(203, i);
    v[i] = (i % 2 ? -1.0f : 1.0f) * (1.0f + std::fabs(x) / (1.0f + std::fabs(x)));
  }
  out.push_back(zero_block_case("zero_blocks_every_block_coded", formats::fp4, R::nearest_even,
                                P::absmax, 1, 4096, 4, {golden::make_tensor(v, DType::f32)}, {0},
                                false));
  // Blocks of 2 symbols, 3 zero blocks in 10: 6 symbols left out per 10 map bits, not taken.
  for (uint64_t i = 0; i < n; ++i) v[i] = i % 20 < 6 ? 0.0f : (i % 3 ? 1.5f : -1.25f);
  out.push_back(zero_block_case("zero_blocks_map_does_not_save", formats::fp4, R::nearest_even,
                                P::absmax, 1, 4096, 2, {golden::make_tensor(v, DType::f32)}, {0},
                                false));
  // All zero: every block left out (0 payload words; the code has symbol 0 alone).
  out.push_back(zero_block_case(
      "zero_blocks_everything_left_out", formats::e5m2, R::nearest_even, P::gennorm, 0, 4096, 16,
      {sparse_tensor(n, 204, DType::f16, [](uint64_t) { return false; })}, {4}, true));
  // Mixed batches: sparse with error feedback (taken), dense (not taken), empty, all zero
  // (taken, everything left out), sparse bf16 (taken); one code each or one shared, histogram
  // and model codes.
  for (bool shared : {false, true}) {
    for (CodeSource code : {CodeSource::histogram, CodeSource::gennorm}) {
      ZeroBlockCase z = zero_block_case(
          "zero_blocks_mixed_batch", formats::fp4, R::stochastic, P::gennorm, 0, 512, 8,
          {sparse_tensor(n, 205, DType::f32, [](uint64_t i) { return i % 64 < 5; }),
           golden::synthetic(n / 2 + 7, 206, DType::f16), golden::synthetic(0, 207),
           sparse_tensor(n / 3, 208, DType::f32, [](uint64_t) { return false; }),
           sparse_tensor(n + 100, 209, DType::bf16, [](uint64_t i) { return (i / 700) % 5 == 0; })},
          {3, 0, 0, 3, 3}, true);
      z.c.name += std::string(shared ? "_shared_" : "_") + to_string(code);
      z.c.config.shared_code = shared;
      z.c.config.code = code;
      z.c.tensors[0].gamma = 0.7f;
      z.c.tensors[0].memory.assign(z.c.tensors[0].numel, 0.0f);  // zeros stay zero
      z.c.steps = 2;
      out.push_back(z);
    }
  }
  // fp4 pairs in blocks of 2 under 'propagate': class maps (NaN, -Inf) beside zero-block maps;
  // runs of 30 nonzero entries 420 apart leave chunks of 96 pairs (192 entries) between them.
  const auto keep = [](uint64_t i) { return (i / 30) % 14 == 0; };
  std::vector<float> a = sparse_values(n, 210, keep), b = sparse_values(n / 2 + 1, 211, keep);
  a[5] = NAN;
  b[7] = -INFINITY;
  ZeroBlockCase z = zero_block_case(
      "zero_blocks_fp4_pairs_class_maps", formats::fp4, R::nearest_even, P::absmax, 2, 96, 2,
      {golden::make_tensor(a, DType::f32), golden::make_tensor(b, DType::f16),
       sparse_tensor(n / 4, 212, DType::f32, keep)},
      {1, 1, 1}, true);
  z.c.config.non_finite = NonFinitePolicy::propagate;
  out.push_back(z);
  return out;
}

}  // namespace co3::testing
