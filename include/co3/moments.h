// One-pass statistics of a tensor, summed in a fixed order so that the CPU and the GPU get the
// same double-precision bits (the GenNorm fit, the scale and so every code depend on them).
//
// The order: entries are cut into tiles of kTileEntries. Inside a tile, lane l (of kTileLanes)
// accumulates entries l, l + kTileLanes, l + 2·kTileLanes, ... in order; the lanes are then
// folded by halving (lane l += lane l + h for h = kTileLanes/2, ..., 1). Tiles are folded the
// same way: level by level, pairs (2i, 2i+1) are added and an odd last one is carried up. A
// CUDA block of kTileLanes threads reproduces this exactly with a strided loop and a shared-
// memory tree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "co3/detail/hd.h"

namespace co3 {

inline constexpr int kTileLanes = 256;
inline constexpr int kTileEntries = 8192;

struct Moments {
  double sum = 0;      // Σ u over finite entries
  double sum_abs = 0;  // Σ |u|
  double sum_sq = 0;   // Σ u²
  float max_abs = 0;   // max |u| over finite entries
  uint64_t count = 0;  // finite entries
  uint64_t non_finite = 0;

  CO3_HD void add(float u) {
    const uint32_t a = detail::f32_bits(u) & 0x7fffffffu;
    if (a >= 0x7f800000u) {
      ++non_finite;
      return;
    }
    const double d = static_cast<double>(u);
    const float m = detail::bits_f32(a);
    sum = detail::dadd(sum, d);
    sum_abs = detail::dadd(sum_abs, static_cast<double>(m));
    sum_sq = detail::dadd(sum_sq, detail::dmul(d, d));
    max_abs = m > max_abs ? m : max_abs;
    ++count;
  }
  CO3_HD void merge(const Moments& o) {
    sum = detail::dadd(sum, o.sum);
    sum_abs = detail::dadd(sum_abs, o.sum_abs);
    sum_sq = detail::dadd(sum_sq, o.sum_sq);
    max_abs = o.max_abs > max_abs ? o.max_abs : max_abs;
    count += o.count;
    non_finite += o.non_finite;
  }
  double mean() const { return count ? sum / static_cast<double>(count) : 0.0; }
  double mean_abs() const { return count ? sum_abs / static_cast<double>(count) : 0.0; }
  double mean_sq() const { return count ? sum_sq / static_cast<double>(count) : 0.0; }
};

// Folds partials in place by the pairwise rule above; returns the total (empty -> zero moments).
inline Moments fold_pairwise(std::vector<Moments> parts) {
  if (parts.empty()) return Moments{};
  while (parts.size() > 1) {
    const size_t half = parts.size() / 2;
    for (size_t i = 0; i < half; ++i) {
      Moments m = parts[2 * i];
      m.merge(parts[2 * i + 1]);
      parts[i] = m;
    }
    if (parts.size() % 2) parts[half] = parts.back();
    parts.resize(half + parts.size() % 2);
  }
  return parts[0];
}

// The moments of one tile of `count` (≤ kTileEntries) values produced by `value(i)`.
template <class ValueAt>
Moments tile_moments(ValueAt value, size_t count) {
  Moments lanes[kTileLanes];
  for (size_t i = 0; i < count; ++i) lanes[i % kTileLanes].add(value(i));
  for (int h = kTileLanes / 2; h >= 1; h /= 2)
    for (int l = 0; l < h; ++l) lanes[l].merge(lanes[l + h]);
  return lanes[0];
}

}  // namespace co3
