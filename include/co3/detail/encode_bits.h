// The payload bits of FORMAT.md §6 as host+device code: how many bits a range of symbols takes
// under a code, and the packing of a range's codewords into 32-bit words starting at any bit
// offset. A whole chunk is one range at offset 0 (the CPU); a GPU block cuts a chunk into one
// range per thread at offsets from a block scan of their bit counts. Either way every codeword
// lands on the same bits.
#pragma once

#include <cstdint>
#include <cstring>

#include "co3/detail/hd.h"

namespace co3::detail {

// Σ lengths[symbols[j]] over j in [begin, end).
template <class Sym>
CO3_HD uint64_t range_bits(const Sym* symbols, uint64_t begin, uint64_t end,
                           const uint8_t* lengths) {
  uint64_t bits = 0;
  for (uint64_t j = begin; j < end; ++j) bits += lengths[symbols[j]];
  return bits;
}

// 32-bit words a chunk of `bits` payload bits takes (FORMAT.md §6).
CO3_HD uint64_t chunk_words_for(uint64_t bits) {
  return (bits + 31) / 32;
}

// ORs the codewords of symbols [begin, end) into a word buffer, the first codeword at stream bit
// bit_offset (stream bit b is bit b mod 32 of word b / 32), through or_word(word_index, bits).
// Words the range shares with its neighbours are only OR-ed, so ranges may be packed in any
// order (or at once, with an atomic OR) into a buffer that starts zeroed. rev_codes as
// encode_table makes them. Returns the stream bit after the last codeword (bit_offset plus the
// range's bits), where a range that follows it starts.
template <class Sym, class OrWord>
CO3_HD uint64_t pack_range(const Sym* symbols, uint64_t begin, uint64_t end, const uint8_t* lengths,
                       const uint32_t* rev_codes, uint64_t bit_offset, OrWord or_word) {
  uint64_t word = bit_offset / 32;
  int bits = static_cast<int>(bit_offset % 32);  // the window's low `bits` bits are the offset's
  uint64_t window = 0;
  for (uint64_t j = begin; j < end; ++j) {
    const uint32_t s = symbols[j];
    window |= uint64_t{rev_codes[s]} << bits;
    bits += lengths[s];  // < 32 + kMaxCodeLength: the window holds it
    if (bits >= 32) {
      or_word(word++, static_cast<uint32_t>(window));
      window >>= 32;
      bits -= 32;
    }
  }
  if (bits > 0 && window) or_word(word, static_cast<uint32_t>(window));
  return 32 * word + static_cast<uint64_t>(bits);
}

// A code's codewords as the packers read them: each symbol's reversed codeword (rev_code, as
// encode_table makes it) and its length, in two arrays, so that adding a codeword is two loads,
// a shift, an OR and an add (issue 13: one word holding both cost a mask and a shift more).
struct CodeWords {
  const uint32_t* code;
  const uint8_t* len;
};

// Codewords added between two stores for codes of at most max_len bits: up to 7 bits wait in
// the accumulator, and 7 + K·max_len ≤ 63 keeps every shift below 64 (at most 4, where the
// loop's gain ends).
CO3_HD constexpr int codewords_per_store(int max_len) {
  return 56 / max_len < 4 ? 56 / max_len : 4;
}

// A whole chunk's stream written bytewise from offset 0 of a buffer that the chunk owns and that
// has 8 bytes of room past the stream's last byte: the same bits as pack_range at offset 0 (stream
// bit b is bit b mod 8 of byte b / 8, i.e. of the little-endian word b / 32), with the bytes
// written by unconditional 8-byte stores, one after every few codewords, instead of a branch per
// filled word (bits above the stream written so far are zero, so the bytes past it up to its
// last word end zeroed too). Unsigned 64-bit counts throughout: no sign extension between the
// shifts.
struct ByteStreamWriter {
  uint8_t* start;
  uint8_t* out;
  uint64_t acc = 0;
  uint64_t bits = 0;  // < 8 after a store
  CO3_HD explicit ByteStreamWriter(uint8_t* p) : start(p), out(p) {}
  CO3_HD void add(uint32_t code, uint32_t len) {  // requires bits + len ≤ 63
    acc |= uint64_t{code} << bits;
    bits += len;
  }
  CO3_HD void store() {
    memcpy(out, &acc, 8);  // little-endian host: the stream's next bytes
    out += bits >> 3;
    acc >>= bits & ~uint64_t{7};  // the bytes stored
    bits &= 7;
  }
  CO3_HD uint64_t finish() {  // the stream's bits
    memcpy(out, &acc, 8);
    return 8 * static_cast<uint64_t>(out - start) + bits;
  }
};

// Symbols [begin, end) as one chunk's stream into `out` (ByteStreamWriter's room), kPerStore
// codewords between stores (at most codewords_per_store of the code's longest); its bits.
// One stream at a time: its dependency chain (add the length, shift the next codeword by it) is
// a cycle or two a codeword, so two interleaved streams only spill registers.
template <int kPerStore, class Sym>
CO3_HD uint64_t pack_chunk_bytes(const Sym* symbols, uint64_t begin, uint64_t end, CodeWords cw,
                                 uint8_t* out) {
  ByteStreamWriter w(out);
  uint64_t j = begin;
  for (; j + kPerStore <= end; j += kPerStore) {
    for (int t = 0; t < kPerStore; ++t) {
      const uint32_t s = symbols[j + t];
      w.add(cw.code[s], cw.len[s]);
    }
    w.store();
  }
  for (; j < end; ++j) {
    w.add(cw.code[symbols[j]], cw.len[symbols[j]]);
    w.store();
  }
  return w.finish();
}

// Two symbols' codewords as one (8-bit alphabets whose codewords have at most kPairMaxLen bits,
// so that a pair has at most 24): the first codeword in the low bits, as the stream takes it
// first. The packer then adds half as many codewords (issue 13: packing was the 8-bit encoder's
// largest cost, about 12 instructions an entry).
inline constexpr int kPairMaxLen = 12;

// Entry a | b << 8 of a pair table: the codewords of a then b.
CO3_HD void pair_codeword(CodeWords cw, uint32_t a, uint32_t b, uint32_t* code, uint8_t* len) {
  *code = cw.code[a] | cw.code[b] << cw.len[a];
  *len = static_cast<uint8_t>(cw.len[a] + cw.len[b]);
}

// pack_chunk_bytes by pairs: `pairs` holds pair_codeword of every two symbols below 256;
// kPairsPerStore pairs (at most codewords_per_store(2 · max_len)) between stores, and a last odd
// symbol by `cw`. The same bits.
template <int kPairsPerStore, class Sym>
CO3_HD uint64_t pack_chunk_pairs(const Sym* symbols, uint64_t begin, uint64_t end,
                                 CodeWords pairs, CodeWords cw, uint8_t* out) {
  ByteStreamWriter w(out);
  uint64_t j = begin;
  for (; j + 2 * kPairsPerStore <= end; j += 2 * kPairsPerStore) {
    for (int t = 0; t < kPairsPerStore; ++t) {
      const uint32_t x = symbols[j + 2 * t] | uint32_t{symbols[j + 2 * t + 1]} << 8;
      w.add(pairs.code[x], pairs.len[x]);
    }
    w.store();
  }
  for (; j + 2 <= end; j += 2) {
    const uint32_t x = symbols[j] | uint32_t{symbols[j + 1]} << 8;
    w.add(pairs.code[x], pairs.len[x]);
    w.store();
  }
  if (j < end) {
    w.add(cw.code[symbols[j]], cw.len[symbols[j]]);
    w.store();
  }
  return w.finish();
}

}  // namespace co3::detail
