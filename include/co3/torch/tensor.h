// The seam between at::Tensor and co3's raw views: dtypes, views, names in error messages.
// Part of the LibTorch API (co3_torch); the CPU codec and kernels never include it.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "co3/codec.h"

namespace co3 {

// co3's dtype for a tensor's scalar type; float32, float16 and bfloat16 are accepted, anything
// else throws Error(invalid_argument) naming `what` (e.g. "tensor 3 ('fc.weight')").
DType dtype_of(const at::Tensor& t, const std::string& what);
at::ScalarType scalar_type_of(DType d);

// A view of a contiguous CPU tensor (checked: defined, contiguous, on the CPU, dtype accepted).
TensorView cpu_view(const at::Tensor& t, const std::string& what);

// "tensor i" or "tensor i ('name')" for error messages.
std::string tensor_label(size_t index, const std::string& name = {});

}  // namespace co3
