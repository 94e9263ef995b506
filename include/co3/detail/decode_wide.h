// The CPU decoder's bulk path for 16-bit symbols (bf16, fp16): two lookups a symbol and no
// branch. bf16's codewords average about 10.5 bits with lengths to 20, so about half of them
// are longer than decode_bulk.h's 11-bit prefix: there its test "does this prefix hold whole
// codewords?" goes either way at random, and the mispredictions cost more than the lookups.
//
// Every symbol takes the same two steps. The first-level entry of the stream's kLutBits-bit
// prefix gives an offset into the second level and a mask of the stream bits after the prefix
// that index it; the second-level entry gives the symbol (bits 0–15) and the codeword's length
// (bits 16–23). A prefix that holds a whole codeword has mask 0 and its own second-level entry;
// a prefix that starts longer codewords has the mask of the longest one's extra bits
// (decode_tables.cpp builds both levels from the table's second-level tables of decode_bulk.h).
//
// A prefix or extension that starts no codeword (only in an incomplete code, that is a packet
// decode_run refuses) has the second-level entry 0: length 0, so the stream stays on it and
// every later lookup of the bulk writes symbol 0 without moving; decode_run resumes there with at
// least one symbol left (wide_refills) and refuses the chunk, as it would alone.
//
// Bounds as decode_bulk.h's: wide_refills keeps every refill's 8-byte load inside the chunk and
// every symbol inside its count; a refill leaves at least 56 bits, and kSteps · max_len ≤ 56
// keeps every codeword of a batch in bits already read.
#pragma once

#include <cstdint>

#include "co3/detail/decode_bulk.h"

namespace co3::detail {

// The two levels: first[p] = offset << 32 | mask for each kLutBits-bit prefix p; second[offset
// + ((stream bits after the prefix) & mask)] = symbol | length << 16, or 0.
struct WideTables {
  const uint64_t* first;
  const uint32_t* second;
};

CO3_HD constexpr uint32_t wide_steps_per_refill(int max_len) {
  return static_cast<uint32_t>(56 / (max_len > kLutBits ? max_len : kLutBits));
}

// bulk_refills with one symbol of the count kept back for decode_run (above).
template <uint32_t kSteps>
CO3_BULK_HD uint32_t wide_refills(const BulkStream& s, const uint8_t* end, uint32_t count) {
  return bulk_refills<1, kSteps>(s, end, count ? count - 1 : 0);
}

// One batch: a refill and kSteps symbols at o[0 … kSteps).
template <uint32_t kSteps>
CO3_BULK_HD void wide_batch(BulkStream& s, const WideTables& t, uint16_t* o) {
  bulk_refill(s);
  for (uint32_t i = 0; i < kSteps; ++i) {
    const uint64_t f = t.first[s.window & (kLutSize - 1)];
    const uint32_t extra = static_cast<uint32_t>(s.window >> kLutBits) & static_cast<uint32_t>(f);
    const uint32_t x = t.second[(f >> 32) + extra];
    o[i] = static_cast<uint16_t>(x);
    const uint32_t len = x >> 16;
    s.window >>= len;
    s.cnt -= len;
  }
}

// The bulk of one chunk of `count` symbols whose words end at `end`, as decode_bulk.
template <uint32_t kSteps>
CO3_HD void decode_wide(BulkStream& s, const WideTables& t, const uint8_t* end, uint32_t count,
                        uint16_t* out) {
  BulkStream r = s;  // locals in registers: stores to out could otherwise alias them
  const WideTables tt = t;
  for (uint32_t n; (n = wide_refills<kSteps>(r, end, count)) != 0;)
    for (; n != 0; --n, r.k += kSteps) wide_batch<kSteps>(r, tt, out + r.k);
  s = r;
}

// decode_wide on N chunks at once (N = 2 … 6), as decode_short_group.
template <uint32_t kSteps, int N>
CO3_HD void decode_wide_group(BulkStream* s, const WideTables& t, const uint8_t* const* end,
                              const uint32_t* count, uint16_t* const* out) {
  const WideTables tt = t;
  interleave_group<N>(
      s, end, count, out,
      [](const BulkLane<uint16_t>& l) { return wide_refills<kSteps>(l.s, l.end, l.count); },
      [&tt](BulkLane<uint16_t>& l) {
        wide_batch<kSteps>(l.s, tt, l.out + l.s.k);
        l.s.k += kSteps;
      });
}

}  // namespace co3::detail
