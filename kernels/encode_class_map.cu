// Pass 3 under the 'propagate' policy: the class map of every segment that holds NaN or Inf
// (docs/FORMAT.md §6a), written after the layout has placed it. Nothing to do without maps.
#include "encode_stages.h"

namespace co3::kernels::enc {
namespace {

// One block per entry tile (grid-stride), one map word (16 entries) a thread at a time; a
// tile of a segment without a map returns at once.
__global__ void __launch_bounds__(kThreads) class_map_kernel(EncodeParams p, uint8_t* packet) {
  for (uint64_t t = blockIdx.x; t < p.total_tiles; t += gridDim.x) {
    const MapWords m = class_map_tile(p, t);
    for (uint64_t w = m.begin + threadIdx.x; w < m.end; w += kThreads)
      store_class_map_word(p, packet, m.segment, w);
  }
}

}  // namespace

cudaError_t launch_class_maps(const EncodeParams& p, uint8_t* packet, cudaStream_t stream) {
  if (p.pc.propagate && p.total_tiles)
    class_map_kernel<<<grid_for(p.total_tiles), kThreads, 0, stream>>>(p, packet);
  return cudaGetLastError();
}

}  // namespace co3::kernels::enc
