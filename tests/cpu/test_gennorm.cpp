// The GenNorm model against sampling and against simpler formulas: the fit recovers the
// parameters of drawn data, the code probabilities and the quantization error match Monte-Carlo
// conversions by encode_float, and the fp4 scale matches the CO3 paper's fitted rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "co3/config.h"
#include "co3/float_format.h"
#include "co3/gennorm.h"
#include "co3/moments.h"

namespace {

using namespace co3;

// |x| = α·G^(1/β) with G ~ Gamma(1/β, 1) and a random sign is GenNorm(β, α).
std::vector<double> draw_gennorm(double beta, double alpha, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::gamma_distribution<double> gamma(1.0 / beta, 1.0);
  std::vector<double> x(n);
  for (double& v : x) {
    const double m = alpha * std::pow(gamma(rng), 1.0 / beta);
    v = (rng() & 1) ? -m : m;
  }
  return x;
}

// E|x| and E x² of GenNorm(β, α), with the C library's gamma function.
double gennorm_mean_abs(double beta, double alpha) {
  return alpha * std::exp(std::lgamma(2 / beta) - std::lgamma(1 / beta));
}
double gennorm_mean_sq(double beta, double alpha) {
  return alpha * alpha * std::exp(std::lgamma(3 / beta) - std::lgamma(1 / beta));
}

const FloatFormat kPresets[] = {formats::fp4, formats::e5m2, formats::e4m3, formats::fp16,
                                formats::bf16};

TEST(GenNorm, RatioKnownValuesAndMonotone) {
  EXPECT_NEAR(gennorm_ratio(2.0), std::sqrt(2 / M_PI), 1e-14);  // normal
  EXPECT_NEAR(gennorm_ratio(1.0), std::sqrt(0.5), 1e-14);       // Laplace
  double prev = 0;
  for (double beta = kBetaMin; beta <= kBetaMax; beta *= 1.05) {
    const double r = gennorm_ratio(beta);
    EXPECT_GT(r, prev) << beta;
    EXPECT_NEAR(r, gennorm_mean_abs(beta, 1) / std::sqrt(gennorm_mean_sq(beta, 1)), 1e-12 * r);
    prev = r;
  }
  EXPECT_LT(gennorm_ratio(kBetaMax), std::sqrt(3.0) / 2);  // the uniform limit
}

TEST(GenNorm, FitInvertsExactMoments) {
  for (double beta = kBetaMin * 1.01; beta < kBetaMax; beta *= 1.1) {
    const double alpha = 0.37;
    const GenNormFit fit = fit_gennorm(gennorm_mean_abs(beta, alpha), gennorm_mean_sq(beta, alpha));
    EXPECT_NEAR(fit.beta, beta, 1e-9 * beta);
    EXPECT_NEAR(fit.alpha, alpha, 1e-9 * alpha) << beta;
  }
}

TEST(GenNorm, FitClampsAndDegenerates) {
  // E|x| = sqrt(E x²): a two-point distribution, flatter than any GenNorm.
  EXPECT_EQ(fit_gennorm(2.0, 4.0).beta, kBetaMax);
  EXPECT_EQ(fit_gennorm(1e-30, 1.0).beta, kBetaMin);
  EXPECT_EQ(fit_gennorm(0.0, 1.0).beta, kBetaMin);
  EXPECT_GT(fit_gennorm(1e-30, 1.0).alpha, 0.0);
  const double inf = std::numeric_limits<double>::infinity();
  for (const auto& m : {std::pair{0.0, 0.0},
                        {1.0, 0.0},
                        {1.0, inf},
                        {inf, 1.0},
                        {std::nan(""), 1.0},
                        {1.0, std::nan("")},
                        {-1.0, 1.0}}) {
    const GenNormFit fit = fit_gennorm(m.first, m.second);
    EXPECT_EQ(fit.beta, 2.0);
    EXPECT_EQ(fit.alpha, 0.0);
  }
  EXPECT_EQ(fit_normal(2.0).beta, 2.0);
  EXPECT_DOUBLE_EQ(fit_normal(2.0).alpha, 2.0);
  EXPECT_EQ(fit_normal(0.0).alpha, 0.0);
  EXPECT_EQ(fit_laplace(0.5).beta, 1.0);
  EXPECT_EQ(fit_laplace(0.5).alpha, 0.5);
  EXPECT_EQ(fit_laplace(std::nan("")).alpha, 0.0);
}

TEST(GenNorm, FitRecoversSampledParameters) {
  // The sampling error of α grows fast for small β: a small error in β moves Γ(1/β)/Γ(3/β) a lot.
  // Over 20 seeds of 10^6 samples the standard deviation of α's relative error was 5% at β = 0.3,
  // 1% at 0.5 and at most 0.3% from β = 1 (β's own: at most 0.6%), so below β = 1 α is held to
  // 4 of those deviations: a 2% bound there would pass or fail by the luck of the seed.
  const struct {
    double beta, alpha_tolerance;
  } cases[] = {{0.3, 0.2}, {0.5, 0.04}, {1.0, 0.02}, {2.0, 0.02}, {4.0, 0.02}};
  for (const auto& c : cases) {
    const double alpha = 0.01;
    const std::vector<double> x = draw_gennorm(c.beta, alpha, 1000000, 11);
    Moments m;
    for (double v : x) m.add(static_cast<float>(v));
    const GenNormFit fit = fit_gennorm(m.mean_abs(), m.mean_sq());
    EXPECT_NEAR(fit.beta, c.beta, 0.02 * c.beta);
    EXPECT_NEAR(fit.alpha, alpha, c.alpha_tolerance * alpha) << c.beta;
  }
}

std::vector<double> pmf_of(FloatFormat f, Rounding r, double beta, double t) {
  std::vector<double> pmf(size_t{1} << f.width());
  gennorm_code_pmf(f, r, beta, t, pmf.data());
  return pmf;
}

TEST(GenNorm, PmfSumsToOneWithTheFormatsStructure) {
  const FloatFormat extra[] = {
      {2, 1, 1, Layout::finite}, {4, 0, 7, Layout::fn}, {3, 3, -2, Layout::ieee}};
  std::vector<FloatFormat> fs(std::begin(kPresets), std::end(kPresets));
  fs.insert(fs.end(), std::begin(extra), std::end(extra));
  for (const FloatFormat f : fs) {
    const double vmax = max_finite(f);
    const uint32_t sign = f.sign_bit();
    for (Rounding r : {Rounding::nearest_even, Rounding::stochastic}) {
      for (double beta : {0.03, 0.1, 0.5, 1.0, 2.0, 5.0, 16.0}) {
        for (double t : {vmax * 2, vmax / 10, vmax * 1e-3, vmax * 1e-6}) {
          const std::vector<double> pmf = pmf_of(f, r, beta, t);
          double sum = 0;
          for (double p : pmf) {
            EXPECT_GE(p, 0.0);
            sum += p;
          }
          EXPECT_NEAR(sum, 1.0, 1e-9) << f.width() << " " << beta << " " << t;
          EXPECT_EQ(pmf[sign], 0.0);                            // zero is always +0
          for (uint32_t c = f.max_code() + 1; c < sign; ++c) {  // reserved codes
            EXPECT_EQ(pmf[c], 0.0);
            EXPECT_EQ(pmf[sign | c], 0.0);
          }
          for (uint32_t c = 1; c <= f.max_code(); ++c) EXPECT_EQ(pmf[c], pmf[sign | c]);
        }
      }
    }
  }
}

TEST(GenNorm, PmfNearestDownEqualsNearestEvenAndZeroScale) {
  EXPECT_EQ(pmf_of(formats::e4m3, Rounding::nearest_even, 0.7, 3.0),
            pmf_of(formats::e4m3, Rounding::nearest_down, 0.7, 3.0));
  const std::vector<double> pmf = pmf_of(formats::e5m2, Rounding::stochastic, 1.0, 0.0);
  EXPECT_EQ(pmf[0], 1.0);
  for (size_t c = 1; c < pmf.size(); ++c) EXPECT_EQ(pmf[c], 0.0);
  EXPECT_EQ(gennorm_quant_mse(formats::e5m2, Rounding::stochastic, 1.0, 0.0), 0.0);
}

TEST(GenNorm, PmfOfLaplaceMatchesElementaryIntegrals) {
  // β = 1: P(|Y| ≤ b) = 1 − e^(−b/t). Stochastic rounding's kernel integrated numerically.
  const FloatFormat f = formats::fp4;
  const double t = 0.8;
  const double v[] = {0, 0.5, 1, 1.5, 2, 3};
  auto survival = [&](double b) { return std::exp(-b / t); };
  const std::vector<double> near = pmf_of(f, Rounding::nearest_even, 1.0, t);
  const std::vector<double> stoch = pmf_of(f, Rounding::stochastic, 1.0, t);
  auto kernel_mass = [&](int i) {  // ∫ kernel_i(y)·e^(−y/t)/t dy by Simpson's rule
    double sum = 0;
    for (int side = -1; side <= 1; side += 2) {
      const int j = i + side;
      if (j < 0 || j > 5) continue;
      const double a = v[std::min(i, j)], b = v[std::max(i, j)];
      const int n = 2000;
      for (int k = 0; k <= n; ++k) {
        const double y = a + (b - a) * k / n;
        const double w = (k == 0 || k == n) ? 1 : (k % 2 ? 4 : 2);
        sum += w * (1 - std::fabs(y - v[i]) / (b - a)) * std::exp(-y / t) / t * (b - a) / (3 * n);
      }
    }
    return sum;
  };
  for (int i = 0; i < 6; ++i) {
    const double lo = i == 0 ? 0 : (v[i - 1] + v[i]) / 2;
    const double hi_tail = i == 5 ? 0 : survival((v[i] + v[i + 1]) / 2);
    const double half = i == 0 ? 1 : 0.5;
    EXPECT_NEAR(near[i], half * (survival(lo) - hi_tail), 4e-15) << i;
    const double stoch_ref = half * (kernel_mass(i) + (i == 5 ? survival(3) : 0));
    EXPECT_NEAR(stoch[i], stoch_ref, 1e-12) << i;
  }
}

// Monte-Carlo conversion of GenNorm(β, t) samples: code histogram, mean squared error and the
// standard error of that mean.
struct Conversion {
  std::vector<double> freq;
  double mse = 0, mse_stderr = 0;
};
Conversion convert(const std::vector<double>& y, FloatFormat f, Rounding r, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Conversion c;
  c.freq.assign(size_t{1} << f.width(), 0.0);
  const double n = static_cast<double>(y.size());
  double sq = 0;
  for (double v : y) {
    const float x = static_cast<float>(v);
    const uint32_t code = encode_float(x, f, r, rng());
    c.freq[code] += 1 / n;
    const double e = x - static_cast<double>(decode_code(f, code));
    c.mse += e * e / n;
    sq += e * e * e * e / n;
  }
  c.mse_stderr = std::sqrt((sq - c.mse * c.mse) / n);
  return c;
}

TEST(GenNorm, PmfAndMseMatchMonteCarlo) {
  const size_t n = 1000000;
  for (double beta : {0.5, 1.0, 2.0}) {
    const std::vector<double> unit = draw_gennorm(beta, 1.0, n, 21);
    for (const FloatFormat f : {formats::fp4, formats::e5m2}) {
      for (Rounding r : {Rounding::nearest_even, Rounding::stochastic}) {
        const double t = gennorm_optimal_t(f, r, beta);
        std::vector<double> y(unit);
        for (double& v : y) v *= t;
        const Conversion mc = convert(y, f, r, 22);
        const std::vector<double> pmf = pmf_of(f, r, beta, t);
        double tv = 0;
        for (size_t c = 0; c < pmf.size(); ++c) {
          tv += 0.5 * std::fabs(pmf[c] - mc.freq[c]);
          // Each frequency within 5 standard deviations of a binomial count.
          EXPECT_NEAR(mc.freq[c], pmf[c], 5 * std::sqrt(pmf[c] * (1 - pmf[c]) / n) + 2.0 / n)
              << "w" << f.width() << " r" << int(r) << " beta " << beta << " code " << c;
        }
        EXPECT_LT(tv, f.width() == 4 ? 0.003 : 0.01);
        // Within 4 standard errors; those are 0.2–0.6% of the MSE, but 2.5% at β = 0.5 where
        // rare far outliers saturate.
        const double mse = gennorm_quant_mse(f, r, beta, t);
        EXPECT_NEAR(mc.mse, mse, 4 * mc.mse_stderr)
            << "w" << f.width() << " r" << int(r) << " beta " << beta;
        EXPECT_LT(mc.mse_stderr, 0.03 * mse);
      }
    }
  }
}

// E[(Y − value(Q(Y)))²] by the trapezoid rule in log |y| on a fine grid, from the error of each y
// as encode_float's rounding defines it (stochastic: the variance (y − lo)·(hi − y)).
double quadrature_mse(FloatFormat f, Rounding r, double beta, double t) {
  std::vector<double> v;
  for (uint32_t c = 0; c <= f.max_code(); ++c) v.push_back(code_magnitude(f, c));
  auto err2 = [&](double y) {
    if (y >= v.back()) return (y - v.back()) * (y - v.back());
    const size_t hi = std::upper_bound(v.begin(), v.end(), y) - v.begin();
    const double a = y - v[hi - 1], b = v[hi] - y;
    return r == Rounding::stochastic ? a * b : std::min(a, b) * std::min(a, b);
  };
  const double norm = beta / (t * std::tgamma(1 / beta));  // density of |Y|
  const double s0 = std::log(t * 1e-12), s1 = std::log(t) + std::log(800.0) / beta;
  const int n = 1000000;
  const double h = (s1 - s0) / n;
  double sum = 0;
  for (int k = 0; k <= n; ++k) {
    const double y = std::exp(s0 + h * k);
    sum += (k == 0 || k == n ? 0.5 : 1.0) * norm * std::exp(-std::pow(y / t, beta)) * err2(y) * y;
  }
  return sum * h;
}

TEST(GenNorm, MseMatchesQuadrature) {
  for (const FloatFormat f : {formats::fp4, formats::e4m3}) {
    for (Rounding r : {Rounding::nearest_even, Rounding::stochastic}) {
      for (double beta : {0.5, 1.0, 2.0, 5.0}) {
        const double t = gennorm_optimal_t(f, r, beta);
        const double mse = gennorm_quant_mse(f, r, beta, t);
        EXPECT_NEAR(mse, quadrature_mse(f, r, beta, t), 1e-6 * mse)
            << "w" << f.width() << " r" << int(r) << " beta " << beta;
      }
    }
  }
}

TEST(GenNorm, StochasticErrsMoreThanNearest) {
  for (double beta : {0.5, 1.0, 2.0, 8.0}) {
    for (const FloatFormat f : {formats::fp4, formats::e4m3, formats::e5m2}) {
      const double t = gennorm_optimal_t(f, Rounding::nearest_even, beta);
      EXPECT_GT(gennorm_quant_mse(f, Rounding::stochastic, beta, t),
                gennorm_quant_mse(f, Rounding::nearest_even, beta, t));
    }
  }
}

// The cost the search minimises: the error of GenNorm(β, 1) data scaled by 1/t.
double unit_cost(FloatFormat f, Rounding r, double beta, double t) {
  return gennorm_quant_mse(f, r, beta, t) / (t * t);
}

TEST(GenNorm, OptimalTMinimisesTheError) {
  // Against a dense scan of log t: the search may land in a different one of several nearly equal
  // dips (the 8-bit formats' error is almost scale-free) but never at a worse value.
  for (const FloatFormat f : {formats::fp4, formats::e4m3}) {
    for (Rounding r : {Rounding::nearest_even, Rounding::stochastic}) {
      for (double beta : {0.1, 0.4, 1.0, 2.5, 16.0}) {
        const double t = gennorm_optimal_t(f, r, beta);
        const double best = unit_cost(f, r, beta, t);
        double scan = INFINITY;
        for (int i = -400; i <= 400; ++i)
          scan = std::min(scan, unit_cost(f, r, beta, t * std::exp(i / 100.0)));
        EXPECT_LE(best, scan * (1 + 1e-4))
            << "w" << f.width() << " r" << int(r) << " beta " << beta;
        EXPECT_LE(best, unit_cost(f, r, beta, t * 1.01));
        EXPECT_LE(best, unit_cost(f, r, beta, t / 1.01));
      }
    }
  }
}

TEST(GenNorm, WideFormatsKeepTheirRangeCentredOnTheData) {
  // Beyond fp4 the error is flat over decades of scale; co3 takes the best scale within a binade
  // of t = 1 when it is within 0.5% of the best anywhere (a dense scan here), so no near-tie sends
  // the scale to the edge of float32's range.
  for (FloatFormat f : {formats::e4m3, formats::e5m2, formats::fp16, formats::bf16}) {
    for (double beta : {0.5, 1.0, 2.0, 4.0}) {
      if (f.width() == 16 && (beta == 0.5 || beta == 2.0)) continue;  // 16-bit scans are slow
      const double t = gennorm_optimal_t(f, Rounding::nearest_even, beta);
      EXPECT_GE(t, 0.5 * (1 - 1e-9)) << to_string(f) << " beta " << beta;
      EXPECT_LE(t, 2.0 * (1 + 1e-9)) << to_string(f) << " beta " << beta;
      const auto loss = [&](double tt) {
        return gennorm_quant_mse(f, Rounding::nearest_even, beta, tt) / (tt * tt);
      };
      double scan = loss(t);
      for (double lt = -8; lt <= 8; lt += 0.04) scan = std::min(scan, loss(std::exp(lt)));
      EXPECT_LE(loss(t), 1.005 * scan) << to_string(f) << " beta " << beta;
    }
  }
}

TEST(GenNorm, OptimalTForFp4MatchesThePapersRule) {
  // The CO3 paper scales by c(β)/α with c a quartic fitted to optima, its coefficients rounded to
  // two decimals (±0.01 in c, ±7% near β = 0.6 where c is small and steep). On a fine grid our
  // optimum must lie within 3% of c(β); where it does not, the paper's c must be the worse scale
  // (strictly higher expected error than ours), so the gap is the rule's, not the optimiser's.
  int outside = 0;
  for (int k = 0; k <= 24; ++k) {
    const double beta = 0.5 + k / 16.0;
    const double c = 0.46 - 2.85 * beta + 5.37 * beta * beta - 2.85 * std::pow(beta, 3) +
                     0.52 * std::pow(beta, 4);
    const double t = gennorm_optimal_t(formats::fp4, Rounding::nearest_even, beta);
    if (std::fabs(t / c - 1) <= 0.03) continue;
    ++outside;
    const auto loss = [&](double tt) {
      return gennorm_quant_mse(formats::fp4, Rounding::nearest_even, beta, tt) / (tt * tt);
    };
    EXPECT_LT(loss(t), loss(c)) << "beta " << beta << ": t* " << t << " vs c " << c;
    EXPECT_LT(std::fabs(t / c - 1), 0.05) << "beta " << beta;
  }
  std::printf("fp4: t* outside 3%% of c(beta) at %d of 25 grid points (c then worse)\n", outside);
}

}  // namespace
