// The GPU decoder: co3 packets in device memory decoded into device tensors, every check of
// docs/FORMAT.md §9 made on the device, on the caller's stream.
//
// Usage (CUB's two-step idiom; nothing allocates, nothing synchronizes but the last call):
//
//   DecodePlan plan(capacities, outputs_per_packet);      // host: what the host knows
//   workspace ← plan.workspace_bytes(), jobs ← plan.jobs_bytes() (device memory)
//   plan.write_jobs(packets, outputs, host_jobs);         // host buffer of jobs_bytes()
//   cudaMemcpyAsync(jobs, host_jobs, ...)                 // or upload_jobs (not capturable)
//   decode(plan, jobs, workspace, status, stream);        // graph-capturable launch sequence
//   raise_status_sync(status, stream);                    // throws the CPU codec's co3::Error
//
// A batch is any number of packets (e.g. every rank's packet of a step), each decoded into its
// own outputs (one per segment, in segment order). The sequence validates everything first and
// decodes only a batch that passed; once a fault is found the status word holds it, the outputs
// are unspecified, and no stage reads or writes outside the packets, the outputs and the
// workspace, whatever the packets hold.
//
// Parallelism. A chunk's bit stream decodes only from its start (FORMAT.md §6), so the unit of
// parallel decoding is the chunk: a warp takes 32 chunks of one segment, a lane decodes one,
// several symbols per lookup in a shared-memory table. A batch therefore runs as many lanes as
// it has chunks (ceil(entries / (g · chunk_symbols)) per segment), and its time is at least one
// chunk's sequential decode; the encoder's chunk_symbols is the knob that trades packet size for
// more, shorter units (docs/FORMAT.md is unchanged: versions 1 and 2).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "co3/config.h"
#include "co3/kernels/status_sync.h"

namespace co3::kernels {

struct DecodePacket {
  const uint8_t* data = nullptr;      // device memory, 8-byte aligned
  uint64_t capacity = 0;              // bytes of the buffer at data
  const uint64_t* d_bytes = nullptr;  // device scalar holding the packet's length (e.g. an
                                      // encoder's d_packet_bytes); nullptr: the length is capacity
};

struct DecodeOutput {
  void* data = nullptr;  // device memory aligned to the dtype; may be null when numel = 0
  uint64_t numel = 0;    // must equal the segment's num_elements (else Status::output_numel)
  DType dtype = DType::f32;
  // false: out = the decoded value (FORMAT.md §7). true: out = out + value (float32 addition,
  // then rounding into dtype; detail/decode_values.h). Outputs of one batch must not overlap:
  // to sum N packets into one tensor, decode them one batch after another on the stream.
  bool accumulate = false;
};

// The sizes of everything a batch may need, from the packets' buffer sizes and output counts.
class DecodePlan {
 public:
  DecodePlan(const std::vector<uint64_t>& capacities,
             const std::vector<uint32_t>& outputs_per_packet);

  size_t workspace_bytes() const { return workspace_bytes_; }
  size_t jobs_bytes() const;
  // The batch description for the device, in host memory of jobs_bytes() bytes: packets[i] with
  // its outputs at outputs[first .. first + outputs_per_packet[i]). Throws Error(invalid_argument)
  // when the batch does not match the plan or a pointer is misaligned.
  void write_jobs(const std::vector<DecodePacket>& packets,
                  const std::vector<DecodeOutput>& outputs, void* host_jobs) const;

  uint32_t num_packets() const { return static_cast<uint32_t>(packets_.size()); }
  uint32_t num_outputs() const { return num_outputs_; }

  // Where each packet's share of the workspace lies (element offsets into the arrays of
  // kernels/decode_layout.h), fixed by the host-known bounds.
  struct PacketSpan {
    uint64_t capacity;
    uint32_t first_output, num_outputs;
    uint64_t crc_first, crc_pieces;   // CRC pieces of kCrcPieceBytes
    uint64_t table_first, table_cap;  // table records
    uint64_t slot_first, slot_cap;    // built decoders (distinct tables used by segments)
    uint64_t pool_first, pool_cap;    // u16 symbols of the built decoders
    uint64_t tile_first, tile_cap;    // tiles of kTileChunks chunks
  };
  const std::vector<PacketSpan>& packets() const { return packets_; }
  uint64_t total_crc_pieces() const { return crc_pieces_; }
  uint64_t total_tables() const { return tables_; }
  uint64_t total_slots() const { return slots_; }
  uint64_t total_pool() const { return pool_; }
  uint64_t total_tiles() const { return tiles_; }

 private:
  std::vector<PacketSpan> packets_;
  uint32_t num_outputs_ = 0;
  uint64_t crc_pieces_ = 0, tables_ = 0, slots_ = 0, pool_ = 0, tiles_ = 0;
  size_t workspace_bytes_ = 0;
};

// The launch sequence. d_jobs: write_jobs' bytes in device memory; d_workspace:
// workspace_bytes() bytes (8-byte aligned, any content); d_status: one DeviceStatus, reset here.
cudaError_t decode(const DecodePlan& plan, const void* d_jobs, void* d_workspace,
                   DeviceStatus* d_status, cudaStream_t stream);

// write_jobs into a temporary host buffer and a cudaMemcpyAsync from it, waited for (pageable
// memory): convenient, not capturable in a CUDA graph.
cudaError_t upload_jobs(const DecodePlan& plan, const std::vector<DecodePacket>& packets,
                        const std::vector<DecodeOutput>& outputs, void* d_jobs,
                        cudaStream_t stream);

}  // namespace co3::kernels
