// Pass 1 of the encoder: u = g + γe, the moments of every tile in moments.h's lane order, then
// per segment the pairwise fold of its tiles, the GenNorm fit, the scale and the non-finite
// check. Nothing is written but workspace: the error memory changes only in pass 2.
#include "encode_stages.h"

namespace co3::kernels::enc {
namespace {

// One block per tile (grid-stride), thread l = lane l (tile_lane). Invariant: the shared-memory
// tree merges lane l + h into lane l for h = 128, …, 1 with a barrier per level, exactly
// tile_moments()'s halving fold, so tile_moments[t] has the CPU's bits.
__global__ void __launch_bounds__(kThreads) tile_moments_kernel(EncodeParams p) {
  // Raw storage: Moments has default member initializers, which __shared__ variables cannot.
  __shared__ alignas(Moments) unsigned char lane_bytes[kThreads * sizeof(Moments)];
  Moments* const lanes = reinterpret_cast<Moments*>(lane_bytes);
  for (uint64_t t = blockIdx.x; t < p.total_tiles; t += gridDim.x) {
    lanes[threadIdx.x] = tile_lane(p, t, threadIdx.x);
    __syncthreads();
    for (int h = kThreads / 2; h >= 1; h /= 2) {
      if (threadIdx.x < h) lanes[threadIdx.x].merge(lanes[threadIdx.x + h]);
      __syncthreads();
    }
    if (threadIdx.x == 0) p.tile_moments[t] = lanes[0];
    __syncthreads();  // lanes is reused by the next tile
  }
}

// One block per segment (grid-stride). Invariant: each level of fold_pairwise is computed item
// by item (fold_level_item) from one buffer into the other with a barrier between levels, so
// the merges and their order are fold_pairwise's; thread 0 then fits and scales (finish_segment).
__global__ void __launch_bounds__(kThreads) segment_stats_kernel(EncodeParams p) {
  for (uint32_t s = blockIdx.x; s < p.num_segments; s += gridDim.x) {
    uint64_t n = p.jobs[s].num_tiles;
    uint32_t levels = 0;
    Moments *from, *to;
    for (; n > 1; n = detail::fold_level_size(n), ++levels) {
      fold_buffers(p, s, levels, &from, &to);
      for (uint64_t i = threadIdx.x; i < detail::fold_level_size(n); i += kThreads)
        detail::fold_level_item(from, to, n, i);
      __syncthreads();
    }
    fold_buffers(p, s, levels, &from, &to);
    if (threadIdx.x == 0) finish_segment(p, s, n ? from[0] : Moments{});
    __syncthreads();  // the next segment's fold must not overtake thread 0's read of from[0]
  }
}

// One block: the first refused segment in batch order (an atomicMin over the segments).
__global__ void __launch_bounds__(kThreads) first_bad_kernel(EncodeParams p, DeviceStatus* status) {
  __shared__ uint32_t first;
  if (threadIdx.x == 0) first = p.num_segments;
  __syncthreads();
  for (uint32_t s = threadIdx.x; s < p.num_segments; s += kThreads)
    if (refuses(p, s)) atomicMin(&first, s);
  __syncthreads();
  if (threadIdx.x == 0) report_first_bad(p, first, status);
}

}  // namespace

cudaError_t launch_moments(const EncodeParams& p, DeviceStatus* status, cudaStream_t stream) {
  if (p.total_tiles) tile_moments_kernel<<<grid_for(p.total_tiles), kThreads, 0, stream>>>(p);
  if (p.num_segments) segment_stats_kernel<<<grid_for(p.num_segments), kThreads, 0, stream>>>(p);
  first_bad_kernel<<<1, kThreads, 0, stream>>>(p, status);
  return cudaGetLastError();
}

}  // namespace co3::kernels::enc
