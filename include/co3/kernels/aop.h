// Device stages of Mem-AOP-GD (co3/aop.h has the math): prepare the rows and their norms, key
// them, select the K first, gather the selected rows, update the memory. All pointers are device
// memory, matrices are row-major and contiguous, every launcher runs on `stream`, allocates
// nothing and returns the launch status (no sync).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "co3/aop.h"

namespace co3::kernels {

// out[r, :] = aop_entry(memory[r, :] or 0, sqrt_lr, x[r, :]) and sumsq[r] = aop_row_sumsq(out[r,
// :]) for r < rows. `memory` may be null (no memory) or equal to `out` (updated in place).
cudaError_t aop_prepare(const float* x, const float* memory, float sqrt_lr, uint64_t rows,
                        uint64_t cols, float* out, double* sumsq, cudaStream_t stream);

// keys[r] = aop_key(policy, sumsq_a[r]·sumsq_b[r], seed, step, r).
cudaError_t aop_keys(const double* sumsq_a, const double* sumsq_b, uint64_t rows, AopPolicy policy,
                     uint64_t seed, uint64_t step, double* keys, cudaStream_t stream);

// The k first rows in the order aop_before: selected[rank] = row for rank < k (best first), and
// chosen[r] = 1 if row r is selected, else 0. Needs 1 ≤ k ≤ rows; O(rows²) comparisons through
// shared memory, which for the batch sizes of a layer (≤ 64K rows) costs far less than the GEMM.
cudaError_t aop_select(const double* keys, uint64_t rows, uint64_t k, int64_t* selected,
                       uint8_t* chosen, cudaStream_t stream);

// dst[i, :] = src[selected[i], :] for i < k.
cudaError_t aop_gather(const float* src, uint64_t cols, const int64_t* selected, uint64_t k,
                       float* dst, cudaStream_t stream);

// memory[r, :] = chosen[r] ? 0 : sqrt_decay·memory[r, :] (the rows left out carry over, decayed).
cudaError_t aop_update_memory(float* memory, uint64_t rows, uint64_t cols, const uint8_t* chosen,
                              float sqrt_decay, cudaStream_t stream);

}  // namespace co3::kernels
