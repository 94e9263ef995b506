// Conversion by thresholds (issue 13): the same codes as quantize_entry's
// encode_float(fdiv(u, scale)) for the deterministic roundings, without the division or the
// branches, as host+device code.
//
// Why it is exact: for a fixed scale s > 0, |u| ↦ fdiv(|u|, s) is monotone (a correctly rounded
// division by a positive number), and encode_float's magnitude is monotone in |x| for
// nearest-even and nearest-down (saturation included; +Inf gives the largest finite code). So
// the magnitude code of |u| is a non-decreasing step function of |u|'s bit pattern a, and
//   mag(a) = #{ c ≥ 1 : a ≥ T[c] },   T[c] = the smallest a in [0, 0x7f800000] with mag(a) ≥ c.
// T is found once per tensor (a guess from the midpoint of the two codes' values, then a
// bracketing search that evaluates the reference conversion itself). Per entry, a bucket table
// indexed by the top bits of a (the float32 exponent and M + 2 mantissa bits) gives the count of
// thresholds below the bucket and the one threshold inside it, so a code costs one load and one
// compare. A bucket is narrower than half the format's relative spacing, so it holds at most one
// threshold except where float32 subnormals or a skipped code crowd them; such buckets are
// marked and counted against T directly. The sign is the input's (code 0 stays +0), and NaN
// gives code 0, as in quantize_entry.
#pragma once

#include <cstdint>

#include "co3/detail/hd.h"
#include "co3/float_format.h"

namespace co3::detail {

inline constexpr uint32_t kF32InfBits = 0x7f800000u;

// Rounding modes whose code is a function of |u| alone (stochastic rounding draws per entry).
CO3_HD bool threshold_rounding(Rounding r) {
  return r == Rounding::nearest_even || r == Rounding::nearest_down;
}

// The reference: the magnitude code quantize_entry gives |u| = bits_f32(a), a ≤ 0x7f800000.
CO3_HD uint32_t reference_magnitude(uint32_t a, float scale, FloatFormat f, Rounding r) {
  return encode_float(fdiv(bits_f32(a), scale), f, r);
}

// T[c]: the smallest a in [0, 0x7f800000] whose magnitude code is ≥ c (1 ≤ c ≤ f.max_code()).
// The guess is the float nearest (value(c−1) + value(c))/2 · s; the search then brackets the
// answer by doubling steps from the guess (mag(0) = 0 < c ≤ mag(0x7f800000) bound it) and
// halves the bracket, so it is exact wherever the guess lands, and costs a few conversions when
// the guess is within a few ulps.
CO3_HD uint32_t code_threshold(uint32_t c, float scale, FloatFormat f, Rounding r) {
  const double mid = (static_cast<double>(code_magnitude(f, c - 1)) +
                      static_cast<double>(code_magnitude(f, c))) * 0.5;
  const double g = mid * static_cast<double>(scale);
  uint32_t guess = g >= 3.4028234663852886e38 ? kF32InfBits : f32_bits(static_cast<float>(g));
  // Invariant after bracketing: mag(lo) < c ≤ mag(hi), lo < hi.
  uint32_t lo, hi;
  if (reference_magnitude(guess, scale, f, r) >= c) {
    hi = guess;
    uint32_t step = 1;
    for (;;) {
      lo = hi > step ? hi - step : 0;
      if (lo == 0 || reference_magnitude(lo, scale, f, r) < c) break;
      hi = lo;
      step *= 2;
    }
  } else {
    lo = guess;
    uint32_t step = 1;
    for (;;) {
      hi = kF32InfBits - lo > step ? lo + step : kF32InfBits;
      if (hi == kF32InfBits || reference_magnitude(hi, scale, f, r) >= c) break;
      lo = hi;
      step *= 2;
    }
  }
  while (hi - lo > 1) {
    const uint32_t mid_a = lo + (hi - lo) / 2;
    if (reference_magnitude(mid_a, scale, f, r) >= c) {
      hi = mid_a;
    } else {
      lo = mid_a;
    }
  }
  return hi;
}

// Bucket b covers a in [b << shift, (b + 1) << shift): the float32 exponent and M + 2 mantissa
// bits, a quarter of the format's smallest relative step between codes.
CO3_HD int threshold_bucket_shift(FloatFormat f) {
  return 23 - f.man_bits - 2;
}

// The entry of the bucket that ends (exclusive) at `end`, `below` thresholds being at or below
// its start: bits 0–31 the first threshold inside it (0xFFFFFFFF: none), bits 32–47 `below`,
// bit 63 "more than one threshold inside".
CO3_HD uint64_t threshold_bucket(const uint32_t* T, uint32_t cmax, uint64_t end, uint32_t below) {
  uint32_t inside = 0xFFFFFFFFu;
  uint64_t multi = 0;
  if (below < cmax && T[below + 1] < end) {
    inside = T[below + 1];
    multi = below + 1 < cmax && T[below + 2] < end;
  }
  return inside | uint64_t{below} << 32 | multi << 63;
}

// The bucket entry below the first threshold: no threshold at or below it, none inside.
inline constexpr uint64_t kBucketBelowAll = 0xFFFFFFFFu;

// The buckets that end at or before T[1] (every entry kBucketBelowAll): most of a wide
// format's range for a small scale (e5m2's codes span 32 of float32's binades, a tensor's values
// below them many more), which a small tensor would otherwise pay a merge step each for.
CO3_HD uint32_t buckets_below_all(const uint32_t* T, uint32_t cmax, int shift, uint32_t count) {
  const uint32_t b = cmax ? T[1] >> shift : count;
  return b < count ? b : count;
}

// Buckets 0 … count − 1 from T[1 … cmax] (non-decreasing), in one merge pass.
CO3_HD void fill_threshold_buckets(const uint32_t* T, uint32_t cmax, int shift, uint64_t* buckets,
                                   uint32_t count) {
  const uint32_t low = buckets_below_all(T, cmax, shift, count);
  for (uint32_t b = 0; b < low; ++b) buckets[b] = kBucketBelowAll;
  uint32_t below = 0;
  for (uint32_t b = low; b < count; ++b) {
    const uint64_t start = uint64_t{b} << shift, end = start + (uint64_t{1} << shift);
    while (below < cmax && T[below + 1] <= start) ++below;
    buckets[b] = threshold_bucket(T, cmax, end, below);
  }
}

// The lookup structures of one segment: T (cmax + 1 entries, T[0] unused) and `count` buckets,
// enough for every |u| the segment holds (larger a are clamped to the last bucket's range by the
// caller's bound, which is the segment's own maximum).
struct ThresholdView {
  const uint32_t* T;
  const uint64_t* buckets;
  uint32_t cmax;
  uint32_t last;  // the last bucket
  int shift;
  uint32_t sign_shift;  // E + M: where the sign bit goes
};

// The code of u by the tables: equal to quantize_entry(u, …).code for the view's scale, format
// and (deterministic) rounding, whenever |u|'s bits are ≤ the bound the buckets were built for.
CO3_HD uint32_t threshold_code(const ThresholdView& v, float u) {
  // Masks and arithmetic rather than conditions, so that compilers emit no data-dependent
  // branch (a mispredicted one costs more than the whole lookup).
  const uint32_t bits = f32_bits(u);
  uint32_t a = bits & 0x7fffffffu;
  a &= 0u - static_cast<uint32_t>(a <= kF32InfBits);  // NaN → 0 → code 0
  uint32_t b = a >> v.shift;
  b = b < v.last ? b : v.last;
  const uint64_t e = v.buckets[b];
  // a ≥ threshold as the sign bit of (threshold − 1 − a) in 64 bits.
  const uint32_t up = static_cast<uint32_t>(
      static_cast<uint64_t>(int64_t{static_cast<uint32_t>(e)} - 1 - int64_t{a}) >> 63);
  uint32_t mag = static_cast<uint32_t>(e >> 32 & 0xffffu) + up;
  if (e >> 63) {  // rare: several thresholds inside the bucket
    while (mag < v.cmax && a >= v.T[mag + 1]) ++mag;
  }
  const uint32_t sign = (bits >> 31) << v.sign_shift;
  return mag | (sign & (0u - static_cast<uint32_t>(mag != 0)));
}

// The signed table: the same codes for a segment whose u are all finite, in one load and one
// compare (issue 13: threshold_code's NaN mask, clamp, multi-threshold test and sign handling
// were two thirds of the encoder's conversion). Indexed by u's whole bit pattern >> shift, so
// the sign selects its own half: entry bits >> shift = (sign << (31 − shift)) | b holds, for
// bucket b ≤ v.last, bits 0–31 the threshold t as a signed bit pattern (u's bits ≥ t exactly
// when |u| ≥ the threshold inside the bucket; 0 when none is), bits 32–47 the code below it and
// bits 48–63 the code at or above it, signs applied (code 0 stays +0). Buckets with several
// thresholds inside get the code kSignedSlow for both, and the caller takes threshold_code.
inline constexpr uint32_t kSignedSlow = 0xFFFFu;

CO3_HD uint32_t signed_table_half(int shift) {
  return 1u << (31 - shift);
}

CO3_HD uint64_t signed_bucket(const ThresholdView& v, uint32_t b, uint32_t sign) {
  const uint64_t e = v.buckets[b];
  if (e >> 63) return uint64_t{kSignedSlow} << 32 | uint64_t{kSignedSlow} << 48;
  const uint32_t below = static_cast<uint32_t>(e >> 32 & 0xffffu), inside = static_cast<uint32_t>(e);
  const uint32_t sign_bit = sign << v.sign_shift;
  const uint64_t lo = below ? below | sign_bit : 0;
  if (inside == 0xFFFFFFFFu) return lo << 32 | lo << 48;
  const uint64_t hi = (below + 1) | sign_bit;
  return (inside | sign << 31) | lo << 32 | hi << 48;
}

// Entries [0, v.last] and [half, half + v.last] of a table of half + v.last + 1 entries (the
// ones between are never read).
CO3_HD void fill_signed_table(const ThresholdView& v, uint64_t* table) {
  const uint32_t half = signed_table_half(v.shift);
  // Buckets below every threshold give code 0 (+0) for either sign: signed_bucket's 0.
  const uint32_t low = buckets_below_all(v.T, v.cmax, v.shift, v.last + 1);
  for (uint32_t b = 0; b < low; ++b) table[b] = table[half + b] = 0;
  for (uint32_t b = low; b <= v.last; ++b) {
    table[b] = signed_bucket(v, b, 0);
    table[half + b] = signed_bucket(v, b, 1);
  }
}

// The code of a finite u with |u|'s bits ≤ the view's bound, or kSignedSlow.
CO3_HD uint32_t signed_table_code(const uint64_t* table, int shift, uint32_t bits) {
  const uint64_t e = table[bits >> shift];
  return bits >= static_cast<uint32_t>(e) ? static_cast<uint32_t>(e >> 48)
                                          : static_cast<uint32_t>(e >> 32) & 0xffffu;
}

// The same code by counting thresholds, for formats with few codes (kCmax = f.max_code(), fp4's
// 5): mag = #{c : a ≥ T[c]} is the step function itself, so no bucket is needed, and a loop of
// these over many entries is a handful of vector compares per entry.
template <uint32_t kCmax>
CO3_HD uint32_t threshold_count_code(const uint32_t* T, uint32_t sign_shift, float u) {
  const uint32_t bits = f32_bits(u);
  uint32_t a = bits & 0x7fffffffu;
  a &= 0u - static_cast<uint32_t>(a <= kF32InfBits);  // NaN → 0 → code 0
  uint32_t mag = 0;
  // a and T[c] are ≤ 0x7f800000: signed compares give the unsigned order (SSE2 has only those).
  for (uint32_t c = 1; c <= kCmax; ++c)
    mag += static_cast<int32_t>(a) >= static_cast<int32_t>(T[c]) ? 1u : 0u;
  const uint32_t sign = (bits >> 31) << sign_shift;
  return mag | (sign & (0u - static_cast<uint32_t>(mag != 0)));
}

}  // namespace co3::detail
