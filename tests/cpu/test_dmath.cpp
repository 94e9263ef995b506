// co3's own elementary functions against the C library and against closed forms of the
// incomplete gamma functions derived independently (exponential, error function, Poisson sums).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <random>

#include "co3/detail/dmath.h"

namespace {

namespace d = co3::detail;

double rel_err(double got, double want) {
  return std::fabs(got - want) / std::fabs(want);
}

// Uniform in log scale between lo and hi (both > 0).
double log_uniform(std::mt19937_64& rng, double lo, double hi) {
  return std::exp(std::uniform_real_distribution<double>(std::log(lo), std::log(hi))(rng));
}

TEST(DMath, SqrtIsCorrectlyRounded) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 100000; ++i) {
    const double x = log_uniform(rng, 1e-300, 1e300);
    EXPECT_EQ(d::dsqrt(x), std::sqrt(x)) << x;
  }
  EXPECT_EQ(d::dsqrt(0.0), 0.0);
}

TEST(DMath, Ln2SplitIsLn2) {
  EXPECT_EQ(d::kLn2Hi + d::kLn2Lo, std::log(2.0));
  const long double ln2 = std::log(2.0L);
  EXPECT_LT(std::fabs(static_cast<long double>(d::kLn2Hi) - ln2 + d::kLn2Lo), 1e-19L);
  EXPECT_EQ(std::ldexp(d::kLn2Hi, 32), std::round(std::ldexp(d::kLn2Hi, 32)));  // 32 bits
}

TEST(DMath, ExpMatchesLibm) {
  double worst = 0;
  for (int i = 0; i <= 2000000; ++i) {
    const double x = -745.0 + 1454.78 * i / 2000000.0;
    const double want = std::exp(x);
    if (want < DBL_MIN) {  // subnormal results: one rounding of an exact scaling
      EXPECT_LE(std::fabs(d::exp(x) - want), std::numeric_limits<double>::denorm_min()) << x;
    } else {
      worst = std::max(worst, rel_err(d::exp(x), want));
    }
  }
  EXPECT_LE(worst, 4.5e-16);  // 2 ulp
  EXPECT_EQ(d::exp(0.0), 1.0);
  EXPECT_EQ(d::exp(-746.0), 0.0);
  EXPECT_EQ(d::exp(710.0), std::numeric_limits<double>::infinity());
  EXPECT_EQ(d::exp(-std::numeric_limits<double>::infinity()), 0.0);
  EXPECT_TRUE(std::isnan(d::exp(std::nan(""))));
}

TEST(DMath, LogMatchesLibm) {
  std::mt19937_64 rng(2);
  double worst = 0;
  for (int i = 0; i < 1000000; ++i) {
    const double x = log_uniform(rng, 5e-324, 1.7e308);
    worst = std::max(worst, rel_err(d::log(x), std::log(x)));
    const double y = 1.0 + std::uniform_real_distribution<double>(-0.4, 0.6)(rng);
    if (y != 1.0) worst = std::max(worst, rel_err(d::log(y), std::log(y)));
  }
  EXPECT_LE(worst, 4.5e-16);
  EXPECT_EQ(d::log(1.0), 0.0);
  EXPECT_EQ(d::log(0.0), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(d::log(std::numeric_limits<double>::infinity()),
            std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(d::log(-1.0)));
}

TEST(DMath, PowMatchesLibm) {
  // The error grows with |y·log x| (the exponent is rounded once): ≤ 1e-13 up to overflow.
  std::mt19937_64 rng(3);
  double worst = 0;
  for (int i = 0; i < 1000000; ++i) {
    const double x = log_uniform(rng, 1e-30, 1e30);
    const double y = std::uniform_real_distribution<double>(-40.0, 40.0)(rng);
    const double want = std::pow(x, y);
    if (want > DBL_MIN && want < DBL_MAX) worst = std::max(worst, rel_err(d::pow(x, y), want));
  }
  EXPECT_LE(worst, 1e-13);
  EXPECT_EQ(d::pow(0.0, 2.5), 0.0);
  EXPECT_EQ(d::pow(3.0, 0.0), 1.0);
  EXPECT_EQ(d::pow(std::numeric_limits<double>::infinity(), 0.5),
            std::numeric_limits<double>::infinity());
}

TEST(DMath, LgammaMatchesLibm) {
  // Relative where |log Γ| ≥ 1; near the zeros at 1 and 2 the error is absolute (~1e-14).
  std::mt19937_64 rng(4);
  double worst = 0;
  for (int i = 0; i < 500000; ++i) {
    const double x = log_uniform(rng, 1e-8, 1e4);
    const double want = std::lgamma(x);
    worst = std::max(worst, std::fabs(d::lgamma(x) - want) / std::max(1.0, std::fabs(want)));
  }
  for (int i = 1; i <= 170; ++i) {  // log of factorials, exactly computable references
    const double x = static_cast<double>(i);
    worst =
        std::max(worst, std::fabs(d::lgamma(x) - std::lgamma(x)) / std::max(1.0, std::lgamma(x)));
  }
  EXPECT_LE(worst, 1e-14);
  EXPECT_NEAR(d::lgamma(1.0), 0.0, 1e-14);
  EXPECT_NEAR(d::lgamma(2.0), 0.0, 1e-14);
  EXPECT_NEAR(d::lgamma(0.5), 0.5 * std::log(M_PI), 1e-14);
}

// Tolerance for an incomplete gamma value: 1e-13 relative down to 1e-100; below that the rounding
// of the exponent (hundreds in size) dominates and the error grows with |log value|.
double gamma_tolerance(double ref) {
  return std::max(1e-13, 1e-15 * std::fabs(std::log(ref))) * ref;
}

// Checks the smaller of P and Q against the reference pair, and the other, its complement, to the
// same absolute error plus one rounding.
void expect_pq(double a, double x, long double ref_p, long double ref_q) {
  double p, q;
  d::gamma_pq(d::gamma_order(a), x, &p, &q);
  const bool p_small = ref_p < ref_q;
  const double small = p_small ? p : q, large = p_small ? q : p;
  const long double ref_small = p_small ? ref_p : ref_q, ref_large = p_small ? ref_q : ref_p;
  if (ref_small < 1e-300L) return;  // beyond double's range: nothing to compare
  const double tol = gamma_tolerance(static_cast<double>(ref_small));
  EXPECT_NEAR(small, static_cast<double>(ref_small), tol) << "a " << a << " x " << x;
  EXPECT_NEAR(large, static_cast<double>(ref_large), tol + 2.3e-16) << "a " << a << " x " << x;
}

TEST(DMath, IncompleteGammaOrderOneIsExponential) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 200000; ++i) {
    const double x = log_uniform(rng, 1e-10, 1e4);
    expect_pq(1.0, x, -std::expm1(-static_cast<long double>(x)),
              std::exp(-static_cast<long double>(x)));
  }
}

TEST(DMath, IncompleteGammaOrderHalfIsErf) {
  // P(1/2, s²) = erf(s): s with 26 significant bits makes s² exact, so the reference is erf(s).
  std::mt19937_64 rng(6);
  for (int i = 0; i < 200000; ++i) {
    double s = log_uniform(rng, 1e-5, 100.0);
    s = std::ldexp(std::round(std::ldexp(s, 25 - std::ilogb(s))), std::ilogb(s) - 25);
    expect_pq(0.5, s * s, std::erf(static_cast<long double>(s)),
              std::erfc(static_cast<long double>(s)));
  }
}

// Poisson sums for integer orders: Q(n, x) = e^−x·Σ_(k<n) x^k/k!, P(n, x) = e^−x·Σ_(k≥n) x^k/k!,
// each a sum of positive terms in long double.
long double poisson_below(int n, long double x) {
  long double term = 1, sum = 1;
  for (int k = 1; k < n; ++k) sum += term *= x / k;
  return std::exp(-x) * sum;
}
long double poisson_from(int n, long double x) {
  long double term = std::exp(n * std::log(x) - x - std::lgamma(static_cast<long double>(n) + 1));
  long double sum = 0;
  for (int k = n; term > sum * 1e-22L; ++k) {
    sum += term;
    term *= x / (k + 1);
  }
  return sum;
}

TEST(DMath, IncompleteGammaIntegerOrdersArePoissonSums) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const int n = 1 + i % 100;
    const double x = log_uniform(rng, 1e-3, 1e4) * (i % 2 ? 1.0 : n / 1e4 * 3);
    const long double q = poisson_below(n, x);
    expect_pq(n, x, x < n ? poisson_from(n, x) : 1 - q, q);
  }
}

TEST(DMath, IncompleteGammaRecurrence) {
  // Q(a + 1, x) = Q(a, x) + x^a·e^−x/Γ(a + 1) and P(a + 1, x) = P(a, x) − the same, for
  // fractional orders (the reference terms in long double).
  std::mt19937_64 rng(8);
  for (int i = 0; i < 200000; ++i) {
    const double a = log_uniform(rng, 0.05, 99.0);
    const double x = a * log_uniform(rng, 1e-3, 30.0);
    double p0, q0, p1, q1;
    d::gamma_pq(d::gamma_order(a), x, &p0, &q0);
    d::gamma_pq(d::gamma_order(a + 1), x, &p1, &q1);
    const long double term = std::exp(a * std::log(static_cast<long double>(x)) - x -
                                      std::lgamma(static_cast<long double>(a) + 1));
    // The reference inherits the errors of p0 or q0; no cancellation where it is used.
    const bool upper = q1 < 0.5;
    const long double ref = upper ? q0 + term : p0 - term;
    if (ref < 1e-300L || (!upper && term > 0.5L * p0)) continue;
    EXPECT_NEAR(upper ? q1 : p1, static_cast<double>(ref),
                3 * gamma_tolerance(static_cast<double>(ref)))
        << "a " << a << " x " << x;
  }
}

TEST(DMath, IncompleteGammaEdges) {
  for (double a : {0.05, 0.5, 1.0, 7.5, 33.3, 100.0}) {
    EXPECT_EQ(d::gamma_p(a, 0.0), 0.0);
    EXPECT_EQ(d::gamma_q(a, 0.0), 1.0);
    EXPECT_EQ(d::gamma_p(a, std::numeric_limits<double>::infinity()), 1.0);
    EXPECT_EQ(d::gamma_q(a, 1e4), 0.0);  // underflows
    EXPECT_EQ(d::gamma_p(a, 1e4), 1.0);
    double prev = 0;  // P is nondecreasing in x (to rounding where the method switches)
    for (double x = 1e-6; x < 1e3; x *= 1.01) {
      const double p = d::gamma_p(a, x);
      EXPECT_GE(p, prev - 4e-16) << a << " " << x;
      prev = p;
    }
  }
}

}  // namespace
