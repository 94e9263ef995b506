// AopLinear: a drop-in for torch::nn::Linear whose backward computes the weight gradient by
// Mem-AOP-GD (co3/torch/aop.h); the input gradient and the bias gradient stay exact.
//
// The optimizer. The method's weight step is ΔW = Σ_{i∈S} b_i a_iᵀ with η already inside a_i and
// b_i, so backward writes weight.grad = ΔW/η: torch::optim::SGD(lr = η), without momentum or
// weight decay, then applies exactly the published step. Any other optimizer treats ΔW/η as a
// gradient estimate. Keep options.lr equal to the optimizer's learning rate.
//
// The memory (options.memory) holds one row per sample slot, mA [D, in] and mB [D, out], as
// registered buffers on the layer's device (so .to(), state_dict and clone carry them). It is
// sized by the first training batch; a batch of another size is refused with an error naming
// both sizes (drop the last partial batch, or call reset_memory() to start over). Without memory
// any batch of at least K rows is accepted.
//
// Only training forwards with autograd on take the approximate path, and each advances the
// step that keys the random draws; eval() or a no-grad forward is a plain linear map.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "co3/torch/aop.h"

namespace co3 {

struct AopLinearOptions {
  AopLinearOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, out_features);
  TORCH_ARG(bool, bias) = true;
  TORCH_ARG(int64_t, k) = 1;                       // rows of the batch kept, 1 ≤ k ≤ D
  TORCH_ARG(AopPolicy, policy) = AopPolicy::topk;  // topk, weighted, random
  TORCH_ARG(bool, memory) = true;                  // keep the left-out products
  TORCH_ARG(double, alpha) = 1.0;                  // memory decay α in [0, 1]
  TORCH_ARG(double, lr) = 0.01;                    // η, the optimizer's learning rate
  TORCH_ARG(uint64_t, seed) = 0;                   // the random policies' draws
  TORCH_ARG(bool, rescale) = false;                // co3's D/K option (co3/torch/aop.h)
};

class AopLinearImpl : public torch::nn::Cloneable<AopLinearImpl> {
 public:
  AopLinearImpl(int64_t in_features, int64_t out_features)
      : AopLinearImpl(AopLinearOptions(in_features, out_features)) {}
  explicit AopLinearImpl(const AopLinearOptions& options);

  // Parameters as torch::nn::Linear initializes them (Kaiming-uniform weight, uniform bias).
  void reset() override;
  void reset_parameters();
  // Empties the memory; the next training batch sizes it afresh.
  void reset_memory();

  // input [..., in] → [..., out]; in training the leading dimensions are the D rows.
  at::Tensor forward(const at::Tensor& input);

  uint64_t step() const { return step_; }
  const AopLinearOptions& options() const { return options_; }

  at::Tensor weight;
  at::Tensor bias;   // undefined when options.bias() is false
  at::Tensor mem_a;  // [D, in] once sized, [0, in] before (memory on)
  at::Tensor mem_b;  // [D, out]

 private:
  AopLinearOptions options_;
  uint64_t step_ = 0;
};

TORCH_MODULE(AopLinear);

}  // namespace co3
