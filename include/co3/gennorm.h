// The generalized normal model of a gradient, f(x) = β/(2αΓ(1/β))·exp(−(|x|/α)^β): its fit
// from two moments, and what it predicts for a float format: the probability of every code
// (the model Huffman code) and the quantization error (the scale that minimises it).
//
// Everything runs on the host and on the device and gives the same bits on both (FORMAT.md §10):
// only correctly rounded operations and co3's own elementary functions (detail/dmath.h), loops
// with fixed counts or data-only stopping rules, no allocation.
//
// Notation: Y ~ GenNorm(β, t) is the value after division by the scale (t = α/scale).
// Z = |Y/t|^β follows Gamma(1/β, 1), so P(|Y| ≤ b) = P(1/β, (b/t)^β) and
// E[|Y|; |Y| ≤ b] = E|Y|·P(2/β, (b/t)^β). The code below works in units of t (w = b/t).
#pragma once

#include <cstdint>

#include "co3/detail/dmath.h"
#include "co3/detail/hd.h"
#include "co3/float_format.h"

namespace co3 {

struct GenNormFit {
  double beta;   // shape
  double alpha;  // scale
};

inline constexpr double kBetaMin = 0.03;
inline constexpr double kBetaMax = 16.0;

// E|x| / sqrt(E x²) = Γ(2/β) / sqrt(Γ(1/β)·Γ(3/β)), increasing in β.
CO3_HD double gennorm_ratio(double beta) {
  using namespace detail;
  const double inv = ddiv(1.0, beta);
  const double l1 = lgamma(inv), l2 = lgamma(dmul(2.0, inv)), l3 = lgamma(dmul(3.0, inv));
  return exp(dsub(l2, dmul(0.5, dadd(l1, l3))));
}

// β's bisection in log β: 56 halvings of log(kBetaMax/kBetaMin) < 6.3 reach 2^-53;
// below(mid) says whether gennorm_ratio(mid) < r.
template <class Below>
CO3_HD double bisect_log_beta(Below below) {
  using namespace detail;
  double lo = kBetaMin, hi = kBetaMax;
  for (int i = 0; i < 56; ++i) {
    const double mid = dsqrt(dmul(lo, hi));
    if (below(mid)) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return dsqrt(dmul(lo, hi));
}

// fit_gennorm's steps, with the search for β between the clamps given: beta_between(r) must
// return bisect_log_beta's β for gennorm_ratio(mid) < r (the host computes it with fewer
// evaluations, host/codec/gennorm_fit.h); r_min and r_max are gennorm_ratio at kBetaMin and kBetaMax.
template <class BetaBetween>
CO3_HD GenNormFit fit_gennorm_by(double mean_abs, double mean_sq, double r_min, double r_max,
                                 BetaBetween beta_between) {
  using namespace detail;
  if (!dfinite(mean_abs) || !dfinite(mean_sq) || !(mean_sq > 0) || !(mean_abs >= 0))
    return {2.0, 0.0};
  const double r = ddiv(mean_abs, dsqrt(mean_sq));
  const double beta = r <= r_min ? kBetaMin : r >= r_max ? kBetaMax : beta_between(r);
  const double inv = ddiv(1.0, beta);
  return {beta, dsqrt(dmul(mean_sq, exp(dsub(lgamma(inv), lgamma(dmul(3.0, inv))))))};
}

// The GenNorm with the given E|x| and E x² (β clamped to [kBetaMin, kBetaMax]). Degenerate or
// non-finite moments give {2, 0}.
CO3_HD GenNormFit fit_gennorm(double mean_abs, double mean_sq) {
  return fit_gennorm_by(mean_abs, mean_sq, gennorm_ratio(kBetaMin), gennorm_ratio(kBetaMax),
                        [](double r) {
                          return bisect_log_beta([&](double mid) { return gennorm_ratio(mid) < r; });
                        });
}

// β = 2 with E x² = α²/2; β = 1 with E|x| = α.
CO3_HD GenNormFit fit_normal(double mean_sq) {
  using namespace detail;
  return {2.0, dfinite(mean_sq) && mean_sq > 0 ? dsqrt(dmul(2.0, mean_sq)) : 0.0};
}
CO3_HD GenNormFit fit_laplace(double mean_abs) {
  using namespace detail;
  return {1.0, dfinite(mean_abs) && mean_abs > 0 ? mean_abs : 0.0};
}

namespace detail {

// GenNorm(β, 1): the incomplete gamma orders of its CDF (1/β) and first partial moment (2/β),
// E|Y| and E Y².
struct GenNormUnit {
  double beta;
  GammaOrder o1;
  double a2;
  double m1, m2;
};

CO3_HD GenNormUnit gennorm_unit(double beta) {
  const double inv = ddiv(1.0, beta);
  const double l1 = lgamma(inv);
  const double a2 = dmul(2.0, inv), a3 = dmul(3.0, inv);
  return {beta, gamma_order(inv), a2, exp(dsub(lgamma(a2), l1)), exp(dsub(lgamma(a3), l1))};
}

// The distribution of |Y| on either side of w, in units of t: P(|Y| ≤ w), P(|Y| > w),
// E[|Y|; |Y| ≤ w], E[|Y|; |Y| > w].
struct GenNormSplit {
  double below0, above0, below1, above1;
};

CO3_HD GenNormSplit gennorm_split(const GenNormUnit& u, double w) {
  const double lz = dmul(u.beta, log(w));
  const double z = exp(lz);
  if (!(z > 0)) return {0.0, 1.0, 0.0, u.m1};
  if (!dfinite(z)) return {1.0, 0.0, u.m1, 0.0};
  GenNormSplit s;
  const double pre1 = gamma_prefactor(u.o1, z, lz);
  gamma_pq_from(u.o1.a, z, pre1, &s.below0, &s.above0);
  // The order-2/β prefactor is the order-1/β one times z^(1/β)·Γ(1/β)/Γ(2/β) = w/m1: no
  // second exponential.
  double p, q;
  gamma_pq_from(u.a2, z, ddiv(dmul(pre1, w), u.m1), &p, &q);
  s.below1 = dmul(u.m1, p);
  s.above1 = dmul(u.m1, q);
  return s;
}

// A difference of cumulative values, from whichever side has the smaller operands (the tails
// keep their relative accuracy).
CO3_HD double cell_part(double below_lo, double above_lo, double below_hi, double above_hi) {
  return below_hi <= above_lo ? dsub(below_hi, below_lo) : dsub(above_lo, above_hi);
}

// E[(|Y| − w)_+] = ∫_w^∞ P(|Y| > y) dy.
// (Where P(|Y| > w) is 0 the product is skipped: no ∞·0 when w overflows.)
CO3_HD double excess(const GenNormSplit& s, double w) {
  return s.above0 == 0 ? s.above1 : dsub(s.above1, dmul(w, s.above0));
}

// Past the largest boundary both tails are 0 in double: every later cell is empty.
CO3_HD bool tail_empty(const GenNormSplit& s) {
  return s.above0 == 0 && s.above1 == 0;
}

// The magnitudes of format f in units of t.
CO3_HD double unit_magnitude(FloatFormat f, uint32_t c, double inv_t) {
  return dmul(static_cast<double>(code_magnitude(f, c)), inv_t);
}

// Probability of each magnitude code 0 … max_code() (written to mass[0 … max_code()], which the
// caller has zeroed) for |Y| ~ GenNorm(β, 1) and magnitudes v_c·inv_t.
CO3_HD void gennorm_magnitude_mass(FloatFormat f, Rounding r, const GenNormUnit& u, double inv_t,
                                   double* mass) {
  const uint32_t cmax = f.max_code();
  GenNormSplit lo = gennorm_split(u, 0.0);
  double v_lo = 0.0;
  if (r == Rounding::stochastic) {
    // On [v_c, v_c+1] the code rounds up with probability (y − v_c)/h: the cell sends
    // (E[Y; cell] − v_c·P(cell))/h up and the rest down. Beyond v_max everything saturates.
    for (uint32_t c = 0; c < cmax; ++c) {
      const double v_hi = unit_magnitude(f, c + 1, inv_t);
      const GenNormSplit hi = gennorm_split(u, v_hi);
      const double m0 = cell_part(lo.below0, lo.above0, hi.below0, hi.above0);
      const double m1 = cell_part(lo.below1, lo.above1, hi.below1, hi.above1);
      double up = ddiv(dsub(m1, dmul(v_lo, m0)), dsub(v_hi, v_lo));
      up = up < 0 ? 0.0 : (up > m0 ? m0 : up);
      mass[c] = dadd(mass[c], dsub(m0, up));
      mass[c + 1] = dadd(mass[c + 1], up);
      lo = hi;
      v_lo = v_hi;
      if (tail_empty(hi)) return;
    }
    mass[cmax] = dadd(mass[cmax], lo.above0);
    return;
  }
  // Nearest: cell c is [b_(c−1), b_c] with b_c the midpoint of v_c and v_(c+1); the last cell
  // is unbounded (saturation).
  for (uint32_t c = 0; c < cmax; ++c) {
    const double v_hi = unit_magnitude(f, c + 1, inv_t);
    const GenNormSplit hi = gennorm_split(u, dmul(0.5, dadd(v_lo, v_hi)));
    mass[c] = cell_part(lo.below0, lo.above0, hi.below0, hi.above0);
    lo = hi;
    v_lo = v_hi;
    if (tail_empty(hi)) return;
  }
  mass[cmax] = lo.above0;
}

// E[(Y − value(Q(Y)))²] for Y ~ GenNorm(β, 1) and magnitudes v_c·inv_t. With
// K(w) = E[(|Y| − w)_+], two integrations by parts turn the cell-by-cell integrals into sums
// over boundaries (h_c = v_(c+1) − v_c, b_c their midpoint):
//   nearest:     m2 − 2·Σ_(c<max) h_c·K(b_c)
//   stochastic:  Σ_(c<max) h_c·(K(v_c) + K(v_(c+1))) − m2 + 2·E[(|Y| − v_max)_+²]
// that is, the midpoint or trapezoid rule's error on m2 = 2∫K, plus saturation for stochastic
// rounding (nearest's last cell already reaches to ∞).
CO3_HD double gennorm_unit_mse(FloatFormat f, Rounding r, const GenNormUnit& u, double inv_t) {
  const bool stochastic = r == Rounding::stochastic;
  // 1/t overflowed: every magnitude is infinitely far, nearest rounds all to zero.
  if (!dfinite(inv_t)) return stochastic ? dinf() : u.m2;
  const uint32_t cmax = f.max_code();
  double sum = 0.0;
  double v_lo = 0.0;
  double k_lo = u.m1;  // K(0)
  for (uint32_t c = 0; c < cmax; ++c) {
    const double v_hi = unit_magnitude(f, c + 1, inv_t);
    const double h = dsub(v_hi, v_lo);
    const double w = stochastic ? v_hi : dmul(0.5, dadd(v_lo, v_hi));
    const GenNormSplit s = gennorm_split(u, w);
    const double k = excess(s, w);
    if (stochastic) {
      sum = dadd(sum, dmul(h, dadd(k_lo, k)));
    } else if (k > 0) {  // K ≥ 0; skipping its zeros also avoids ∞·0 where v·(1/t) overflows
      sum = dadd(sum, dmul(h, dmul(2.0, k)));
    }
    v_lo = v_hi;
    k_lo = k;
    if (tail_empty(s)) break;
  }
  double mse;
  if (stochastic) {
    // E[(|Y| − v)_+²] = m2·Q(3/β, z) − 2v·E[|Y|; |Y| > v] + v²·P(|Y| > v).
    const GenNormSplit s = gennorm_split(u, v_lo);
    double sat = 0.0;
    if (!tail_empty(s)) {
      double p, q;
      gamma_pq(gamma_order(ddiv(3.0, u.beta)), exp(dmul(u.beta, log(v_lo))), &p, &q);
      sat = dadd(dsub(dmul(u.m2, q), dmul(dmul(2.0, v_lo), s.above1)),
                 dmul(dmul(v_lo, v_lo), s.above0));
    }
    mse = dadd(dsub(sum, u.m2), dmul(2.0, sat > 0 ? sat : 0.0));
  } else {
    mse = dsub(u.m2, sum);
  }
  return mse > 0 ? mse : 0.0;
}

}  // namespace detail

// Probability of each of the 2^w codes of f when Y ~ GenNorm(β, t) is converted by encode_float
// with rounding r and saturating overflow. Zero is always +0 (code sign_bit() has probability 0);
// reserved codes have probability 0; t == 0 puts all the mass on code 0.
CO3_HD void gennorm_code_pmf(FloatFormat f, Rounding r, double beta, double t, double* pmf) {
  using namespace detail;
  const uint32_t codes = 1u << f.width();
  for (uint32_t c = 0; c < codes; ++c) pmf[c] = 0.0;
  if (!(t > 0)) {
    pmf[0] = 1.0;
    return;
  }
  const GenNormUnit u = gennorm_unit(beta);
  gennorm_magnitude_mass(f, r, u, ddiv(1.0, t), pmf);
  // Split each nonzero magnitude evenly between the signs.
  const uint32_t sign = f.sign_bit();
  for (uint32_t c = 1; c <= f.max_code(); ++c) {
    pmf[c] = dmul(0.5, pmf[c]);
    pmf[sign | c] = pmf[c];
  }
}

// E[(Y − value(Q(Y)))²] for Y ~ GenNorm(β, t) converted with rounding r (saturating overflow),
// in the units of Y.
CO3_HD double gennorm_quant_mse(FloatFormat f, Rounding r, double beta, double t) {
  using namespace detail;
  if (!(t > 0)) return 0.0;
  const double unit = gennorm_unit_mse(f, r, gennorm_unit(beta), ddiv(1.0, t));
  return dmul(dmul(t, t), unit);
}

// The t that minimises gennorm_quant_mse(f, r, β, t)/t², i.e. the error in the units of the data
// for a fixed α (the codec's scale is α/t), for β in [kBetaMin, kBetaMax].
//
// The search runs over s = log(v_max/t), the headroom of the largest magnitude over the
// model's scale. |Y/t| = Z^(1/β) with Z ~ Gamma(1/β): log|Y/t| is centred near log(1/β)/β and
// spreads over about σ = max(1, 1/√β), so a grid of step σ/3 over [centre − 2σ, centre + 6σ]
// (from heavy saturation to far more headroom than any format needs) resolves every shape alike;
// golden-section search then refines around the best grid point. Beyond fp4 the error is nearly
// scale-free over a wide band of s, with shallow periodic dips (binade alignment): the search
// picks the deepest, which can lie anywhere in that band; the best scale within a binade of t = 1
// is preferred when it is within 0.5% of that (see the end of the function).
namespace detail {

// Minimises cost(s) over [lo, hi]: a grid of `points`, then golden-section steps (22 shrink the
// bracket of one grid step by 0.618^22 ≈ 2.5e-5) around the best point. Fixed counts, so the
// same bits on every device.
template <class Cost>
CO3_HD double minimise_on(Cost cost, double lo, double hi, int points, double* best_cost) {
  const double step = ddiv(dsub(hi, lo), static_cast<double>(points - 1));
  int best = 0;
  double bc = 0.0;
  for (int i = 0; i < points; ++i) {
    const double c = cost(dadd(lo, dmul(step, static_cast<double>(i))));
    if (i == 0 || c < bc) {
      best = i;
      bc = c;
    }
  }
  double best_s = dadd(lo, dmul(step, static_cast<double>(best)));
  double a = dadd(lo, dmul(step, static_cast<double>(best > 0 ? best - 1 : 0)));
  double b = dadd(lo, dmul(step, static_cast<double>(best < points - 1 ? best + 1 : best)));
  const double kInvPhi = 0.61803398874989484820;
  double x1 = dsub(b, dmul(kInvPhi, dsub(b, a)));
  double x2 = dadd(a, dmul(kInvPhi, dsub(b, a)));
  double c1 = cost(x1), c2 = cost(x2);
  for (int i = 0; i < 22; ++i) {
    if (c1 <= c2) {
      b = x2;
      x2 = x1;
      c2 = c1;
      x1 = dsub(b, dmul(kInvPhi, dsub(b, a)));
      c1 = cost(x1);
    } else {
      a = x1;
      x1 = x2;
      c1 = c2;
      x2 = dadd(a, dmul(kInvPhi, dsub(b, a)));
      c2 = cost(x2);
    }
  }
  if (c1 < bc) {
    best_s = x1;
    bc = c1;
  }
  if (c2 < bc) {
    best_s = x2;
    bc = c2;
  }
  *best_cost = bc;
  return best_s;
}

}  // namespace detail

CO3_HD double gennorm_optimal_t(FloatFormat f, Rounding r, double beta) {
  using namespace detail;
  const GenNormUnit unit = gennorm_unit(beta);
  const double vmax = static_cast<double>(max_finite(f));
  const double inv_beta = ddiv(1.0, beta);
  const double centre = dmul(inv_beta, log(inv_beta));
  const double sigma = beta >= 1.0 ? 1.0 : ddiv(1.0, dsqrt(beta));
  auto cost = [&](double s) { return gennorm_unit_mse(f, r, unit, ddiv(exp(s), vmax)); };
  // Global search over [centre − 2σ, centre + 6σ] in 25 points (step σ/3).
  double best_cost;
  const double best_s =
      minimise_on(cost, dsub(centre, dmul(2.0, sigma)), dadd(centre, dmul(6.0, sigma)), 25,
                  &best_cost);
  // Wide formats (e4m3 and up) have an error curve flat over decades of scale, rippling with
  // the binade alignment, so the global minimum lands on whichever trough is deepest: for bf16
  // at β = 4 that is t* ~ 1e37, a scale below FLT_MIN that saturates any entry the model calls
  // impossible. The best scale within one binade of t = 1 (scale = α) keeps the format's range
  // centred on the data; it is taken whenever its error is within 0.5% of the global optimum.
  const double s_unit = log(vmax);
  const double kLn2 = 0.69314718055994530942;
  double near_cost;
  const double near_s = minimise_on(cost, dsub(s_unit, kLn2), dadd(s_unit, kLn2), 9, &near_cost);
  return ddiv(vmax, exp(near_cost <= dmul(best_cost, 1.005) ? near_s : best_s));
}

}  // namespace co3
