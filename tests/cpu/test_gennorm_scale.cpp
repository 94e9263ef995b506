// The GenNorm scale lookup (co3/gennorm_scale.h): the checked-in tables are what the search
// computes, the lookup interpolates them, and interpolating costs little expected error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "co3/config.h"
#include "co3/gennorm.h"
#include "co3/gennorm_scale.h"

namespace co3 {
namespace {

const Rounding kRoundings[] = {Rounding::nearest_even, Rounding::nearest_down, Rounding::stochastic};

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(GenNormScale, GridSpansTheFitsRange) {
  EXPECT_NEAR(scale_grid_beta(0), kBetaMin, 1e-15);
  EXPECT_NEAR(scale_grid_beta(kScaleGridPoints - 1), kBetaMax, 1e-12);
  for (int k = 1; k < kScaleGridPoints; ++k) EXPECT_GT(scale_grid_beta(k), scale_grid_beta(k - 1));
}

// The narrow presets at every grid point, in every rounding: the checked-in doubles are the
// search's, bit for bit.
TEST(GenNormScale, NarrowPresetsEqualTheSearch) {
  for (FloatFormat f : {formats::fp4, formats::e5m2, formats::e4m3}) {
    for (Rounding r : kRoundings) {
      const ScaleTable* preset = preset_scale_table(f, r);
      ASSERT_NE(preset, nullptr) << to_string(f);
      for (int k = 0; k < kScaleGridPoints; ++k) {
        const double want = detail::log(gennorm_optimal_t(f, r, scale_grid_beta(k)));
        EXPECT_TRUE(same_bits(preset->log_t[k], want))
            << to_string(f) << " " << to_string(r) << " point " << k << ": " << preset->log_t[k]
            << " vs " << want;
      }
    }
  }
}

// fp16 and bf16 cost about a second per point: a few points each.
TEST(GenNormScale, WidePresetsEqualTheSearchAtSamplePoints) {
  for (FloatFormat f : {formats::fp16, formats::bf16}) {
    const ScaleTable* preset = preset_scale_table(f, Rounding::nearest_even);
    ASSERT_NE(preset, nullptr);
    for (int k : {9, 40}) {
      const double want = detail::log(gennorm_optimal_t(f, Rounding::nearest_even, scale_grid_beta(k)));
      EXPECT_TRUE(same_bits(preset->log_t[k], want)) << to_string(f) << " point " << k;
    }
  }
}

TEST(GenNormScale, LookupReadsGridPointsAndClamps) {
  const ScaleTable& t = scale_table(formats::fp4, Rounding::nearest_even);
  for (int k = 0; k < kScaleGridPoints; k += 7) {
    const double exact = gennorm_optimal_t(formats::fp4, Rounding::nearest_even, scale_grid_beta(k));
    EXPECT_NEAR(lookup_optimal_t(t, scale_grid_beta(k)) / exact, 1.0, 1e-12) << k;
  }
  EXPECT_EQ(lookup_optimal_t(t, 0.001), detail::exp(t.log_t[0]));
  EXPECT_EQ(lookup_optimal_t(t, 1e9), detail::exp(t.log_t[kScaleGridPoints - 1]));
  EXPECT_EQ(lookup_optimal_t(t, std::nan("")), detail::exp(t.log_t[0]));
}

// Midway between grid points, where interpolation is furthest from the search, the expected
// quantization error of the interpolated scale is within 1% of the optimum's over the range of
// shapes real gradients have (β 0.1 … 2; 0.16–0.24 for the ResNet-18 gradients in shared/).
TEST(GenNormScale, InterpolationCostsLittleError) {
  for (FloatFormat f : {formats::fp4, formats::e5m2, formats::e4m3}) {
    for (Rounding r : {Rounding::nearest_even, Rounding::stochastic}) {
      const ScaleTable& table = scale_table(f, r);
      for (int k = 0; k + 1 < kScaleGridPoints; ++k) {
        const double beta = std::sqrt(scale_grid_beta(k) * scale_grid_beta(k + 1));
        if (beta < 0.1 || beta > 2.0) continue;
        const double t_best = gennorm_optimal_t(f, r, beta);
        const double t_table = lookup_optimal_t(table, beta);
        // Error in units of the data for α = 1: mse(t)/t² (the codec's scale is α/t).
        const double best = gennorm_quant_mse(f, r, beta, t_best) / (t_best * t_best);
        const double got = gennorm_quant_mse(f, r, beta, t_table) / (t_table * t_table);
        EXPECT_LE(got, best * 1.01) << to_string(f) << " " << to_string(r) << " beta " << beta;
      }
    }
  }
}

TEST(GenNormScale, OtherFormatsAreComputedOnceAndCached) {
  const FloatFormat e3m2{3, 2, 3, Layout::ieee};
  EXPECT_EQ(preset_scale_table(e3m2, Rounding::nearest_even), nullptr);
  const ScaleTable& a = scale_table(e3m2, Rounding::nearest_even);
  const ScaleTable& b = scale_table(e3m2, Rounding::nearest_even);
  EXPECT_EQ(&a, &b);
  const ScaleTable fresh = make_scale_table(e3m2, Rounding::nearest_even, 1);
  EXPECT_EQ(std::memcmp(&a, &fresh, sizeof fresh), 0);
}

}  // namespace
}  // namespace co3
