// The packet's CRC32C (FORMAT.md §8) over bytes [0, size − 4), size read from the device scalar:
// pieces checksummed in parallel, joined with crc32c_combine_hd (exact in any tree order), stored
// in the last 4 bytes.
#include "encode_stages.h"

namespace co3::kernels::enc {
namespace {

// Joins parts[0 … kThreads) into parts[0]: at step h, part i (a multiple of 2h) absorbs its right
// neighbour i + h, one barrier per step.
__device__ void join_block(CrcPart* parts) {
  for (int h = 1; h < kThreads; h *= 2) {
    __syncthreads();
    if (threadIdx.x % (2 * h) == 0)
      parts[threadIdx.x] = crc_join(parts[threadIdx.x], parts[threadIdx.x + h]);
  }
  __syncthreads();
}

// Thread k of block b checksums piece b·256 + k (crc_piece); the block joins its 256 pieces.
__global__ void __launch_bounds__(kThreads)
    crc_pieces_kernel(EncodeParams p, const uint8_t* packet, const uint64_t* packet_bytes) {
  __shared__ uint32_t table[256];
  __shared__ CrcPart parts[kThreads];
  table[threadIdx.x] = detail::crc32c_table_entry(threadIdx.x);
  __syncthreads();
  const uint64_t size = *packet_bytes - detail::kCrcBytes;
  for (uint64_t b = blockIdx.x; b < p.crc_blocks; b += gridDim.x) {
    parts[threadIdx.x] = crc_piece(table, packet, size, b * kThreads + threadIdx.x);
    join_block(parts);
    if (threadIdx.x == 0) {
      p.crc_block_crc[b] = parts[0].crc;
      p.crc_block_bytes[b] = parts[0].bytes;
    }
  }
}

// One block: thread k joins blocks [k·per, (k+1)·per) in order, the block joins the threads,
// thread 0 stores the CRC little-endian after the covered bytes.
__global__ void __launch_bounds__(kThreads)
    crc_final_kernel(EncodeParams p, uint8_t* packet, const uint64_t* packet_bytes) {
  __shared__ CrcPart parts[kThreads];
  const uint64_t per = (p.crc_blocks + kThreads - 1) / kThreads;
  CrcPart acc{0u, 0};
  for (uint64_t b = threadIdx.x * per; b < (threadIdx.x + 1) * per && b < p.crc_blocks; ++b)
    acc = crc_join(acc, CrcPart{p.crc_block_crc[b], p.crc_block_bytes[b]});
  parts[threadIdx.x] = acc;
  join_block(parts);
  if (threadIdx.x == 0) detail::store_le(packet + *packet_bytes - detail::kCrcBytes, parts[0].crc);
}

}  // namespace

cudaError_t launch_crc(const EncodeParams& p, uint8_t* packet, const uint64_t* packet_bytes,
                       cudaStream_t stream) {
  crc_pieces_kernel<<<grid_for(p.crc_blocks), kThreads, 0, stream>>>(p, packet, packet_bytes);
  crc_final_kernel<<<1, kThreads, 0, stream>>>(p, packet, packet_bytes);
  return cudaGetLastError();
}

}  // namespace co3::kernels::enc
