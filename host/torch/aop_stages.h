// The stages of aop_weight_grad on each device, with the same signatures: aop_weight_grad.cpp
// checks the arguments once and dispatches; these trust them (contiguous, float32 rows, float64
// sums and keys, shapes agreed).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "co3/aop.h"

namespace co3::aop_stages {

struct Selection {
  at::Tensor selected;  // int64 [k], best first (aop_before)
  at::Tensor chosen;    // uint8 [D], 1 where selected
};

namespace cpu {
// out = aop_entry(memory or 0, sqrt_lr, x) row by row (out may be memory itself); returns the
// float64 [D] row sums of squares of out, in aop_row_sumsq's order.
at::Tensor prepare(const at::Tensor& x, const at::Tensor& memory, float sqrt_lr,
                   const at::Tensor& out);
// float64 [D]: aop_key of each row's score sumsq_a·sumsq_b.
at::Tensor keys(const at::Tensor& sumsq_a, const at::Tensor& sumsq_b, AopPolicy policy,
                uint64_t seed, uint64_t step);
Selection select(const at::Tensor& keys, int64_t k);
// [k, cols]: the selected rows of src.
at::Tensor gather(const at::Tensor& src, const at::Tensor& selected);
// memory rows: zero where chosen, else × sqrt_decay.
void update_memory(const at::Tensor& memory, const at::Tensor& chosen, float sqrt_decay);
}  // namespace cpu

#if defined(CO3_HAVE_KERNELS)
namespace cuda {  // the same, on the current CUDA stream of the tensors' device
at::Tensor prepare(const at::Tensor& x, const at::Tensor& memory, float sqrt_lr,
                   const at::Tensor& out);
at::Tensor keys(const at::Tensor& sumsq_a, const at::Tensor& sumsq_b, AopPolicy policy,
                uint64_t seed, uint64_t step);
Selection select(const at::Tensor& keys, int64_t k);
at::Tensor gather(const at::Tensor& src, const at::Tensor& selected);
void update_memory(const at::Tensor& memory, const at::Tensor& chosen, float sqrt_decay);
}  // namespace cuda
#endif

}  // namespace co3::aop_stages
