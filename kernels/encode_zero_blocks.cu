// Zero-block maps (docs/FORMAT.md §6b), with the host's functions (zero_blocks.h): after pass 2
// every segment's map into the workspace, then each segment's choice to take it, which fixes up
// its table's histogram (only coded symbols are counted) before the code is built; after the
// layout, the maps taken copied into the packet. Nothing runs without zero_block.
#include <cub/block/block_reduce.cuh>

#include "encode_stages.h"

namespace co3::kernels::enc {
namespace {

// One thread per byte of the maps' workspace (grid-stride): bytes are independent.
__global__ void __launch_bounds__(kThreads) zero_map_kernel(EncodeParams p) {
  const uint64_t stride = uint64_t{gridDim.x} * kThreads;
  for (uint64_t i = uint64_t{blockIdx.x} * kThreads + threadIdx.x; i < p.total_map_bytes;
       i += stride)
    zero_map_stage_byte(p, i);
}

// One block per segment (grid-stride): the block's sum of zero_lane_coded, then thread 0's
// choice and its histogram change, added atomically (a shared table's segments are other
// blocks; integers, so the order of the adds is free). A given code has no histogram.
__global__ void __launch_bounds__(kThreads) zero_choice_kernel(EncodeParams p) {
  using Reduce = cub::BlockReduce<unsigned long long, kThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  for (uint32_t s = blockIdx.x; s < p.num_segments; s += gridDim.x) {
    const unsigned long long coded = Reduce(tmp).Sum(
        static_cast<unsigned long long>(zero_lane_coded(p, s, threadIdx.x, kThreads)));
    if (threadIdx.x == 0) {
      const unsigned long long gain = choose_zero_map(p, s, coded);
      if (gain && !p.given_code) atomicAdd(&hist_row(p, p.jobs[s].table)[0], gain);
    }
    __syncthreads();  // tmp is reused by the next segment
  }
}

// One thread per byte of the maps' workspace (grid-stride), after the layout.
__global__ void __launch_bounds__(kThreads) zero_copy_kernel(EncodeParams p, uint8_t* packet) {
  const uint64_t stride = uint64_t{gridDim.x} * kThreads;
  for (uint64_t i = uint64_t{blockIdx.x} * kThreads + threadIdx.x; i < p.total_map_bytes;
       i += stride)
    store_zero_map_byte(p, packet, i);
}

unsigned byte_grid(const EncodeParams& p) {
  return grid_for((p.total_map_bytes + kThreads - 1) / kThreads);
}

}  // namespace

cudaError_t launch_zero_blocks(const EncodeParams& p, cudaStream_t stream) {
  if (p.total_map_bytes) zero_map_kernel<<<byte_grid(p), kThreads, 0, stream>>>(p);
  // Every segment's choice is written, an empty one's too (it takes none): the later stages read it.
  if (p.num_segments) zero_choice_kernel<<<grid_for(p.num_segments), kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t launch_zero_maps(const EncodeParams& p, uint8_t* packet, cudaStream_t stream) {
  if (p.total_map_bytes) zero_copy_kernel<<<byte_grid(p), kThreads, 0, stream>>>(p, packet);
  return cudaGetLastError();
}

}  // namespace co3::kernels::enc
