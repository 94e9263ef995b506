// The device conversion gives the host's bits. Skips (visibly) where no CUDA device exists.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "co3/float_format.h"
#include "co3/kernels/convert.h"
#include "co3/rng.h"
#include "gpu_test_size.h"

namespace {

bool have_gpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

#define CUDA_OK(x) ASSERT_EQ((x), cudaSuccess) << #x

TEST(GpuConvert, MatchesHostBitForBit) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device: GPU conversion test not run";
  std::mt19937_64 rng(3);
  // Random bit patterns: every class of input (zeros, subnormals, normals, ±Inf, NaN payloads).
  const uint64_t n = co3::testing::by_size<uint64_t>((1u << 22) + 17, (1u << 16) + 17,
                                                     (1u << 12) + 17);
  std::vector<float> x(n);
  for (auto& v : x) {
    const uint32_t bits = static_cast<uint32_t>(rng());
    std::memcpy(&v, &bits, 4);
  }
  float* dx;
  uint16_t* dc;
  float* dy;
  CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dx), n * 4));
  CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dc), n * 2));
  CUDA_OK(cudaMalloc(reinterpret_cast<void**>(&dy), n * 4));
  CUDA_OK(cudaMemcpy(dx, x.data(), n * 4, cudaMemcpyHostToDevice));
  for (co3::FloatFormat f : {co3::formats::fp4, co3::formats::e5m2, co3::formats::e4m3,
                             co3::formats::fp16, co3::formats::bf16}) {
    for (co3::Rounding r : {co3::Rounding::nearest_even, co3::Rounding::nearest_down,
                            co3::Rounding::stochastic}) {
      const float scale = 0.37f;
      CUDA_OK(co3::kernels::convert_to_codes(dx, n, scale, f, r, 99, dc, nullptr));
      CUDA_OK(co3::kernels::codes_to_float(dc, n, scale, f, dy, nullptr));
      std::vector<uint16_t> codes(n);
      std::vector<float> y(n);
      CUDA_OK(cudaMemcpy(codes.data(), dc, n * 2, cudaMemcpyDeviceToHost));
      CUDA_OK(cudaMemcpy(y.data(), dy, n * 4, cudaMemcpyDeviceToHost));
      size_t bad = 0;
      for (uint64_t i = 0; i < n; ++i) {
        const uint32_t want = co3::encode_float(x[i] / scale, f, r, co3::random_word(99, i));
        const float v = co3::decode_code(f, want) * scale;
        // A NaN matches any NaN (FORMAT.md §7): the GPU's multiplication returns the canonical
        // NaN 0x7fffffff where the CPU's keeps the code's sign and payload.
        const bool both_nan = std::isnan(v) && std::isnan(y[i]);
        bad += codes[i] != want || (std::memcmp(&y[i], &v, 4) != 0 && !both_nan);
      }
      EXPECT_EQ(bad, 0u);
    }
  }
  cudaFree(dx);
  cudaFree(dc);
  cudaFree(dy);
}

}  // namespace
