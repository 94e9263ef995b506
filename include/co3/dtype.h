// Loading and storing the dtypes a training loop hands co3 (float32, float16, bfloat16), with
// the same integer-exact conversions on the host and the device.
#pragma once

#include <cstdint>

#include "co3/config.h"
#include "co3/float_format.h"

namespace co3 {

CO3_HD float half_to_float(uint16_t h) { return decode_code(formats::fp16, h); }
CO3_HD float bf16_to_float(uint16_t b) { return detail::bits_f32(static_cast<uint32_t>(b) << 16); }

// Round to nearest-even; finite values saturate at the largest finite value (FORMAT.md §7),
// Inf and NaN stay Inf and NaN.
CO3_HD uint16_t float_to_half(float x) {
  const Overflow o = (detail::f32_bits(x) & 0x7fffffffu) >= 0x7f800000u ? Overflow::ieee
                                                                          : Overflow::saturate;
  return static_cast<uint16_t>(encode_float(x, formats::fp16, Rounding::nearest_even, 0, o));
}
CO3_HD uint16_t float_to_bf16(float x) {
  const Overflow o = (detail::f32_bits(x) & 0x7fffffffu) >= 0x7f800000u ? Overflow::ieee
                                                                          : Overflow::saturate;
  return static_cast<uint16_t>(encode_float(x, formats::bf16, Rounding::nearest_even, 0, o));
}

// Entry i of a buffer of dtype d, as float32 (the buffer need not be aligned).
CO3_HD float load_as_float(const void* base, DType d, uint64_t i) {
  const uint8_t* p = static_cast<const uint8_t*>(base);
  if (d == DType::f32) {
    uint32_t u;
    memcpy(&u, p + 4 * i, 4);
    return detail::bits_f32(u);
  }
  uint16_t h;
  memcpy(&h, p + 2 * i, 2);
  return d == DType::f16 ? half_to_float(h) : bf16_to_float(h);
}

// The storage bits of float32 value v in dtype d (low 16 bits for the 2-byte dtypes).
CO3_HD uint32_t store_bits(float v, DType d) {
  if (d == DType::f32) return detail::f32_bits(v);
  return d == DType::f16 ? float_to_half(v) : float_to_bf16(v);
}

}  // namespace co3
