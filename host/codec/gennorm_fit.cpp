// The GenNorm fit's bisection without most of its evaluations (issue 13: the fit's 58
// evaluations of gennorm_ratio, three lgamma and an exp each, were a fifth of a LeNet-sized
// encode).
//
// fit_gennorm's bisection asks, for 56 midpoints in turn, whether R(mid) = gennorm_ratio(mid)
// is below r. Every midpoint far from the root of R = r has an answer known in advance: the
// exact ratio ρ is increasing in β (dρ/dlog β ≥ 0.0013 on [kBetaMin, kBetaMax]), and R is ρ to
// within 1e-14 (8.7e-15 at most over 200,000 shapes, against a long double reference). So once
// the root is known to lie within a factor 1 ± δ of an estimate b̂ (δ = 1e-10), a midpoint below
// b̂·(1 − 2δ) has R(mid) ≤ R(b̂·(1 − δ)) − (dρ/dlog β)·δ + 2·1e-14 < r: "below", as R itself
// would say; above b̂·(1 + 2δ), "not below". (Measured over the whole range in 64 bins, the
// slope term is at least 58 times the error term.) Only the midpoints inside that band (the
// last 23 or so) evaluate R, exactly as fit_gennorm does, so every decision, and hence β, α and
// every bit after them, is fit_gennorm's.
//
// The estimate: quadratic interpolation of log β in a table of R on a grid (computed once per
// process), then secant steps on R. The claim "the root lies in b̂·(1 ± δ)" is not assumed but checked, by R
// below r at b̂·(1 − δ) and not below at b̂·(1 + δ); where the check fails (never seen), the plain
// bisection runs.
#include "gennorm_fit.h"

#include <algorithm>
#include <atomic>
#include <cmath>

namespace co3::detail {
namespace {

std::atomic<uint64_t> g_fallbacks{0};

constexpr int kGrid = 256;
constexpr double kBand = 1e-10;  // δ

struct RatioGrid {
  double log_beta[kGrid + 1];
  double ratio[kGrid + 1];  // R at exp(log_beta): increasing
  double r_min, r_max;      // R(kBetaMin), R(kBetaMax): fit_gennorm's clamps
};

const RatioGrid& ratio_grid() {
  static const RatioGrid grid = [] {
    RatioGrid g{};
    const double a = std::log(kBetaMin), b = std::log(kBetaMax);
    for (int k = 0; k <= kGrid; ++k) {
      g.log_beta[k] = a + (b - a) * k / kGrid;
      g.ratio[k] = gennorm_ratio(std::exp(g.log_beta[k]));
    }
    g.r_min = gennorm_ratio(kBetaMin);
    g.r_max = gennorm_ratio(kBetaMax);
    return g;
  }();
  return grid;
}

// log β where R(β) = r, to about 1e-12 (r strictly between r_min and r_max). Any value works
// for correctness (the caller checks it); a good one saves evaluations. Quadratic interpolation
// of log β in R through three grid points (within 1e-5 on the 256-point grid), then secant steps
// on R from there, the grid's local slope for the first, until a step is below 1e-9.
double estimate_log_beta(const RatioGrid& g, double r) {
  const int k = static_cast<int>(std::upper_bound(g.ratio, g.ratio + kGrid + 1, r) - g.ratio);
  const int i = std::clamp(k - 1, 1, kGrid - 1);  // r in [ratio[i], ratio[i + 1]], one point below
  const double r0 = g.ratio[i - 1], r1 = g.ratio[i], r2 = g.ratio[i + 1];
  const double x0 = g.log_beta[i - 1], x1 = g.log_beta[i], x2 = g.log_beta[i + 1];
  double x = x0 * (r - r1) * (r - r2) / ((r0 - r1) * (r0 - r2)) +
             x1 * (r - r0) * (r - r2) / ((r1 - r0) * (r1 - r2)) +
             x2 * (r - r0) * (r - r1) / ((r2 - r0) * (r2 - r1));
  double slope = (r2 - r1) / (x2 - x1);  // dR/dlog β, for the first step
  double f = gennorm_ratio(std::exp(x)) - r;
  for (int step = 0; step < 4 && f != 0 && slope != 0; ++step) {
    const double next = x - f / slope;
    const double f_next = gennorm_ratio(std::exp(next)) - r;
    // A step this small leaves next within ~1e-15 of the root (superlinear convergence).
    if (std::fabs(next - x) < 1e-9) return next;
    if (f_next == f) return next;
    slope = (f_next - f) / (next - x);
    x = next;
    f = f_next;
  }
  return x;
}

}  // namespace

GenNormFit fit_gennorm_host(double mean_abs, double mean_sq) {
  const RatioGrid& g = ratio_grid();
  return fit_gennorm_by(mean_abs, mean_sq, g.r_min, g.r_max, [&](double r) {
    const double b = std::exp(estimate_log_beta(g, r));
    const bool bracketed = std::isfinite(b) && gennorm_ratio(b * (1 - kBand)) < r &&
                           !(gennorm_ratio(b * (1 + kBand)) < r);
    if (!bracketed) g_fallbacks.fetch_add(1, std::memory_order_relaxed);
    // Unbracketed, every midpoint is evaluated: the plain bisection.
    const double lo = bracketed ? b * (1 - 2 * kBand) : 0.0;
    const double hi = bracketed ? b * (1 + 2 * kBand) : INFINITY;
    return bisect_log_beta([&](double mid) {
      if (mid < lo) return true;
      if (mid > hi) return false;
      return gennorm_ratio(mid) < r;
    });
  });
}

uint64_t fit_gennorm_host_fallbacks() { return g_fallbacks.load(std::memory_order_relaxed); }

}  // namespace co3::detail
