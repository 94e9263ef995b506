// The packet's CRC32C (FORMAT.md §8) over bytes [0, size − 4), size read from the device scalar:
// pieces checksummed in parallel, joined with crc32c_combine_hd (exact in any tree order), stored
// in the last 4 bytes.
#include "co3/detail/crc32c_hd.h"
#include "co3/detail/packet_layout.h"
#include "encode_plan.h"

namespace co3::kernels::enc {
namespace {

struct Part {
  uint32_t crc;
  uint64_t bytes;
};

// Joins parts[0 … kThreads) into parts[0] pairwise (part i absorbs its right neighbour i + h):
// CRC(A‖B) = combine(CRC(A), CRC(B), |B|); an empty part (crc 0, 0 bytes) is the identity.
__device__ void join_block(Part* parts) {
  for (int h = 1; h < kThreads; h *= 2) {
    __syncthreads();
    const int i = threadIdx.x;
    if (i % (2 * h) == 0) {
      parts[i].crc = detail::crc32c_combine_hd(parts[i].crc, parts[i + h].crc, parts[i + h].bytes);
      parts[i].bytes += parts[i + h].bytes;
    }
  }
  __syncthreads();
}

// Thread k of block b checksums piece b·256 + k (kCrcPiece bytes, or fewer or none at the end),
// reading whole aligned words where it can; the block joins its 256 pieces.
__global__ void __launch_bounds__(kThreads)
    crc_pieces_kernel(EncodeParams p, const uint8_t* packet, const uint64_t* packet_bytes) {
  __shared__ uint32_t table[256];
  __shared__ Part parts[kThreads];
  table[threadIdx.x] = detail::crc32c_table_entry(threadIdx.x);
  __syncthreads();
  const uint64_t size = *packet_bytes - detail::kCrcBytes;
  for (uint64_t b = blockIdx.x; b < p.crc_blocks; b += gridDim.x) {
    const uint64_t start = (b * kThreads + threadIdx.x) * kCrcPiece;
    const uint64_t n = start < size ? (size - start < kCrcPiece ? size - start : kCrcPiece) : 0;
    uint32_t reg = ~0u;
    const uint32_t* words = reinterpret_cast<const uint32_t*>(packet + start);  // 4096-aligned
    for (uint64_t w = 0; w < n / 4; ++w) {
      const uint32_t v = words[w];
      for (int k = 0; k < 4; ++k) reg = (reg >> 8) ^ table[(reg ^ (v >> (8 * k))) & 0xFF];
    }
    reg = detail::crc32c_update(table, reg, packet + start + (n & ~uint64_t{3}), n & 3);
    parts[threadIdx.x] = {n ? ~reg : 0u, n};
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
  __shared__ Part parts[kThreads];
  const uint64_t per = (p.crc_blocks + kThreads - 1) / kThreads;
  Part acc{0u, 0};
  for (uint64_t b = threadIdx.x * per; b < (threadIdx.x + 1) * per && b < p.crc_blocks; ++b) {
    acc.crc = detail::crc32c_combine_hd(acc.crc, p.crc_block_crc[b], p.crc_block_bytes[b]);
    acc.bytes += p.crc_block_bytes[b];
  }
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
