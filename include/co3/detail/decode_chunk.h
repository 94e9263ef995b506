// Decoding one chunk's bit stream (docs/FORMAT.md §6 and §9.6) as host+device code.
//
// A chunk decodes sequentially from its first word. ChunkStream holds the position, so a caller
// can decode a chunk in runs (the GPU stages each run in shared memory before writing it out);
// the CPU takes the unchecked bulk of a chunk by decode_bulk.h, decode_short.h or decode_wide.h
// (by the table) and the rest as one run. Both end in decode_run, so they accept and reject the
// same chunks and produce the same symbols.
#pragma once

#include <cstdint>

#include "co3/detail/decode_table.h"
#include "co3/detail/hd.h"
#include "co3/detail/packet_layout.h"
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

// §6b: symbols [first, first + count) of a segment, all in one chunk, with a zero-block map of
// blocks of 2^zero_block symbols at `zmap` (zero_block 0: no map, every symbol coded): emit(k,
// symbol) for k = 0 … count − 1, decoding a coded block's symbols from the stream (decode_run)
// and giving a left-out block's symbols as 0 without reading a bit. A caller can thus walk a
// chunk position by position, in runs of any length, and place every symbol where it belongs:
// nothing has to be decoded compactly and moved. Returns what decode_run returns.
template <class Load, class Emit>
CO3_HD kernels::Status decode_span(ChunkStream& s, const ChunkTables& t, const uint8_t* zmap,
                                   int zero_block, uint64_t first, uint32_t count, Load&& load,
                                   Emit&& emit) {
  if (!zero_block) return decode_run(s, t, count, load, emit);
  for (uint32_t j = 0; j < count;) {
    const uint64_t at = first + j, block = at >> zero_block;
    const uint64_t left = ((block + 1) << zero_block) - at;  // the block's symbols from `at`
    const uint32_t len = left < count - j ? static_cast<uint32_t>(left) : count - j;
    if (block_coded(zmap, block)) {
      const kernels::Status st =
          decode_run(s, t, len, load, [&](uint32_t i, uint32_t sym) { emit(j + i, sym); });
      if (st != kernels::Status::ok) return st;
    } else {
      for (uint32_t i = 0; i < len; ++i) emit(j + i, 0u);
    }
    j += len;
  }
  return kernels::Status::ok;
}

// §6b: the padding rule (padding_entry_mask) applies only where the segment's last block is
// coded; a left-out last block decodes to symbol 0, whose padding entries are 0 already.
CO3_HD uint32_t coded_padding_mask(uint32_t mask, const uint8_t* zmap, int zero_block,
                                   uint64_t blocks) {
  return zero_block && !block_coded(zmap, blocks - 1) ? 0u : mask;
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
