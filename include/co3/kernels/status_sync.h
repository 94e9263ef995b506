// Reading a device status word back: the one call of the device pipelines that synchronizes.
#pragma once

#include <cuda_runtime_api.h>

#include "co3/kernels/status.h"

namespace co3::kernels {

// Waits for `stream`, copies *d_status to the host and raises it (status.h). A CUDA error on the
// stream throws Error(io) naming it.
void raise_status_sync(const DeviceStatus* d_status, cudaStream_t stream);

}  // namespace co3::kernels
