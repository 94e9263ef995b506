// Elementary functions in double precision built only from correctly rounded +, −, ×, ÷ and
// integer bit manipulation.
//
// The GenNorm fit, the quantization scale and the model code probabilities end up in the packet,
// so the CPU and the GPU must compute them to the same bits. glibc's and CUDA's math libraries
// differ in the last place, so co3 uses these instead: the same IEEE operations in the same order
// on both sides (dadd/dmul/... never contract into FMA). Every loop runs a fixed number of times
// or stops on a test of the data alone.
//
// Accuracy (tests/cpu/test_dmath.cpp): exp and log within 1 ulp; pow within about |y·log x| ulp
// (≤ 1e-13); lgamma within 1e-14, in absolute terms below 10 where it has zeros at 1 and 2;
// P(a, x) and Q(a, x), the smaller of the two, within 2e-14 relative down to 1e-10 and 1e-13 down
// to 1e-100 (smaller values carry the rounding of an exponent of several hundred).
#pragma once

#include <cmath>
#include <cstdint>

#include "co3/detail/hd.h"

namespace co3::detail {

// IEEE 754 requires a correctly rounded square root, so std::sqrt and __dsqrt_rn agree.
CO3_HD double dsqrt(double x) {
#if defined(__CUDA_ARCH__)
  return __dsqrt_rn(x);
#else
  return std::sqrt(x);
#endif
}

CO3_HD double dinf() {
  return bits_f64(0x7ff0000000000000ull);
}
CO3_HD double dnan() {
  return bits_f64(0x7ff8000000000000ull);
}
CO3_HD double dabs(double x) {
  return bits_f64(f64_bits(x) & 0x7fffffffffffffffull);
}
CO3_HD bool dfinite(double x) {
  return (f64_bits(x) & 0x7ff0000000000000ull) != 0x7ff0000000000000ull;
}

// 2^k for k in [-1022, 1023], exactly.
CO3_HD double pow2(int k) {
  return bits_f64(static_cast<uint64_t>(k + 1023) << 52);
}

// ln 2 split so that k·kLn2Hi is exact for |k| < 2^21 (kLn2Hi has 32 significant bits).
inline constexpr double kLn2Hi = 6.93147180369123816490e-01;
inline constexpr double kLn2Lo = 1.90821492927058770002e-10;

// 2·atanh(s) − 2s = 2s³·(1/3 + s²/5 + s⁴/7 + …); this returns the bracket for s² ≤ 0.03,
// where eleven terms reach 2^-56 of the result.
CO3_HD double atanh_tail(double s2) {
  constexpr double kInvOdd[11] = {1.0 / 3,  1.0 / 5,  1.0 / 7,  1.0 / 9,  1.0 / 11, 1.0 / 13,
                                  1.0 / 15, 1.0 / 17, 1.0 / 19, 1.0 / 21, 1.0 / 23};
  double t = kInvOdd[10];
  for (int i = 9; i >= 0; --i) t = dadd(kInvOdd[i], dmul(s2, t));
  return t;
}

// log(1 + f) − f for |f| ≤ 0.42. With s = f/(2 + f), log(1 + f) = 2·atanh(s) and f − 2s = f·s,
// so the result is −s·(f − 2s²·tail): no cancellation, whatever the sign or size of f.
CO3_HD double log1p_minus(double f) {
  const double s = ddiv(f, dadd(2.0, f));
  const double s2 = dmul(s, s);
  return -dmul(s, dsub(f, dmul(dmul(2.0, s2), atanh_tail(s2))));
}

CO3_HD double exp(double x) {
  if (x != x) return x;
  if (x > 709.782712893384) return dinf();  // above log(DBL_MAX)
  if (x < -745.1332191019412) return 0.0;   // below log of half the smallest subnormal
  // x = k·ln2 + r with |r| ≤ ln2/2; x − k·kLn2Hi is exact (Sterbenz).
  const double y = dmul(x, 1.44269504088896338700);
  const int k = static_cast<int>(x >= 0 ? dadd(y, 0.5) : dsub(y, 0.5));
  const double kd = static_cast<double>(k);
  const double r = dsub(dsub(x, dmul(kd, kLn2Hi)), dmul(kd, kLn2Lo));
  // e^r = 1 + r + r²·Σ r^j/(j+2)!: the first omitted term is below 2^-57.
  constexpr double kInvFact[12] = {
      1.0 / 2,     1.0 / 6,      1.0 / 24,      1.0 / 120,      1.0 / 720,       1.0 / 5040,
      1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800};
  double p = kInvFact[11];
  for (int i = 10; i >= 0; --i) p = dadd(kInvFact[i], dmul(r, p));
  const double er = dadd(1.0, dadd(r, dmul(dmul(r, r), p)));
  // Scale by 2^k in two exact steps where 2^k itself is not a normal double, so that a
  // subnormal result is rounded once.
  if (k > 1023) return dmul(dmul(er, pow2(k - 1)), 2.0);
  if (k < -1022) return dmul(dmul(er, pow2(k + 60)), pow2(-60));
  return dmul(er, pow2(k));
}

CO3_HD double log(double x) {
  if (x != x) return x;
  if (x < 0) return dnan();
  if (x == 0) return -dinf();
  if (!dfinite(x)) return x;
  uint64_t u = f64_bits(x);
  int e = 0;
  if (u < 0x0010000000000000ull) {               // subnormal: normalize exactly
    u = f64_bits(dmul(x, 18014398509481984.0));  // 2^54
    e = -54;
  }
  e += static_cast<int>(u >> 52) - 1023;
  u = (u & 0x000fffffffffffffull) | 0x3ff0000000000000ull;  // mantissa m in [1, 2)
  if (u > 0x3ff6a09e667f3bcdull) {  // m > √2: use m/2 so that f = m − 1 is in [−0.30, 0.42]
    u -= 0x0010000000000000ull;
    ++e;
  }
  const double f = dsub(bits_f64(u), 1.0);  // exact
  const double ed = static_cast<double>(e);
  return dadd(dmul(ed, kLn2Hi), dadd(f, dadd(log1p_minus(f), dmul(ed, kLn2Lo))));
}

// x^y for x ≥ 0 (x = 0 or +Inf give the limits for y > 0).
CO3_HD double pow(double x, double y) {
  if (y == 0 || x == 1) return 1.0;
  return exp(dmul(y, log(x)));
}

// log Γ(x) − [(x − ½)·log x − x + ½·log 2π]: Stirling's series, to 2^-56 relative for x ≥ 10.
CO3_HD double stirling_correction(double x) {
  // B_2k / (2k·(2k − 1)) for k = 1 … 9.
  constexpr double kCoef[9] = {1.0 / 12,    -1.0 / 360,       1.0 / 1260,
                               -1.0 / 1680, 1.0 / 1188,       -691.0 / 360360,
                               1.0 / 156,   -3617.0 / 122400, 43867.0 / 244188};
  const double r = ddiv(1.0, x);
  const double r2 = dmul(r, r);
  double s = kCoef[8];
  for (int i = 7; i >= 0; --i) s = dadd(kCoef[i], dmul(r2, s));
  return dmul(r, s);
}

inline constexpr double kHalfLog2Pi = 0.91893853320467274178;  // ½·log 2π

// log Γ(x) for x > 0.
CO3_HD double lgamma(double x) {
  // Γ(x) = Γ(x + n) / (x·(x + 1)·…·(x + n − 1)) moves x to where Stirling's series converges.
  double prod = 1.0;
  while (x < 10.0) {
    prod = dmul(prod, x);
    x = dadd(x, 1.0);
  }
  const double lead = dsub(dmul(dsub(x, 0.5), log(x)), x);
  const double r = dadd(lead, dadd(kHalfLog2Pi, stirling_correction(x)));
  return prod == 1.0 ? r : dsub(r, log(prod));
}

// Orders at or above this use the large-order form of the incomplete gamma prefactor.
inline constexpr double kLargeGammaOrder = 10.0;

// What P(a, ·) and Q(a, ·) need to know about Γ(a), computed once per order.
struct GammaOrder {
  double a;
  double log_norm;  // a < kLargeGammaOrder: −log Γ(a); else ½·log(a/2π) − stirling_correction(a)
};

CO3_HD GammaOrder gamma_order(double a) {
  if (a < kLargeGammaOrder) return {a, -lgamma(a)};
  const double inv_2pi = 0.15915494309189533577;
  return {a, dsub(dmul(0.5, log(dmul(a, inv_2pi))), stirling_correction(a))};
}

// x^a·e^(−x)/Γ(a) for 0 < x < ∞, given log x. For a large order the direct exponent
// a·log x − x − log Γ(a) subtracts numbers of several hundred to get a few units; writing Γ(a) by
// Stirling instead gives exp(a·(log(x/a) − (x − a)/a) + ½·log(a/2π) − correction), whose bracket
// is computed without that cancellation.
CO3_HD double gamma_prefactor(const GammaOrder& g, double x, double log_x) {
  if (g.a < kLargeGammaOrder) return exp(dadd(dsub(dmul(g.a, log_x), x), g.log_norm));
  const double t = ddiv(dsub(x, g.a), g.a);
  const double bracket = dabs(t) <= 0.25 ? log1p_minus(t) : dsub(log(ddiv(x, g.a)), t);
  return exp(dadd(dmul(g.a, bracket), g.log_norm));
}

// P(a, x) and Q(a, x) for 0 < x < ∞ from the prefactor x^a·e^(−x)/Γ(a). The smaller one is
// computed directly (series below a + 1, continued fraction above), the other as its complement,
// so each is accurate where it is small.
CO3_HD void gamma_pq_from(double a, double x, double prefactor, double* p, double* q) {
  constexpr int kMaxTerms = 100000;  // never reached for a ≤ 1e4; a guard, not a stopping rule
  if (x < dadd(a, 1.0)) {
    // γ(a, x) = x^a·e^(−x)/a · Σ_n x^n / ((a + 1)·…·(a + n)); the terms fall from the start.
    double term = 1.0, sum = 1.0, den = a;
    for (int n = 0; n < kMaxTerms && term > dmul(sum, 0x1p-56); ++n) {
      den = dadd(den, 1.0);
      term = dmul(term, ddiv(x, den));
      sum = dadd(sum, term);
    }
    *p = ddiv(dmul(prefactor, sum), a);
    *q = dsub(1.0, *p);
    return;
  }
  // Γ(a, x) = x^a·e^(−x) · 1/(b_1 + c_2/(b_2 + c_3/(b_3 + …))) with b_n = x + 2n − 1 − a and
  // c_(n+1) = −n·(n − a) (Legendre). Its convergents A_n/B_n are followed through the ratios
  // A_n/A_(n−1) and B_(n−1)/B_n, which stay finite where A_n and B_n overflow.
  double b = dadd(dsub(x, a), 1.0);
  double ra = dinf();        // A_1/A_0 with A_0 = 0: the first c/ra below is then exactly 0
  double rb = ddiv(1.0, b);  // B_0/B_1
  double cf = rb;            // A_1/B_1
  for (int n = 1; n < kMaxTerms; ++n) {
    const double nd = static_cast<double>(n);
    const double c = -dmul(nd, dsub(nd, a));
    b = dadd(b, 2.0);
    ra = dadd(b, ddiv(c, ra));
    rb = ddiv(1.0, dadd(b, dmul(c, rb)));
    const double step = dmul(ra, rb);
    cf = dmul(cf, step);
    if (dabs(dsub(step, 1.0)) <= 0x1p-52) break;
  }
  *q = dmul(prefactor, cf);
  *p = dsub(1.0, *q);
}

// The regularized incomplete gamma functions P(a, x) = γ(a, x)/Γ(a) and Q = 1 − P, x ≥ 0.
CO3_HD void gamma_pq(const GammaOrder& g, double x, double* p, double* q) {
  if (!(x > 0) || !dfinite(x)) {
    *p = x > 0 ? 1.0 : 0.0;
    *q = x > 0 ? 0.0 : 1.0;
    return;
  }
  gamma_pq_from(g.a, x, gamma_prefactor(g, x, log(x)), p, q);
}

CO3_HD double gamma_p(double a, double x) {
  double p, q;
  gamma_pq(gamma_order(a), x, &p, &q);
  return p;
}

CO3_HD double gamma_q(double a, double x) {
  double p, q;
  gamma_pq(gamma_order(a), x, &p, &q);
  return q;
}

}  // namespace co3::detail
