// The device path of the LibTorch API: CUDA tensors coded by co3's kernels on the current stream
// of their device, with scratch from ATen's caching allocator. Internal to host/torch; every
// function requires CO3_HAVE_KERNELS (cuda_path::available()).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

#include "co3/codec.h"

namespace co3::cuda_path {

// Whether this build has the kernels (else CUDA tensors go through the host codec).
bool available();

// One packet for contiguous CUDA tensors on one device; inputs[i].grad/.memory are their device
// pointers. No synchronization: the packet tensor is max_packet_bytes() long, its header's
// total_bytes says where the packet ends, and an encoder failure (NaN/Inf under the 'error'
// policy) turns the buffer into a failure record that packet_size(), decode and inspect raise as
// the CPU codec's co3::Error.
at::Tensor encode(const std::vector<EncodeInput>& inputs, const CodecConfig& config, c10::Device device);

// Decodes a CUDA packet into CUDA outputs (any floating dtype, strides; contiguous ones of
// float32/float16/bfloat16 directly, others through a staging copy), out = value or, with
// `accumulate`, out += value. No synchronization; a corrupt packet leaves the outputs
// unspecified and is reported by the next check_status_sync() of the returned status tensor.
at::Tensor decode_into(const at::Tensor& packet, const std::vector<at::Tensor>& outputs, bool accumulate);

// Throws the co3::Error held by a status tensor (decode_into's result): synchronizes its stream.
void check_status_sync(const at::Tensor& status);

// If the first bytes of a (host copy of a) packet are a failure record, throws its co3::Error.
void raise_if_failure_record(const uint8_t* head, size_t size);

}  // namespace co3::cuda_path
