// The GPU decoder's stage after the payload (docs/FORMAT.md §6a): the entries a version-3
// segment's class map marks become ±Inf or NaN, stored (or added) over the payload's value.
// Nothing to do for segments without a map; nothing at all once a stage reported a fault.
#include "decode_stages.h"

namespace co3::kernels::decode_detail {
namespace {

// One block per output (grid-stride), a map word (16 entries) a thread at a time.
__global__ void __launch_bounds__(256)
    class_map_kernel(const PacketJob* jobs, const OutputJob* outputs, uint32_t num_outputs,
                     Workspace ws, const DeviceStatus* status) {
  if (failed(status)) return;
  for (uint32_t o = blockIdx.x; o < num_outputs; o += gridDim.x) {
    const uint64_t words = class_map_word_count(ws.segments[o]);
    for (uint64_t w = threadIdx.x; w < words; w += blockDim.x)
      class_map_word_stage(jobs, outputs, ws, o, w);
  }
}

}  // namespace

cudaError_t launch_class_maps(const DecodePlan& plan, const PacketJob* jobs,
                              const OutputJob* outputs, const Workspace& ws,
                              const DeviceStatus* status, int sms, cudaStream_t stream) {
  const uint64_t outs = plan.num_outputs(), most = uint64_t(sms) * 8;
  if (!outs) return cudaGetLastError();
  const unsigned grid = static_cast<unsigned>(outs < most ? outs : most);
  class_map_kernel<<<grid, 256, 0, stream>>>(jobs, outputs, static_cast<uint32_t>(outs), ws,
                                             status);
  return cudaGetLastError();
}

}  // namespace co3::kernels::decode_detail
