// The GPU decoder's host side: the plan (workspace bounds), the job table, the launch sequence
// and the synchronous status check.
#include <string>

#include "co3/detail/trace.h"
#include "co3/error.h"
#include "co3/kernels/decode.h"
#include "decode_layout.h"

namespace co3::kernels {

using namespace decode_detail;

namespace {

uint64_t min3(uint64_t a, uint64_t b, uint64_t c) {
  return a < b ? (a < c ? a : c) : (b < c ? b : c);
}
size_t align256(size_t x) {
  return (x + 255) & ~size_t{255};
}

}  // namespace

// The bounds, per packet of `capacity` bytes with `outputs` segments (a packet with any other
// number of segments is refused before a bound is used):
// - CRC pieces: ceil(capacity / kCrcPieceBytes).
// - Table records: a table takes ≥ 24 bytes (16-byte header, ≥ 1 body byte, padded to 8), so
//   ≤ capacity / 24 of them, and ≤ 65535.
// - Decoders are built only for tables that segments use, one per distinct table: ≤ outputs.
// - Their symbols: a table has ≤ 2^16 coded symbols, and each takes a 5-bit token of its body;
//   bodies are disjoint bytes of the packet, so ≤ min(slots · 2^16, 8 · capacity / 5) in all.
// - Tiles: a segment has ceil(chunks / kTileChunks) ≤ chunks / kTileChunks + 1, every chunk
//   has a 2-byte chunk table entry and chunk tables are disjoint, so ≤ capacity / (2 ·
//   kTileChunks) + outputs, plus one entry for the end of the packet's prefix. (The payload
//   bounds it no longer: under a zero-block map, §6b, a chunk may have no payload word.)
DecodePlan::DecodePlan(const std::vector<uint64_t>& capacities,
                       const std::vector<uint32_t>& outputs_per_packet) {
  check(capacities.size() == outputs_per_packet.size(), Errc::invalid_argument,
        "DecodePlan: " + std::to_string(capacities.size()) + " capacities for " +
            std::to_string(outputs_per_packet.size()) + " packets");
  check(capacities.size() < (uint64_t{1} << 31), Errc::invalid_argument,
        "DecodePlan: too many packets");
  for (size_t p = 0; p < capacities.size(); ++p) {
    PacketSpan s{};
    s.capacity = capacities[p];
    s.first_output = num_outputs_;
    s.num_outputs = outputs_per_packet[p];
    check(uint64_t{num_outputs_} + s.num_outputs < (uint64_t{1} << 32), Errc::invalid_argument,
          "DecodePlan: more than 2^32 outputs");
    num_outputs_ += s.num_outputs;
    s.crc_first = crc_pieces_;
    s.crc_pieces = (s.capacity + kCrcPieceBytes - 1) / kCrcPieceBytes;
    s.table_first = tables_;
    s.table_cap = min3(s.capacity / 24, 65535, UINT64_MAX);
    s.slot_first = slots_;
    s.slot_cap = min3(s.num_outputs, s.table_cap, UINT64_MAX);
    s.pool_first = pool_;
    s.pool_cap = min3(s.slot_cap << 16, 8 * (s.capacity / 5) + 8, UINT64_MAX);
    s.tile_first = tiles_;
    s.tile_cap = s.capacity / (2 * kTileChunks) + s.num_outputs + 1;
    check(s.tile_cap < (uint64_t{1} << 32), Errc::invalid_argument, "DecodePlan: packet too large");
    crc_pieces_ += s.crc_pieces;
    tables_ += s.table_cap;
    slots_ += s.slot_cap;
    pool_ += s.pool_cap;
    tiles_ += s.tile_cap;
    packets_.push_back(s);
  }
  carve(*this, nullptr, &workspace_bytes_);
}

size_t DecodePlan::jobs_bytes() const {
  return sizeof(PacketJob) * packets_.size() + sizeof(OutputJob) * num_outputs_;
}

void DecodePlan::write_jobs(const std::vector<DecodePacket>& packets,
                            const std::vector<DecodeOutput>& outputs, void* host_jobs) const {
  check(packets.size() == packets_.size() && outputs.size() == num_outputs_, Errc::invalid_argument,
        "decode: " + std::to_string(packets.size()) + " packets and " +
            std::to_string(outputs.size()) + " outputs for a plan of " +
            std::to_string(packets_.size()) + " and " + std::to_string(num_outputs_));
  auto* jobs = static_cast<PacketJob*>(host_jobs);
  auto* outs = reinterpret_cast<OutputJob*>(jobs + packets_.size());
  for (size_t p = 0; p < packets.size(); ++p) {
    check(packets[p].capacity == packets_[p].capacity, Errc::invalid_argument,
          "decode: packet " + std::to_string(p) + "'s capacity differs from the plan's");
    check(reinterpret_cast<uintptr_t>(packets[p].data) % 8 == 0, Errc::invalid_argument,
          "decode: packet " + std::to_string(p) + " is not 8-byte aligned");
    jobs[p] = PacketJob{packets[p].data, packets[p].d_bytes, packets_[p]};
  }
  for (size_t o = 0; o < outputs.size(); ++o) {
    const DecodeOutput& d = outputs[o];
    check(reinterpret_cast<uintptr_t>(d.data) % dtype_size(d.dtype) == 0, Errc::invalid_argument,
          "decode: output " + std::to_string(o) + " is not aligned to its dtype");
    outs[o] = OutputJob{d.data, d.numel, static_cast<uint32_t>(d.dtype), d.accumulate ? 1u : 0u};
  }
}

namespace decode_detail {

// The arrays in a fixed order, each 256-byte aligned; base = nullptr only measures.
Workspace carve(const DecodePlan& plan, void* base, size_t* bytes) {
  Workspace ws{};
  size_t at = 0;
  auto* b = static_cast<uint8_t*>(base);
  auto take = [&](auto*& ptr, uint64_t count) {
    using T = std::remove_reference_t<decltype(*ptr)>;
    ptr = base ? reinterpret_cast<T*>(b + at) : nullptr;
    at = align256(at + sizeof(T) * count);
  };
  take(ws.packets, plan.num_packets());
  take(ws.totals, 1);
  take(ws.crc, plan.total_crc_pieces());
  take(ws.table_offset, plan.total_tables());
  take(ws.table_slot, plan.total_tables());
  take(ws.segments, plan.num_outputs());
  take(ws.slots, plan.total_slots());
  take(ws.pool, plan.total_pool());
  take(ws.tile_words, plan.total_tiles());
  take(ws.tile_prefix, plan.total_tiles());
  *bytes = at;
  return ws;
}

}  // namespace decode_detail

cudaError_t decode(const DecodePlan& plan, const void* d_jobs, void* d_workspace,
                   DeviceStatus* d_status, cudaStream_t stream) {
  cudaError_t e = cudaMemsetAsync(d_status, 0, sizeof(DeviceStatus), stream);
  if (e != cudaSuccess || plan.num_packets() == 0) return e;
  int device = 0, sms = 0;
  if ((e = cudaGetDevice(&device)) != cudaSuccess) return e;
  if ((e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device)) != cudaSuccess)
    return e;
  size_t bytes;
  const Workspace ws = carve(plan, d_workspace, &bytes);
  const auto* jobs = static_cast<const PacketJob*>(d_jobs);
  const auto* outputs = reinterpret_cast<const OutputJob*>(jobs + plan.num_packets());
  {
    CO3_TRACE("gpu decode: validate");
    if ((e = launch_validate(plan, jobs, outputs, ws, d_status, sms, stream)) != cudaSuccess)
      return e;
  }
  {
    CO3_TRACE("gpu decode: payload");
    if ((e = launch_payload(plan, jobs, outputs, ws, d_status, sms, stream)) != cudaSuccess)
      return e;
  }
  CO3_TRACE("gpu decode: class maps");
  return launch_class_maps(plan, jobs, outputs, ws, d_status, sms, stream);
}

cudaError_t upload_jobs(const DecodePlan& plan, const std::vector<DecodePacket>& packets,
                        const std::vector<DecodeOutput>& outputs, void* d_jobs,
                        cudaStream_t stream) {
  std::vector<uint8_t> host(plan.jobs_bytes());
  plan.write_jobs(packets, outputs, host.data());
  const cudaError_t e =
      cudaMemcpyAsync(d_jobs, host.data(), host.size(), cudaMemcpyHostToDevice, stream);
  // The copy reads `host` until it completes.
  return e != cudaSuccess ? e : cudaStreamSynchronize(stream);
}

}  // namespace co3::kernels
