// The encoder's per-segment statistics as host+device code: the pairwise fold of tile moments
// (moments.h's order), the means the fits read, the scale choice, the model behind a model code,
// and the float32 fields of the descriptor. host/codec/encode_plan.cpp and kernels/encode_moments.cu call
// the same functions, so a segment gets the same fit and scale bits on the CPU and the GPU.
#pragma once

#include <cstdint>

#include "co3/config.h"
#include "co3/detail/hd.h"
#include "co3/float_format.h"
#include "co3/gennorm.h"
#include "co3/gennorm_rate.h"
#include "co3/moments.h"

namespace co3::detail {

inline constexpr float kFloatMinNormal = 1.17549435082228750797e-38f;  // FLT_MIN
inline constexpr float kFloatMax = 3.40282346638528859812e+38f;        // FLT_MAX

// One level of moments.h's pairwise fold: to[i] = from[2i] + from[2i+1] for i < n/2, and an odd
// last item carried to to[n/2]. Items i are independent, so threads may compute them in any order.
CO3_HD void fold_level_item(const Moments* from, Moments* to, uint64_t n, uint64_t i) {
  if (i < n / 2) {
    Moments m = from[2 * i];
    m.merge(from[2 * i + 1]);
    to[i] = m;
  } else if (i == n / 2 && n % 2) {
    to[i] = from[n - 1];
  }
}
CO3_HD uint64_t fold_level_size(uint64_t n) {
  return n / 2 + n % 2;
}

// fold_pairwise (moments.h) in place over parts[0 … n): the same merges in the same order.
CO3_HD Moments fold_pairwise_in_place(Moments* parts, uint64_t n) {
  if (n == 0) return Moments{};
  for (; n > 1; n = fold_level_size(n))
    for (uint64_t i = 0; i < fold_level_size(n); ++i) fold_level_item(parts, parts, n, i);
  return parts[0];
}

// Moments::mean_abs() and mean_sq() (one rounded division), callable on the device too.
CO3_HD double moments_mean_abs(const Moments& m) {
  return m.count ? ddiv(m.sum_abs, static_cast<double>(m.count)) : 0.0;
}
CO3_HD double moments_mean_sq(const Moments& m) {
  return m.count ? ddiv(m.sum_sq, static_cast<double>(m.count)) : 0.0;
}

// The GenNorm fit of a segment: the given one (a compressor's refit policy) or the moments'.
CO3_HD GenNormFit segment_fit(const Moments& m, bool given, double beta, double alpha) {
  return given ? GenNormFit{beta, alpha} : fit_gennorm(moments_mean_abs(m), moments_mean_sq(m));
}

// The (β, α) behind a model code source, in unscaled units: the segment's GenNorm fit, or the
// Normal or Laplace of the same moments.
CO3_HD GenNormFit model_fit(CodeSource src, const GenNormFit& fit, const Moments& m) {
  if (src == CodeSource::normal) return fit_normal(moments_mean_sq(m));
  if (src == CodeSource::laplace) return fit_laplace(moments_mean_abs(m));
  return fit;
}

// What the rate policy needs besides the fit: the rounding, the entries per symbol and the
// payload bits per entry the segment is asked for (rate_target.h's rate_payload_bits).
struct RateTarget {
  Rounding rounding = Rounding::nearest_even;
  int entries_per_symbol = 1;
  double payload_bits = 0.0;
  uint32_t zero_block = 0;  // symbols a block of a zero-block map (FORMAT.md §6b), 0: none
};

// The scale of a segment. optimal_t(β) is the GenNorm policy's t* (the scale is α/t*): the table
// lookup of gennorm_scale.h, evaluated only under the gennorm and rate policies; the rate
// policy's t (gennorm_rate.h) lies between the all-zero end and t*.
template <class OptimalT>
CO3_HD float choose_scale(ScalePolicy policy, float value, FloatFormat f, float max_abs,
                          double beta, double alpha, OptimalT optimal_t, RateTarget rate = {}) {
  float s = 1.0f;
  switch (policy) {
    case ScalePolicy::none: s = 1.0f; break;
    case ScalePolicy::value: s = value; break;
    case ScalePolicy::absmax: s = max_abs > 0 ? fdiv(max_abs, max_finite(f)) : 1.0f; break;
    case ScalePolicy::gennorm:
      s = alpha > 0 ? static_cast<float>(ddiv(alpha, optimal_t(beta))) : 1.0f;
      break;
    case ScalePolicy::rate:
      s = alpha > 0 ? static_cast<float>(ddiv(alpha, gennorm_rate_t(f, rate.rounding,
                                                                   rate.entries_per_symbol, beta,
                                                                   optimal_t(beta),
                                                                   rate.payload_bits,
                                                                   rate.zero_block)))
                    : 1.0f;
      break;
  }
  // A scale must be a normal positive float (FORMAT.md §3); data so small that it would not be
  // gets the smallest normal scale and quantizes as well as the format allows.
  if (!(s >= kFloatMinNormal)) s = kFloatMinNormal;
  if (!(s <= kFloatMax)) s = kFloatMax;
  return s;
}

// The informational fit fields are float32 in the descriptor: saturate rather than overflow.
CO3_HD float fit_field(double v) {
  const double m = static_cast<double>(kFloatMax);
  return static_cast<float>(v < m ? v : m);
}

}  // namespace co3::detail
