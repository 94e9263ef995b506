#include "device.h"

#include "co3/error.h"

#if defined(CO3_HAVE_CUDA)
#include <cuda_runtime_api.h>

#include "co3/kernels/encode.h"
#endif

namespace co3::cli {

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::cpu;
  if (s == "cuda") return Device::cuda;
  fail(Errc::invalid_argument, "--device '" + s + "': expected cpu or cuda");
}

void require_device(Device d) {
  if (d == Device::cpu) return;
#if defined(CO3_HAVE_CUDA)
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    // No driver, no device, CUDA_VISIBLE_DEVICES="": all mean no usable device here.
    fail(Errc::invalid_argument, std::string("--device cuda: no CUDA device available (") +
                                     cudaGetErrorName(status) + ": " +
                                     cudaGetErrorString(status) + ")");
  }
  if (count == 0) fail(Errc::invalid_argument, "--device cuda: no CUDA device available");
#else
  fail(Errc::invalid_argument, "--device cuda: this build has no CUDA support");
#endif
}

std::vector<uint8_t> encode_on_device(const TensorView& t, const CodecConfig& config) {
#if defined(CO3_HAVE_CUDA)
  const uint64_t bytes = t.numel * dtype_size(t.dtype);
  void* d = nullptr;
  const auto cuda = [](cudaError_t e, const char* what) {
    if (e != cudaSuccess)
      fail(Errc::io, std::string("--device cuda: ") + what + ": " + cudaGetErrorString(e));
  };
  cuda(cudaMalloc(&d, bytes ? bytes : 1), "cudaMalloc");
  try {
    cuda(cudaMemcpy(d, t.data, bytes, cudaMemcpyHostToDevice), "copy to the device");
    std::vector<uint8_t> packet = kernels::encode_sync({EncodeInput(TensorView{d, t.numel, t.dtype})}, config);
    cudaFree(d);
    return packet;
  } catch (...) {
    cudaFree(d);
    throw;
  }
#else
  (void)t;
  (void)config;
  fail(Errc::invalid_argument, "--device cuda: this build has no CUDA support");
#endif
}

}  // namespace co3::cli
