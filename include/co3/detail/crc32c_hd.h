// CRC32C (FORMAT.md §8) as host+device code: a byte-table update and the combination of the
// CRCs of adjacent pieces, so that a packet can be checksummed by many threads at once and the
// pieces joined in any tree order (the combination is exact, not an approximation).
//
// States here are the raw register (pre- and post-inversion are the caller's): the CRC of a
// buffer is ~crc32c_update(table, ~0u, p, n), and crc32c_combine joins finished CRCs.
#pragma once

#include <cstdint>

#include "co3/detail/hd.h"

namespace co3::detail {

inline constexpr uint32_t kCrc32cPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

// table[b] = CRC register after shifting byte b through a zero register.
CO3_HD uint32_t crc32c_table_entry(uint32_t b) {
  uint32_t c = b;
  for (int i = 0; i < 8; ++i) c = (c >> 1) ^ (kCrc32cPoly & (0u - (c & 1u)));
  return c;
}

CO3_HD uint32_t crc32c_update(const uint32_t* table, uint32_t reg, const uint8_t* p, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) reg = (reg >> 8) ^ table[(reg ^ p[i]) & 0xFF];
  return reg;
}

// a·b mod P in the reflected representation (bit 31 is x^0).
CO3_HD uint32_t crc32c_multmod(uint32_t a, uint32_t b) {
  uint32_t prod = 0;
  for (uint32_t m = 1u << 31; m; m >>= 1) {
    if (a & m) prod ^= b;
    b = (b >> 1) ^ (kCrc32cPoly & (0u - (b & 1u)));
  }
  return prod;
}

// x^(8·n) mod P: appending n bytes multiplies a CRC's contribution by it.
CO3_HD uint32_t crc32c_x8n(uint64_t n) {
  uint32_t result = 1u << 31;  // x^0
  uint32_t power = 1u << 23;   // x^8
  for (; n; n >>= 1) {
    if (n & 1) result = crc32c_multmod(power, result);
    power = crc32c_multmod(power, power);
  }
  return result;
}

// CRC of A‖B from the finished CRCs of A and B and |B| in bytes.
CO3_HD uint32_t crc32c_combine_hd(uint32_t crc_a, uint32_t crc_b, uint64_t size_b) {
  return crc32c_multmod(crc32c_x8n(size_b), crc_a) ^ crc_b;
}

}  // namespace co3::detail
