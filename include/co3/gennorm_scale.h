// The GenNorm scale as a lookup: t*(β) = gennorm_optimal_t(format, rounding, β) sampled on a
// fixed log-spaced grid of β and interpolated linearly in (log β, log t).
//
// Why a table: the search behind gennorm_optimal_t costs 0.1 ms (fp4) to 0.3 s (bf16) per call
// on a CPU core and would be slower still in one GPU thread, while a gradient's scale must cost
// nanoseconds. The grid is fixed, the table's entries are computed once per (format, rounding)
// (checked in for the preset formats, computed on first use for others) and the interpolation
// below uses only correctly rounded operations and co3's own exp/log, so every CPU and GPU reads
// the same scale bit for bit. The decoder reads the scale from the packet, so the format does not
// depend on this choice.
//
// Accuracy: t* is smooth in β for narrow formats; tests/cpu/test_gennorm_scale.cpp bounds the
// expected-MSE cost of interpolating against the exact search between grid points.
#pragma once

#include "co3/detail/dmath.h"
#include "co3/detail/hd.h"
#include "co3/float_format.h"
#include "co3/gennorm.h"

namespace co3 {

inline constexpr int kScaleGridPoints = 64;

// log t*(β_k) for β_k = kBetaMin · (kBetaMax / kBetaMin)^(k / (kScaleGridPoints − 1)).
// A plain array of doubles: small enough to pass to a kernel by value (512 bytes).
struct ScaleTable {
  double log_t[kScaleGridPoints];
};

namespace detail {

CO3_HD double scale_grid_log_beta_min() { return log(kBetaMin); }
CO3_HD double scale_grid_step() {
  return ddiv(dsub(log(kBetaMax), log(kBetaMin)), static_cast<double>(kScaleGridPoints - 1));
}

}  // namespace detail

// β at grid point k (0 … kScaleGridPoints − 1).
CO3_HD double scale_grid_beta(int k) {
  using namespace detail;
  return exp(dadd(scale_grid_log_beta_min(), dmul(scale_grid_step(), static_cast<double>(k))));
}

// t*(β) interpolated in the table; β is clamped to [kBetaMin, kBetaMax] (a NaN β reads the
// first point).
CO3_HD double lookup_optimal_t(const ScaleTable& table, double beta) {
  using namespace detail;
  const double x = ddiv(dsub(log(beta), scale_grid_log_beta_min()), scale_grid_step());
  if (!(x > 0.0)) return exp(table.log_t[0]);
  if (!(x < static_cast<double>(kScaleGridPoints - 1))) return exp(table.log_t[kScaleGridPoints - 1]);
  const int k = static_cast<int>(x);  // x ≥ 0: truncation is floor
  const double frac = dsub(x, static_cast<double>(k));
  const double a = table.log_t[k], b = table.log_t[k + 1];
  return exp(dadd(a, dmul(frac, dsub(b, a))));
}

// The table of (format, rounding), computed from gennorm_optimal_t at every grid point.
ScaleTable make_scale_table(FloatFormat f, Rounding r, int threads = 0);

// The cached table of (format, rounding): the checked-in one for the preset formats, else
// computed once on first use (thread-safe). Never invalidated.
const ScaleTable& scale_table(FloatFormat f, Rounding r);

// The checked-in table for a preset format, or nullptr (host/codec/gennorm_scale_presets.cpp).
const ScaleTable* preset_scale_table(FloatFormat f, Rounding r);

}  // namespace co3
