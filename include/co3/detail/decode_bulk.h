// The CPU decoder's fast path through a chunk (issue 13): the steps of decode_run where none of
// its checks can fire, at a few instructions a lookup. decode_run then continues from the same
// bit position and makes every remaining check, so bulk + decode_run accept, reject and decode
// exactly as decode_run alone (test_decode_hd compares them on valid and corrupted chunks).
//
// What makes it cheap:
// - the stream is read 64 bits at a time from any byte (a branch-free refill that leaves 56 to 63
//   bits in the window), then up to kSteps lookups are taken with no refill and no bound check:
//   the caller's batch (bulk_refills) guarantees that every refill reads inside the chunk's
//   words and that the symbols fit in its count, and kSteps · kLutBits ≤ 56 that every lookup
//   entry's codewords lie in bits already read;
// - a lookup writes all of its entry's symbol slots by one 8-byte store and advances by their
//   number, with no branch on it;
// - a codeword longer than kLutBits (8-bit formats' rare ones, most of bf16's and fp16's) takes
//   one more lookup in a second-level table of its prefix (BulkTables::sub) instead of a search.
//   Only this rare path checks the window: it needs its own codeword's bits, and leaves enough
//   for the lookups left in the batch, or it ends the batch early (the next refill tops the
//   window up). The steps per refill therefore do not shrink with the table's max_len (a bound
//   by max_len gave 8-bit formats, L = 12, four steps and bf16, L = 20, two);
// - two chunks interleaved, so that each lookup waits only on its own chunk's previous one.
// Host+device code like the rest of the decoder, though only the CPU uses it: the GPU decodes
// one lane per chunk with decode_run, staging runs in shared memory.
#pragma once

#include <cstdint>
#include <cstring>

#include "co3/detail/decode_chunk.h"
#include "co3/detail/hd.h"

// The bulk's pieces inlined into their loop on the host too (GCC otherwise calls bulk_step
// through memory, doubling its instructions).
#if defined(__CUDACC__) || !defined(__GNUC__)
#define CO3_BULK_HD CO3_HD
#else
#define CO3_BULK_HD inline __attribute__((always_inline))
#endif

namespace co3::detail {

// The symbols one lookup entry can hold for `symbol_bits`-bit symbols (lut_entry's cap).
CO3_HD constexpr uint32_t lut_symbol_cap(int symbol_bits) {
  return static_cast<uint32_t>(kLutSymbolBits / symbol_bits) < kMaxLutSymbols
             ? static_cast<uint32_t>(kLutSymbolBits / symbol_bits)
             : kMaxLutSymbols;
}

// Lookups per refill: a lookup entry's codewords fit in its kLutBits-bit prefix, and a refill
// leaves at least 56 bits (longer codewords check the window themselves: bulk_step).
inline constexpr uint32_t kBulkSteps = 56 / kLutBits;

// The lookup structures of the bulk path. lut: one entry per kLutBits-bit prefix, lut_entry's
// codewords in a layout cheaper to use: bits 0–5 their total bits, 8–15 their number, 16–63 the
// symbols (as lut_entry). An entry with no codeword (number 0) whose prefix starts longer
// codewords may hold a second-level table instead: bits 0–5 its index bits b (0: none), bits
// 16–47 its offset in `sub`. sub[offset + the b stream bits after the prefix] = symbol |
// length << 16 for the codeword those bits start, 0 where they start none. Prefixes without a
// second-level table take decode_canonical_long.
struct BulkTables {
  const uint64_t* lut;
  const uint32_t* sub;
  CanonicalView canonical;
  const uint32_t* short_lut;  // decode_short.h's entries, or null where that path is not taken
  const uint64_t* wide_first;  // decode_wide.h's two levels, or null where that path is not taken
  const uint32_t* wide_second;
};

CO3_HD uint64_t bulk_lut_entry(uint64_t lut_entry_value) {
  const uint64_t n = lut_count(lut_entry_value);
  return n == 0 ? 0 : (lut_entry_value >> 16) << 16 | n << 8 | lut_total_bits(lut_entry_value);
}

CO3_HD uint64_t bulk_sub_entry(uint32_t offset, uint32_t index_bits) {
  return uint64_t{offset} << 16 | index_bits;
}

// A chunk's stream read from bytes: the window holds `cnt` stream bits (the next in bit 0),
// with correct stream bits or zeros above them; `p` is the next byte to load. The stream
// position is 8·(p − base) − cnt.
struct BulkStream {
  const uint8_t* base;
  const uint8_t* p;
  uint64_t window = 0;
  uint32_t cnt = 0;
  uint32_t k = 0;  // symbols decoded
};

CO3_HD BulkStream bulk_stream(const uint8_t* chunk) {
  BulkStream s;
  s.base = s.p = chunk;
  return s;
}

// How many refills (each followed by kSteps lookups) the stream can take with the guarantees
// above: every refill's 8-byte load inside [base, end), and kSteps · kCap symbols left in count
// per refill. A refill advances p by at most 7 bytes.
template <uint32_t kCap, uint32_t kSteps>
CO3_BULK_HD uint32_t bulk_refills(const BulkStream& s, const uint8_t* end, uint32_t count) {
  const uint64_t bytes = static_cast<uint64_t>(end - s.p);
  const uint64_t by_bytes = bytes >= 8 ? (bytes - 8) / 7 + 1 : 0;
  const uint64_t by_count = (count - s.k) / (kSteps * kCap);
  return static_cast<uint32_t>(by_bytes < by_count ? by_bytes : by_count);
}

CO3_BULK_HD void bulk_refill(BulkStream& s) {
  uint64_t w;
  memcpy(&w, s.p, 8);  // little-endian host: stream bit b is bit b mod 8 of byte b / 8
  s.window |= w << s.cnt;
  s.p += (63 - s.cnt) >> 3;
  s.cnt |= 56;
}

// What one lookup tells its batch.
enum BulkStep : uint32_t {
  kBulkStop = 0,    // a prefix that starts no codeword: the stream is unchanged (decode_run reports it)
  kBulkNext = 1,    // decoded; the next lookup of the batch may follow
  kBulkRefill = 2,  // a long codeword that needs a refill first (stream unchanged), or one decoded
                    // that left too few bits for the rest of the batch: refill before the next
};

// One lookup, `after` lookups of the batch still to come: writes its symbols at o (8 bytes of
// slots; the caller's buffer has the slack) and advances o past them. The caller keeps s.k =
// o − out between batches (a pointer in the loop, not an index: one register and one
// instruction fewer a lookup). Invariant on entry: s.cnt ≥ kLutBits · (after + 1), so the
// first-level entry's codewords are in the window; a long codeword checks its own bits.
template <int kSymbolBits, class Sym>
CO3_BULK_HD BulkStep bulk_step(BulkStream& s, const BulkTables& t, Sym*& o, uint32_t after) {
  static_assert(8 * sizeof(Sym) == kSymbolBits, "one symbol slot per Sym");
  const uint64_t e = t.lut[s.window & (kLutSize - 1)];
  const uint32_t n = static_cast<uint8_t>(e >> 8);
  if (n != 0) {
    const uint64_t v = e >> 16;  // the symbol fields, Sym-sized and in order
    memcpy(o, &v, sizeof v);
    o += n;
    const uint32_t len = static_cast<uint32_t>(e) & 63;
    s.window >>= len;
    s.cnt -= len;
    return kBulkNext;
  }
  uint32_t sym, len;
  const uint32_t b = static_cast<uint32_t>(e) & 63;
  if (b != 0) {
    if (s.cnt < static_cast<uint32_t>(kLutBits) + b) return kBulkRefill;
    const uint32_t x =
        t.sub[(e >> 16) + (static_cast<uint32_t>(s.window >> kLutBits) & ((1u << b) - 1))];
    if (x == 0) return kBulkStop;
    sym = x & 0xffffu;
    len = x >> 16;
  } else {
    if (s.cnt < static_cast<uint32_t>(t.canonical.max_len)) return kBulkRefill;
    const int l = decode_canonical_long(t.canonical, s.window, &sym);
    if (l == 0) return kBulkStop;
    len = static_cast<uint32_t>(l);
  }
  *o++ = static_cast<Sym>(sym);
  s.window >>= len;
  s.cnt -= len;
  return s.cnt >= static_cast<uint32_t>(kLutBits) * after ? kBulkNext : kBulkRefill;
}

// The bulk of one chunk of `count` symbols whose words end at `end`: it stops where
// bulk_refills allows no more, or before a prefix that starts no codeword.
template <uint32_t kCap, int kSymbolBits, uint32_t kSteps, class Sym>
CO3_HD void decode_bulk(BulkStream& s, const BulkTables& t, const uint8_t* end, uint32_t count,
                        Sym* out) {
  static_assert(kSteps * kLutBits <= 56, "a refill leaves 56 bits");
  BulkStream r = s;  // locals in registers: stores to out could otherwise alias them
  const BulkTables tt = t;
  Sym* o = out + r.k;
  for (uint32_t n; (n = bulk_refills<kCap, kSteps>(r, end, count)) != 0;) {
    for (; n != 0; --n) {
      bulk_refill(r);
      for (uint32_t i = 0; i < kSteps; ++i) {
        const BulkStep st = bulk_step<kSymbolBits>(r, tt, o, kSteps - 1 - i);
        if (st == kBulkNext) continue;
        if (st == kBulkStop) {
          r.k = static_cast<uint32_t>(o - out);
          s = r;
          return;
        }
        break;  // kBulkRefill
      }
    }
    r.k = static_cast<uint32_t>(o - out);
  }
  s = r;
}

// decode_bulk on two chunks at once, a lookup of each in turn; stops when either meets a prefix
// that starts no codeword (each is then continued alone by decode_bulk and decode_run). A
// lookup of either asking for a refill ends the batch of both.
template <uint32_t kCap, int kSymbolBits, uint32_t kSteps, class Sym>
CO3_HD void decode_bulk_pair(BulkStream& sa, BulkStream& sb, const BulkTables& t,
                             const uint8_t* end_a, const uint8_t* end_b, uint32_t count_a,
                             uint32_t count_b, Sym* out_a, Sym* out_b) {
  static_assert(kSteps * kLutBits <= 56, "a refill leaves 56 bits");
  BulkStream a = sa, b = sb;  // locals, as in decode_bulk
  const BulkTables tt = t;
  Sym* oa = out_a + a.k;
  Sym* ob = out_b + b.k;
  for (bool going = true; going;) {
    const uint32_t na = bulk_refills<kCap, kSteps>(a, end_a, count_a);
    const uint32_t nb = bulk_refills<kCap, kSteps>(b, end_b, count_b);
    uint32_t n = na < nb ? na : nb;
    going = n != 0;
    for (; going && n != 0; --n) {
      bulk_refill(a);
      bulk_refill(b);
      for (uint32_t i = 0; i < kSteps; ++i) {
        BulkStep st = bulk_step<kSymbolBits>(a, tt, oa, kSteps - 1 - i);
        if (st == kBulkNext) st = bulk_step<kSymbolBits>(b, tt, ob, kSteps - 1 - i);
        if (st == kBulkNext) continue;
        going = st != kBulkStop;
        break;
      }
    }
    a.k = static_cast<uint32_t>(oa - out_a);
    b.k = static_cast<uint32_t>(ob - out_b);
  }
  sa = a;
  sb = b;
}

// A chunk's stream in a group decoded together, with its end and count and where its symbols go.
template <class Sym>
struct BulkLane {
  BulkStream s;
  const uint8_t* end;
  uint32_t count;
  Sym* out;
};

// Batches of every lane in turn while every lane allows one (refills(lane): how many it
// allows; batch(lane): one batch). The lanes are separate variables, not an array, so that
// each stream stays in registers (GCC kept an array of streams in memory, a store and a load in
// every lookup's chain: 24 instructions an entry instead of 18).
template <class Refills, class Batch, class... Lane>
CO3_BULK_HD void interleave_lanes(Refills refills, Batch batch, Lane&... lane) {
  for (;;) {
    uint32_t n = ~0u;
    ((n = refills(lane) < n ? refills(lane) : n), ...);
    if (n == 0) return;
    for (; n != 0; --n) (batch(lane), ...);
  }
}

// N chunks (2 to 6) given as arrays, interleaved as lanes, their streams written back.
template <int N, class Sym, class Refills, class Batch>
CO3_BULK_HD void interleave_group(BulkStream* s, const uint8_t* const* end, const uint32_t* count,
                                  Sym* const* out, Refills refills, Batch batch) {
  static_assert(N >= 2 && N <= 6, "the lanes below");
  const auto lane = [&](int i) { return BulkLane<Sym>{s[i], end[i], count[i], out[i]}; };
  BulkLane<Sym> a = lane(0), b = lane(1);
  if constexpr (N == 2) {
    interleave_lanes(refills, batch, a, b);
  } else if constexpr (N == 3) {
    BulkLane<Sym> c = lane(2);
    interleave_lanes(refills, batch, a, b, c);
    s[2] = c.s;
  } else if constexpr (N == 4) {
    BulkLane<Sym> c = lane(2), d = lane(3);
    interleave_lanes(refills, batch, a, b, c, d);
    s[2] = c.s, s[3] = d.s;
  } else if constexpr (N == 5) {
    BulkLane<Sym> c = lane(2), d = lane(3), e = lane(4);
    interleave_lanes(refills, batch, a, b, c, d, e);
    s[2] = c.s, s[3] = d.s, s[4] = e.s;
  } else {
    BulkLane<Sym> c = lane(2), d = lane(3), e = lane(4), f = lane(5);
    interleave_lanes(refills, batch, a, b, c, d, e, f);
    s[2] = c.s, s[3] = d.s, s[4] = e.s, s[5] = f.s;
  }
  s[0] = a.s, s[1] = b.s;
}

// decode_run's state at the bulk stream's position, for a chunk of `words` words.
template <class Load>
CO3_HD ChunkStream chunk_stream_at(const BulkStream& s, uint32_t words, Load&& load) {
  const uint64_t pos = 8 * static_cast<uint64_t>(s.p - s.base) - s.cnt;
  ChunkStream c;
  c.words = words;
  c.next = static_cast<uint32_t>(pos / 32);
  const int r = static_cast<int>(pos % 32);
  if (r != 0) {
    c.window = uint64_t{load(c.next)} >> r;
    c.avail = 32 - r;
    ++c.next;
  }
  return c;
}

}  // namespace co3::detail
