// The golden packets: small encoder inputs made deterministically (or sliced from the real
// gradients in ../shared/data), the configurations that cover every preset format, rounding,
// scale policy, code source, shared codes, error feedback, shapes and the empty tensor, and the
// checked-in packets they must encode to (tests/golden/*.co3). tests/cpu/test_golden.cpp
// compares fresh CPU encodes with the files; tests/gpu/test_gpu_encode.cpp compares the GPU's.
//
// Synthetic data uses integer arithmetic and co3's counter-based generator only (no libm, no
// std distributions), so the inputs are the same bits on every machine.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "../cpu/test_data.h"
#include "co3/codec.h"
#include "co3/dtype.h"
#include "co3/rng.h"

namespace co3::golden {

struct Tensor {
  DType dtype = DType::f32;
  uint64_t numel = 0;
  std::vector<uint8_t> bytes;  // numel values of dtype
  std::optional<std::vector<int64_t>> shape;
  std::optional<GenNormParams> fit;
  std::vector<float> memory;  // initial error memory (empty: no error feedback)
  float gamma = 0;
};

struct Case {
  std::string name;  // the file is tests/golden/<name>.co3
  CodecConfig config;
  std::vector<Tensor> tensors;
  int steps = 1;              // encodes in a row (the error memory carries over); the last is kept
  bool missing_data = false;  // a real-data case whose ../shared/data file is absent
};

// CO3_SOURCE_DIR: the checkout, defined for every test (tests/CMakeLists.txt).
inline std::string golden_dir() {
  return std::string(CO3_SOURCE_DIR) + "/tests/golden";
}

// A heavy-tailed float32 stream: random sign, a geometric exponent below 2^-4 (each halving half
// as likely) and a random mantissa, every ~4099th entry zero.
inline float synthetic_value(uint64_t seed, uint64_t i) {
  const uint64_t u = random_word(seed, i);
  if (u % 4099 == 0) return 0.0f;
  int run = 0;
  while (run < 40 && (u >> (23 + run) & 1)) ++run;
  const uint32_t bits = static_cast<uint32_t>(u >> 63) << 31 |
                        static_cast<uint32_t>(123 - run) << 23 |
                        static_cast<uint32_t>(u & 0x7fffff);
  return detail::bits_f32(bits);
}

inline Tensor make_tensor(const std::vector<float>& v, DType dtype) {
  Tensor t;
  t.dtype = dtype;
  t.numel = v.size();
  t.bytes.resize(v.size() * dtype_size(dtype));
  for (size_t i = 0; i < v.size(); ++i) {
    const uint32_t b = store_bits(v[i], dtype);
    std::memcpy(t.bytes.data() + i * dtype_size(dtype), &b, dtype_size(dtype));
  }
  return t;
}

inline Tensor synthetic(uint64_t n, uint64_t seed, DType dtype = DType::f32) {
  std::vector<float> v(n);
  for (uint64_t i = 0; i < n; ++i) v[i] = synthetic_value(seed, i);
  return make_tensor(v, dtype);
}

// Error feedback for a case: every tensor at decay gamma, its memory starting from synthetic
// values of `seed`, coded for two steps (the second from the memory the first left).
inline void with_feedback(Case* c, float gamma, uint64_t seed) {
  for (Tensor& t : c->tensors) {
    t.gamma = gamma;
    t.memory.resize(t.numel);
    for (uint64_t i = 0; i < t.numel; ++i) t.memory[i] = synthetic_value(seed, i);
  }
  c->steps = 2;
}

inline CodecConfig config(FloatFormat f, Rounding r, ScalePolicy p, CodeSource c) {
  CodecConfig cfg;
  cfg.format = f;
  cfg.rounding = r;
  cfg.seed = 12345;
  cfg.scale.policy = p;
  cfg.code = c;
  cfg.threads = 2;
  return cfg;
}

inline std::vector<Case> cases() {
  using R = Rounding;
  using P = ScalePolicy;
  using C = CodeSource;
  std::vector<Case> out;
  auto add = [&](std::string name, CodecConfig cfg, std::vector<Tensor> ts) {
    out.push_back({std::move(name), cfg, std::move(ts)});
    return &out.back();
  };
  // Every preset format, each rounding, each scale policy and code source at least once.
  add("fp4_nearest_gennorm_hist", config(formats::fp4, R::nearest_even, P::gennorm, C::histogram),
      {synthetic(50000, 1)});
  add("fp4_stochastic_absmax_gennorm", config(formats::fp4, R::stochastic, P::absmax, C::gennorm),
      {synthetic(40001, 2)});
  add("e5m2_down_gennorm_gennorm", config(formats::e5m2, R::nearest_down, P::gennorm, C::gennorm),
      {synthetic(30000, 3)});
  add("e5m2_stochastic_absmax_laplace", config(formats::e5m2, R::stochastic, P::absmax, C::laplace),
      {synthetic(20000, 4)});
  add("e4m3_stochastic_gennorm_normal", config(formats::e4m3, R::stochastic, P::gennorm, C::normal),
      {synthetic(30000, 5)});
  add("e4m3_nearest_none_hist", config(formats::e4m3, R::nearest_even, P::none, C::histogram),
      {synthetic(10000, 6)});
  {
    CodecConfig c = config(formats::fp16, R::nearest_even, P::value, C::laplace);
    c.scale.value = 0.001f;
    add("fp16_nearest_value_laplace", c, {synthetic(12000, 7)});
  }
  add("fp16_down_gennorm_hist", config(formats::fp16, R::nearest_down, P::gennorm, C::histogram),
      {synthetic(12000, 8, DType::f16)});
  add("bf16_stochastic_none_hist", config(formats::bf16, R::stochastic, P::none, C::histogram),
      {synthetic(15000, 9, DType::bf16)});
  add("bf16_nearest_absmax_gennorm", config(formats::bf16, R::nearest_even, P::absmax, C::gennorm),
      {synthetic(9000, 10)});
  // Odd chunking, three entries per symbol, a short length limit.
  {
    CodecConfig c = config(formats::fp4, R::nearest_down, P::gennorm, C::histogram);
    c.chunk_symbols = 100;
    c.entries_per_symbol = 3;
    c.max_code_length = 11;
    add("fp4_g3_chunk100_len11", c, {synthetic(25003, 11)});
  }
  // Mixed dtypes and sizes, an empty tensor among them: one table each, and one shared table.
  auto batch = [] {
    return std::vector<Tensor>{synthetic(3000, 21), synthetic(0, 22, DType::f16),
                               synthetic(17, 23, DType::bf16), synthetic(9001, 24, DType::f16),
                               synthetic(4096, 25, DType::bf16)};
  };
  add("batch_e5m2_hist", config(formats::e5m2, R::nearest_even, P::gennorm, C::histogram), batch());
  {
    CodecConfig c = config(formats::fp4, R::nearest_even, P::gennorm, C::gennorm);
    c.shared_code = true;
    add("batch_fp4_shared_gennorm", c, batch());
    c.code = C::histogram;
    c.format = formats::e4m3;
    add("batch_e4m3_shared_hist", c, batch());
  }
  // Error feedback: two steps with γ = 0.7, the memory starting from synthetic values.
  {
    with_feedback(
        add("fp4_feedback_gamma07", config(formats::fp4, R::nearest_even, P::gennorm, C::histogram),
            {synthetic(20000, 31), synthetic(777, 32, DType::bf16)}),
        0.7f, 33);
  }
  // Version 2: shapes (a matrix, a scalar, a tensor without a shape gets [numel]), a given fit.
  {
    Case* c = add("v2_shapes_e4m3", config(formats::e4m3, R::nearest_even, P::gennorm, C::gennorm),
                  {synthetic(60 * 70, 41), synthetic(1, 42), synthetic(333, 43, DType::f16)});
    c->tensors[0].shape = std::vector<int64_t>{60, 70};
    c->tensors[1].shape = std::vector<int64_t>{};
    c->tensors[2].fit = GenNormParams{0.8, 0.01};
  }
  // Non-finite entries under the clamp policy.
  {
    CodecConfig cfg = config(formats::e5m2, R::nearest_even, P::absmax, C::histogram);
    cfg.non_finite = NonFinitePolicy::clamp;
    std::vector<float> v(5000);
    for (uint64_t i = 0; i < v.size(); ++i) v[i] = synthetic_value(51, i);
    v[7] = detail::bits_f32(0x7fc00000u);
    v[100] = detail::bits_f32(0x7f800000u);
    v[4999] = detail::bits_f32(0xff800000u);
    add("e5m2_clamp_nonfinite", cfg, {make_tensor(v, DType::f32)});
  }
  // The rate scale policy (gennorm_rate.h): fp4 pairs at 1 bit per entry; a ternary format
  // (sign, one exponent bit) four entries a symbol at 0.5 bits, stochastic, over a shared code
  // of a mixed batch with error feedback; a target beyond the format's (the gennorm scale).
  auto rate = [](CodecConfig c, float bits) {
    c.scale = {ScalePolicy::rate, 1.0f, bits};
    return c;
  };
  add("fp4_nearest_rate1_hist", rate(config(formats::fp4, R::nearest_even, P::rate, C::histogram), 1.0f),
      {synthetic(50000, 71)});
  {
    CodecConfig c = rate(config(FloatFormat{1, 0, 1, Layout::finite}, R::stochastic, P::rate,
                                C::gennorm), 0.5f);
    c.entries_per_symbol = 4;
    c.shared_code = true;
    with_feedback(add("batch_ternary_stochastic_rate05_shared", c, batch()), 1.0f, 72);
  }
  add("e4m3_down_rate30_laplace", rate(config(formats::e4m3, R::nearest_down, P::rate, C::laplace), 30.0f),
      {synthetic(20000, 73)});
  // Version 4, zero-block maps (FORMAT.md §6b; the GPU encoder's packets too): the ternary
  // format four a symbol at a quarter of a bit over a shared code with error feedback (blocks
  // of 16), and fp4 pairs at the absmax scale with odd chunks (96 symbols, blocks of 32) and a
  // NaN under 'propagate' (a class map beside the zero-block map).
  {
    CodecConfig c = rate(config(FloatFormat{1, 0, 1, Layout::finite}, R::nearest_even, P::rate,
                                C::histogram), 0.25f);
    c.entries_per_symbol = 4;
    c.shared_code = true;
    c.zero_block = 16;
    with_feedback(add("v4_ternary_rate025_zero16_shared", c, batch()), 1.0f, 74);
  }
  {
    CodecConfig c = config(formats::fp4, R::nearest_even, P::absmax, C::histogram);
    c.chunk_symbols = 96;
    c.zero_block = 32;
    c.non_finite = NonFinitePolicy::propagate;
    // Runs of 50 values between runs of 400 zeros: most blocks of 64 entries are zero.
    std::vector<float> v(30001, 0.0f);
    for (uint64_t i = 0; i < v.size(); ++i)
      if ((i / 50) % 9 == 0) v[i] = synthetic_value(75, i);
    v[5] = detail::bits_f32(0x7fc00000u);
    add("v4_fp4_absmax_zero32_chunk96_nan", c, {make_tensor(v, DType::f32)});
  }
  add("empty", config(formats::fp4, R::nearest_even, P::gennorm, C::histogram), {synthetic(0, 61)});
  // Slices of the real ResNet-18 gradients.
  auto real = [&](const char* name, const char* file, uint64_t offset, uint64_t n,
                  CodecConfig cfg) {
    const std::vector<float> all = testing::real_gradient(file, offset + n);
    Case* c = add(name, cfg, {});
    if (all.size() < offset + n) {
      c->missing_data = true;
      return;
    }
    c->tensors.push_back(
        make_tensor(std::vector<float>(all.begin() + offset, all.end()), DType::f32));
  };
  real("real120_fp4_hist", "resnet18_step120.f32", 1000000, 65536,
       config(formats::fp4, R::nearest_even, P::gennorm, C::histogram));
  real("real0_e5m2_gennorm", "resnet18_step0.f32", 0, 65536,
       config(formats::e5m2, R::stochastic, P::gennorm, C::gennorm));
  real("real120_e5m2_rate2_hist", "resnet18_step120.f32", 2000000, 65536,
       rate(config(formats::e5m2, R::nearest_even, P::rate, C::histogram), 2.0f));
  {
    CodecConfig c = rate(config(FloatFormat{1, 0, 1, Layout::finite}, R::nearest_even, P::rate,
                                C::histogram), 0.25f);
    c.entries_per_symbol = 4;
    c.zero_block = 16;
    real("v4_real120_ternary_rate025_zero16", "resnet18_step120.f32", 3000000, 65536, c);
  }
  return out;
}

// Encodes a case on the CPU (steps in a row, the error memory carried over) and returns the last
// packet; `memory` receives the final error memories.
inline std::vector<uint8_t> encode_cpu(const Case& c,
                                       std::vector<std::vector<float>>* memory = nullptr) {
  std::vector<std::vector<float>> mem;
  for (const Tensor& t : c.tensors) mem.push_back(t.memory);
  std::vector<uint8_t> packet;
  for (int step = 0; step < c.steps; ++step) {
    std::vector<EncodeInput> in;
    for (size_t k = 0; k < c.tensors.size(); ++k) {
      const Tensor& t = c.tensors[k];
      EncodeInput e({t.bytes.data(), t.numel, t.dtype}, mem[k].empty() ? nullptr : mem[k].data(),
                    t.gamma);
      e.shape = t.shape;
      e.fit = t.fit;
      in.push_back(e);
    }
    packet = encode(in, c.config);
  }
  if (memory) *memory = mem;
  return packet;
}

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::vector<uint8_t> v;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return v;
  std::fseek(f, 0, SEEK_END);
  v.resize(static_cast<size_t>(std::ftell(f)));
  std::fseek(f, 0, SEEK_SET);
  if (std::fread(v.data(), 1, v.size(), f) != v.size()) v.clear();
  std::fclose(f);
  return v;
}

inline bool write_file(const std::string& path, const std::vector<uint8_t>& v) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(v.data(), 1, v.size(), f) == v.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace co3::golden
