// Pass 3's bookkeeping: the bits of every chunk, their word offsets (a one-block scan), and the
// packet's layout: every offset computed as host/codec/encode_plan.cpp computes it (LayoutCursor), then the
// header, descriptors, shape records and code tables written, and the packet's size stored.
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include "encode_stages.h"

namespace co3::kernels::enc {
namespace {

// One block per chunk (grid-stride): the block's sum of chunk_lane_bits is the chunk's bits.
__global__ void __launch_bounds__(kThreads) chunk_bits_kernel(EncodeParams p) {
  using Reduce = cub::BlockReduce<unsigned long long, kThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  for (uint64_t k = blockIdx.x; k < p.total_chunks; k += gridDim.x) {
    const unsigned long long bits = chunk_lane_bits(p, chunk_range(p, k), threadIdx.x, kThreads);
    const unsigned long long total = Reduce(tmp).Sum(bits);
    if (threadIdx.x == 0) p.chunk_words[k] = detail::chunk_words_for(total);
    __syncthreads();  // tmp is reused by the next chunk
  }
}

// One block: contiguous runs per thread (scan_run_sum), a block exclusive scan of the run sums,
// each run's prefixes written from its base (scan_run_write). One chunk per ≥ 32 symbols keeps
// the runs short.
__global__ void __launch_bounds__(kThreads) chunk_scan_kernel(EncodeParams p) {
  using Scan = cub::BlockScan<unsigned long long, kThreads>;
  __shared__ typename Scan::TempStorage tmp;
  unsigned long long base;
  Scan(tmp).ExclusiveSum(static_cast<unsigned long long>(scan_run_sum(p, threadIdx.x, kThreads)),
                         base);
  scan_run_write(p, threadIdx.x, kThreads, base);
}

// One block: thread 0 computes every offset (layout_offsets), then the threads write the
// descriptors and shape records (one segment each) and the tables (their bytes strided):
// every byte before the first chunk table, padding included.
__global__ void __launch_bounds__(kThreads)
    layout_kernel(EncodeParams p, uint8_t* packet, uint64_t* packet_bytes, DeviceStatus* status) {
  if (threadIdx.x == 0) layout_offsets(p, packet, packet_bytes, status);
  __syncthreads();
  for (uint32_t s = threadIdx.x; s < p.num_segments; s += kThreads) layout_segment(p, packet, s);
  for (uint32_t t = 0; t < p.num_tables; ++t) layout_table(p, packet, t, threadIdx.x, kThreads);
}

}  // namespace

cudaError_t launch_chunk_bits(const EncodeParams& p, cudaStream_t stream) {
  if (p.total_chunks) chunk_bits_kernel<<<grid_for(p.total_chunks), kThreads, 0, stream>>>(p);
  chunk_scan_kernel<<<1, kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t launch_layout(const EncodeParams& p, uint8_t* packet, uint64_t* packet_bytes,
                          DeviceStatus* status, cudaStream_t stream) {
  layout_kernel<<<1, kThreads, 0, stream>>>(p, packet, packet_bytes, status);
  return cudaGetLastError();
}

}  // namespace co3::kernels::enc
