// The rate policy's budget: a packet of N entries asked for `bits_per_entry` may spend
// bits_per_entry·N bits in all, so the payload of every segment gets what the bytes that do not
// depend on the scale leave, per entry. Host code, called by the CPU encoder and by the GPU
// encoder's plan with the same arguments (so both pass the same target to the same solver).
//
// Exact: header, descriptors, shape section, CRC and chunk tables (their sizes follow from the
// entry counts, FORMAT.md §1). Expected: a chunk's last word is half padding on average (16
// bits), as is a segment's align8 padding of its u32 payload (16 bits). A model code gives every
// symbol a codeword, so its table is exactly 5 bits a symbol; a histogram code lists only the
// symbols present, which the budget counts as min(alphabet, 256) tokens (an estimate: the rate's
// reports say what was achieved).
#pragma once

#include <cstdint>
#include <vector>

#include "co3/codec.h"
#include "co3/config.h"
#include "co3/detail/encode_layout.h"
#include "co3/detail/packet_layout.h"
#include "co3/detail/zero_blocks.h"

namespace co3::detail {

// Bytes of one code table as the budget counts it.
inline uint64_t rate_table_bytes(const PacketCoding& pc) {
  const uint64_t alphabet = uint64_t{1} << pc.symbol_bits();
  const uint64_t tokens =
      pc.code == CodeSource::histogram ? (alphabet < 256 ? alphabet : uint64_t{256}) : alphabet;
  return table_bytes((5 * tokens + 7) / 8);
}

// The bits of a packet of these segments that the scale does not move (see above), in bits.
inline double rate_fixed_bits(const CodecConfig& cfg, const std::vector<uint64_t>& numels,
                              uint64_t shape_section_bytes) {
  const PacketCoding pc = packet_coding(cfg);
  uint64_t bytes = kHeaderBytes + kDescriptorBytes * numels.size() + shape_section_bytes + kCrcBytes;
  uint64_t padding_bits = 0, non_empty = 0;
  for (uint64_t n : numels) {
    if (!n) continue;
    ++non_empty;
    const uint64_t chunks = pc.num_chunks(n);
    bytes += align8(2 * chunks);
    bytes += zero_map_bytes(pc, n, pc.zero_block_log2);  // §6b, as if the segment takes one
    padding_bits += 16 * chunks + 16;
  }
  const uint64_t tables = cfg.shared_code ? (non_empty ? 1 : 0) : non_empty;
  bytes += tables * rate_table_bytes(pc);
  return static_cast<double>(8 * bytes + padding_bits);
}

// The payload bits per entry every segment is asked for (can be ≤ 0: the fixed bytes alone
// exceed the budget, and the solver then returns its all-zero scale). 0 for an empty packet.
inline double rate_payload_bits(const CodecConfig& cfg, const std::vector<uint64_t>& numels,
                                uint64_t shape_section_bytes) {
  uint64_t total = 0;
  for (uint64_t n : numels) total += n;
  if (!total) return 0.0;
  const double budget = static_cast<double>(cfg.scale.bits_per_entry) * static_cast<double>(total);
  return (budget - rate_fixed_bits(cfg, numels, shape_section_bytes)) / static_cast<double>(total);
}

// rate_payload_bits for a packet of these inputs (a version-2 packet stores a shape record for
// each of them as soon as one carries a shape); 0 under the other policies.
inline double rate_policy_payload(const std::vector<EncodeInput>& inputs, const CodecConfig& cfg) {
  if (cfg.scale.policy != ScalePolicy::rate) return 0.0;
  bool with_shapes = false;
  for (const EncodeInput& in : inputs) with_shapes = with_shapes || in.shape.has_value();
  std::vector<uint64_t> numels;
  uint64_t shape_bytes = 0;
  for (const EncodeInput& in : inputs) {
    numels.push_back(in.grad.numel);
    if (with_shapes) shape_bytes += shape_record_bytes(in.shape ? in.shape->size() : 1);
  }
  return rate_payload_bits(cfg, numels, shape_bytes);
}

}  // namespace co3::detail
