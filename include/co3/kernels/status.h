// What a device pipeline reports back without a host synchronization: a status word in device
// memory, written by the kernels, turned into the co3::Error the CPU codec would throw by the
// functions here.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace co3::kernels {

// Every code a device stage can report, in one place. `segment` and `detail` say more. The
// encoder's codes start at 1000, clear of the decoder's §9 list (branch gpu-dec), which the
// two branches' merge puts here too.
enum class Status : uint32_t {
  ok = 0,
  // Encoder. segment: the first tensor (in batch order) with NaN/Inf under the 'error' policy;
  // detail: how many of its entries are not finite. The CPU codec throws Errc::non_finite.
  non_finite = 1000,
  // Encoder. segment: the code table; detail: symbols with a nonzero count (low 32 bits) and the
  // length limit (bits 32–39): more symbols occur than codes of that length can tell apart.
  code_too_many_symbols = 1001,
  // Encoder. segment: the code table; Σ weight·length reaches 2^64 − 1.
  code_weights_too_large = 1002,
};

struct DeviceStatus {
  uint32_t code;  // a Status, 0 = ok
  uint32_t segment;
  uint64_t detail;
};

// Throws the co3::Error that the CPU codec throws for the same input when status.code is not ok.
void raise_status(const DeviceStatus& status);

// Waits for `stream`, copies *d_status to the host and calls raise_status: the only function of
// the device pipelines that synchronizes. A CUDA error on the stream throws std::runtime_error
// naming it.
void raise_status_sync(const DeviceStatus* d_status, cudaStream_t stream);

}  // namespace co3::kernels
