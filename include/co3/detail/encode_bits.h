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
// encode_table makes them.
template <class Sym, class OrWord>
CO3_HD void pack_range(const Sym* symbols, uint64_t begin, uint64_t end, const uint8_t* lengths,
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
}

// A whole chunk's stream written bytewise from offset 0 of `out`, which the chunk owns and which
// has 8 bytes of room past its last byte: the same bits as pack_range at offset 0 (stream bit b is
// bit b mod 8 of byte b / 8, i.e. of the little-endian word b / 32), with every byte written by an
// unconditional 8-byte store instead of a branch per filled word (bits above the stream written so
// far are zero). Returns the chunk's bits. Padding to the chunk's whole words is zero once the
// caller has zeroed (or copies no more than) the bytes past the returned bits.
template <class Sym>
CO3_HD uint64_t pack_chunk_bytes(const Sym* symbols, uint64_t begin, uint64_t end,
                                 const uint8_t* lengths, const uint32_t* rev_codes, uint8_t* out) {
  uint64_t acc = 0, total = 0;
  int bits = 0;  // < 8 between symbols
  for (uint64_t j = begin; j < end; ++j) {
    const uint32_t s = symbols[j];
    acc |= uint64_t{rev_codes[s]} << bits;
    bits += lengths[s];
    total += lengths[s];
    memcpy(out, &acc, 8);  // little-endian host: the stream's next bytes
    const int bytes = bits >> 3;
    out += bytes;
    acc >>= 8 * bytes;  // bits ≤ 7 + kMaxCodeLength < 64
    bits &= 7;
  }
  memcpy(out, &acc, 8);
  return total;
}

}  // namespace co3::detail
