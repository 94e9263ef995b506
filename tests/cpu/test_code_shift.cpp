// Conversion by rounding float32 bits (include/co3/detail/code_shift.h) gives quantize_entry's
// code for every format whose normal range starts at or above float32's (bias ≤ 127), and
// shift_code_f1 for those whose normal range starts at float32's (bias 127): the named
// formats (fp4, e4m3, e5m2, fp16, bf16), E8 formats of other widths, and formats with other
// biases and layouts. Checked on every rounding boundary of every code (the tie, one pattern
// either side, both signs; a sample of them for formats with over 70,000 codes), on zeros,
// subnormals, the largest finite values, Inf and NaN, and on random bit patterns of u divided by
// scales from the smallest normal to large, for both deterministic roundings.
// CO3_EXHAUSTIVE_TESTS=1 adds all 2^32 patterns of x for fp4, e4m3, e5m2, fp16 and bf16.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "co3/config.h"
#include "co3/detail/code_shift.h"
#include "co3/detail/encode_entry.h"
#include "co3/float_format.h"
#include "all_patterns.h"

namespace {

using namespace co3;
using namespace co3::detail;

uint32_t reference_code(float u, float scale, FloatFormat f, Rounding r) {
  return quantize_entry(u, 0, scale, f, r, 0, /*propagate=*/false, [](uint32_t) { return 0.0f; }).code;
}

struct Case {
  const char* name;
  FloatFormat f;
};
const Case kNamed[] = {{"fp4", formats::fp4},   {"e4m3", formats::e4m3}, {"e5m2", formats::e5m2},
                        {"fp16", formats::fp16}, {"bf16", formats::bf16}};
const Case kFormats[] = {{"fp4", formats::fp4},
                         {"e4m3", formats::e4m3},
                         {"e5m2", formats::e5m2},
                         {"fp16", formats::fp16},
                         {"bf16", formats::bf16},
                         {"e8m0", {8, 0, 127, Layout::ieee}},
                         {"e8m3", {8, 3, 127, Layout::ieee}},
                         {"e8m2", {8, 2, 127, Layout::ieee}},
                         {"e3m4 bias 3 finite", {3, 4, 3, Layout::finite}},
                         {"e3m2 bias -2", {3, 2, -2, Layout::ieee}},
                         {"e6m3 bias 40 fn", {6, 3, 40, Layout::fn}},
                         {"e1m0 bias 0 finite", {1, 0, 0, Layout::finite}},
                         {"e2m1 bias 127", {2, 1, 127, Layout::ieee}}};
const Rounding kRoundings[] = {Rounding::nearest_even, Rounding::nearest_down};
const float kScales[] = {1.17549435e-38f, 1.0f, 0.37f, 3.1e-4f, 7.7e-7f, 2.5e3f, 1e30f};

TEST(CodeShift, TakesTheFormatsWhoseNormalRangeStartsInFloat32s) {
  for (const Case& c : kFormats) {
    EXPECT_NO_THROW(validate(c.f)) << c.name;  // every case is a format co3 accepts
    EXPECT_TRUE(shift_format(c.f)) << c.name;
  }
  // Biases above 127 (a normal range that starts below float32's) keep the thresholds.
  const FloatFormat low{8, 0, 128, Layout::ieee}, lower{4, 3, 140, Layout::fn};
  EXPECT_NO_THROW(validate(low));
  EXPECT_NO_THROW(validate(lower));
  EXPECT_FALSE(shift_format(low));
  EXPECT_FALSE(shift_format(lower));
}

TEST(CodeShift, EveryRoundingBoundaryAndSpecialValue) {
  for (const Case& c : kFormats)
    for (Rounding r : kRoundings) {
      SCOPED_TRACE(std::string(c.name) + " rounding " + std::to_string(static_cast<int>(r)));
      const ShiftView v = shift_view(c.f, r);
      std::vector<uint32_t> patterns = {0, 1, 2, 0x007fffffu, 0x00800000u, 0x7f7fffffu,
                                        kF32InfBits, 0x7f800001u, 0x7fc00000u, 0x7fffffffu};
      // The midpoint between each code's value and the next one's (exact in float32: M < 23),
      // and one pattern either side; for formats with many codes, about 40,000 of them spread
      // over the range, and the last 300. Past max_code: the midpoint to the value max_code + 1
      // would have, where saturation starts to matter under 'ieee' overflow.
      const uint32_t codes = c.f.max_code();
      const uint32_t step = codes > 70000 ? codes / 40000 : 1;
      const auto magnitude = [&](uint32_t k) {  // code k's value, past max_code too
        return static_cast<double>(code_magnitude(c.f, k));
      };
      for (uint32_t k = 0; k <= codes; k += k + 300 < codes ? step : 1) {
        const double mid = (magnitude(k) + magnitude(k + 1)) / 2;
        const float m = static_cast<float>(mid);
        if (static_cast<double>(m) != mid || f32_bits(m) >= kF32InfBits) continue;
        patterns.insert(patterns.end(), {f32_bits(m) - 1, f32_bits(m), f32_bits(m) + 1});
      }
      for (uint32_t a : patterns)
        for (uint32_t sign : {0u, 0x80000000u}) {
          const float x = bits_f32(a | sign);
          ASSERT_EQ(shift_code(v, x), reference_code(x, 1.0f, c.f, r)) << std::hex << "bits 0x" << (a | sign);
          if (c.f.bias == 127) {
            ASSERT_EQ(shift_code_f1(v, x), reference_code(x, 1.0f, c.f, r)) << std::hex << "f1 bits 0x" << (a | sign);
          }
        }
    }
}

// quantize_entry_shift (the GPU encoder's conversion) is quantize_entry's EntryCode under both
// non-finite policies that reach the conversion: NaN, ±Inf, overflow, zeros, subnormals.
TEST(CodeShift, QuantizeEntryShiftIsQuantizeEntry) {
  const float s = 3.1e-4f;
  for (const Case& c : kNamed) {
    const auto value_of = [&](uint32_t code) { return code_value(c.f, code, s); };
    for (Rounding r : kRoundings) {
      const ShiftView v = shift_view(c.f, r);
      for (bool propagate : {false, true})
        for (uint32_t bits : {0u, 0x80000000u, 1u, 0x80000001u, 0x3f800000u, 0xbc23d70au, 0x37a7c5acu,
                              0x7f7fffffu, 0xff7fffffu, kF32InfBits, 0xff800000u, 0x7fc00000u,
                              0xffc00001u}) {
          const float u = bits_f32(bits);
          const EntryCode a = quantize_entry_shift(u, s, v, propagate, value_of);
          const EntryCode b = quantize_entry(u, 0, s, c.f, r, 0, propagate, value_of);
          EXPECT_EQ(a.code, b.code) << c.name << std::hex << " bits " << bits << " propagate " << propagate;
          EXPECT_EQ(f32_bits(a.memory()), f32_bits(b.memory())) << c.name << std::hex << " bits " << bits;
          EXPECT_EQ(a.finite, b.finite);
        }
    }
  }
}

TEST(CodeShift, RandomPatternsOverScales) {
  std::mt19937_64 rng(17);
  for (const Case& c : kFormats)
    for (Rounding r : kRoundings)
      for (float s : kScales) {
        SCOPED_TRACE(std::string(c.name) + " rounding " + std::to_string(static_cast<int>(r)) + " scale " +
                     std::to_string(s));
        const ShiftView v = shift_view(c.f, r);
        for (int k = 0; k < (1 << 19); ++k) {
          const uint64_t w = rng();
          // Any bit pattern, or one near the scale (the magnitudes a gradient has).
          const float u = k % 2 ? bits_f32(static_cast<uint32_t>(w))
                                : bits_f32((f32_bits(s) & 0x7f800000u) + static_cast<uint32_t>(w % (60u << 23)) -
                                           (30u << 23) + (static_cast<uint32_t>(w >> 63) << 31));
          ASSERT_EQ(shift_code(v, fdiv(u, s)), reference_code(u, s, c.f, r)) << std::hex << "u bits 0x" << f32_bits(u);
          if (c.f.bias == 127) {
            ASSERT_EQ(shift_code_f1(v, fdiv(u, s)), reference_code(u, s, c.f, r)) << std::hex << "f1 u bits 0x" << f32_bits(u);
          }
        }
      }
}

TEST(CodeShift, AllBitPatternsOptIn) {
  if (!std::getenv("CO3_EXHAUSTIVE_TESTS")) GTEST_SKIP() << "set CO3_EXHAUSTIVE_TESTS=1 for all 2^32 patterns";
  for (const Case& c : kNamed)
    for (Rounding r : kRoundings) {
      const ShiftView v = shift_view(c.f, r);
      EXPECT_EQ(co3::testing::mismatches_over_all_floats([&](float x) {
                  const uint32_t want = reference_code(x, 1.0f, c.f, r);
                  return uint64_t{shift_code(v, x) != want} +
                         uint64_t{c.f.bias == 127 && shift_code_f1(v, x) != want};
                }),
                0u)
          << c.name << " rounding " << static_cast<int>(r);
    }
}

}  // namespace
