// Internal to kernels/: what the encoder's host plan hands its kernels. The job table (uploaded
// once) describes every segment and code table; the workspace pointers say where each stage
// keeps its results; EncodeParams carries both plus the packet-wide coding parameters, by value,
// into every launch. Plain C++ apart from the launchers, so that the CPU emulation test
// (tests/gpu/test_gpu_encode_emulated.cpp) can run the stages of kernels/encode_stages.h over it.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "co3/config.h"
#include "co3/detail/encode_batch.h"
#include "co3/detail/encode_layout.h"
#include "co3/detail/hd.h"
#include "co3/dtype.h"
#include "co3/gennorm_scale.h"
#include "co3/kernels/status.h"
#include "co3/moments.h"

namespace co3::kernels::enc {

inline constexpr int kThreads = 256;  // every encoder kernel's block size
static_assert(kThreads == kTileLanes, "pass 1 maps one thread to one moments lane");
inline constexpr uint64_t kSymbolTile = 4096;        // symbols per pass-2 block
inline constexpr uint32_t kSharedHistBins = 4096;    // alphabets up to this use shared-memory bins
inline constexpr uint64_t kCrcPiece = 4096;          // bytes per CRC thread
inline constexpr uint32_t kCodeSlots = 32;           // code tables built at once (scratch slots)
inline constexpr uint32_t kPackSharedWords = 11264;  // 44 KiB (+ the scan: under 48 KiB)

// One segment (tensor), as the host knows it. Index ranges are global over the batch.
struct SegmentJob {
  const void* grad;
  float* memory;  // null: no error feedback
  uint64_t numel;
  float gamma;
  DType dtype;
  bool has_fit;
  double fit_beta, fit_alpha;
  uint64_t first_tile, num_tiles;  // pass 1 (moments tiles of kTileEntries)
  uint64_t first_symbol, num_symbols;
  uint64_t first_symtile, num_symtiles;  // pass 2 (kSymbolTile symbols each)
  uint64_t first_chunk, num_chunks;
  uint64_t first_map_byte, num_map_bytes;  // its zero-block map in zero_maps (§6b; 0 bytes: none)
  uint32_t table;         // kNoTable when numel = 0
  uint64_t shape_offset;  // byte offset of its shape record (version 2)
  uint64_t first_dim, ndim;
};

// One code table and the segments it codes (members[first_member …], in segment order).
struct TableJob {
  uint64_t first_member;
  uint32_t num_members;
  uint64_t total_numel;
};

// What the kernels find out about a segment.
struct SegmentResult {
  Moments moments;
  double beta, alpha;
  float scale;
  uint64_t data_offset, payload_words;
  uint8_t zero_block;  // b when it takes its zero-block map (§6b), else 0; see zero_block_of
};

struct TableResult {
  uint32_t body_bytes;
  uint32_t failure;  // a Status
  uint64_t detail;
  uint64_t offset;  // of its header in the packet
};

struct EncodeParams {
  detail::PacketCoding pc;
  ScalePolicy scale_policy;
  float scale_value;
  double rate_payload_bits;  // ScalePolicy::rate: detail::rate_policy_payload of the packet
  NonFinitePolicy non_finite;
  uint64_t seed;
  bool given_code;         // a PriorCode: tables uploaded, no histograms, no code kernel
  bool defer_memory;       // the code may fail after pass 2: the memory pass writes the memory
  ScaleTable scale_table;  // the GenNorm scale's t*(β) (gennorm_scale.h), also the rate's bound
  bool with_shapes;
  uint32_t num_segments, num_tables;
  uint32_t alphabet;       // 2^symbol_bits
  uint32_t body_capacity;  // bytes reserved per table body
  uint64_t total_tiles, total_symtiles, total_chunks;
  uint64_t total_map_bytes;  // every segment's zero-block map (0 without zero_block)
  uint64_t shape_section_bytes;
  uint32_t code_slots;
  uint64_t pm_scratch_bytes;   // package-merge scratch per slot (8-byte multiple)
  uint32_t pack_shared_words;  // 0: chunks pack through global memory
  uint64_t crc_blocks;

  // Job table (uploaded).
  const SegmentJob* jobs;
  const TableJob* tables;
  const uint32_t* members;
  const int64_t* dims;
  // Workspace.
  SegmentResult* seg;
  TableResult* tab;
  Moments* tile_moments;  // total_tiles
  Moments* fold_buffer;   // total_tiles (the pairwise fold's other half)
  uint32_t* first_bad;    // first segment refused for NaN/Inf (num_segments: none)
  void* symbols;  // every segment's symbols: uint8_t when symbol_bits ≤ 8 (half the traffic)
  bool byte_symbols;
  unsigned long long* hist;           // num_tables × alphabet
  uint8_t* lengths;                   // num_tables × alphabet
  uint32_t* rev_codes;                // num_tables × alphabet
  uint8_t* bodies;                    // num_tables × body_capacity
  unsigned long long* slot_weights;   // code_slots × alphabet
  double* slot_mix;                   // code_slots × alphabet
  double* slot_pmf;                   // code_slots × 2^width
  uint8_t* slot_scratch;              // code_slots × pm_scratch_bytes
  uint8_t* zero_maps;                 // total_map_bytes
  unsigned long long* chunk_words;    // total_chunks + 1 (the last is 0)
  unsigned long long* chunk_offsets;  // exclusive scan of chunk_words
  uint32_t* crc_block_crc;
  unsigned long long* crc_block_bytes;
};

// Entry i of a tensor as float32: load_as_float (dtype.h); on the device through the read-only
// cache, for element-aligned pointers (the plan checks the alignment).
CO3_HD float load_entry(const void* p, DType d, uint64_t i) {
#if defined(__CUDA_ARCH__)
  if (d == DType::f32) return __ldg(static_cast<const float*>(p) + i);
  const unsigned short h = __ldg(static_cast<const unsigned short*>(p) + i);
  return d == DType::f16 ? half_to_float(h) : bf16_to_float(h);
#else
  return load_as_float(p, d, i);
#endif
}

// Runs body(ptr) with the symbol buffer as the type it holds (uint8_t or uint16_t).
template <class Body>
CO3_HD void with_symbols(const EncodeParams& p, Body body) {
  if (p.byte_symbols) {
    body(static_cast<uint8_t*>(p.symbols));
  } else {
    body(static_cast<uint16_t*>(p.symbols));
  }
}

// Launchers, one per stage file, in pipeline order (device code only). Each returns
// cudaGetLastError().
cudaError_t launch_moments(const EncodeParams& p, DeviceStatus* status, cudaStream_t s);
cudaError_t launch_quantize(const EncodeParams& p, cudaStream_t s);
cudaError_t launch_zero_blocks(const EncodeParams& p, cudaStream_t s);  // maps, choice, histograms
cudaError_t launch_code(const EncodeParams& p, cudaStream_t s);
cudaError_t launch_chunk_bits(const EncodeParams& p, cudaStream_t s);  // and their scan
cudaError_t launch_layout(const EncodeParams& p, uint8_t* packet, uint64_t* packet_bytes,
                          DeviceStatus* status, cudaStream_t s);
cudaError_t launch_pack(const EncodeParams& p, uint8_t* packet, cudaStream_t s);
cudaError_t launch_memory(const EncodeParams& p, const DeviceStatus* status, cudaStream_t s);
cudaError_t launch_zero_maps(const EncodeParams& p, uint8_t* packet, cudaStream_t s);
cudaError_t launch_class_maps(const EncodeParams& p, uint8_t* packet, cudaStream_t s);
cudaError_t launch_crc(const EncodeParams& p, uint8_t* packet, uint64_t* packet_bytes,
                       const DeviceStatus* status, cudaStream_t s);  // and the failure record

// Grid size for a grid-stride loop over `items` blocks' worth of work.
inline unsigned grid_for(uint64_t items) {
  return static_cast<unsigned>(items == 0 ? 1 : (items < (1u << 30) ? items : (1u << 30)));
}

}  // namespace co3::kernels::enc

namespace co3::kernels {
class EncodePlan;
namespace enc {
// The plan's parameters (workspace pointers as offsets from the workspace's start) and the bytes
// upload() copies to the workspace's start: for the CPU emulation test.
const EncodeParams& plan_params(const EncodePlan& plan);
const std::vector<uint8_t>& plan_upload_bytes(const EncodePlan& plan);
// The parameters with every workspace pointer based at ws.
EncodeParams rebased(EncodeParams p, void* ws);
}  // namespace enc
}  // namespace co3::kernels
