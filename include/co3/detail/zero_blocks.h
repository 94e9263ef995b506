// How an encoder builds a segment's zero-block map (FORMAT.md §6b), as host+device code: the
// map's bytes from the symbols, whether the map is taken, and what taking it does to the symbol
// histogram. host/codec/encode_pack.cpp (apply_zero_blocks) and the GPU encoder's stages
// (kernels/encode_stages.h) both call these, so that the two take the same maps and codes.
#pragma once

#include <cstdint>

#include "co3/detail/encode_layout.h"
#include "co3/detail/hd.h"
#include "co3/detail/packet_layout.h"

namespace co3::detail {

// Bytes of the zero-block map a segment of `numel` entries takes in blocks of 2^b symbols
// (padding included; 0 for b = 0 or an empty segment).
CO3_HD uint64_t zero_map_bytes(const PacketCoding& pc, uint64_t numel, int b) {
  Descriptor d;
  d.numel = numel;
  d.entries_per_symbol = static_cast<uint8_t>(pc.entries_per_symbol);
  d.zero_block = numel ? static_cast<uint8_t>(b) : 0;
  return d.zero_map_bytes();
}

// Byte `byte` of the map of symbols sym[0, n) in blocks of 2^b: bit k set when block 8·byte + k
// holds a nonzero symbol; a byte past the last block (the map's padding) is 0. Each byte is
// independent of the others: the CPU's workers and the GPU's threads write whole bytes.
template <class Sym>
CO3_HD uint8_t zero_map_byte(const Sym* sym, uint64_t n, int b, uint64_t byte) {
  const uint64_t block = uint64_t{1} << b;
  uint8_t bits = 0;
  for (uint64_t k = 8 * byte; k < 8 * byte + 8 && k * block < n; ++k) {
    const uint64_t end = (k + 1) * block < n ? (k + 1) * block : n;
    uint32_t any = 0;  // symbols are at most 16 bits
    for (uint64_t i = k * block; i < end; ++i) any |= sym[i];
    if (any) bits |= static_cast<uint8_t>(1u << (k & 7));
  }
  return bits;
}

// Whether a segment of `symbols` symbols in `blocks` blocks takes its map when `coded` symbols
// are in coded blocks: the map costs one bit a block, each symbol left out saves at least one.
CO3_HD bool zero_map_saves(uint64_t symbols, uint64_t coded, uint64_t blocks) {
  return symbols - coded > blocks;
}

// What a segment that takes its map adds to its histogram's count of symbol 0 (modulo 2^64: a
// table shared by several segments adds each one's): the symbols left out are not coded; when
// every block is left out the count is 1, since the segment still names a code table (FORMAT.md
// §3), which needs a symbol with a code (symbol 0's, never used); the count before was then
// `symbols` (every symbol 0).
CO3_HD uint64_t zero_map_hist0_change(uint64_t symbols, uint64_t coded) {
  return (coded ? uint64_t{0} : uint64_t{1}) - (symbols - coded);
}

}  // namespace co3::detail
