// Device status words turned into co3::Error, with the CPU codec's messages.
#include <stdexcept>
#include <string>

#include "co3/detail/encode_checks.h"
#include "co3/error.h"
#include "co3/kernels/status.h"

namespace co3::kernels {

void raise_status(const DeviceStatus& s) {
  switch (static_cast<Status>(s.code)) {
    case Status::ok: return;
    case Status::non_finite:
      fail(Errc::non_finite, detail::non_finite_message(s.segment, s.detail));
    case Status::code_too_many_symbols:
      fail(Errc::invalid_argument,
           detail::too_many_symbols_message(s.detail & 0xffffffffu,
                                            static_cast<int>(s.detail >> 32 & 0xff)));
    case Status::code_weights_too_large:
      fail(Errc::invalid_argument, detail::weights_too_large_message());
  }
  fail(Errc::invalid_argument, "device status: unknown code " + std::to_string(s.code));
}

void raise_status_sync(const DeviceStatus* d_status, cudaStream_t stream) {
  DeviceStatus s{};
  cudaError_t e = cudaStreamSynchronize(stream);
  if (e == cudaSuccess) e = cudaMemcpy(&s, d_status, sizeof s, cudaMemcpyDeviceToHost);
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("co3: CUDA error: ") + cudaGetErrorString(e));
  raise_status(s);
}

}  // namespace co3::kernels
