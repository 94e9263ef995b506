// Decoding one chunk's bit stream (docs/FORMAT.md §6 and §9.6) as host+device code.
//
// A chunk decodes sequentially from its first word. ChunkStream holds the position, so a caller
// can decode a chunk in runs (the GPU stages each run in shared memory before writing it out);
// the CPU decodes a chunk as one run. Both go through decode_run, so they accept and reject the
// same chunks and produce the same symbols.
#pragma once

#include <cstdint>
#include <cstring>

#include "co3/detail/decode_table.h"
#include "co3/detail/hd.h"
#include "co3/kernels/status.h"

namespace co3::detail {

struct ChunkStream {
  uint64_t window = 0;  // the next `avail` stream bits, the next in bit 0; zeros above
  int avail = 0;
  uint32_t next = 0;   // next word to load
  uint32_t words = 0;  // the chunk's words (its chunk table entry)
  // The bits of the chunk's last symbol that must be zero (padding_entry_mask for a segment's
  // last chunk, 0 for the others), and the last symbol decoded, which finish_chunk checks.
  uint32_t padding_mask = 0;
  uint32_t last = 0;
};

// §6: entries past n in a segment's last symbol are code 0. For chunk `chunk` of `chunks` of a
// segment of n entries (g per symbol, w bits each): the bits of its last symbol that those
// entries take; 0 unless it is the segment's last chunk and its last symbol is not full.
CO3_HD uint32_t padding_entry_mask(uint64_t chunk, uint64_t chunks, uint64_t numel, int g, int w) {
  const uint32_t valid = static_cast<uint32_t>(numel % static_cast<uint64_t>(g));
  if (chunk + 1 != chunks || valid == 0) return 0u;
  return ((1u << (w * g)) - 1) & ~((1u << (w * valid)) - 1);
}

// The lookup structures of one table: the multi-symbol entries and the canonical path.
struct ChunkTables {
  const uint64_t* lut;  // kLutSize entries (lut_entry)
  CanonicalView canonical;
};

// Decodes the next `count` symbols, calling emit(k, symbol) for k = 0 … count − 1, and returns
// Status::ok, invalid_codeword or run_past_words (a codeword that ends past the chunk's words).
// load(i) returns the chunk's word i (i < s.words).
//
// Invariant: before every lookup the window holds ≥ 32 bits, or every remaining bit of the chunk
// (with zeros above them), so any codeword (≤ 24 bits) lies in it and a codeword that ends past
// `avail` ends past the chunk's words. A lookup entry's codewords are taken all
// at once only when they fit in the bits present and in `count`; otherwise the first alone, so
// the checks happen symbol by symbol exactly as a one-symbol decoder would make them.
template <class Load, class Emit>
CO3_HD kernels::Status decode_run(ChunkStream& s, const ChunkTables& t, uint32_t count, Load&& load,
                                  Emit&& emit) {
  const int sb = t.canonical.symbol_bits;
  for (uint32_t k = 0; k < count;) {
    if (s.avail <= 32 && s.next < s.words) {
      s.window |= uint64_t{load(s.next)} << s.avail;
      s.avail += 32;
      ++s.next;
    }
    const uint64_t e = t.lut[s.window & (kLutSize - 1)];
    const uint32_t total = lut_total_bits(e), n = lut_count(e);
    if (n != 0 && n <= count - k && total <= static_cast<uint32_t>(s.avail)) {
      for (uint32_t i = 0; i < n; ++i) emit(k + i, lut_symbol(e, i, sb));
      s.last = lut_symbol(e, n - 1, sb);
      k += n;
      s.window >>= total;
      s.avail -= static_cast<int>(total);
      continue;
    }
    uint32_t sym;
    int len;
    if (n != 0) {
      sym = lut_symbol(e, 0, sb);
      len = static_cast<int>(lut_first_bits(e));
    } else {
      len = decode_canonical(t.canonical, s.window, &sym);
      if (len == 0) return kernels::Status::invalid_codeword;
    }
    if (len > s.avail) return kernels::Status::run_past_words;
    emit(k++, sym);
    s.last = sym;
    s.window >>= len;
    s.avail -= len;
  }
  return kernels::Status::ok;
}

// The symbols one lookup entry can hold for `symbol_bits`-bit symbols (lut_entry's cap).
CO3_HD constexpr uint32_t lut_symbol_cap(int symbol_bits) {
  return static_cast<uint32_t>(kLutSymbolBits / symbol_bits) < kMaxLutSymbols
             ? static_cast<uint32_t>(kLutSymbolBits / symbol_bits)
             : kMaxLutSymbols;
}

// One step of decode_run where none of its checks can fire: the caller guarantees that at
// least kCap symbols remain to decode and that a word remains to load, so that after the refill
// the window holds at least 32 bits, every entry's codewords fit in the bits present and in the
// count, and a long codeword (≤ 24 bits) is whole. The refill is masked rather than branched on
// (it happens every few lookups, in no pattern a predictor learns), and a lookup writes all kCap
// symbol slots of its entry to out[k …] (out needs 8 slots of slack past the chunk's count) and advances by the entry's number, with no branch on that number (issue 13: 8-bit
// symbols take one or two per lookup). Returns false, with the stream unchanged but for the
// refill, at a prefix that is no codeword.
template <uint32_t kCap, int kSymbolBits, class Load, class Sym>
CO3_HD bool decode_bulk_step(ChunkStream& s, const ChunkTables& t, uint32_t& k, Load&& load,
                             Sym* out) {
  const uint64_t refill = s.avail <= 32 ? 1 : 0;
  s.window |= (uint64_t{load(s.next)} & (0 - refill)) << (s.avail & 63);
  s.avail += static_cast<int>(32 * refill);
  s.next += static_cast<uint32_t>(refill);
  const uint64_t e = t.lut[s.window & (kLutSize - 1)];
  const uint32_t n = lut_count(e);
  if (n != 0) {
    if constexpr (8 * sizeof(Sym) == kSymbolBits) {
      // The entry's symbol fields are Sym-sized and in order from bit 16: one 8-byte store
      // writes them all (8 / sizeof(Sym) slots, within the slack).
      const uint64_t v = e >> 16;
      memcpy(out + k, &v, sizeof v);
    } else {
      for (uint32_t i = 0; i < kCap; ++i) out[k + i] = static_cast<Sym>(lut_symbol(e, i, kSymbolBits));
    }
    k += n;
    s.window >>= lut_total_bits(e);
    s.avail -= static_cast<int>(lut_total_bits(e));
    return true;
  }
  uint32_t sym;
  const int len = decode_canonical_long(t.canonical, s.window, &sym);
  if (len == 0) return false;
  out[k++] = static_cast<Sym>(sym);
  s.window >>= len;
  s.avail -= len;
  return true;
}

// How many decode_bulk_steps a stream with k of count symbols decoded can take, one after
// another, with the step's guarantees holding before each: a step emits at most kCap symbols and
// loads at most one word. Checking once per batch of steps instead of before each keeps the
// loop's live state small enough for the registers (two chunks at once need them all).
template <uint32_t kCap>
CO3_HD uint32_t bulk_steps(const ChunkStream& s, uint32_t k, uint32_t count) {
  const uint32_t by_count = (count - k) / kCap, by_words = s.words - s.next;
  return by_count < by_words ? by_count : by_words;
}

// decode_run's steps while decode_bulk_step's guarantees hold; it stops before a prefix that is
// no codeword. decode_run then continues from the same state and makes every remaining check,
// so the pair decodes and rejects exactly as decode_run alone. Returns the symbols decoded into
// out. kCap = lut_symbol_cap(symbol_bits of the table).
template <uint32_t kCap, int kSymbolBits, class Load, class Sym>
CO3_HD uint32_t decode_bulk(ChunkStream& s, const ChunkTables& t, uint32_t count, Load&& load,
                            Sym* out) {
  // Locals the compiler keeps in registers: through the references, stores to out could (as far
  // as it can tell) change the stream, which it would then reload after each one.
  ChunkStream r = s;
  uint32_t k = 0;
  for (uint32_t n; (n = bulk_steps<kCap>(r, k, count)) != 0;) {
    for (; n != 0; --n)
      if (!decode_bulk_step<kCap, kSymbolBits>(r, t, k, load, out)) {
        s = r;
        return k;
      }
  }
  s = r;
  return k;
}

// decode_bulk on two chunks at once, one step of each in turn: each lookup waits on the one
// before it in its own chunk only, so the two chains overlap (issue 13: the lookup's latency,
// not its work, bounds a single chunk). Stops when either chunk leaves the bulk; *ka and *kb
// are the symbols each decoded, to be continued by decode_bulk and decode_run.
template <uint32_t kCap, int kSymbolBits, class LoadA, class LoadB, class Sym>
CO3_HD void decode_bulk_pair(ChunkStream& sa, ChunkStream& sb, const ChunkTables& t,
                             uint32_t count_a, uint32_t count_b, LoadA&& load_a, LoadB&& load_b,
                             Sym* out_a, Sym* out_b, uint32_t* ka, uint32_t* kb) {
  ChunkStream ra = sa, rb = sb;  // in registers, as in decode_bulk
  uint32_t a = 0, b = 0;
  bool going = true;
  while (going) {
    const uint32_t na = bulk_steps<kCap>(ra, a, count_a), nb = bulk_steps<kCap>(rb, b, count_b);
    uint32_t n = na < nb ? na : nb;
    if (n == 0) break;
    for (; n != 0; --n)
      if (!decode_bulk_step<kCap, kSymbolBits>(ra, t, a, load_a, out_a) ||
          !decode_bulk_step<kCap, kSymbolBits>(rb, t, b, load_b, out_b)) {
        going = false;
        break;
      }
  }
  sa = ra;
  sb = rb;
  *ka = a;
  *kb = b;
}

// After the chunk's last symbol: every word used, fewer than 32 bits left, and those zero; in a
// segment's last chunk, the padding entries of its last symbol zero (s.last: the chunk's last
// symbol, which decode_run records; a caller that decodes the chunk's end otherwise sets it).
CO3_HD kernels::Status finish_chunk(const ChunkStream& s) {
  if (s.next != s.words || s.avail >= 32) return kernels::Status::extra_words;
  if (s.window != 0) return kernels::Status::padding_bits;
  if (s.last & s.padding_mask) return kernels::Status::padding_entries;
  return kernels::Status::ok;
}

}  // namespace co3::detail
