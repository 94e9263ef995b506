// The seam between at::Tensor and co3's raw views: dtypes, views, names in error messages.
// Part of the LibTorch API (co3_torch); the CPU codec and kernels never include it.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "co3/codec.h"
#include "co3/error.h"

namespace co3 {

// co3's dtype for a tensor's scalar type; float32, float16 and bfloat16 are accepted, anything
// else throws Error(invalid_argument) naming `what` (e.g. "tensor 3 ('fc.weight')").
DType dtype_of(const at::Tensor& t, const std::string& what);
at::ScalarType scalar_type_of(DType d);

// A view of a contiguous CPU tensor (checked: defined, contiguous, on the CPU, dtype accepted).
TensorView cpu_view(const at::Tensor& t, const std::string& what);

// "tensor i" or "tensor i ('name')" for error messages.
std::string tensor_label(size_t index, const std::string& name = {});

// A packet's bytes as a 1-D uint8 tensor on `device` (copied there from the host).
at::Tensor packet_tensor(const std::vector<uint8_t>& bytes, c10::Device device);

// Rethrows a CPU-codec error "tensor i: …" as "tensor i ('names[i]'): …" (same code).
[[noreturn]] void rethrow_named(const Error& e, const std::vector<std::string>& names);

// The tensor itself when it is a contiguous CPU tensor, else a contiguous host copy (for a CUDA
// tensor the copy synchronizes its stream).
at::Tensor host_contiguous(const at::Tensor& t);

// Whether every entry of `t` is finite, as a 0-d bool tensor on t's device (no host read): from
// its smallest and largest entries (aminmax propagates NaN), one pass with no temporary of t's
// size, where at::isfinite(t).all() makes several (0.75 against 11 ms on 3.3M float32 entries,
// one CPU thread). True for an empty tensor.
at::Tensor all_finite(const at::Tensor& t);

}  // namespace co3
