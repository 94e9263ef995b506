// The GPU decoder's last stage (docs/FORMAT.md §6, §7, §9.6): a warp per tile of kTileChunks
// chunks of one segment, a lane per chunk. Each lane decodes its chunk sequentially from its
// first word (the format gives no other entry point) with the host+device decode_run, the
// lookup table in shared memory yielding several symbols per lookup. A lane walks every symbol
// position of its chunk: with a zero-block map (§6b) the positions of left-out blocks take
// symbol 0 without reading a bit (decode_lane_run), so that each symbol is placed where it
// belongs as it is decoded and nothing is expanded in place afterwards (which would race). Every kRoundSymbols
// symbols the lanes stage their symbols in shared memory and the warp writes each lane's run out
// together, so that consecutive lanes store consecutive entries (coalesced) instead of 32
// scattered runs.
#include "decode_stages.h"

namespace co3::kernels::decode_detail {
namespace {

constexpr uint32_t kFull = 0xffffffffu;

__global__ void __launch_bounds__(kTileChunks)
    payload_kernel(const PacketJob* jobs, const OutputJob* outputs, uint32_t packets, Workspace ws,
                   DeviceStatus* status) {
  __shared__ uint64_t lut[detail::kLutSize];
  __shared__ uint32_t limit[kMaxCodeLength + 1], offset[kMaxCodeLength + 1];
  __shared__ uint32_t values[1u << kMaxTableWidth];
  // stage[lane][j]: the lane's j-th symbol of the round. The odd row length keeps the lane-wise
  // writes (one row per lane) and the warp-wide reads (one row by all lanes) conflict-free.
  __shared__ uint32_t stage[kTileChunks][kRoundSymbols + 1];
  const uint32_t lane = threadIdx.x;
  // What the shared tables hold (the same in every lane): reloaded only on a change.
  uint32_t loaded_slot = ~0u, loaded_values = ~0u;
  const uint64_t tiles = ws.totals->tiles;  // the batch's, numbered without gaps
  for (uint64_t i = blockIdx.x; i < tiles; i += gridDim.x) {
    if (__shfl_sync(kFull, lane == 0 && failed(status), 0)) return;
    const TileView v = tile_at(i, jobs, packets, ws);
    const SegmentJob seg = ws.segments[v.output];
    const OutputJob out = outputs[v.output];
    const int w = 1 + seg.exp_bits + seg.man_bits;
    const uint32_t g = seg.group, inv = group_inverse(g);

    __syncwarp();  // the previous tile's reads of the shared tables are done
    if (seg.slot != loaded_slot) {
      const SlotJob& k = ws.slots[seg.slot];
      for (uint32_t e = lane; e < detail::kLutSize; e += kTileChunks) lut[e] = k.lut[e];
      if (lane <= kMaxCodeLength) {
        limit[lane] = k.limit[lane];
        offset[lane] = k.offset[lane];
      }
      loaded_slot = seg.slot;
    }
    if (w <= kMaxTableWidth && v.output != loaded_values) {
      for (uint32_t c = lane; c < (1u << w); c += kTileChunks) values[c] = value_bits(seg, out, c);
      loaded_values = v.output;
    }
    __syncwarp();
    const detail::ChunkTables tables = chunk_tables(lut, limit, offset, seg, ws);

    // This lane's chunk; its words start after the tile's earlier chunks' (a warp scan).
    DeviceStatus fault;
    const uint32_t words = chunk_entry(v, ws, lane, &fault);  // checked by chunk_kernel
    uint32_t before = words;
    for (uint32_t d = 1; d < kTileChunks; d *= 2) {
      const uint32_t up = __shfl_up_sync(kFull, before, d);
      if (lane >= d) before += up;
    }
    before -= words;
    const uint32_t* payload = reinterpret_cast<const uint32_t*>(chunk_words_at(v, ws, before));
    const uint32_t count = chunk_symbol_count(v, seg, lane);
    detail::ChunkStream cs = chunk_stream(v, seg, lane, words);
    Status st = Status::ok;
    for (uint32_t done = 0;; done += kRoundSymbols) {
      uint32_t take = st == Status::ok && count > done
                          ? (count - done < kRoundSymbols ? count - done : kRoundSymbols)
                          : 0;
      if (!__any_sync(kFull, take)) break;
      if (take) {
        st = decode_lane_run(
            cs, tables, v, seg, lane, done, take, [&](uint32_t j) { return __ldg(payload + j); },
            [&](uint32_t j, uint32_t sym) { stage[lane][j] = sym; });
        if (st != Status::ok) {
          post_status(status, make_status(st, v.output, v.first_chunk + lane));
          take = 0;
        }
      }
      __syncwarp();  // the stage is written
      for (uint32_t t = 0; t < kTileChunks; ++t) {
        const uint32_t n = __shfl_sync(kFull, take, t) * g;
        const uint64_t first = run_first_entry(v, seg, t, done);
        for (uint32_t e = lane; e < n && first + e < seg.numel; e += kTileChunks) {
          const uint32_t code = run_entry_code(stage[t], e, g, inv, w);
          put_entry(out, first + e,
                    w <= kMaxTableWidth ? values[code] : value_bits(seg, out, code));
        }
      }
      __syncwarp();  // the stage is read before the next round rewrites it
    }
    if (count && st == Status::ok) {
      st = detail::finish_chunk(cs);
      if (st != Status::ok) post_status(status, make_status(st, v.output, v.first_chunk + lane));
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
