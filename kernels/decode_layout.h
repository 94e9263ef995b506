// The GPU decoder's device-side records: the job table the host writes (write_jobs) and the
// workspace arrays the stages fill, with the bounds that size them. Internal to kernels/.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "co3/detail/decode_table.h"
#include "co3/kernels/decode.h"

namespace co3::kernels::decode_detail {

// CRC pieces: one block of kCrcThreads threads checksums kCrcPieceBytes.
inline constexpr uint64_t kCrcPieceBytes = 64 * 1024;
inline constexpr int kCrcThreads = 256;
// A tile is kTileChunks consecutive chunks of one segment, decoded by one warp (a lane a chunk).
inline constexpr uint32_t kTileChunks = 32;
// Symbols a lane decodes per round before the warp writes them out.
inline constexpr uint32_t kRoundSymbols = 32;
// Formats of at most this width get a value table in shared memory; wider ones (fp16, bf16
// codes) compute each value (the same host+device function).
inline constexpr int kMaxTableWidth = 10;

struct PacketJob {
  const uint8_t* data;
  const uint64_t* d_bytes;
  DecodePlan::PacketSpan span;
};

struct OutputJob {
  void* data;
  uint64_t numel;
  uint32_t dtype;
  uint32_t accumulate;
};

// Written by the directory stage (one per packet); all 0 for a packet that failed.
struct PacketState {
  uint32_t num_tables;    // its code tables
  uint32_t num_segments;  // its segments (= its outputs)
  uint32_t num_slots;     // distinct tables used by segments: decoders to build
  uint32_t tiles;         // tiles of all its segments
  // Where its tables, slots and tiles start in the batch-wide numbering without gaps
  // (prefix_kernel), which the later stages' grids run over.
  uint64_t table_begin, slot_begin, tile_begin;
};

// The batch's totals in that numbering (prefix_kernel).
struct BatchTotals {
  uint64_t tables, slots, tiles;
};

// One per output: what the later stages need of its segment.
struct SegmentJob {
  uint64_t numel, data_offset, payload_words;
  float scale;
  uint32_t chunk_symbols;
  uint32_t tile_begin, tiles;  // the packet's tiles [tile_begin, tile_begin + tiles)
  uint32_t slot;               // global slot of its table's decoder
  uint32_t packet;
  uint32_t max_words;
  uint64_t map_offset;  // its class map in the packet (FORMAT.md §6a); 0: none
  uint64_t zero_map_offset, payload_offset;  // its zero-block map (§6b) and payload
  int16_t bias;
  uint8_t exp_bits, man_bits, layout, group, symbol_bits, max_len;
  uint8_t zero_block;  // its blocks' log2 (§6b); 0: no zero-block map, every symbol coded
};

// One built decoder (detail/decode_table.h's structures for one table).
struct SlotJob {
  uint64_t lut[detail::kLutSize];
  uint32_t limit[kMaxCodeLength + 1], offset[kMaxCodeLength + 1], first[kMaxCodeLength + 1];
  uint64_t table_offset;  // the table's header in its packet
  uint64_t pool_offset;   // its symbols in the pool (u16 elements)
  uint32_t packet;
  int32_t max_len, symbol_bits;
};

// Pointers into the workspace, computed on the host from the plan.
struct Workspace {
  PacketState* packets;
  BatchTotals* totals;
  uint32_t* crc;           // per CRC piece
  uint64_t* table_offset;  // per table record
  int32_t* table_slot;     // per table record: its slot, or −1
  SegmentJob* segments;    // per output
  SlotJob* slots;
  uint16_t* pool;
  uint32_t* tile_words;   // per tile
  uint64_t* tile_prefix;  // per tile (+1 per packet): words before the tile within its packet
};

Workspace carve(const DecodePlan& plan, void* base, size_t* bytes);

// The stages (decode_validate.cu, decode_payload.cu, decode_class_map.cu), in launch order.
cudaError_t launch_validate(const DecodePlan& plan, const PacketJob* jobs, const OutputJob* outputs,
                            const Workspace& ws, DeviceStatus* status, int sms,
                            cudaStream_t stream);
cudaError_t launch_payload(const DecodePlan& plan, const PacketJob* jobs, const OutputJob* outputs,
                           const Workspace& ws, DeviceStatus* status, int sms, cudaStream_t stream);
cudaError_t launch_class_maps(const DecodePlan& plan, const PacketJob* jobs,
                              const OutputJob* outputs, const Workspace& ws,
                              const DeviceStatus* status, int sms, cudaStream_t stream);

}  // namespace co3::kernels::decode_detail
