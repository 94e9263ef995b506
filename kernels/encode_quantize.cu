// Pass 2 of the encoder: u again, conversion, the error memory written back, the symbols and the
// symbol histogram of each code table.
#include "encode_stages.h"

namespace co3::kernels::enc {
namespace {

// One block per kSymbolTile symbols of one segment (grid-stride); thread k converts symbols
// k, k + 256, … of the tile (quantize_symbol). Histogram: with kShared, counts go to shared
// 32-bit bins (≤ 4096 symbols a tile: no overflow) added to the table's 64-bit row once per
// tile; otherwise straight to the row. Counts are integers: the order of the adds is free.
template <bool kShared>
__global__ void __launch_bounds__(kThreads) quantize_kernel(EncodeParams p) {
  extern __shared__ uint32_t bins[];  // p.alphabet entries when kShared
  const uint32_t first_bad = *p.first_bad;
  for (uint64_t b = blockIdx.x; b < p.total_symtiles; b += gridDim.x) {
    const SymbolTile tile = symbol_tile(p, b);
    unsigned long long* const row = hist_row(p, p.jobs[tile.segment].table);
    if (kShared) {
      for (uint32_t k = threadIdx.x; k < p.alphabet; k += kThreads) bins[k] = 0;
      __syncthreads();
    }
    for (uint64_t j = tile.begin + threadIdx.x; j < tile.end; j += kThreads) {
      const uint32_t sym = quantize_symbol(p, tile.segment, j, first_bad);
      if (kShared) {
        atomicAdd(&bins[sym], 1u);
      } else {
        atomicAdd(&row[sym], 1ull);
      }
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
