#include "co3/kernels/status_sync.h"

#include <string>

#include "co3/error.h"

namespace co3::kernels {

void raise_status_sync(const DeviceStatus* d_status, cudaStream_t stream) {
  DeviceStatus s{};
  cudaError_t e = cudaMemcpyAsync(&s, d_status, sizeof s, cudaMemcpyDeviceToHost, stream);
  if (e == cudaSuccess) e = cudaStreamSynchronize(stream);
  if (e != cudaSuccess) fail(Errc::io, std::string("CUDA error: ") + cudaGetErrorString(e));
  raise_status(s);
}

}  // namespace co3::kernels
