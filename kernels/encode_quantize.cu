// Pass 2 of the encoder: u again, conversion, the error memory written back, the symbols and the
// symbol histogram of each code table.
#include "encode_stages.h"

namespace co3::kernels::enc {
namespace {

// One block per kSymbolTile symbols of one segment (grid-stride); thread k converts symbols
// k, k + 256, … of the tile (quantize_symbol). With kTable (formats of ≤ 8 bits) the values of the
// codes at the segment's scale come from a shared table filled by code_value itself: the same
// bits as computing them. Histogram: with kShared, counts go to shared 32-bit bins (≤ 4096
// symbols a tile: no overflow) added to the table's 64-bit row once per tile; with kGlobal
// straight to the row; with neither, none is counted (a given code). Counts are integers: the
// order of the adds is free.
enum class Hist { none, shared, global };
template <Hist kHist, bool kTable>
__global__ void __launch_bounds__(kThreads) quantize_kernel(EncodeParams p) {
  constexpr bool kShared = kHist == Hist::shared;
  extern __shared__ uint32_t bins[];  // p.alphabet entries when kShared
  __shared__ float values[kTable ? 256 : 1];
  const FloatFormat f = p.pc.format;
  const uint32_t first_bad = *p.first_bad;
  for (uint64_t b = blockIdx.x; b < p.total_symtiles; b += gridDim.x) {
    const SymbolTile tile = symbol_tile(p, b, first_bad);
    unsigned long long* const row = kHist == Hist::none ? nullptr : hist_row(p, tile.job.table);
    if (kTable) {
      for (uint32_t c = threadIdx.x; c < (1u << f.width()); c += kThreads)
        values[c] = detail::code_value(f, c, tile.scale);
    }
    if (kShared) {
      for (uint32_t k = threadIdx.x; k < p.alphabet; k += kThreads) bins[k] = 0;
    }
    if (kShared || kTable) __syncthreads();
    for (uint64_t j = tile.begin + threadIdx.x; j < tile.end; j += kThreads) {
      uint32_t sym;
      if constexpr (kTable) {
        sym = quantize_symbol(p, tile, j, [&](uint32_t c) { return values[c]; });
      } else {
        sym = quantize_symbol(p, tile, j,
                              [&](uint32_t c) { return detail::code_value(f, c, tile.scale); });
      }
      if (kHist == Hist::shared) {
        atomicAdd(&bins[sym], 1u);
      } else if (kHist == Hist::global) {
        atomicAdd(&row[sym], 1ull);
      }
    }
    if (kShared) {
      __syncthreads();
      for (uint32_t k = threadIdx.x; k < p.alphabet; k += kThreads)
        if (bins[k]) atomicAdd(&row[k], static_cast<unsigned long long>(bins[k]));
    }
    if (kShared || kTable) __syncthreads();  // bins and values are refilled for the next tile
  }
}

template <Hist kHist>
void launch(const EncodeParams& p, size_t smem, cudaStream_t stream) {
  if (p.pc.format.width() <= 8) {
    quantize_kernel<kHist, true><<<grid_for(p.total_symtiles), kThreads, smem, stream>>>(p);
  } else {
    quantize_kernel<kHist, false><<<grid_for(p.total_symtiles), kThreads, smem, stream>>>(p);
  }
}

// The memory pass (p.defer_memory): one block per symbol tile, as quantize_kernel, once the
// status is final (after the layout); nothing when the encode failed.
template <bool kTable>
__global__ void __launch_bounds__(kThreads) memory_kernel(EncodeParams p,
                                                          const DeviceStatus* status) {
  __shared__ float values[kTable ? 256 : 1];
  if (status->code) return;
  const FloatFormat f = p.pc.format;
  const uint32_t first_bad = *p.first_bad;
  for (uint64_t b = blockIdx.x; b < p.total_symtiles; b += gridDim.x) {
    const SymbolTile tile = symbol_tile(p, b, first_bad);
    if (kTable) {
      for (uint32_t c = threadIdx.x; c < (1u << f.width()); c += kThreads)
        values[c] = detail::code_value(f, c, tile.scale);
      __syncthreads();
    }
    for (uint64_t j = tile.begin + threadIdx.x; j < tile.end; j += kThreads) {
      if constexpr (kTable) {
        memory_symbol(p, tile, j, [&](uint32_t c) { return values[c]; });
      } else {
        memory_symbol(p, tile, j, [&](uint32_t c) { return detail::code_value(f, c, tile.scale); });
      }
    }
    if (kTable) __syncthreads();  // values is refilled for the next tile
  }
}

}  // namespace

cudaError_t launch_memory(const EncodeParams& p, const DeviceStatus* status, cudaStream_t stream) {
  if (!p.total_symtiles) return cudaGetLastError();
  if (p.pc.format.width() <= 8) {
    memory_kernel<true><<<grid_for(p.total_symtiles), kThreads, 0, stream>>>(p, status);
  } else {
    memory_kernel<false><<<grid_for(p.total_symtiles), kThreads, 0, stream>>>(p, status);
  }
  return cudaGetLastError();
}

cudaError_t launch_quantize(const EncodeParams& p, cudaStream_t stream) {
  if (!p.total_symtiles) return cudaGetLastError();
  if (p.given_code) {
    launch<Hist::none>(p, 0, stream);
  } else if (p.alphabet <= kSharedHistBins) {
    launch<Hist::shared>(p, p.alphabet * sizeof(uint32_t), stream);
  } else {
    launch<Hist::global>(p, 0, stream);
  }
  return cudaGetLastError();
}

}  // namespace co3::kernels::enc
