#include "co3/kernels/convert.h"
#include "co3/rng.h"

namespace co3::kernels {
namespace {

constexpr int kThreads = 256;

// Grid-stride loops with 64-bit indices: any n, a bounded grid.
__global__ void convert_kernel(const float* __restrict__ x, uint64_t n, float scale,
                               FloatFormat f, Rounding r, uint64_t seed,
                               uint16_t* __restrict__ codes) {
  for (uint64_t i = blockIdx.x * uint64_t{blockDim.x} + threadIdx.x; i < n;
       i += uint64_t{gridDim.x} * blockDim.x) {
    const uint64_t rnd = r == Rounding::stochastic ? random_word(seed, i) : 0;
    codes[i] = static_cast<uint16_t>(encode_float(detail::fdiv(x[i], scale), f, r, rnd));
  }
}

__global__ void decode_kernel(const uint16_t* __restrict__ codes, uint64_t n, float scale,
                              FloatFormat f, float* __restrict__ out) {
  for (uint64_t i = blockIdx.x * uint64_t{blockDim.x} + threadIdx.x; i < n;
       i += uint64_t{gridDim.x} * blockDim.x)
    out[i] = detail::fmul(decode_code(f, codes[i]), scale);
}

unsigned grid_for(uint64_t n) {
  const uint64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 65536 ? (blocks ? blocks : 1) : 65536);
}

}  // namespace

cudaError_t convert_to_codes(const float* x, uint64_t n, float scale, FloatFormat format,
                             Rounding rounding, uint64_t seed, uint16_t* codes,
                             cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  convert_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, n, scale, format, rounding, seed, codes);
  return cudaGetLastError();
}

cudaError_t codes_to_float(const uint16_t* codes, uint64_t n, float scale, FloatFormat format,
                           float* out, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  decode_kernel<<<grid_for(n), kThreads, 0, stream>>>(codes, n, scale, format, out);
  return cudaGetLastError();
}

}  // namespace co3::kernels
