// Conversions against a reference written differently: the sorted table of a format's values
// and its midpoints, searched in double precision (the way the CO3 reference code quantizes).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "co3/config.h"
#include "co3/error.h"
#include "co3/float_format.h"
#include "co3/rng.h"

namespace {

using namespace co3;

struct Grid {
  std::vector<double> value;  // non-negative finite values, ascending
  std::vector<uint32_t> code;
};

// All non-negative finite values by the FORMAT.md §5 formulas, evaluated in double.
Grid grid_of(FloatFormat f) {
  Grid g;
  const int M = f.man_bits;
  for (uint32_t c = 0; c <= f.max_code(); ++c) {
    const uint32_t e = c >> M, m = c & ((1u << M) - 1);
    const double v = e == 0 ? std::ldexp(static_cast<double>(m), f.emin() - M)
                            : std::ldexp(static_cast<double>((1u << M) + m),
                                         static_cast<int>(e) - 1 + f.emin() - M);
    g.value.push_back(v);
    g.code.push_back(c);
  }
  return g;
}

double reference(const Grid& g, double x, bool ties_even) {
  const double a = std::fabs(x);
  if (a >= g.value.back()) return std::copysign(g.value.back(), x);
  const size_t hi = std::upper_bound(g.value.begin(), g.value.end(), a) - g.value.begin();
  const size_t lo = hi - 1;
  const double mid = 0.5 * (g.value[lo] + g.value[hi]);
  size_t pick = a < mid ? lo : (a > mid ? hi : (ties_even ? ((g.code[lo] & 1) ? hi : lo) : lo));
  return std::copysign(g.value[pick], x);
}

std::vector<FloatFormat> test_formats() {
  return {formats::fp4,  formats::e5m2, formats::e4m3, formats::fp16, formats::bf16,
          {3, 2, 3, Layout::ieee},  {2, 1, 1, Layout::finite}, {1, 2, 0, Layout::finite},
          {4, 0, 7, Layout::fn},    {3, 3, -2, Layout::ieee},  {6, 1, 40, Layout::finite},
          {2, 0, 1, Layout::finite}, {8, 3, 140, Layout::ieee}};
}

std::vector<float> probes(const Grid& g, std::mt19937_64& rng) {
  std::vector<float> xs = {0.0f, -0.0f, 1e-45f, -1e-45f, 3.4e38f, -3.4e38f};
  for (size_t i = 0; i < g.value.size(); ++i) {
    const double v = g.value[i];
    xs.push_back(static_cast<float>(v));
    xs.push_back(-static_cast<float>(v));
    if (i + 1 < g.value.size()) {
      const double mid = 0.5 * (v + g.value[i + 1]);
      xs.push_back(static_cast<float>(mid));  // exact: midpoints need one more bit
      xs.push_back(std::nextafter(static_cast<float>(mid), 0.0f));
      xs.push_back(std::nextafter(static_cast<float>(mid), 1e30f));
    }
  }
  std::uniform_real_distribution<double> u(-1.2, 1.2);
  for (int i = 0; i < 20000; ++i)
    xs.push_back(static_cast<float>(u(rng) * g.value.back() * std::pow(2.0, -20 * std::fabs(u(rng)))));
  return xs;
}

TEST(FloatFormat, NearestModesMatchMidpointTable) {
  std::mt19937_64 rng(1);
  for (const FloatFormat& f : test_formats()) {
    validate(f);
    const Grid g = grid_of(f);
    for (float x : probes(g, rng)) {
      for (bool even : {true, false}) {
        const Rounding r = even ? Rounding::nearest_even : Rounding::nearest_down;
        const uint32_t code = encode_float(x, f, r);
        const double got = decode_code(f, code);
        const double want = reference(g, x, even);
        ASSERT_EQ(got, want) << to_string(f) << " x=" << x << " rounding=" << to_string(r);
        if (want == 0) {
          ASSERT_EQ(code, 0u) << "zero must be +0";
        }
      }
    }
  }
}

TEST(FloatFormat, Fp4ValuesAreThePapers) {
  const Grid g = grid_of(formats::fp4);
  EXPECT_EQ(g.value, (std::vector<double>{0, 0.5, 1, 1.5, 2, 3}));
  EXPECT_EQ(max_finite(formats::e5m2), 57344.0f);
  EXPECT_EQ(max_finite(formats::e4m3), 448.0f);
  EXPECT_EQ(max_finite(formats::fp16), 65504.0f);
}

TEST(FloatFormat, SaturatesAndMapsSpecials) {
  const FloatFormat f = formats::fp4;
  const float inf = INFINITY;
  EXPECT_EQ(decode_code(f, encode_float(100.0f, f, Rounding::nearest_even)), 3.0f);
  EXPECT_EQ(decode_code(f, encode_float(-inf, f, Rounding::nearest_even)), -3.0f);
  EXPECT_TRUE(std::isinf(decode_code(f, encode_float(inf, f, Rounding::nearest_even, 0, Overflow::ieee))));
  EXPECT_TRUE(std::isnan(decode_code(formats::e4m3, encode_float(1e6f, formats::e4m3, Rounding::nearest_even, 0, Overflow::ieee))));
  EXPECT_TRUE(std::isnan(decode_code(f, encode_float(NAN, f, Rounding::nearest_even))));
}

TEST(FloatFormat, StochasticRoundingIsUnbiasedAndReproducible) {
  struct Case {
    FloatFormat f;
    float x;
  };
  // Normal, subnormal and mixed-exponent neighbourhoods.
  const Case cases[] = {{formats::fp4, 1.2f},      {formats::fp4, -0.2f},   {formats::fp4, 2.7f},
                        {formats::e5m2, 3.3e-3f},  {formats::e4m3, 1e-3f},  {formats::e5m2, 7.0e-7f}};
  for (const Case& c : cases) {
    const int n = 400000;
    double sum = 0, sum_sq = 0;
    for (int i = 0; i < n; ++i) {
      const float v = decode_code(c.f, encode_float(c.x, c.f, Rounding::stochastic, random_word(42, i)));
      sum += v;
      sum_sq += static_cast<double>(v) * v;
    }
    const double mean = sum / n;
    const double sd = std::sqrt(std::max(0.0, sum_sq / n - mean * mean) / n);
    EXPECT_NEAR(mean, c.x, 5 * sd + 1e-12) << to_string(c.f) << " x=" << c.x;
    EXPECT_GT(sd, 0.0) << "both neighbours must occur";
  }
  // A pure function of (seed, index): same inputs, same code; another seed, another pattern.
  int differ = 0;
  for (int i = 0; i < 1000; ++i) {
    const uint32_t a = encode_float(1.2f, formats::fp4, Rounding::stochastic, random_word(7, i));
    EXPECT_EQ(a, encode_float(1.2f, formats::fp4, Rounding::stochastic, random_word(7, i)));
    differ += a != encode_float(1.2f, formats::fp4, Rounding::stochastic, random_word(8, i));
  }
  EXPECT_GT(differ, 300);
  // Representable values never move.
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(decode_code(formats::fp4, encode_float(1.5f, formats::fp4, Rounding::stochastic, random_word(1, i))), 1.5f);
}

TEST(FloatFormat, ValidationNamesTheField) {
  const auto msg = [](FloatFormat f) {
    try {
      validate(f);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::invalid_argument);
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(msg({9, 2, 0, Layout::ieee}).find("exponent"), std::string::npos);
  EXPECT_NE(msg({5, 11, 15, Layout::ieee}).find("mantissa"), std::string::npos);
  EXPECT_NE(msg({8, 8, 127, Layout::ieee}).find("16 bits"), std::string::npos);
  EXPECT_NE(msg({8, 3, -10, Layout::ieee}).find("bias"), std::string::npos);
  EXPECT_NE(msg({8, 3, 200, Layout::ieee}).find("bias"), std::string::npos);
  EXPECT_NE(msg({1, 0, 0, Layout::ieee}).find("no nonzero"), std::string::npos);
  EXPECT_EQ(msg(formats::bf16), "");
}

TEST(FloatFormat, ParsesPresetsAndTuples) {
  EXPECT_EQ(parse_format("fp4"), formats::fp4);
  EXPECT_EQ(parse_format("e4m3"), formats::e4m3);
  EXPECT_EQ(parse_format("5,2"), formats::e5m2);
  EXPECT_EQ(parse_format("4,3,7,fn"), formats::e4m3);
  EXPECT_EQ(parse_format("2,1,1,ieee"), formats::fp4);
  for (const char* bad : {"", "fp5", "5", "5,2,15,odd", "a,b", "9,1", "5,2,1,ieee,x", "5,-1"})
    EXPECT_THROW(parse_format(bad), Error) << bad;
}

}  // namespace
