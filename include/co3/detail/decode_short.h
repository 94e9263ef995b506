// The CPU decoder's bulk path for 8-bit codes whose codewords all fit a 12-bit prefix and
// average well above a third of it (e4m3 and e5m2: L = 12, about 6–7 bits a codeword), where
// decode_bulk.h's multi-symbol entries rarely hold two symbols and its per-lookup bookkeeping
// (symbol count, pointer advance by it, long-codeword test, window count) is most of the cost.
//
// One symbol a lookup and nothing else: a 32-bit entry per 12-bit prefix holds the codeword's
// length in bits 0–7 and its symbol in bits 8–15, so a lookup is a load, a byte store at a fixed
// offset and a shift of the window by the entry itself (x86 and ARM take the shift count mod
// 64 from its low bits). The entries of a batch (one refill, kShortSteps lookups) are summed
// into one register instead of counted one by one: the batch's lengths total at most 48, so
// bits 0–7 of the sum are the bits it consumed.
//
// A prefix that starts no codeword (only in an incomplete code, that is a packet decode_run
// refuses) has the entry 0: length 0, so the stream stays on it and every later lookup of the
// bulk writes the same symbol 0 without moving. decode_run resumes at that prefix and refuses
// the chunk there; its count of remaining symbols is smaller, but the bulk leaves it at least one
// (short_refills), so decode_run meets the prefix before its count runs out. Bulk + decode_run
// therefore accept, reject and decode exactly as decode_run alone (test_decode_hd), without a
// test in the loop.
//
// Bounds as decode_bulk.h's: short_refills keeps every refill's
// 8-byte load inside the chunk and every symbol inside its count; a refill leaves at least 56
// bits, and kShortSteps · kShortBits ≤ 56 keeps every lookup's prefix in bits already read.
#pragma once

#include <cstdint>

#include "co3/detail/decode_bulk.h"

namespace co3::detail {

inline constexpr int kShortBits = 12;
inline constexpr uint32_t kShortSize = 1u << kShortBits;
inline constexpr uint32_t kShortSteps = 56 / kShortBits;

// Does a table of 8-bit symbols take this path? Its codewords fit the prefix, and a kLutBits
// lookup of decode_bulk.h would average fewer than `kShortBelow` symbols (every prefix is
// equally likely under the code's own distribution, so that average is the mean count over
// the prefixes). A multi-symbol lookup costs about three one-symbol ones (callgrind, 1M
// entries of resnet18_step120: e4m3 averages 0.99 symbols a lookup, e5m2 1.51, fp4 pairs 2.31;
// the short path took e4m3 decode from 28.4 to 17.7 instructions an entry and e5m2 from 22.4
// to 17.8, and fp4 from 10.3 to 10.6, so fp4 keeps the multi-symbol entries).
inline constexpr double kShortBelow = 2.0;

// The entry of the kShortBits-bit prefix p (stream order, first bit in bit 0).
CO3_HD uint32_t short_entry(const CanonicalView& t, uint32_t p) {
  uint32_t sym;
  const int len = decode_canonical(t, p, &sym);
  return len == 0 || len > kShortBits ? 0 : static_cast<uint32_t>(len) | sym << 8;
}

// bulk_refills with one symbol of the count kept back for decode_run (above).
CO3_BULK_HD uint32_t short_refills(const BulkStream& s, const uint8_t* end, uint32_t count) {
  return bulk_refills<1, kShortSteps>(s, end, count ? count - 1 : 0);
}

// One batch: a refill and kShortSteps lookups, symbols at o[0 … kShortSteps).
CO3_BULK_HD void short_batch(BulkStream& s, const uint32_t* lut, uint8_t* o) {
  bulk_refill(s);
  uint32_t sum = 0;
  for (uint32_t i = 0; i < kShortSteps; ++i) {
    const uint32_t e = lut[s.window & (kShortSize - 1)];
    o[i] = static_cast<uint8_t>(e >> 8);
    s.window >>= e & 63;
    sum += e;
  }
  s.cnt -= sum & 0xff;
}

// The bulk of one chunk of `count` symbols whose words end at `end`, as decode_bulk: it stops
// where short_refills allows no more.
CO3_HD void decode_short(BulkStream& s, const uint32_t* lut, const uint8_t* end, uint32_t count,
                         uint8_t* out) {
  static_assert(kShortSteps * kShortBits <= 56, "a refill leaves 56 bits");
  BulkStream r = s;  // locals in registers: stores to out could otherwise alias them
  for (uint32_t n; (n = short_refills(r, end, count)) != 0;)
    for (; n != 0; --n, r.k += kShortSteps) short_batch(r, lut, out + r.k);
  s = r;
}

// decode_short on N chunks at once (N = 2 … 6), a batch of each in turn, while every one allows
// a batch; each is then continued alone by decode_short and decode_run. Each lookup waits only on
// its own chunk's previous one: four chunks hide the load-to-shift chain that two left exposed
// (e4m3 and e5m2 decode about 30% faster with four on the development machine).
template <int N>
CO3_HD void decode_short_group(BulkStream* s, const uint32_t* lut, const uint8_t* const* end,
                               const uint32_t* count, uint8_t* const* out) {
  interleave_group<N>(
      s, end, count, out,
      [](const BulkLane<uint8_t>& l) { return short_refills(l.s, l.end, l.count); },
      [lut](BulkLane<uint8_t>& l) {
        short_batch(l.s, lut, l.out + l.s.k);
        l.s.k += kShortSteps;
      });
}

}  // namespace co3::detail
