// Mem-AOP-GD on the device: the per-row stages around the selected GEMM (which cuBLAS runs,
// through ATen, on the gathered rows). The math is co3/aop.h's, so the CPU path selects the same
// rows; the row reduction below is aop_row_sumsq's order spread over one block.
#include "co3/kernels/aop.h"

namespace co3::kernels {
namespace {

constexpr int kThreads = 256;
static_assert(kThreads == kAopReduceLanes, "one thread per lane of the fixed-order reduction");

unsigned grid_for(uint64_t n) {
  const uint64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 65536 ? (blocks ? blocks : 1) : 65536);
}

unsigned row_grid(uint64_t rows) {
  return static_cast<unsigned>(rows < 65535 ? rows : 65535);
}

// One block per row (grid-stride over rows): lane t walks the row with stride kThreads, then the
// lanes fold pairwise in shared memory, exactly as aop_row_sumsq does on the host.
__global__ void prepare_kernel(const float* __restrict__ x, const float* memory, float sqrt_lr,
                               uint64_t rows, uint64_t cols, float* out,
                               double* __restrict__ sumsq) {
  __shared__ double lane[kThreads];
  const unsigned t = threadIdx.x;
  for (uint64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const uint64_t base = r * cols;
    double acc = 0.0;
    for (uint64_t j = t; j < cols; j += kThreads) {
      const float v = aop_entry(memory ? memory[base + j] : 0.0f, sqrt_lr, x[base + j]);
      out[base + j] = v;
      const double d = static_cast<double>(v);
      acc = detail::dadd(acc, detail::dmul(d, d));
    }
    lane[t] = acc;
    __syncthreads();
    for (unsigned half = kThreads / 2; half > 0; half /= 2) {
      if (t < half) lane[t] = detail::dadd(lane[t], lane[t + half]);
      __syncthreads();
    }
    if (t == 0) sumsq[r] = lane[0];
    __syncthreads();  // lane[] is reused by the next row
  }
}

__global__ void keys_kernel(const double* __restrict__ sumsq_a, const double* __restrict__ sumsq_b,
                            uint64_t rows, AopPolicy policy, uint64_t seed, uint64_t step,
                            double* __restrict__ keys) {
  for (uint64_t r = blockIdx.x * uint64_t{blockDim.x} + threadIdx.x; r < rows;
       r += uint64_t{gridDim.x} * blockDim.x)
    keys[r] = aop_key(policy, detail::dmul(sumsq_a[r], sumsq_b[r]), seed, step, r);
}

// A row's rank is the number of rows before it in the total order aop_before; ranks are
// distinct, so the rows of rank < k are the selection and the rank is the output slot. Keys are
// streamed through shared memory in tiles; every thread of a block helps load each tile, so all
// of them stay in the loop even past the last row.
__global__ void select_kernel(const double* __restrict__ keys, uint64_t rows, uint64_t k,
                              int64_t* __restrict__ selected, uint8_t* __restrict__ chosen) {
  __shared__ double tile[kThreads];
  const uint64_t i = blockIdx.x * uint64_t{blockDim.x} + threadIdx.x;
  const double key_i = i < rows ? keys[i] : 0.0;
  uint64_t rank = 0;
  for (uint64_t start = 0; start < rows; start += kThreads) {
    const uint64_t j = start + threadIdx.x;
    tile[threadIdx.x] = j < rows ? keys[j] : 0.0;
    __syncthreads();
    const uint64_t n = rows - start < kThreads ? rows - start : kThreads;
    if (i < rows)
      for (uint64_t q = 0; q < n; ++q) rank += aop_before(tile[q], start + q, key_i, i) ? 1 : 0;
    __syncthreads();
  }
  if (i < rows) {
    chosen[i] = rank < k ? 1 : 0;
    if (rank < k) selected[rank] = static_cast<int64_t>(i);
  }
}

__global__ void gather_kernel(const float* __restrict__ src, uint64_t cols,
                              const int64_t* __restrict__ selected, uint64_t k,
                              float* __restrict__ dst) {
  const uint64_t n = k * cols;
  for (uint64_t e = blockIdx.x * uint64_t{blockDim.x} + threadIdx.x; e < n;
       e += uint64_t{gridDim.x} * blockDim.x) {
    const uint64_t i = e / cols;
    dst[e] = src[static_cast<uint64_t>(selected[i]) * cols + (e - i * cols)];
  }
}

__global__ void update_kernel(float* __restrict__ memory, uint64_t rows, uint64_t cols,
                              const uint8_t* __restrict__ chosen, float sqrt_decay) {
  const uint64_t n = rows * cols;
  for (uint64_t e = blockIdx.x * uint64_t{blockDim.x} + threadIdx.x; e < n;
       e += uint64_t{gridDim.x} * blockDim.x)
    memory[e] = chosen[e / cols] ? 0.0f : detail::fmul(sqrt_decay, memory[e]);
}

}  // namespace

cudaError_t aop_prepare(const float* x, const float* memory, float sqrt_lr, uint64_t rows,
                        uint64_t cols, float* out, double* sumsq, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  prepare_kernel<<<row_grid(rows), kThreads, 0, stream>>>(x, memory, sqrt_lr, rows, cols, out,
                                                          sumsq);
  return cudaGetLastError();
}

cudaError_t aop_keys(const double* sumsq_a, const double* sumsq_b, uint64_t rows, AopPolicy policy,
                     uint64_t seed, uint64_t step, double* keys, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  keys_kernel<<<grid_for(rows), kThreads, 0, stream>>>(sumsq_a, sumsq_b, rows, policy, seed, step,
                                                       keys);
  return cudaGetLastError();
}

cudaError_t aop_select(const double* keys, uint64_t rows, uint64_t k, int64_t* selected,
                       uint8_t* chosen, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  if (k == 0 || k > rows) return cudaErrorInvalidValue;
  // Every row needs its own thread (no grid-stride: a thread's rank covers one row).
  const uint64_t blocks = (rows + kThreads - 1) / kThreads;
  if (blocks > 0x7fffffffull) return cudaErrorInvalidValue;
  select_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(keys, rows, k, selected,
                                                                        chosen);
  return cudaGetLastError();
}

cudaError_t aop_gather(const float* src, uint64_t cols, const int64_t* selected, uint64_t k,
                       float* dst, cudaStream_t stream) {
  if (k == 0 || cols == 0) return cudaSuccess;
  gather_kernel<<<grid_for(k * cols), kThreads, 0, stream>>>(src, cols, selected, k, dst);
  return cudaGetLastError();
}

cudaError_t aop_update_memory(float* memory, uint64_t rows, uint64_t cols, const uint8_t* chosen,
                              float sqrt_decay, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return cudaSuccess;
  update_kernel<<<grid_for(rows * cols), kThreads, 0, stream>>>(memory, rows, cols, chosen,
                                                                sqrt_decay);
  return cudaGetLastError();
}

}  // namespace co3::kernels
