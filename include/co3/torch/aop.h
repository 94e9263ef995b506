// Mem-AOP-GD over at::Tensor: the approximate weight gradient of a linear layer from K of the D
// per-sample outer products, with an optional memory of the products left out (co3_torch).
// docs/AOP.md describes the algorithm and where co3 departs from the authors' code.
//
// CPU and CUDA tensors are accepted (CUDA where co3 was built with its kernels); both select the
// same rows from the same inputs (co3/aop.h). Inputs are float32 and contiguous; a bad argument
// throws co3::Error(invalid_argument) naming it.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "co3/aop.h"

namespace co3 {

// "topk", "weighted", "random" (and back); anything else throws naming the value.
AopPolicy parse_aop_policy(const std::string& name);
const char* aop_policy_name(AopPolicy policy);

struct AopConfig {
  int64_t k = 1;                       // rows kept, 1 ≤ k ≤ D
  AopPolicy policy = AopPolicy::topk;  // how they are chosen
  double lr = 0.01;    // η: a_i and b_i carry √η, so the memory mixes steps right
  double alpha = 1.0;  // memory decay: left-out rows carry over as √α·a_i, √α·b_i
  uint64_t seed = 0;   // the random policies' draws: a function of (seed, step, row)
  // co3's option, off in the authors' method: multiply the estimate by D/K. Unbiased for the
  // random policy without memory; for the others it only restores the scale of the full sum.
  bool rescale = false;
};

struct AopResult {
  at::Tensor grad_weight;  // float32 [out, in]: ΔW/η with ΔW = Σ_{i∈S} b_i a_iᵀ (× D/K if rescale)
  at::Tensor selected;  // int64 [k]: the rows S, in the order aop_before (best first)
};

// The selection alone: the k first rows of `scores` (float64 [D], p_i ≥ 0, unnormalized) under
// `policy` with the draws of (seed, step). Returns int64 [k] on scores' device, best first.
at::Tensor aop_select(const at::Tensor& scores, int64_t k, AopPolicy policy, uint64_t seed,
                      uint64_t step);

// One step for x float32 [D, in] (the layer's input rows) and delta float32 [D, out] (the output
// gradient rows). With memory (mem_a [D, in], mem_b [D, out], both defined) a_i = mA_i + √η·x_i
// and b_i = mB_i + √η·δ_i, and the memory is updated in place: √α·a_i for the rows left out,
// zero for the selected ones. Without memory (both undefined) a_i = √η·x_i, b_i = √η·δ_i.
// `step` keys the random draws; callers count it.
AopResult aop_weight_grad(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& mem_a,
                          const at::Tensor& mem_b, const AopConfig& config, uint64_t step);

}  // namespace co3
