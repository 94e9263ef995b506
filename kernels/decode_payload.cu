// The GPU decoder's last stage (docs/FORMAT.md §6, §7, §9.6): a warp per tile of kTileChunks
// chunks of one segment, a lane per chunk. Each lane decodes its chunk sequentially from its
// first word (the format gives no other entry point) with the host+device decode_run, a lookup
// table in shared memory yielding several symbols per lookup; every kRoundSymbols symbols the
// lanes stage their symbols in shared memory and the warp writes each lane's run out together,
// so that consecutive lanes store consecutive entries (coalesced) instead of 32 scattered runs.
#include "co3/detail/decode_chunk.h"
#include "co3/detail/decode_values.h"
#include "co3/detail/validate_packet.h"
#include "decode_layout.h"

namespace co3::kernels::decode_detail {
namespace {

using detail::load_le;
using detail::make_status;

constexpr uint32_t kFull = 0xffffffffu;

__device__ uint64_t ceil_div(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}

__device__ uint32_t segment_of_tile(const SegmentJob* segs, uint32_t first, uint32_t count,
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

// Writes entry i's value: `bits` are the output dtype's bits, or float32 bits when accumulating.
__device__ void put(const OutputJob& out, uint64_t i, uint32_t bits) {
  const DType d = static_cast<DType>(out.dtype);
  if (d == DType::f32) {
    uint32_t* o = static_cast<uint32_t*>(out.data) + i;
    *o = out.accumulate ? detail::accumulate_bits(*o, detail::bits_f32(bits), d) : bits;
  } else {
    uint16_t* o = static_cast<uint16_t*>(out.data) + i;
    *o = static_cast<uint16_t>(
        out.accumulate ? detail::accumulate_bits(*o, detail::bits_f32(bits), d) : bits);
  }
}

__device__ uint32_t value_bits(const SegmentJob& seg, const OutputJob& out, uint32_t code) {
  const FloatFormat f{seg.exp_bits, seg.man_bits, seg.bias, static_cast<Layout>(seg.layout)};
  return out.accumulate ? detail::f32_bits(detail::entry_value(f, seg.scale, code))
                        : detail::entry_bits(f, seg.scale, code, static_cast<DType>(out.dtype));
}

__global__ void __launch_bounds__(kTileChunks)
    payload_kernel(const PacketJob* jobs, const OutputJob* outputs, uint32_t packets, Workspace ws,
                   DeviceStatus* status) {
  __shared__ uint64_t lut[detail::kLutSize];
  __shared__ uint32_t limit[kMaxCodeLength + 1], offset[kMaxCodeLength + 1];
  __shared__ uint32_t values[1u << kMaxTableWidth];
  // stage[lane][j]: lane's j-th symbol of the round; the odd row length keeps both the lane-wise
  // writes and the warp-wide reads of one row free of bank conflicts.
  __shared__ uint32_t stage[kTileChunks][kRoundSymbols + 1];
  const uint32_t lane = threadIdx.x;
  uint32_t loaded_slot = ~0u, loaded_values = ~0u;  // what the shared tables hold (warp-uniform)
  const uint64_t tiles = ws.totals->tiles;          // the batch's, without gaps (prefix_kernel)
  for (uint64_t i = blockIdx.x; i < tiles; i += gridDim.x) {
    if (__shfl_sync(kFull, lane == 0 && failed(status), 0)) return;
    const uint32_t p =
        find_packet(packets, i, [&](uint32_t q) { return ws.packets[q].tile_begin; });
    const PacketJob& job = jobs[p];
    const uint64_t tile = i - ws.packets[p].tile_begin;
    const uint32_t o = segment_of_tile(ws.segments, job.span.first_output,
                                       ws.packets[p].num_segments, static_cast<uint32_t>(tile));
    const SegmentJob seg = ws.segments[o];
    const OutputJob out = outputs[o];
    const int w = 1 + seg.exp_bits + seg.man_bits;
    const uint32_t g = seg.group;

    // Shared tables, reloaded only when the tile's table or segment differs from the last one.
    // __syncwarp before: the previous tile's lanes may still read them.
    __syncwarp();
    if (seg.slot != loaded_slot) {
      const SlotJob& k = ws.slots[seg.slot];
      for (uint32_t e = lane; e < detail::kLutSize; e += kTileChunks) lut[e] = k.lut[e];
      if (lane <= kMaxCodeLength) {
        limit[lane] = k.limit[lane];
        offset[lane] = k.offset[lane];
      }
      loaded_slot = seg.slot;
    }
    if (w <= kMaxTableWidth && o != loaded_values) {
      for (uint32_t c = lane; c < (1u << w); c += kTileChunks) values[c] = value_bits(seg, out, c);
      loaded_values = o;
    }
    __syncwarp();
    const detail::ChunkTables tables{
        lut,
        {limit, offset, ws.pool + ws.slots[seg.slot].pool_offset, seg.max_len, seg.symbol_bits}};

    // This lane's chunk: its words start after the tile's earlier chunks (a warp scan).
    const uint64_t nsym = ceil_div(seg.numel, g);
    const uint64_t chunks = ceil_div(nsym, seg.chunk_symbols);
    const uint64_t first_chunk = (tile - seg.tile_begin) * kTileChunks;
    const uint64_t k = first_chunk + lane;
    const uint8_t* chunk_table = job.data + seg.data_offset;
    const uint32_t words = k < chunks ? load_le<uint16_t>(chunk_table + 2 * k) : 0;
    uint32_t before = words;  // inclusive scan, then made exclusive
    for (uint32_t d = 1; d < kTileChunks; d *= 2) {
      const uint32_t v = __shfl_up_sync(kFull, before, d);
      if (lane >= d) before += v;
    }
    before -= words;
    const uint64_t* prefix = ws.tile_prefix + job.span.tile_first;
    const uint32_t* payload =
        reinterpret_cast<const uint32_t*>(chunk_table + detail::align8(2 * chunks)) +
        (prefix[tile] - prefix[seg.tile_begin]) + before;
    const uint64_t count = k < chunks ? (nsym - k * seg.chunk_symbols < seg.chunk_symbols
                                             ? nsym - k * seg.chunk_symbols
                                             : seg.chunk_symbols)
                                      : 0;
    detail::ChunkStream cs;
    cs.words = words;
    Status st = Status::ok;
    const uint32_t mask = (1u << w) - 1;
    for (uint64_t done = 0;; done += kRoundSymbols) {
      uint32_t take =
          st == Status::ok && count > done
              ? static_cast<uint32_t>(count - done < kRoundSymbols ? count - done : kRoundSymbols)
              : 0;
      if (!__any_sync(kFull, take)) break;
      if (take) {
        st = detail::decode_run(
            cs, tables, take, [&](uint32_t j) { return __ldg(payload + j); },
            [&](uint32_t j, uint32_t sym) { stage[lane][j] = sym; });
        if (st != Status::ok) {
          post_status(status, make_status(st, o, k));
          take = 0;
        }
      }
      __syncwarp();
      // Lane t's run is entries [(first_chunk + t)·C + done]·g … of its `take` symbols.
      for (uint32_t t = 0; t < kTileChunks; ++t) {
        const uint32_t n = __shfl_sync(kFull, take, t) * g;
        const uint64_t base = ((first_chunk + t) * seg.chunk_symbols + done) * g;
        for (uint32_t e = lane; e < n; e += kTileChunks) {
          const uint64_t at = base + e;
          if (at >= seg.numel) break;  // the last symbol's entries past n (§6)
          const uint32_t code = (stage[t][e / g] >> (w * (e % g))) & mask;
          put(out, at, w <= kMaxTableWidth ? values[code] : value_bits(seg, out, code));
        }
      }
      __syncwarp();  // the stage is rewritten next round
    }
    if (k < chunks && st == Status::ok) {
      st = detail::finish_chunk(cs);
      if (st != Status::ok) post_status(status, make_status(st, o, k));
    }
  }
}

}  // namespace

cudaError_t launch_payload(const DecodePlan& plan, const PacketJob* jobs, const OutputJob* outputs,
                           const Workspace& ws, DeviceStatus* status, int sms,
                           cudaStream_t stream) {
  const uint64_t tiles = plan.total_tiles();
  const uint64_t most = uint64_t(sms) * 8;  // ~25 KB of shared memory a block: 8 fit an SM
  const unsigned grid = static_cast<unsigned>(tiles < most ? (tiles ? tiles : 1) : most);
  payload_kernel<<<grid, kTileChunks, 0, stream>>>(jobs, outputs, plan.num_packets(), ws, status);
  return cudaGetLastError();
}

}  // namespace co3::kernels::decode_detail
