// The host's GenNorm fit (host/codec/gennorm_fit.cpp: the bisection with its far midpoints decided
// in advance) gives fit_gennorm's bits: β and α compared bit for bit on ratios spread over the
// whole range of shapes, on ratios that are gennorm_ratio at a shape exactly, next to the
// clamps, on degenerate moments, and on the moments of the real gradients' tiles; and the
// shortcut is taken (its check never failed here).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "co3/gennorm.h"
#include "co3/moments.h"
#include "co3/detail/encode_stats.h"
#include "codec/gennorm_fit.h"
#include "test_data.h"

namespace {

using namespace co3;
using co3::detail::fit_gennorm_host;

uint64_t bits_of(double x) {
  uint64_t b;
  std::memcpy(&b, &x, 8);
  return b;
}

void expect_same_fit(double mean_abs, double mean_sq) {
  const GenNormFit a = fit_gennorm(mean_abs, mean_sq);
  const GenNormFit b = fit_gennorm_host(mean_abs, mean_sq);
  ASSERT_EQ(bits_of(a.beta), bits_of(b.beta)) << std::hexfloat << mean_abs << " " << mean_sq;
  ASSERT_EQ(bits_of(a.alpha), bits_of(b.alpha)) << std::hexfloat << mean_abs << " " << mean_sq;
}

TEST(GenNormFitHost, RandomRatiosOverEveryShape) {
  const uint64_t fallbacks = detail::fit_gennorm_host_fallbacks();
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> log_beta(std::log(kBetaMin), std::log(kBetaMax));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const double r_lo = gennorm_ratio(kBetaMin), r_hi = gennorm_ratio(kBetaMax);
  for (int k = 0; k < 40000; ++k) {
    const double mean_sq = std::ldexp(0.5 + unit(rng), static_cast<int>(rng() % 80) - 60);
    // A ratio uniform over the range, one that is gennorm_ratio of a shape (exactly hit by
    // nothing but the grid of the search), and one uniform in log β.
    const double r = k % 3 == 0   ? r_lo + (r_hi - r_lo) * unit(rng)
                     : k % 3 == 1 ? gennorm_ratio(std::exp(log_beta(rng)))
                                  : gennorm_ratio(std::exp(log_beta(rng))) * (1 + 1e-13 * (unit(rng) - 0.5));
    expect_same_fit(r * std::sqrt(mean_sq), mean_sq);
  }
  EXPECT_EQ(detail::fit_gennorm_host_fallbacks(), fallbacks);
}

TEST(GenNormFitHost, ClampsAndDegenerateMoments) {
  const double r_lo = gennorm_ratio(kBetaMin), r_hi = gennorm_ratio(kBetaMax);
  for (double r : {0.0, r_lo, std::nextafter(r_lo, 1.0), std::nextafter(r_lo, 0.0), r_hi,
                   std::nextafter(r_hi, 0.0), std::nextafter(r_hi, 1.0), 1.0, 2.0})
    expect_same_fit(r, 1.0);
  const double inf = INFINITY, nan = NAN;
  for (double a : {-1.0, 0.0, 1.0, inf, nan})
    for (double q : {-1.0, 0.0, 1.0, inf, nan, 1e-300, 1e300}) expect_same_fit(a, q);
  // For every grid neighbourhood of the search's table: shapes at and between its points.
  for (int k = 0; k <= 4096; ++k) {
    const double beta = std::exp(std::log(kBetaMin) + (std::log(kBetaMax) - std::log(kBetaMin)) * k / 4096.0);
    expect_same_fit(gennorm_ratio(beta), 1.0);
  }
}

TEST(GenNormFitHost, RealGradientTiles) {
  for (const char* name : {"resnet18_step0.f32", "resnet18_step120.f32"}) {
    const std::vector<float> g = co3::testing::real_gradient(name);
    if (g.empty()) GTEST_SKIP() << name << " not found in " << co3::testing::data_dir();
    for (size_t first = 0; first + 4096 <= g.size(); first += 4096) {
      Moments m;
      for (size_t i = first; i < first + 4096; ++i) m.add(g[i]);
      expect_same_fit(detail::moments_mean_abs(m), detail::moments_mean_sq(m));
    }
  }
}

}  // namespace
