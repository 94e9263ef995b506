// moments.h's tile_moments for a float32 tile of an encode input, laid out so that the
// compiler vectorizes it: the 256 lanes as arrays (structure of arrays) instead of 256 Moments,
// and a non-finite entry added as zeros instead of skipped. The bits are tile_moments': every
// lane performs the same dadd/dmul on the same values in the same order, and adding +0 changes
// no sum (a lane's sums start at +0 and never become −0: RN gives x + (−x) = +0 and +0 + −0 = +0),
// nor max_abs (≥ 0). Internal to host/; tests/cpu/test_moments_tile.cpp compares the two.
#pragma once

#include <algorithm>
#include <cstdint>

#include "co3/codec.h"
#include "co3/dtype.h"
#include "co3/moments.h"
#include "co3/detail/encode_entry.h"
#include "cpu_features.h"

namespace co3::detail {

// The 256 lanes of a tile, one array per field.
struct TileLanes {
  alignas(64) double sum[kTileLanes], sum_abs[kTileLanes], sum_sq[kTileLanes];
  alignas(64) float max_abs[kTileLanes];
  alignas(64) uint32_t finite[kTileLanes];
};

// Moments::add of entries [0, lanes) of one row into lanes [0, lanes).
template <bool kMemory>
inline __attribute__((always_inline)) void add_row(TileLanes& t, const float* grad,
                                                   const float* memory, float gamma, int lanes) {
  for (int l = 0; l < lanes; ++l) {
    const float g = grad[l];
    const float u = kMemory ? fadd(g, fmul(gamma, memory[l])) : g;
    const uint32_t a = f32_bits(u) & 0x7fffffffu;
    const uint32_t ok = a < 0x7f800000u;
    // Masks, not branches: a non-finite u becomes +0 by integer ops, so nothing is converted
    // speculatively and the loop vectorizes.
    const uint32_t keep = 0u - ok;
    const double d = static_cast<double>(bits_f32(f32_bits(u) & keep));
    const float m = bits_f32(a & keep);
    t.sum[l] = dadd(t.sum[l], d);
    t.sum_abs[l] = dadd(t.sum_abs[l], static_cast<double>(m));
    t.sum_sq[l] = dadd(t.sum_sq[l], dmul(d, d));
    t.max_abs[l] = t.max_abs[l] < m ? m : t.max_abs[l];
    t.finite[l] += ok;
  }
}

// Moments::add of the first `count` entries of a tile into their lanes (entry r·256 + l into
// lane l): the whole rows, then the last row's entries into lanes [0, count mod 256). Lanes
// that get no entry stay at zero, as tile_moments' do.
template <bool kMemory>
inline __attribute__((always_inline)) void add_tile_rows(TileLanes& t, const float* grad,
                                                         const float* memory, float gamma,
                                                         int count) {
  const int whole = count - count % kTileLanes;
  for (int row = 0; row < whole; row += kTileLanes)
    add_row<kMemory>(t, grad + row, kMemory ? memory + row : nullptr, gamma, kTileLanes);
  add_row<kMemory>(t, grad + whole, kMemory ? memory + whole : nullptr, gamma, count - whole);
}

// The same loop compiled for AVX2 and AVX-512 (four or eight doubles a vector instead of
// SSE2's two) and chosen at run time (cpu_features.h): the same IEEE operations on the same
// values, so the same bits (no FMA is enabled).
template <bool kMemory>
CO3_TARGET_AVX2 void add_tile_rows_avx2(TileLanes& t, const float* grad, const float* memory,
                                        float gamma, int count) {
  add_tile_rows<kMemory>(t, grad, memory, gamma, count);
}
template <bool kMemory>
CO3_TARGET_AVX512 void add_tile_rows_avx512(TileLanes& t, const float* grad, const float* memory,
                                            float gamma, int count) {
  add_tile_rows<kMemory>(t, grad, memory, gamma, count);
}
template <bool kMemory>
void add_tile_rows_any(TileLanes& t, const float* grad, const float* memory, float gamma,
                       int count) {
  if (cpu_has_avx512()) {
    add_tile_rows_avx512<kMemory>(t, grad, memory, gamma, count);
  } else if (cpu_has_avx2()) {
    add_tile_rows_avx2<kMemory>(t, grad, memory, gamma, count);
  } else {
    add_tile_rows<kMemory>(t, grad, memory, gamma, count);
  }
}

// The moments of entries [first, first + count) of `in` (count ≤ kTileEntries), u = g + γ·e.
// A partial tile (a small tensor, or a tensor's last tile) takes the same lanes: for small
// models most entries are in one (issue 13: tile_moments' generic loop cost them about 130
// instructions an entry, a third of a LeNet-sized encode).
inline Moments tile_moments_fast(const EncodeInput& in, uint64_t first, size_t count) {
  if (in.grad.dtype != DType::f32) {
    return tile_moments(
        [&](size_t i) {
          return feedback_input(load_as_float(in.grad.data, in.grad.dtype, first + i), in.memory,
                                in.gamma, first + i);
        },
        count);
  }
  TileLanes lanes{};
  const float* const grad = static_cast<const float*>(in.grad.data) + first;
  if (in.memory) {
    add_tile_rows_any<true>(lanes, grad, in.memory + first, in.gamma, static_cast<int>(count));
  } else {
    add_tile_rows_any<false>(lanes, grad, nullptr, 0.0f, static_cast<int>(count));
  }
  double* const sum = lanes.sum;
  double* const sum_abs = lanes.sum_abs;
  double* const sum_sq = lanes.sum_sq;
  float* const max_abs = lanes.max_abs;
  uint32_t* const finite = lanes.finite;
  // Lanes at or past `active` hold zeros (a partial tile's first row is shorter than 256),
  // and adding +0 to a sum changes no bit (above), so each level adds only the lanes that can
  // hold entries: a tensor of a few entries (a bias) does not pay for 255 empty lanes.
  int active = static_cast<int>(count < static_cast<size_t>(kTileLanes) ? count : kTileLanes);
  for (int h = kTileLanes / 2; h >= 1; h /= 2) {
    for (int l = 0; l + h < active; ++l) {
      sum[l] = dadd(sum[l], sum[l + h]);
      sum_abs[l] = dadd(sum_abs[l], sum_abs[l + h]);
      sum_sq[l] = dadd(sum_sq[l], sum_sq[l + h]);
      max_abs[l] = max_abs[l + h] > max_abs[l] ? max_abs[l + h] : max_abs[l];
      finite[l] += finite[l + h];
    }
    if (active > h) active = h;  // the lanes below h hold everything now
  }
  Moments m;
  m.sum = sum[0];
  m.sum_abs = sum_abs[0];
  m.sum_sq = sum_sq[0];
  m.max_abs = max_abs[0];
  m.count = finite[0];
  m.non_finite = count - finite[0];
  return m;
}

}  // namespace co3::detail
