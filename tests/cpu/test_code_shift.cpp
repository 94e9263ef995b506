// Conversion by rounding float32 bits (include/co3/detail/code_shift.h) gives quantize_entry's
// code for formats with float32's exponent field (bf16, E8M0, E8M3, E8M10, E8M22): on every
// rounding boundary of every code (the tie, one pattern either side, both signs), on zeros,
// subnormals, the largest finite values, Inf and NaN, and on random bit patterns of u divided
// by scales from the smallest normal to large, for both deterministic roundings.
// CO3_EXHAUSTIVE_TESTS=1 adds all 2^32 patterns of x for bf16.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

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
const Case kFormats[] = {{"bf16", formats::bf16},
                         {"e8m0", {8, 0, 127, Layout::ieee}},
                         {"e8m3", {8, 3, 127, Layout::ieee}},
                         {"e8m10", {8, 10, 127, Layout::ieee}},
                         {"e8m22", {8, 22, 127, Layout::ieee}}};
const Rounding kRoundings[] = {Rounding::nearest_even, Rounding::nearest_down};
const float kScales[] = {1.17549435e-38f, 1.0f, 0.37f, 3.1e-4f, 7.7e-7f, 2.5e3f, 1e30f};

TEST(CodeShift, TakesExactlyTheFormatsWithFloat32sExponentField) {
  for (const Case& c : kFormats) EXPECT_TRUE(shift_format(c.f)) << c.name;
  EXPECT_FALSE(shift_format(formats::fp16));
  EXPECT_FALSE(shift_format(formats::e4m3));
  EXPECT_FALSE(shift_format(formats::e5m2));
  EXPECT_FALSE(shift_format(formats::fp4));
  EXPECT_FALSE(shift_format({8, 7, 126, Layout::ieee}));  // another bias
  EXPECT_FALSE(shift_format({8, 7, 127, Layout::fn}));    // another layout
}

TEST(CodeShift, EveryRoundingBoundaryAndSpecialValue) {
  for (const Case& c : kFormats)
    for (Rounding r : kRoundings) {
      SCOPED_TRACE(std::string(c.name) + " rounding " + std::to_string(static_cast<int>(r)));
      const ShiftView v = shift_view(c.f, r);
      const uint32_t quantum = 1u << (23 - c.f.man_bits);
      std::vector<uint32_t> patterns = {0, 1, 2, quantum / 2, 0x007fffffu, 0x00800000u, 0x7f7fffffu,
                                        kF32InfBits, 0x7f800001u, 0x7fc00000u, 0x7fffffffu};
      // Around each code's upper boundary: the tie, and one pattern either side (for formats
      // with many codes, about 40,000 of them spread over the range, and the last 300).
      const uint32_t codes = kF32InfBits / quantum;
      const uint32_t step = codes > 70000 ? codes / 40000 : 1;
      for (uint32_t k = 0; k < codes; k += k + 300 < codes ? step : 1) {
        const uint32_t tie = k * quantum + quantum / 2;
        patterns.insert(patterns.end(), {tie - 1, tie, tie + 1});
      }
      for (uint32_t a : patterns)
        for (uint32_t sign : {0u, 0x80000000u}) {
          const float x = bits_f32(a | sign);
          ASSERT_EQ(shift_code(v, x), reference_code(x, 1.0f, c.f, r)) << std::hex << "bits 0x" << (a | sign);
        }
    }
}

// quantize_entry_shift (the GPU encoder's bf16 conversion) is quantize_entry's EntryCode under
// both non-finite policies that reach the conversion: NaN, ±Inf, overflow, zeros, subnormals.
TEST(CodeShift, QuantizeEntryShiftIsQuantizeEntry) {
  const float s = 3.1e-4f;
  const auto value_of = [&](uint32_t c) { return code_value(formats::bf16, c, s); };
  for (Rounding r : kRoundings) {
    const ShiftView v = shift_view(formats::bf16, r);
    for (bool propagate : {false, true})
      for (uint32_t bits : {0u, 0x80000000u, 1u, 0x80000001u, 0x3f800000u, 0xbc23d70au, 0x7f7fffffu,
                            0xff7fffffu, kF32InfBits, 0xff800000u, 0x7fc00000u, 0xffc00001u}) {
        const float u = bits_f32(bits);
        const EntryCode a = quantize_entry_shift(u, s, v, propagate, value_of);
        const EntryCode b = quantize_entry(u, 0, s, formats::bf16, r, 0, propagate, value_of);
        EXPECT_EQ(a.code, b.code) << std::hex << bits << " propagate " << propagate;
        EXPECT_EQ(f32_bits(a.memory()), f32_bits(b.memory())) << std::hex << bits;
        EXPECT_EQ(a.finite, b.finite);
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
        }
      }
}

TEST(CodeShift, AllBitPatternsOptIn) {
  if (!std::getenv("CO3_EXHAUSTIVE_TESTS")) GTEST_SKIP() << "set CO3_EXHAUSTIVE_TESTS=1 for all 2^32 patterns";
  for (Rounding r : kRoundings) {
    const ShiftView v = shift_view(formats::bf16, r);
    EXPECT_EQ(co3::testing::mismatches_over_all_floats([&](float x) {
                return uint64_t{shift_code(v, x) != reference_code(x, 1.0f, formats::bf16, r)};
              }),
              0u);
  }
}

}  // namespace
