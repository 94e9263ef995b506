// Pass 3's bookkeeping: the bits of every chunk, their word offsets (a device-wide scan), and the
// packet's layout: every offset computed as host/encoder.cpp computes it (LayoutCursor), then the
// header, descriptors, shape records and code tables written, and the packet's size stored.
#include <cub/block/block_reduce.cuh>
#include <cub/device/device_scan.cuh>

#include "co3/detail/encode_bits.h"
#include "co3/detail/encode_code.h"
#include "co3/detail/encode_layout.h"
#include "encode_plan.h"

namespace co3::kernels::enc {
namespace {

// One block per chunk (grid-stride): the sum of its symbols' code lengths (an integer sum, any
// order), as chunk_words_for(range_bits(...)) on the host.
__global__ void __launch_bounds__(kThreads) chunk_bits_kernel(EncodeParams p) {
  using Reduce = cub::BlockReduce<unsigned long long, kThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  for (uint64_t k = blockIdx.x; k < p.total_chunks; k += gridDim.x) {
    const uint32_t s =
        find_segment(p.num_segments, k, [&](uint32_t q) { return p.jobs[q].first_chunk; });
    const SegmentJob& job = p.jobs[s];
    const uint8_t* lengths = p.lengths + uint64_t{job.table} * p.alphabet;
    const uint64_t begin = (k - job.first_chunk) * p.pc.chunk_symbols;
    const uint64_t end =
        job.num_symbols - begin < p.pc.chunk_symbols ? job.num_symbols : begin + p.pc.chunk_symbols;
    unsigned long long bits = 0;
    with_symbols(p, [&](const auto* all) {
      const auto* sym = all + job.first_symbol;
      for (uint64_t j = begin + threadIdx.x; j < end; j += kThreads) bits += lengths[sym[j]];
    });
    const unsigned long long total = Reduce(tmp).Sum(bits);
    if (threadIdx.x == 0) p.chunk_words[k] = detail::chunk_words_for(total);
    __syncthreads();  // tmp is reused by the next chunk
  }
}

// One block. Thread 0 walks the layout in FORMAT.md §1's order with LayoutCursor (the host's
// walk) and raises the first failed table's status if no earlier error is set; then all threads
// write the header, descriptors, shape records and tables: every byte before the first chunk
// table, padding included.
__global__ void __launch_bounds__(kThreads)
    layout_kernel(EncodeParams p, uint8_t* packet, uint64_t* packet_bytes, DeviceStatus* status) {
  if (threadIdx.x == 0) {
    if (status->code == static_cast<uint32_t>(StatusCode::ok)) {
      for (uint32_t t = 0; t < p.num_tables; ++t) {
        if (p.tab[t].failure) {
          status->code = p.tab[t].failure;
          status->segment = t;
          status->detail = p.tab[t].detail;
          break;
        }
      }
    }
    detail::LayoutCursor c(p.num_segments, p.shape_section_bytes);
    for (uint32_t t = 0; t < p.num_tables; ++t) p.tab[t].offset = c.table(p.tab[t].body_bytes);
    for (uint32_t s = 0; s < p.num_segments; ++s) {
      const SegmentJob& job = p.jobs[s];
      SegmentResult& r = p.seg[s];
      r.payload_words =
          p.chunk_offsets[job.first_chunk + job.num_chunks] - p.chunk_offsets[job.first_chunk];
      r.data_offset = c.segment(job.num_chunks, r.payload_words);
    }
    *packet_bytes = c.total();
    detail::store_header(packet, p.with_shapes, c.total(), p.num_tables, p.num_segments);
  }
  __syncthreads();
  for (uint32_t s = threadIdx.x; s < p.num_segments; s += kThreads) {
    const SegmentJob& job = p.jobs[s];
    const SegmentResult& r = p.seg[s];
    detail::store_descriptor(
        packet + detail::kHeaderBytes + detail::kDescriptorBytes * s,
        detail::segment_descriptor(p.pc, job.numel, job.dtype, static_cast<uint16_t>(job.table),
                                   r.data_offset, r.payload_words, r.scale, r.beta, r.alpha));
    if (p.with_shapes)
      detail::store_shape_record(packet + job.shape_offset, p.dims + job.first_dim, job.ndim);
  }
  for (uint32_t t = 0; t < p.num_tables; ++t) {
    const TableResult& tr = p.tab[t];
    uint8_t* h = packet + tr.offset;
    const uint8_t* body = p.bodies + uint64_t{t} * p.body_capacity;
    const uint64_t bytes = detail::table_bytes(tr.body_bytes);
    if (threadIdx.x == 0)
      detail::store_table_header(h, p.pc.symbol_bits(), p.pc.max_code_length, tr.body_bytes);
    for (uint64_t k = detail::kTableHeaderBytes + threadIdx.x; k < bytes; k += kThreads) {
      const uint64_t b = k - detail::kTableHeaderBytes;
      h[k] = b < tr.body_bytes ? body[b] : 0;
    }
  }
}

}  // namespace

cudaError_t launch_chunk_bits(const EncodeParams& p, cudaStream_t stream) {
  if (p.total_chunks) chunk_bits_kernel<<<grid_for(p.total_chunks), kThreads, 0, stream>>>(p);
  size_t temp = p.scan_temp_bytes;
  // chunk_words[total_chunks] is 0 (set by encode_async), so chunk_offsets[k] for k ≤
  // total_chunks is the words of every chunk before k.
  const cudaError_t e = cub::DeviceScan::ExclusiveSum(p.scan_temp, temp, p.chunk_words,
                                                      p.chunk_offsets, p.total_chunks + 1, stream);
  return e != cudaSuccess ? e : cudaGetLastError();
}

cudaError_t launch_layout(const EncodeParams& p, uint8_t* packet, uint64_t* packet_bytes,
                          DeviceStatus* status, cudaStream_t stream) {
  layout_kernel<<<1, kThreads, 0, stream>>>(p, packet, packet_bytes, status);
  return cudaGetLastError();
}

// The scan's temporary storage for n items (the two-call idiom's first call; no launch).
cudaError_t scan_temp_bytes(uint64_t n, size_t* bytes) {
  *bytes = 0;
  return cub::DeviceScan::ExclusiveSum(nullptr, *bytes, static_cast<unsigned long long*>(nullptr),
                                       static_cast<unsigned long long*>(nullptr), n);
}

}  // namespace co3::kernels::enc
