// Small floating-point formats: sign, E exponent bits, M mantissa bits, a bias and a layout.
//
// Conversion works on the float32 bit pattern with integer arithmetic only, so the CPU and the
// GPU produce the same code for every input and every rounding mode (docs/FORMAT.md §5).
#pragma once

#include <cstdint>

#include "co3/detail/hd.h"

namespace co3 {

enum class Layout : uint8_t {
  ieee = 0,    // top exponent reserved for Inf (m = 0) and NaN (m != 0)
  finite = 1,  // every code is a number
  fn = 2,      // every code is a number except the all-ones magnitude, which is NaN
};

enum class Rounding : uint8_t {
  nearest_even = 0,
  nearest_down = 1,  // nearest, ties toward the smaller magnitude (the CO3 reference code)
  stochastic = 2,    // up with probability (|x| - lo) / (hi - lo): unbiased
};

enum class Overflow : uint8_t {
  saturate = 0,  // beyond the largest finite value -> the largest finite value (co3's default)
  ieee = 1,      // -> Inf in the ieee layout, NaN in fn, the largest finite value in finite
};

struct FloatFormat {
  uint8_t exp_bits = 5;
  uint8_t man_bits = 2;
  int16_t bias = 15;
  Layout layout = Layout::ieee;

  CO3_HD int width() const { return 1 + exp_bits + man_bits; }
  CO3_HD int emin() const { return 1 - bias; }
  CO3_HD uint32_t sign_bit() const { return 1u << (exp_bits + man_bits); }
  // Largest magnitude code that is a finite number.
  CO3_HD uint32_t max_code() const {
    const uint32_t all = (1u << (exp_bits + man_bits)) - 1;
    switch (layout) {
      case Layout::ieee: return (((1u << exp_bits) - 1) << man_bits) - 1;
      case Layout::fn: return all - 1;
      default: return all;
    }
  }
  CO3_HD bool has_inf() const { return layout == Layout::ieee; }
  CO3_HD bool has_nan() const { return layout == Layout::fn || (layout == Layout::ieee && man_bits > 0); }
  CO3_HD uint32_t inf_code() const { return ((1u << exp_bits) - 1) << man_bits; }
  CO3_HD uint32_t nan_code() const {
    return layout == Layout::fn ? (1u << (exp_bits + man_bits)) - 1 : inf_code() | ((1u << man_bits) - 1);
  }
  bool operator==(const FloatFormat& o) const {
    return exp_bits == o.exp_bits && man_bits == o.man_bits && bias == o.bias && layout == o.layout;
  }
  bool operator!=(const FloatFormat& o) const { return !(*this == o); }
};

namespace formats {
inline constexpr FloatFormat fp4{2, 1, 1, Layout::ieee};
inline constexpr FloatFormat e5m2{5, 2, 15, Layout::ieee};
inline constexpr FloatFormat e4m3{4, 3, 7, Layout::fn};
inline constexpr FloatFormat fp16{5, 10, 15, Layout::ieee};
inline constexpr FloatFormat bf16{8, 7, 127, Layout::ieee};
}  // namespace formats

// Magnitude of a magnitude code as float32 (exact: the range rule of FORMAT.md §5 guarantees it).
CO3_HD float code_magnitude(FloatFormat f, uint32_t mag) {
  const uint32_t M = f.man_bits;
  const uint32_t e = mag >> M;
  const uint32_t m = mag & ((1u << M) - 1);
  // value = k * 2^p with k < 2^11 exactly representable.
  const uint32_t k = e == 0 ? m : ((1u << M) | m);
  const int p = (e == 0 ? 0 : static_cast<int>(e) - 1) + f.emin() - static_cast<int>(M);
  // Two exact power-of-two factors keep every intermediate a normal float32.
  const int p1 = p < -126 ? -126 : (p > 127 ? 127 : p);
  const int p2 = p - p1;  // in [-23-10, 0] for valid formats
  float v = detail::fmul(static_cast<float>(k), detail::bits_f32(static_cast<uint32_t>(p1 + 127) << 23));
  if (p2 != 0) v = detail::fmul(v, detail::bits_f32(static_cast<uint32_t>(p2 + 127) << 23));
  return v;
}

// Value of a full code (sign included); reserved codes give +-Inf or NaN.
CO3_HD float decode_code(FloatFormat f, uint32_t code) {
  const uint32_t mag = code & (f.sign_bit() - 1);
  const bool neg = (code & f.sign_bit()) != 0;
  float v;
  if (f.layout == Layout::ieee && (mag >> f.man_bits) == ((1u << f.exp_bits) - 1u)) {
    v = (mag == f.inf_code()) ? detail::bits_f32(0x7f800000u) : detail::bits_f32(0x7fc00000u);
  } else if (f.layout == Layout::fn && mag == f.sign_bit() - 1) {
    v = detail::bits_f32(0x7fc00000u);
  } else {
    v = code_magnitude(f, mag);
  }
  return neg ? detail::bits_f32(detail::f32_bits(v) | 0x80000000u) : v;
}

CO3_HD float max_finite(FloatFormat f) { return code_magnitude(f, f.max_code()); }

// Converts x to a code of format f. `random` is a uniform 64-bit word, used only by stochastic
// rounding. Zero (and anything that rounds to zero) gives code 0, i.e. +0.
CO3_HD uint32_t encode_float(float x, FloatFormat f, Rounding r, uint64_t random = 0,
                             Overflow overflow = Overflow::saturate) {
  const uint32_t bits = detail::f32_bits(x);
  const uint32_t sign = (bits >> 31) ? f.sign_bit() : 0u;
  const uint32_t a = bits & 0x7fffffffu;
  if (a > 0x7f800000u) return f.has_nan() ? f.nan_code() : 0u;
  uint32_t code;
  if (a == 0x7f800000u) {
    code = f.max_code() + 1;  // beyond every finite value: handled as overflow below
  } else {
    if (a == 0) return 0;
    // |x| = sig * 2^(ex - 23) with sig in [2^23, 2^24).
    int ex;
    uint64_t sig;
    if (a >= 0x00800000u) {
      ex = static_cast<int>(a >> 23) - 127;
      sig = (a & 0x007fffffu) | 0x00800000u;
    } else {
      const int lz = detail::clz32(a) - 8;
      sig = static_cast<uint64_t>(a) << lz;
      ex = -126 - lz;
    }
    const int emin = f.emin();
    const int M = f.man_bits;
    // The format's quantum at |x| is 2^(max(ex, emin) - M); shift = its exponent minus x's ulp's.
    const int shift = 23 - M + (emin > ex ? emin - ex : 0);
    if (shift > 63) return 0;  // below 2^-40 of the smallest subnormal: always zero
    const uint64_t k = sig >> shift;
    const uint64_t rem = sig & ((uint64_t{1} << shift) - 1);
    const uint64_t half = uint64_t{1} << (shift - 1);
    code = static_cast<uint32_t>((ex > emin ? ex - emin : 0)) * (1u << M) + static_cast<uint32_t>(k);
    bool up;
    switch (r) {
      case Rounding::nearest_down: up = rem > half; break;
      case Rounding::stochastic: up = (random >> (64 - shift)) + rem >= (uint64_t{1} << shift); break;
      default: up = rem > half || (rem == half && (code & 1u)); break;
    }
    code += up ? 1u : 0u;
    if (code == 0) return 0;
  }
  if (code > f.max_code()) {
    if (overflow == Overflow::ieee && f.layout == Layout::ieee) return sign | f.inf_code();
    if (overflow == Overflow::ieee && f.layout == Layout::fn) return sign | f.nan_code();
    code = f.max_code();
  }
  return sign | code;
}

}  // namespace co3
