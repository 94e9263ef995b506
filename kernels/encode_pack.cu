// Pass 3's packing: every chunk's codewords into its payload words, its chunk table entry, and
// the zero padding after a segment's chunk table and payload.
#include <cub/block/block_scan.cuh>

#include "co3/detail/encode_bits.h"
#include "encode_plan.h"

namespace co3::kernels::enc {
namespace {

// One block per chunk (grid-stride). Thread k owns the contiguous symbols
// [k·per, (k+1)·per) of the chunk; an exclusive block scan of the threads' bit counts gives each
// its stream offset, and pack_range ORs its codewords from there (the host packs the chunk as one
// range at offset 0: pack_range puts every codeword on the same bits either way). Words two
// threads share are combined by atomicOr into a zeroed buffer: shared memory when the chunk fits
// (then copied out whole), else the chunk's own payload words, zeroed by this block first.
// Blocks own disjoint words, chunk table entries and padding, so no two blocks write one byte.
template <bool kShared>
__global__ void __launch_bounds__(kThreads) pack_kernel(EncodeParams p, uint8_t* packet) {
  using Scan = cub::BlockScan<unsigned long long, kThreads>;
  __shared__ typename Scan::TempStorage tmp;
  extern __shared__ uint32_t smem_words[];  // p.pack_shared_words when kShared
  for (uint64_t k = blockIdx.x; k < p.total_chunks; k += gridDim.x) {
    const uint32_t s =
        find_segment(p.num_segments, k, [&](uint32_t q) { return p.jobs[q].first_chunk; });
    const SegmentJob& job = p.jobs[s];
    const SegmentResult& r = p.seg[s];
    const uint64_t local = k - job.first_chunk;
    const uint8_t* lengths = p.lengths + uint64_t{job.table} * p.alphabet;
    const uint32_t* rev = p.rev_codes + uint64_t{job.table} * p.alphabet;
    const uint64_t begin = local * p.pc.chunk_symbols;
    const uint64_t n =
        job.num_symbols - begin < p.pc.chunk_symbols ? job.num_symbols - begin : p.pc.chunk_symbols;
    const uint64_t per = (n + kThreads - 1) / kThreads;
    const uint64_t lo = threadIdx.x * per < n ? threadIdx.x * per : n;
    const uint64_t hi = lo + per < n ? lo + per : n;
    const uint64_t first = job.first_symbol + begin;
    unsigned long long bits = 0;
    with_symbols(p,
                 [&](const auto* all) { bits = detail::range_bits(all + first, lo, hi, lengths); });
    unsigned long long offset;
    Scan(tmp).ExclusiveSum(bits, offset);

    uint8_t* const table = packet + r.data_offset;
    uint32_t* const payload = reinterpret_cast<uint32_t*>(
        table + detail::align8(2 * job.num_chunks));  // 8-aligned: data_offset is
    const uint64_t words = p.chunk_words[k];
    uint32_t* const out = payload + (p.chunk_offsets[k] - p.chunk_offsets[job.first_chunk]);
    uint32_t* const buf = kShared ? smem_words : out;
    for (uint64_t w = threadIdx.x; w < words; w += kThreads) buf[w] = 0;
    __syncthreads();
    with_symbols(p, [&](const auto* all) {
      detail::pack_range(all + first, lo, hi, lengths, rev, offset,
                         [&](uint64_t w, uint32_t v) { atomicOr(&buf[w], v); });
    });
    __syncthreads();
    if (kShared)
      for (uint64_t w = threadIdx.x; w < words; w += kThreads) out[w] = buf[w];
    if (threadIdx.x == 0) {
      detail::store_le(table + 2 * local, static_cast<uint16_t>(words));
      if (local + 1 == job.num_chunks) {  // the segment's last chunk writes its paddings
        for (uint64_t b = 2 * job.num_chunks; b < detail::align8(2 * job.num_chunks); ++b)
          table[b] = 0;
        uint8_t* const end = reinterpret_cast<uint8_t*>(payload);
        for (uint64_t b = 4 * r.payload_words; b < detail::align8(4 * r.payload_words); ++b)
          end[b] = 0;
      }
    }
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
