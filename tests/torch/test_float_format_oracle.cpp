// co3's integer conversion against torch's own conversions (c10's float8, Half and BFloat16
// types, all round-to-nearest-even with IEEE overflow).
#include <c10/util/BFloat16.h>
#include <c10/util/Float8_e4m3fn.h>
#include <c10/util/Float8_e5m2.h>
#include <c10/util/Half.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "co3/dtype.h"
#include "co3/float_format.h"

namespace {

using co3::decode_code;
using co3::encode_float;
using co3::FloatFormat;
using co3::Overflow;
using co3::Rounding;

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Same value (+0 == -0: co3 always writes zero as +0) or both NaN.
bool same(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

// Inputs: every finite and special float16 and bfloat16 value, and dense random float32.
std::vector<float> inputs() {
  std::vector<float> v;
  for (uint32_t h = 0; h < 65536; ++h) {
    v.push_back(static_cast<float>(c10::Half(static_cast<uint16_t>(h), c10::Half::from_bits())));
    v.push_back(from_bits(h << 16));
  }
  std::mt19937_64 rng(20261123);
  for (int i = 0; i < 2000000; ++i) v.push_back(from_bits(static_cast<uint32_t>(rng())));
  // Values just around every e5m2/e4m3 midpoint.
  for (uint32_t c = 0; c < 256; ++c)
    for (float d : {-1e-6f, 0.0f, 1e-6f}) {
      v.push_back(decode_code(co3::formats::e5m2, c) * (1 + d));
      v.push_back(decode_code(co3::formats::e4m3, c) * (1 + d));
    }
  return v;
}

template <class Oracle>
void compare(FloatFormat f, Oracle oracle_value, const char* name) {
  size_t mismatches = 0;
  for (float x : inputs()) {
    const float ours = decode_code(f, encode_float(x, f, Rounding::nearest_even, 0, Overflow::ieee));
    const float theirs = oracle_value(x);
    if (!same(ours, theirs) && mismatches++ < 10)
      ADD_FAILURE() << name << ": x=" << x << " co3=" << ours << " torch=" << theirs;
  }
  EXPECT_EQ(mismatches, 0u) << name;
}

TEST(FloatFormatOracle, E5M2MatchesTorchFloat8) {
  compare(co3::formats::e5m2, [](float x) { return static_cast<float>(c10::Float8_e5m2(x)); },
          "e5m2");
}

TEST(FloatFormatOracle, E4M3MatchesTorchFloat8fn) {
  compare(co3::formats::e4m3, [](float x) { return static_cast<float>(c10::Float8_e4m3fn(x)); },
          "e4m3");
}

TEST(FloatFormatOracle, Fp16MatchesTorchHalf) {
  compare(co3::formats::fp16, [](float x) { return static_cast<float>(c10::Half(x)); }, "fp16");
}

TEST(FloatFormatOracle, Bf16MatchesTorchBFloat16) {
  compare(co3::formats::bf16, [](float x) { return static_cast<float>(c10::BFloat16(x)); },
          "bf16");
}

TEST(FloatFormatOracle, EveryCodeDecodesLikeTorch) {
  for (uint32_t c = 0; c < 256; ++c) {
    EXPECT_TRUE(same(decode_code(co3::formats::e5m2, c),
                     static_cast<float>(c10::Float8_e5m2(static_cast<uint8_t>(c),
                                                         c10::Float8_e5m2::from_bits()))))
        << c;
    EXPECT_TRUE(same(decode_code(co3::formats::e4m3, c),
                     static_cast<float>(c10::Float8_e4m3fn(static_cast<uint8_t>(c),
                                                           c10::Float8_e4m3fn::from_bits()))))
        << c;
  }
  for (uint32_t c = 0; c < 65536; ++c) {
    const auto h = static_cast<uint16_t>(c);
    EXPECT_TRUE(same(decode_code(co3::formats::fp16, c),
                     static_cast<float>(c10::Half(h, c10::Half::from_bits()))));
    EXPECT_TRUE(same(decode_code(co3::formats::bf16, c),
                     static_cast<float>(c10::BFloat16(h, c10::BFloat16::from_bits()))));
  }
}

// The dtype helpers used for decoded output saturate finite values instead of overflowing.
TEST(FloatFormatOracle, OutputConversionsSaturate) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000000; ++i) {
    const float x = from_bits(static_cast<uint32_t>(rng()));
    const float h = co3::half_to_float(co3::float_to_half(x));
    const float b = co3::bf16_to_float(co3::float_to_bf16(x));
    if (std::isfinite(x)) {
      const float th = static_cast<float>(c10::Half(x));
      const float tb = static_cast<float>(c10::BFloat16(x));
      EXPECT_TRUE(std::isinf(th) ? std::fabs(h) == 65504.0f && std::signbit(h) == std::signbit(x)
                                 : same(h, th));
      EXPECT_TRUE(std::isinf(tb) ? std::isfinite(b) && std::signbit(b) == std::signbit(x)
                                 : same(b, tb));
    } else {
      EXPECT_TRUE(same(h, x));
      EXPECT_TRUE(same(b, x));
    }
  }
}

}  // namespace
