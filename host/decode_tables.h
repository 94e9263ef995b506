// A code table's decoder on the CPU (docs/FORMAT.md §4): the structures of detail/decode_table.h
// built exactly as the GPU builds them, plus the bulk path's second-level tables
// (detail/decode_bulk.h).
#pragma once

#include <cstdint>
#include <vector>

#include "co3/detail/decode_bulk.h"
#include "co3/huffman.h"
#include "packet.h"

namespace co3::detail {

struct TableDecoder {
  uint32_t limit[kMaxCodeLength + 1], offset[kMaxCodeLength + 1], first[kMaxCodeLength + 1];
  std::vector<uint16_t> symbols;
  std::vector<uint64_t> lut;       // lut_entry's, for decode_run (as on the GPU)
  std::vector<uint64_t> bulk_lut;  // the bulk path's (BulkTables)
  std::vector<uint32_t> sub;
  int max_len = 0, symbol_bits = 0;
  ChunkTables tables() const {
    return {lut.data(), {limit, offset, symbols.data(), max_len, symbol_bits}};
  }
  BulkTables bulk() const { return {bulk_lut.data(), sub.data(), tables().canonical}; }
};

// The decoder of a validated table (lengths within max_length, Kraft ≤ 1, one code at least).
void build_table(const ParsedTable& t, TableDecoder& out);

}  // namespace co3::detail
