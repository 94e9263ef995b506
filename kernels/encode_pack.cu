// Pass 3's packing: every chunk's codewords into its payload words, its chunk table entry, and
// the zero padding after a segment's chunk table and payload.
#include <cub/block/block_scan.cuh>

#include "encode_stages.h"

namespace co3::kernels::enc {
namespace {

// One block per chunk (grid-stride). Thread k packs the contiguous symbols pack_lane(k) at the
// block's exclusive scan of their bits (pack_lane_words). Words two threads share are combined
// by atomicOr into a zeroed buffer: shared memory when the chunk fits (copied out whole after a
// barrier), else the chunk's own payload words, zeroed by this block first. Blocks own disjoint
// words, chunk table entries and padding, so no two blocks write one byte.
template <bool kShared>
__global__ void __launch_bounds__(kThreads) pack_kernel(EncodeParams p, uint8_t* packet) {
  using Scan = cub::BlockScan<unsigned long long, kThreads>;
  __shared__ typename Scan::TempStorage tmp;
  extern __shared__ uint32_t smem_words[];  // p.pack_shared_words when kShared
  for (uint64_t k = blockIdx.x; k < p.total_chunks; k += gridDim.x) {
    const ChunkRange c = chunk_range(p, k);
    const PackLane lane = pack_lane(c, threadIdx.x, kThreads);
    unsigned long long offset;
    Scan(tmp).ExclusiveSum(static_cast<unsigned long long>(pack_lane_bits(p, c, lane)), offset);
    const uint64_t words = p.chunk_words[k];
    uint32_t* const out = chunk_out(p, packet, c, k);
    uint32_t* const buf = kShared ? smem_words : out;
    for (uint64_t w = threadIdx.x; w < words; w += kThreads) buf[w] = 0;
    __syncthreads();
    pack_lane_words(p, c, lane, offset, [&](uint64_t w, uint32_t v) { atomicOr(&buf[w], v); });
    __syncthreads();
    if (kShared) {
      for (uint64_t w = threadIdx.x; w < words; w += kThreads) out[w] = buf[w];
    }
    if (threadIdx.x == 0) finish_chunk(p, packet, c, k);
    __syncthreads();  // tmp and smem_words are reused by the next chunk
  }
}

}  // namespace

cudaError_t launch_pack(const EncodeParams& p, uint8_t* packet, cudaStream_t stream) {
  if (!p.total_chunks) return cudaGetLastError();
  if (p.pack_shared_words) {
    pack_kernel<true>
        <<<grid_for(p.total_chunks), kThreads, p.pack_shared_words * sizeof(uint32_t), stream>>>(
            p, packet);
  } else {
    pack_kernel<false><<<grid_for(p.total_chunks), kThreads, 0, stream>>>(p, packet);
  }
  return cudaGetLastError();
}

}  // namespace co3::kernels::enc
