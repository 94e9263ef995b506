// Pass 2 of the encoder: u again, conversion, the error memory written back, the symbols and the
// symbol histogram of each code table.
#include <type_traits>

#include "co3/detail/encode_entry.h"
#include "encode_plan.h"

namespace co3::kernels::enc {
namespace {

// One block per kSymbolTile symbols of one segment (grid-stride). Thread k takes symbols
// k, k + 256, … of the tile; each symbol's entries are converted by exactly the calls of
// host/encoder.cpp's loop (encode_symbol → feedback_input → quantize_entry), so symbol and error
// memory bits equal the CPU's. Entry i's memory is read (in u) and then written by the same
// thread only. Histogram: with kShared, counts go to shared 32-bit bins (≤ 4096 symbols per
// tile, no overflow) and are added to the table's 64-bit row once per tile; otherwise straight
// to the row. Counts are integers: the order of the atomic adds does not matter.
template <bool kShared>
__global__ void __launch_bounds__(kThreads) quantize_kernel(EncodeParams p) {
  extern __shared__ uint32_t bins[];  // p.alphabet entries when kShared
  const FloatFormat f = p.pc.format;
  const int g = p.pc.entries_per_symbol;
  const int width = f.width();
  const uint32_t first_bad = *p.first_bad;
  for (uint64_t b = blockIdx.x; b < p.total_symtiles; b += gridDim.x) {
    const uint32_t s =
        find_segment(p.num_segments, b, [&](uint32_t k) { return p.jobs[k].first_symtile; });
    const SegmentJob& job = p.jobs[s];
    const float scale = p.seg[s].scale;
    float* const memory = s < first_bad ? job.memory : nullptr;
    const uint64_t begin = (b - job.first_symtile) * kSymbolTile;
    const uint64_t end =
        job.num_symbols - begin < kSymbolTile ? job.num_symbols : begin + kSymbolTile;
    unsigned long long* const row = p.hist + uint64_t{job.table} * p.alphabet;
    if (kShared) {
      for (uint32_t k = threadIdx.x; k < p.alphabet; k += kThreads) bins[k] = 0;
      __syncthreads();
    }
    for (uint64_t j = begin + threadIdx.x; j < end; j += kThreads) {
      const uint32_t sym = detail::encode_symbol(j, g, width, job.numel, [&](uint64_t i) {
        const float u =
            detail::feedback_input(load_entry(job.grad, job.dtype, i), job.memory, job.gamma, i);
        const detail::EntryCode c = detail::quantize_entry(
            u, i, scale, f, p.pc.rounding, p.seed,
            [&](uint32_t code) { return detail::code_value(f, code, scale); });
        if (memory) memory[i] = c.memory();
        return c.code;
      });
      with_symbols(p, [&](auto* out) {
        out[job.first_symbol + j] = static_cast<std::remove_pointer_t<decltype(out)>>(sym);
      });
      if (kShared)
        atomicAdd(&bins[sym], 1u);
      else
        atomicAdd(&row[sym], 1ull);
    }
    if (kShared) {
      __syncthreads();
      for (uint32_t k = threadIdx.x; k < p.alphabet; k += kThreads)
        if (bins[k]) atomicAdd(&row[k], static_cast<unsigned long long>(bins[k]));
      __syncthreads();  // bins is cleared for the next tile only after every thread flushed
    }
  }
}

}  // namespace

cudaError_t launch_quantize(const EncodeParams& p, cudaStream_t stream) {
  if (!p.total_symtiles) return cudaGetLastError();
  if (p.alphabet <= kSharedHistBins) {
    quantize_kernel<true>
        <<<grid_for(p.total_symtiles), kThreads, p.alphabet * sizeof(uint32_t), stream>>>(p);
  } else {
    quantize_kernel<false><<<grid_for(p.total_symtiles), kThreads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

}  // namespace co3::kernels::enc
