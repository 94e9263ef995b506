// The device path of the LibTorch API: CUDA tensors coded by co3's kernels on the current stream
// of their device, with scratch from ATen's caching allocator. Internal to host/torch; every
// function requires CO3_HAVE_KERNELS (cuda_path::available()).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

#include "co3/codec.h"
#include "co3/error.h"

namespace co3::cuda_path {

// Whether this build has the kernels (else CUDA tensors go through the host codec).
bool available();

// One packet for contiguous CUDA tensors on one device; inputs[i].grad/.memory are their device
// pointers. No synchronization: the packet tensor is co3::max_packet_bytes() long, its header's
// total_bytes says where the packet ends, and an encoder failure (NaN/Inf under the 'error'
// policy) turns the buffer into a failure record that packet_size(), decode and inspect raise as
// the CPU codec's co3::Error.
at::Tensor encode(const std::vector<EncodeInput>& inputs, const CodecConfig& config, c10::Device device);

// The same into a caller's CUDA buffer (1-D uint8, contiguous, on the inputs' device) of at least
// co3::max_packet_bytes(inputs, config) bytes: no allocation for the packet, no synchronization.
void encode_into(const std::vector<EncodeInput>& inputs, const CodecConfig& config, const at::Tensor& buffer);

// Decodes a CUDA packet into CUDA outputs (any floating dtype, strides; contiguous ones of
// float32/float16/bfloat16 directly, others through a staging copy), out = value or, with
// `accumulate`, out += value. No synchronization; a corrupt packet leaves the outputs
// unspecified and is reported by the next check_status_sync() of the returned status tensor.
at::Tensor decode_into(const at::Tensor& packet, const std::vector<at::Tensor>& outputs, bool accumulate);

// Throws the co3::Error held by a status tensor (decode_into's result): synchronizes its stream.
void check_status_sync(const at::Tensor& status);

// The first of several status tensors (on one device) that holds an error, as its index, or -1
// when none does; `error` receives that error. One copy to the host: synchronizes once.
int64_t first_failed_status_sync(const std::vector<at::Tensor>& statuses, std::optional<Error>* error);

}  // namespace co3::cuda_path
