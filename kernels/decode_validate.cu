// The GPU decoder's validation stages (docs/FORMAT.md §9.1–§9.5) and the build of the decode
// tables, spreading decode_stages.h's per-item work over threads:
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

#include "decode_stages.h"

namespace co3::kernels::decode_detail {
namespace {

constexpr int kScanThreads = 1024;
constexpr uint32_t kFull = 0xffffffffu;

__global__ void __launch_bounds__(kCrcThreads)
    crc_kernel(const PacketJob* jobs, uint32_t packets, uint32_t* piece_crc) {
  __shared__ uint32_t table[256];
  __shared__ uint32_t crc[kCrcThreads];
  __shared__ uint64_t size[kCrcThreads];
  const uint64_t piece = blockIdx.x;
  const uint32_t p =
      find_last_at_or_before(packets, piece, [&](uint32_t q) { return jobs[q].span.crc_first; });
  for (uint32_t i = threadIdx.x; i < 256; i += blockDim.x) table[i] = detail::crc32c_table_entry(i);
  __syncthreads();
  crc_thread_range(jobs[p], piece - jobs[p].span.crc_first, threadIdx.x, table, &crc[threadIdx.x],
                   &size[threadIdx.x]);
  // After the step of width w, thread t (a multiple of 2·w) holds its 2·w threads' CRC.
  for (uint32_t w = 1; w < kCrcThreads; w *= 2) {
    __syncthreads();
    crc_tree_step(crc, size, threadIdx.x, w);
  }
  if (threadIdx.x == 0) piece_crc[piece] = crc[0];
}

__global__ void directory_kernel(const PacketJob* jobs, const OutputJob* outputs, Workspace ws,
                                 DeviceStatus* status) {
  post_status(status, directory_stage(blockIdx.x, jobs, outputs, ws));
}

__global__ void prefix_kernel(uint32_t packets, Workspace ws) {
  prefix_stage(packets, ws);
}

__global__ void tables_kernel(const PacketJob* jobs, uint32_t packets, Workspace ws,
                              DeviceStatus* status) {
  const uint64_t total = ws.totals->tables;
  for (uint64_t i = blockIdx.x * uint64_t{blockDim.x} + threadIdx.x; i < total;
       i += uint64_t{gridDim.x} * blockDim.x) {
    if (failed(status)) return;
    post_status(status, table_stage(i, jobs, packets, ws));
  }
}

__global__ void lut_kernel(const PacketJob* jobs, uint32_t packets, Workspace ws,
                           const DeviceStatus* status) {
  const uint64_t total = ws.totals->slots;
  for (uint64_t i = blockIdx.x; i < total; i += gridDim.x) {
    if (failed(status)) return;
    SlotJob& k = slot_at(i, jobs, packets, ws);
    const detail::CanonicalView view = canonical_view(k, ws);
    for (uint32_t e = threadIdx.x; e < detail::kLutSize; e += blockDim.x)
      k.lut[e] = detail::lut_entry(view, e);
  }
}

__global__ void __launch_bounds__(kTileChunks)
    chunk_kernel(const PacketJob* jobs, uint32_t packets, Workspace ws, DeviceStatus* status) {
  const uint64_t total = ws.totals->tiles;
  for (uint64_t i = blockIdx.x; i < total; i += gridDim.x) {
    // One lane reads the status for the warp: the reduction below needs every lane.
    if (__shfl_sync(kFull, threadIdx.x == 0 && failed(status), 0)) return;
    const TileView v = tile_at(i, jobs, packets, ws);
    DeviceStatus fault;
    const uint32_t words = chunk_entry(v, ws, threadIdx.x, &fault);
    post_status(status, fault);
    const uint32_t sum = __reduce_add_sync(kFull, words);
    if (threadIdx.x == 0) ws.tile_words[v.array] = sum;
  }
}

// A block per packet: tile_prefix[tile] = the packet's words before the tile (for every tile
// and one past the last), then each segment's sum.
__global__ void __launch_bounds__(kScanThreads)
    tile_scan_kernel(const PacketJob* jobs, Workspace ws, DeviceStatus* status) {
  using Scan = cub::BlockScan<uint64_t, kScanThreads>;
  __shared__ typename Scan::TempStorage temp;
  __shared__ bool stop;
  // One read for the block: the scan below needs every thread.
  if (threadIdx.x == 0) stop = failed(status);
  __syncthreads();
  if (stop) return;
  const uint32_t p = blockIdx.x;
  const uint64_t first = jobs[p].span.tile_first;
  const uint32_t tiles = ws.packets[p].tiles;
  uint64_t carry = 0;
  for (uint64_t base = 0; base <= tiles; base += kScanThreads) {
    const uint64_t t = base + threadIdx.x;
    const uint64_t v = t < tiles ? ws.tile_words[first + t] : 0;
    uint64_t before, total;
    Scan(temp).ExclusiveSum(v, before, total);
    if (t <= tiles) ws.tile_prefix[first + t] = carry + before;
    carry += total;
    __syncthreads();  // temp is reused by the next round
  }
  __syncthreads();  // the prefixes are read by other threads below
  for (uint32_t s = threadIdx.x; s < ws.packets[p].num_segments; s += blockDim.x)
    post_status(status, segment_sum_stage(p, s, jobs, ws));
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
  lut_kernel<<<grid_for(plan.total_slots(), 1, sms), 256, 0, stream>>>(jobs, packets, ws, status);
  chunk_kernel<<<grid_for(plan.total_tiles(), 1, sms), kTileChunks, 0, stream>>>(jobs, packets, ws,
                                                                                 status);
  tile_scan_kernel<<<packets, kScanThreads, 0, stream>>>(jobs, ws, status);
  return cudaGetLastError();
}

}  // namespace co3::kernels::decode_detail
