// The GPU decoder's validation stages (docs/FORMAT.md §9.1–§9.5) and the build of the decode
// tables, each spreading the host+device checks of include/co3/detail/ over threads:
//
//   crc_kernel        a block per 64 KiB piece, a thread per 256 bytes, pieces joined by a tree
//   directory_kernel  a thread per packet: header, CRC, directory walk, segment jobs, slots
//   prefix_kernel     one thread: the batch-wide numbering of tables, slots and tiles
//   tables_kernel     a thread per code table: token stream; canonical structure when used
//   lut_kernel        a block per used table: one lookup entry per thread
//   chunk_kernel      a warp per tile: chunk table entries, the tile's word count
//   tile_scan_kernel  a block per packet: tile word prefixes, each segment's sum
//
// Every stage starts by reading the status word and does nothing once a fault is recorded, so a
// stage only ever sees what the stages before it accepted.
#include <cub/block/block_scan.cuh>

#include "co3/detail/crc32c_hd.h"
#include "co3/detail/validate_packet.h"
#include "decode_layout.h"

namespace co3::kernels::decode_detail {
namespace {

using detail::load_le;
using detail::make_status;

constexpr int kScanThreads = 1024;

__device__ uint64_t packet_length(const PacketJob& j) {
  return j.d_bytes ? *j.d_bytes : j.span.capacity;
}

// Bytes [0, length − 4) are checksummed; nothing when the length is unusable (the directory
// stage reports it).
__device__ uint64_t crc_covered(const PacketJob& j) {
  const uint64_t length = packet_length(j);
  return length > j.span.capacity || length < detail::kHeaderBytes + detail::kCrcBytes
             ? 0
             : length - detail::kCrcBytes;
}

__global__ void crc_kernel(const PacketJob* jobs, uint32_t packets, uint32_t* piece_crc) {
  __shared__ uint32_t table[256];
  __shared__ uint32_t crc[kCrcThreads];
  __shared__ uint64_t size[kCrcThreads];
  const uint64_t piece = blockIdx.x;
  const uint32_t p =
      find_packet(packets, piece, [&](uint32_t q) { return jobs[q].span.crc_first; });
  const PacketJob& job = jobs[p];
  const uint64_t covered = crc_covered(job);
  for (uint32_t i = threadIdx.x; i < 256; i += blockDim.x) table[i] = detail::crc32c_table_entry(i);
  __syncthreads();
  // This thread's bytes: [b, e) of the packet, empty past the covered range.
  constexpr uint64_t kPerThread = kCrcPieceBytes / kCrcThreads;
  const uint64_t b = (piece - job.span.crc_first) * kCrcPieceBytes + threadIdx.x * kPerThread;
  const uint64_t e = b + kPerThread < covered ? b + kPerThread : covered;
  uint32_t reg = ~0u;
  for (uint64_t i = b; i < e; ++i) reg = (reg >> 8) ^ table[(reg ^ job.data[i]) & 0xFF];
  crc[threadIdx.x] = e > b ? ~reg : 0u;
  size[threadIdx.x] = e > b ? e - b : 0;
  // Tree: after the step of width 2·w, thread t (a multiple of 2·w) holds the CRC of its 2·w
  // threads' bytes. Empty ranges only follow non-empty ones, so an empty right side is skipped
  // and an empty left side never meets a non-empty right side.
  for (uint32_t w = 1; w < kCrcThreads; w *= 2) {
    __syncthreads();
    const uint32_t t = threadIdx.x;
    if (t % (2 * w) == 0 && size[t + w] != 0) {
      crc[t] = detail::crc32c_combine_hd(crc[t], crc[t + w], size[t + w]);
      size[t] += size[t + w];
    }
  }
  if (threadIdx.x == 0) piece_crc[piece] = crc[0];
}

// The packet's CRC from its pieces: all but the last are kCrcPieceBytes long, so one power of x
// serves every step but the last.
__device__ uint32_t packet_crc(const PacketJob& job, const uint32_t* piece_crc, uint64_t covered) {
  const uint64_t pieces = (covered + kCrcPieceBytes - 1) / kCrcPieceBytes;
  const uint32_t x_piece = detail::crc32c_x8n(kCrcPieceBytes);
  const uint32_t* c = piece_crc + job.span.crc_first;
  uint32_t crc = pieces ? c[0] : 0u;
  for (uint64_t i = 1; i < pieces; ++i) {
    const uint64_t size = covered - i * kCrcPieceBytes;
    crc = size >= kCrcPieceBytes ? detail::crc32c_multmod(x_piece, crc) ^ c[i]
                                 : detail::crc32c_combine_hd(crc, c[i], size);
  }
  return crc;
}

// Codes whose index is a segment of the packet (reported as the segment's output index).
__device__ bool segment_code(Status c) {
  return (c >= Status::shape_past_end && c <= Status::shape_size) ||
         (c >= Status::numel_range && c <= Status::payload_padding);
}

__device__ uint64_t ceil_div(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}

// One thread per packet (block p): everything of §9.1–§9.5 that is sequential in the packet.
__global__ void directory_kernel(const PacketJob* jobs, const OutputJob* outputs, Workspace ws,
                                 DeviceStatus* status) {
  const uint32_t p = blockIdx.x;
  const PacketJob& job = jobs[p];
  const DecodePlan::PacketSpan& span = job.span;
  PacketState& st = ws.packets[p];
  st = PacketState{};  // counts stay 0 (later stages skip the packet) unless everything passes
  const uint64_t length = packet_length(job);
  if (length > span.capacity)
    return post_status(status, make_status(Status::packet_capacity, p, length));
  DeviceStatus s = detail::check_header(job.data, length, p);
  if (s.code) return post_status(status, s);
  const uint64_t covered = length - detail::kCrcBytes;
  if (load_le<uint32_t>(job.data + covered) != packet_crc(job, ws.crc, covered))
    return post_status(status, make_status(Status::crc_mismatch, p));

  const uint32_t num_tables = load_le<uint32_t>(job.data + 16);
  for (uint64_t t = 0; t < num_tables && t < span.table_cap; ++t)
    ws.table_slot[span.table_first + t] = -1;
  DeviceStatus fault{};  // the first fault of the caller's side, reported after the packet's
  uint32_t tiles = 0, slots = 0;
  uint64_t pool = 0;
  s = detail::walk_directory(
      job.data, length, ws.table_offset + span.table_first, static_cast<uint32_t>(span.table_cap),
      p, [&](uint32_t seg, const detail::SegmentLayout& L) {
        if (seg >= span.num_outputs) return;  // a count mismatch, reported below
        const uint32_t o = span.first_output + seg;
        const detail::Descriptor& d = L.d;
        if (!fault.code && outputs[o].numel != d.numel)
          fault = make_status(Status::output_numel, o, d.numel);
        if (!fault.code && d.numel && !outputs[o].data) fault = make_status(Status::output_null, o);
        SegmentJob j{};
        j.numel = d.numel;
        j.data_offset = d.data_offset;
        j.payload_words = d.payload_words;
        j.scale = d.scale;
        j.chunk_symbols = d.chunk_symbols;
        j.bias = d.bias;
        j.exp_bits = d.exp_bits;
        j.man_bits = d.man_bits;
        j.layout = d.layout;
        j.group = d.entries_per_symbol;
        j.symbol_bits = static_cast<uint8_t>(d.entries_per_symbol * (1 + d.exp_bits + d.man_bits));
        j.max_len = static_cast<uint8_t>(L.max_length);
        j.max_words = L.max_words;
        j.packet = p;
        j.tile_begin = tiles;
        j.tiles = static_cast<uint32_t>(ceil_div(d.num_chunks(), kTileChunks));
        // The plan's bounds hold for every packet the walk accepts; checked all the same, so
        // that no record is ever written outside its packet's span.
        if (uint64_t{tiles} + j.tiles >= span.tile_cap) {
          if (!fault.code) fault = make_status(Status::payload_too_small, o, d.payload_words);
          j.tiles = 0;
        }
        tiles += j.tiles;
        j.slot = 0;
        if (d.numel) {
          int32_t& slot = ws.table_slot[span.table_first + d.code_table];
          const uint8_t* h = job.data + L.table_offset;
          const uint64_t body = load_le<uint32_t>(h + 4);
          const uint64_t alphabet = uint64_t{1} << h[0];
          const uint64_t need = alphabet < 8 * body / 5 ? alphabet : 8 * body / 5;
          if (slot < 0 && slots < span.slot_cap && pool + need <= span.pool_cap) {
            slot = static_cast<int32_t>(span.slot_first + slots++);
            SlotJob& k = ws.slots[slot];
            k.table_offset = L.table_offset;
            k.pool_offset = span.pool_first + pool;
            k.packet = p;
            k.max_len = L.max_length;
            k.symbol_bits = h[0];
            pool += need;
          }
          if (slot < 0) {
            if (!fault.code) fault = make_status(Status::payload_too_small, o, d.payload_words);
          } else {
            j.slot = static_cast<uint32_t>(slot);
          }
        }
        ws.segments[o] = j;
      });
  if (s.code) {
    if (segment_code(static_cast<Status>(s.code))) s.segment += span.first_output;
    return post_status(status, s);
  }
  const uint32_t num_segments = load_le<uint32_t>(job.data + 20);
  if (num_segments != span.num_outputs)
    return post_status(status, make_status(Status::output_count, p, num_segments));
  if (fault.code) return post_status(status, fault);
  st.num_tables = num_tables;
  st.num_segments = num_segments;
  st.num_slots = slots;
  st.tiles = tiles;
}

// One thread, sequential over the packets: the batch-wide numbering of tables, slots and tiles.
__global__ void prefix_kernel(uint32_t packets, Workspace ws) {
  BatchTotals t{};
  for (uint32_t p = 0; p < packets; ++p) {
    PacketState& st = ws.packets[p];
    st.table_begin = t.tables;
    st.slot_begin = t.slots;
    st.tile_begin = t.tiles;
    t.tables += st.num_tables;
    t.slots += st.num_slots;
    t.tiles += st.tiles;
  }
  *ws.totals = t;
}

// One thread per code table: the token stream (§9.4); for a table that segments use, its
// canonical structure and its symbols in (length, symbol) order, from a second read.
__global__ void tables_kernel(const PacketJob* jobs, uint32_t packets, Workspace ws,
                              DeviceStatus* status) {
  const uint64_t total = ws.totals->tables;
  for (uint64_t i = blockIdx.x * uint64_t{blockDim.x} + threadIdx.x; i < total;
       i += uint64_t{gridDim.x} * blockDim.x) {
    if (failed(status)) return;
    const uint32_t p =
        find_packet(packets, i, [&](uint32_t q) { return ws.packets[q].table_begin; });
    const uint64_t t = i - ws.packets[p].table_begin;
    const uint64_t record = jobs[p].span.table_first + t;
    const uint8_t* h = jobs[p].data + ws.table_offset[record];
    const uint32_t body = load_le<uint32_t>(h + 4);
    const uint32_t alphabet = 1u << h[0];
    uint32_t count[kMaxCodeLength + 1] = {};
    uint64_t detail = 0;
    const Status c = detail::read_code_tokens(h + detail::kTableHeaderBytes, body, alphabet, h[1],
                                              count, &detail, [](uint32_t, int) {});
    if (c != Status::ok) {
      post_status(status, make_status(c, t, detail));
      continue;
    }
    if (ws.table_slot[record] < 0) continue;
    SlotJob& k = ws.slots[ws.table_slot[record]];
    detail::canonical_bases(count, h[1], k.limit, k.offset, k.first);
    uint32_t next[kMaxCodeLength + 1];
    for (int len = 0; len <= kMaxCodeLength; ++len) next[len] = k.first[len];
    uint16_t* symbols = ws.pool + k.pool_offset;
    // The first read passed, so this one visits the same ≤ need symbols (directory_kernel).
    uint32_t again[kMaxCodeLength + 1] = {};
    detail::read_code_tokens(
        h + detail::kTableHeaderBytes, body, alphabet, h[1], again, &detail,
        [&](uint32_t sym, int len) { symbols[next[len]++] = static_cast<uint16_t>(sym); });
  }
}

// A block per built decoder: its kLutSize lookup entries, one per thread and step.
__global__ void lut_kernel(uint32_t packets, Workspace ws, const DeviceStatus* status,
                           const PacketJob* jobs) {
  const uint64_t total = ws.totals->slots;
  for (uint64_t i = blockIdx.x; i < total; i += gridDim.x) {
    if (failed(status)) return;
    const uint32_t p =
        find_packet(packets, i, [&](uint32_t q) { return ws.packets[q].slot_begin; });
    SlotJob& k = ws.slots[jobs[p].span.slot_first + (i - ws.packets[p].slot_begin)];
    const detail::CanonicalView view{k.limit, k.offset, ws.pool + k.pool_offset, k.max_len,
                                     k.symbol_bits};
    for (uint32_t e = threadIdx.x; e < detail::kLutSize; e += blockDim.x)
      k.lut[e] = detail::lut_entry(view, e);
  }
}

// The segment of a packet's tile: the last segment starting at or before it (segments without
// tiles start where the next one does, so the last is the one that has it).
__device__ uint32_t find_segment(const SegmentJob* segs, uint32_t first, uint32_t count,
                                 uint32_t tile) {
  uint32_t lo = 0, hi = count;
  while (hi - lo > 1) {
    const uint32_t mid = (lo + hi) / 2;
    if (segs[first + mid].tile_begin <= tile) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return first + lo;
}

// A warp per tile: each lane one chunk table entry (§9.5), the warp's sum for the prefix.
__global__ void chunk_kernel(const PacketJob* jobs, uint32_t packets, Workspace ws,
                             DeviceStatus* status) {
  const uint64_t total = ws.totals->tiles;
  for (uint64_t i = blockIdx.x; i < total; i += gridDim.x) {
    // One lane reads the status for the warp: the reduction below needs every lane.
    if (__shfl_sync(0xffffffffu, threadIdx.x == 0 && failed(status), 0)) return;
    const uint32_t p =
        find_packet(packets, i, [&](uint32_t q) { return ws.packets[q].tile_begin; });
    const PacketJob& job = jobs[p];
    const uint64_t tile = i - ws.packets[p].tile_begin;
    const uint32_t o = find_segment(ws.segments, job.span.first_output, ws.packets[p].num_segments,
                                    static_cast<uint32_t>(tile));
    const SegmentJob& seg = ws.segments[o];
    const uint64_t chunks = ceil_div(ceil_div(seg.numel, seg.group), seg.chunk_symbols);
    const uint64_t k = (tile - seg.tile_begin) * kTileChunks + threadIdx.x;
    uint32_t words = 0;
    if (k < chunks) {
      words = load_le<uint16_t>(job.data + seg.data_offset + 2 * k);
      if (!detail::chunk_words_ok(words, seg.max_words))
        post_status(status, make_status(Status::chunk_size, o, k));
    }
    words = __reduce_add_sync(0xffffffffu, words);
    if (threadIdx.x == 0) ws.tile_words[job.span.tile_first + tile] = words;
  }
}

// A block per packet: tile_prefix[tile] = the packet's words before the tile (for every tile
// and one past the last), then each segment's words against its payload_words.
__global__ void tile_scan_kernel(const PacketJob* jobs, Workspace ws, DeviceStatus* status) {
  using Scan = cub::BlockScan<uint64_t, kScanThreads>;
  __shared__ typename Scan::TempStorage temp;
  __shared__ bool stop;
  // One read for the block: the scan below needs every thread.
  if (threadIdx.x == 0) stop = failed(status);
  __syncthreads();
  if (stop) return;
  const uint32_t p = blockIdx.x;
  const DecodePlan::PacketSpan& span = jobs[p].span;
  const uint32_t tiles = ws.packets[p].tiles;
  uint64_t carry = 0;
  for (uint64_t base = 0; base <= tiles; base += kScanThreads) {
    const uint64_t t = base + threadIdx.x;
    const uint64_t v = t < tiles ? ws.tile_words[span.tile_first + t] : 0;
    uint64_t before, total;
    Scan(temp).ExclusiveSum(v, before, total);
    if (t <= tiles) ws.tile_prefix[span.tile_first + t] = carry + before;
    carry += total;
    __syncthreads();  // temp is reused by the next round
  }
  __syncthreads();  // the prefixes are read by other threads below
  for (uint32_t s = threadIdx.x; s < ws.packets[p].num_segments; s += blockDim.x) {
    const uint32_t o = span.first_output + s;
    const SegmentJob& seg = ws.segments[o];
    const uint64_t* prefix = ws.tile_prefix + span.tile_first;
    const uint64_t sum = prefix[seg.tile_begin + seg.tiles] - prefix[seg.tile_begin];
    if (sum != seg.payload_words) post_status(status, make_status(Status::chunk_sum, o, sum));
  }
}

unsigned grid_for(uint64_t items, uint64_t per_block, int sms) {
  const uint64_t want = (items + per_block - 1) / per_block;
  const uint64_t most = uint64_t(sms) * 32;
  return static_cast<unsigned>(want < 1 ? 1 : (want < most ? want : most));
}

}  // namespace

cudaError_t launch_validate(const DecodePlan& plan, const PacketJob* jobs, const OutputJob* outputs,
                            const Workspace& ws, DeviceStatus* status, int sms,
                            cudaStream_t stream) {
  const uint32_t packets = plan.num_packets();
  if (plan.total_crc_pieces() > 0x7fffffffu) return cudaErrorInvalidValue;
  if (plan.total_crc_pieces())
    crc_kernel<<<static_cast<unsigned>(plan.total_crc_pieces()), kCrcThreads, 0, stream>>>(
        jobs, packets, ws.crc);
  directory_kernel<<<packets, 1, 0, stream>>>(jobs, outputs, ws, status);
  prefix_kernel<<<1, 1, 0, stream>>>(packets, ws);
  // Grids sized by the host's bounds (capped); the loops run to the device's totals.
  tables_kernel<<<grid_for(plan.total_tables(), 128, sms), 128, 0, stream>>>(jobs, packets, ws,
                                                                             status);
  lut_kernel<<<grid_for(plan.total_slots(), 1, sms), 256, 0, stream>>>(packets, ws, status, jobs);
  chunk_kernel<<<grid_for(plan.total_tiles(), 1, sms), kTileChunks, 0, stream>>>(jobs, packets, ws,
                                                                                 status);
  tile_scan_kernel<<<packets, kScanThreads, 0, stream>>>(jobs, ws, status);
  return cudaGetLastError();
}

}  // namespace co3::kernels::decode_detail
