// Pass 1 of the encoder: u = g + γe, the moments of every tile in moments.h's lane order, then
// per segment the pairwise fold of its tiles, the GenNorm fit, the scale and the non-finite
// check. Nothing is written but workspace: the error memory changes only in pass 2.
#include "co3/detail/encode_entry.h"
#include "co3/detail/encode_stats.h"
#include "encode_plan.h"

namespace co3::kernels::enc {
namespace {

// One block per tile (grid-stride). Invariant: thread l adds entries l, l + 256, … of the tile
// in increasing order, exactly lane l of tile_moments(); the shared-memory tree then merges
// lane l + h into lane l for h = 128, …, 1, exactly its halving fold. So tile_moments[t] has
// the CPU's bits.
__global__ void __launch_bounds__(kThreads) tile_moments_kernel(EncodeParams p) {
  // Raw storage: Moments has default member initializers, which __shared__ variables cannot.
  __shared__ alignas(Moments) unsigned char lane_bytes[kThreads * sizeof(Moments)];
  Moments* const lanes = reinterpret_cast<Moments*>(lane_bytes);
  for (uint64_t t = blockIdx.x; t < p.total_tiles; t += gridDim.x) {
    const uint32_t s =
        find_segment(p.num_segments, t, [&](uint32_t k) { return p.jobs[k].first_tile; });
    const SegmentJob& job = p.jobs[s];
    const uint64_t first = (t - job.first_tile) * kTileEntries;
    const uint64_t count = job.numel - first < kTileEntries ? job.numel - first : kTileEntries;
    Moments m;
    for (uint64_t i = threadIdx.x; i < count; i += kThreads) {
      const uint64_t e = first + i;
      m.add(detail::feedback_input(load_entry(job.grad, job.dtype, e), job.memory, job.gamma, e));
    }
    lanes[threadIdx.x] = m;
    __syncthreads();
    for (int h = kThreads / 2; h >= 1; h /= 2) {
      if (threadIdx.x < h) lanes[threadIdx.x].merge(lanes[threadIdx.x + h]);
      __syncthreads();
    }
    if (threadIdx.x == 0) p.tile_moments[t] = lanes[0];
    __syncthreads();  // lanes is reused by the next tile
  }
}

// One block per segment (grid-stride). Invariant: each level of fold_pairwise is computed item
// by item (fold_level_item) from one buffer into the other, a __syncthreads between levels, so
// the merges and their order are fold_pairwise's. Thread 0 then fits and scales exactly as
// host/encoder.cpp does.
__global__ void __launch_bounds__(kThreads) segment_stats_kernel(EncodeParams p) {
  for (uint32_t s = blockIdx.x; s < p.num_segments; s += gridDim.x) {
    const SegmentJob& job = p.jobs[s];
    Moments* from = p.tile_moments + job.first_tile;
    Moments* to = p.fold_buffer + job.first_tile;
    uint64_t n = job.num_tiles;
    while (n > 1) {
      const uint64_t next = detail::fold_level_size(n);
      for (uint64_t i = threadIdx.x; i < next; i += kThreads)
        detail::fold_level_item(from, to, n, i);
      __syncthreads();
      Moments* t = from;
      from = to;
      to = t;
      n = next;
    }
    if (threadIdx.x == 0) {
      const Moments m = n ? from[0] : Moments{};
      const GenNormFit fit = detail::segment_fit(m, job.has_fit, job.fit_beta, job.fit_alpha);
      SegmentResult& r = p.seg[s];
      r.moments = m;
      r.beta = fit.beta;
      r.alpha = fit.alpha;
      r.scale = detail::choose_scale(
          p.scale_policy, p.scale_value, p.pc.format, m.max_abs, fit.beta, fit.alpha,
          [&](double beta) { return lookup_optimal_t(p.scale_table, beta); });
    }
    __syncthreads();  // the next segment's fold must not overtake thread 0's read of from[0]
  }
}

// One block. The CPU quantizes segments in order and stops at the first one holding NaN/Inf
// under the 'error' policy: first_bad is that segment (num_segments if none), the status names
// it, and pass 2 writes no error memory from it on, as the CPU would not.
__global__ void __launch_bounds__(kThreads)
    non_finite_kernel(EncodeParams p, DeviceStatus* status) {
  __shared__ uint32_t first;
  if (threadIdx.x == 0) first = p.num_segments;
  __syncthreads();
  if (p.non_finite == NonFinitePolicy::error) {
    for (uint32_t s = threadIdx.x; s < p.num_segments; s += kThreads)
      if (p.seg[s].moments.non_finite) atomicMin(&first, s);
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    *p.first_bad = first;
    if (first < p.num_segments) {
      status->code = static_cast<uint32_t>(StatusCode::non_finite);
      status->segment = first;
      status->detail = p.seg[first].moments.non_finite;
    }
  }
}

}  // namespace

cudaError_t launch_moments(const EncodeParams& p, DeviceStatus* status, cudaStream_t stream) {
  if (p.total_tiles) tile_moments_kernel<<<grid_for(p.total_tiles), kThreads, 0, stream>>>(p);
  if (p.num_segments) {
    segment_stats_kernel<<<grid_for(p.num_segments), kThreads, 0, stream>>>(p);
  }
  non_finite_kernel<<<1, kThreads, 0, stream>>>(p, status);
  return cudaGetLastError();
}

}  // namespace co3::kernels::enc
