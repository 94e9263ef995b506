// Conversion by thresholds (include/co3/detail/code_thresholds.h: the bucket lookup, its signed
// table for finite u, and for fp4 the threshold count) gives quantize_entry's code for every input: each threshold is the exact boundary of the reference conversion, every
// bucket edge and every threshold ±1 agree, and random bit patterns (every sign, NaN, Inf,
// subnormals; 59M per format) agree for every preset format, both deterministic roundings and scales from the
// smallest normal to large. CO3_EXHAUSTIVE_TESTS=1 adds all 2^32 bit patterns per format.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "co3/detail/code_thresholds.h"
#include "co3/detail/encode_entry.h"
#include "co3/float_format.h"
#include "all_patterns.h"

namespace {

using namespace co3;
using namespace co3::detail;

// Tables for every |u| (bound +Inf), as the codec builds them for a segment holding an Inf.
struct Tables {
  std::vector<uint32_t> T;
  std::vector<uint64_t> buckets;
  std::vector<uint64_t> signed_table;  // for finite u
  ThresholdView view;
  // The signed table's code, with the encoder's fallback for its kSignedSlow buckets.
  uint32_t signed_code(float u) const {
    const uint32_t c = signed_table_code(signed_table.data(), view.shift, f32_bits(u));
    return c != kSignedSlow ? c : threshold_code(view, u);
  }
};
Tables build(FloatFormat f, Rounding r, float scale) {
  Tables t;
  const uint32_t cmax = f.max_code();
  t.T.assign(cmax + 2, 0);
  for (uint32_t c = 1; c <= cmax; ++c) t.T[c] = code_threshold(c, scale, f, r);
  const int shift = threshold_bucket_shift(f);
  const uint32_t count = (kF32InfBits >> shift) + 1;
  t.buckets.resize(count);
  fill_threshold_buckets(t.T.data(), cmax, shift, t.buckets.data(), count);
  t.view = {t.T.data(), t.buckets.data(), cmax, count - 1, shift,
            static_cast<uint32_t>(f.exp_bits + f.man_bits)};
  t.signed_table.assign(signed_table_half(shift) + uint64_t{count}, 0);
  fill_signed_table(t.view, t.signed_table.data());
  return t;
}

bool finite(float u) {
  return (f32_bits(u) & 0x7fffffffu) < kF32InfBits;
}

uint32_t reference_code(float u, float scale, FloatFormat f, Rounding r) {
  return quantize_entry(u, 0, scale, f, r, 0, /*propagate=*/false, [](uint32_t) { return 0.0f; }).code;
}

struct Case {
  const char* name;
  FloatFormat f;
};
const Case kFormats[] = {{"fp4", formats::fp4},   {"e4m3", formats::e4m3}, {"e5m2", formats::e5m2},
                         {"bf16", formats::bf16}, {"fp16", formats::fp16}, {"e3m2 finite", {3, 2, 3, Layout::finite}}};
const Rounding kRoundings[] = {Rounding::nearest_even, Rounding::nearest_down};
// The smallest normal scale (the encoder's floor), powers of two, odd values, large ones.
const float kScales[] = {1.17549435e-38f, 1.0f, 0.37f, 3.1e-4f, 7.7e-7f, 2.5e3f, 1e30f};

// Every format × rounding × scale, calling check(f, r, scale, tables).
template <class Check>
void for_each_case(Check check) {
  for (const Case& c : kFormats)
    for (Rounding r : kRoundings)
      for (float s : kScales) {
        SCOPED_TRACE(std::string(c.name) + " rounding " + std::to_string(static_cast<int>(r)) +
                     " scale " + std::to_string(s));
        check(c.f, r, s, build(c.f, r, s));
      }
}

TEST(CodeThresholds, EachThresholdIsTheReferenceBoundary) {
  for_each_case([](FloatFormat f, Rounding r, float s, const Tables& t) {
    for (uint32_t c = 1; c <= f.max_code(); ++c) {
      const uint32_t a = t.T[c];
      ASSERT_LE(a, kF32InfBits);
      ASSERT_GE(reference_magnitude(a, s, f, r), c) << "code " << c;
      if (a > 0) {
        ASSERT_LT(reference_magnitude(a - 1, s, f, r), c) << "code " << c;
      }
      ASSERT_LE(t.T[c - 1], a) << "thresholds decrease at code " << c;
    }
  });
}

TEST(CodeThresholds, BoundariesAndBucketEdgesMatchTheReference) {
  for_each_case([](FloatFormat f, Rounding r, float s, const Tables& t) {
    std::vector<uint32_t> probes;
    for (uint32_t c = 1; c <= f.max_code(); ++c)
      for (int d = -2; d <= 2; ++d) probes.push_back(t.T[c] + static_cast<uint32_t>(d));
    for (uint64_t b = 0; b <= t.view.last; ++b) {
      const uint64_t start = b << t.view.shift;
      probes.push_back(static_cast<uint32_t>(start));
      probes.push_back(static_cast<uint32_t>(start + (uint64_t{1} << t.view.shift) - 1));
    }
    probes.push_back(kF32InfBits);
    probes.push_back(kF32InfBits + 1);  // NaN
    probes.push_back(0x7fffffffu);      // NaN
    for (uint32_t a : probes)
      for (uint32_t sign : {0u, 0x80000000u}) {
        const float u = bits_f32((a & 0x7fffffffu) | sign);
        ASSERT_EQ(threshold_code(t.view, u), reference_code(u, s, f, r)) << std::hex << "bits 0x" << f32_bits(u);
        if (finite(u)) {
          ASSERT_EQ(t.signed_code(u), reference_code(u, s, f, r)) << std::hex << "bits 0x" << f32_bits(u);
        }
        if (f.max_code() == 5) {  // fp4: the codec counts thresholds instead
          ASSERT_EQ(threshold_count_code<5>(t.T.data(), t.view.sign_shift, u), reference_code(u, s, f, r))
              << std::hex << "bits 0x" << f32_bits(u);
        }
      }
  });
}

// n random bit patterns, split over the machine's threads.
void check_random(const Tables& t, FloatFormat f, Rounding r, float s, uint64_t seed, uint64_t n) {
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<uint64_t> bad(threads, 0), first(threads, 0);
  std::vector<std::thread> pool;
  for (unsigned k = 0; k < threads; ++k)
    pool.emplace_back([&, k] {
      std::mt19937_64 rng(seed * 1000 + k);
      for (uint64_t i = k; i < n; i += threads) {
        const uint64_t w = rng();
        for (uint32_t bits : {static_cast<uint32_t>(w), static_cast<uint32_t>(w >> 32)}) {
          const float u = bits_f32(bits);
          const uint32_t ref = reference_code(u, s, f, r);
          const bool count_ok = f.max_code() != 5 || threshold_count_code<5>(t.T.data(), t.view.sign_shift, u) == ref;
          const bool signed_ok = !finite(u) || t.signed_code(u) == ref;
          if ((threshold_code(t.view, u) != ref || !count_ok || !signed_ok) && !bad[k]++) first[k] = bits;
        }
      }
    });
  for (auto& th : pool) th.join();
  for (unsigned k = 0; k < threads; ++k) ASSERT_EQ(bad[k], 0u) << std::hex << "first bits 0x" << first[k];
}

TEST(CodeThresholds, RandomBitPatternsMatchTheReference) {
  // 2 × 2^21 patterns per (format, rounding, scale): about 59M per format.
  uint64_t seed = 1;
  for_each_case([&](FloatFormat f, Rounding r, float s, const Tables& t) {
    check_random(t, f, r, s, seed++, uint64_t{1} << 21);
  });
}

TEST(CodeThresholds, AllBitPatternsOptIn) {
  if (!std::getenv("CO3_EXHAUSTIVE_TESTS")) GTEST_SKIP() << "set CO3_EXHAUSTIVE_TESTS=1 for all 2^32 patterns";
  for (const Case& c : kFormats)
    for (Rounding r : kRoundings) {
      const float s = 3.1e-4f;
      SCOPED_TRACE(std::string(c.name) + " rounding " + std::to_string(static_cast<int>(r)));
      const Tables t = build(c.f, r, s);
      EXPECT_EQ(co3::testing::mismatches_over_all_floats([&](float u) {
                  const uint32_t ref = reference_code(u, s, c.f, r);
                  uint64_t bad = threshold_code(t.view, u) != ref;
                  if (finite(u)) bad += t.signed_code(u) != ref;
                  if (c.f.max_code() == 5) bad += threshold_count_code<5>(t.T.data(), t.view.sign_shift, u) != ref;
                  return bad;
                }),
                0u);
    }
}

}  // namespace
