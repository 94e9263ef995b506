// The class map of a version-3 segment (docs/FORMAT.md §6a) as host+device code: which entries
// held +Inf, -Inf or NaN under the 'propagate' policy, two bits per entry, and what they decode
// to. The CPU codec (host/codec/encode_quantize.cpp, host/codec/decode_payload.cpp, host/codec/decode_validate.cpp) and the kernels
// (kernels/encode_*.cu, kernels/decode_*.cu) write, check and apply maps with these functions.
#pragma once

#include <cstdint>

#include "co3/detail/hd.h"
#include "co3/detail/packet_layout.h"
#include "co3/dtype.h"

namespace co3::detail {

// Entry classes; 0 is every finite entry, which the payload codes.
inline constexpr uint32_t kClassFinite = 0, kClassPosInf = 1, kClassNegInf = 2, kClassNaN = 3;
// Entries per 32-bit word of a map (entry i: bits 2·(i mod 16) of word i div 16, which is the
// byte order of §6a on a little-endian machine).
inline constexpr uint64_t kClassesPerWord = 16;

CO3_HD uint32_t entry_class(float u) {
  const uint32_t bits = f32_bits(u);
  if ((bits & 0x7fffffffu) < 0x7f800000u) return kClassFinite;
  if ((bits & 0x7fffffffu) > 0x7f800000u) return kClassNaN;
  return bits >> 31 ? kClassNegInf : kClassPosInf;
}

// The value a non-finite class decodes to (a quiet NaN for kClassNaN).
CO3_HD float class_value(uint32_t c) {
  return bits_f32(c == kClassPosInf ? 0x7f800000u
                                    : (c == kClassNegInf ? 0xff800000u : 0x7fc00000u));
}

// 32-bit words a map of `map_bytes` bytes holds (map_bytes is a multiple of 8).
CO3_HD uint64_t class_map_words(uint64_t map_bytes) {
  return map_bytes / 4;
}

// Word w of the map of a segment of numel entries; u_at(i) is entry i's u (after error
// feedback). Entries past numel are class 0.
template <class UAt>
CO3_HD uint32_t class_map_word(uint64_t w, uint64_t numel, UAt u_at) {
  uint32_t word = 0;
  for (uint64_t k = 0; k < kClassesPerWord; ++k) {
    const uint64_t i = w * kClassesPerWord + k;
    if (i < numel) word |= entry_class(u_at(i)) << (2 * k);
  }
  return word;
}

// Entry i's class from a map in a packet.
CO3_HD uint32_t entry_class_at(const uint8_t* map, uint64_t i) {
  return (map[i / 4] >> (2 * (i % 4))) & 3u;
}

// §9.5: the bits of the map past entry numel − 1 and its padding bytes are zero.
CO3_HD bool class_map_padding_zero(const uint8_t* map, uint64_t numel, uint64_t map_bytes) {
  const uint64_t used = (numel + 3) / 4;
  if (numel % 4 && (map[used - 1] >> (2 * (numel % 4)))) return false;
  for (uint64_t b = used; b < map_bytes; ++b)
    if (map[b]) return false;
  return true;
}

// Applies map word w to an output: put(i, value) for every entry of the word that is not
// finite (the caller stores or accumulates the value as it does the payload's).
template <class Put>
CO3_HD void apply_class_word(uint32_t word, uint64_t w, Put put) {
  for (uint64_t k = 0; word; ++k, word >>= 2)
    if (word & 3u) put(w * kClassesPerWord + k, class_value(word & 3u));
}

}  // namespace co3::detail
