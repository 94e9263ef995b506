// The code of every table: weights (the table's histogram, or the entry-weighted mixture of its
// segments' model pmfs), length-limited code lengths by package-merge, canonical bit-reversed
// codewords and the §4 table body, all with the host's functions.
#include "co3/detail/encode_code.h"
#include "co3/detail/encode_stats.h"
#include "co3/gennorm.h"
#include "co3/huffman.h"
#include "encode_plan.h"

namespace co3::kernels::enc {
namespace {

// One block per table at a time, p.code_slots blocks looping over the tables (slot = block: its
// scratch is reused table after table). Invariants: a model mixture adds each segment's symbol
// masses in segment order for every symbol (thread k owns symbols k, k + 256, …, so each mix[s]
// sees the CPU's sequence of dadds); everything order-dependent beyond that (the pmf, the
// package-merge, the codewords, the body) runs in thread 0 exactly as the host runs it.
__global__ void __launch_bounds__(kThreads) code_kernel(EncodeParams p) {
  const uint32_t A = p.alphabet;
  const int L = p.pc.max_code_length;
  const int width = p.pc.format.width();
  const int g = p.pc.entries_per_symbol;
  unsigned long long* const weights = p.slot_weights + uint64_t{blockIdx.x} * A;
  double* const mix = p.slot_mix + uint64_t{blockIdx.x} * A;
  double* const pmf = p.slot_pmf + (uint64_t{blockIdx.x} << width);
  void* const scratch = p.slot_scratch + blockIdx.x * p.pm_scratch_bytes;
  for (uint32_t t = blockIdx.x; t < p.num_tables; t += gridDim.x) {
    const TableJob tj = p.tables[t];
    const unsigned long long* w = p.hist + uint64_t{t} * A;
    if (p.pc.code != CodeSource::histogram) {
      for (uint32_t s = threadIdx.x; s < A; s += kThreads) mix[s] = 0.0;
      for (uint32_t k = 0; k < tj.num_members; ++k) {
        const uint32_t seg = p.members[tj.first_member + k];
        const SegmentResult& r = p.seg[seg];
        __syncthreads();  // every thread is done with the previous member's pmf
        if (threadIdx.x == 0) {
          const GenNormFit fit =
              detail::model_fit(p.pc.code, GenNormFit{r.beta, r.alpha}, r.moments);
          gennorm_code_pmf(p.pc.format, p.pc.rounding, fit.beta,
                           detail::ddiv(fit.alpha, static_cast<double>(r.scale)), pmf);
        }
        __syncthreads();
        const double share = detail::mixture_share(p.jobs[seg].numel, tj.total_numel);
        for (uint32_t s = threadIdx.x; s < A; s += kThreads)
          mix[s] = detail::dadd(mix[s], detail::symbol_model_mass(pmf, s, width, g, share));
      }
      for (uint32_t s = threadIdx.x; s < A; s += kThreads)
        weights[s] = detail::model_weight(mix[s]);
      w = weights;
      __syncthreads();
    }
    uint8_t* const lengths = p.lengths + uint64_t{t} * A;
    uint32_t* const rev = p.rev_codes + uint64_t{t} * A;
    if (threadIdx.x == 0) {
      TableResult& tr = p.tab[t];
      tr.failure = static_cast<uint32_t>(StatusCode::ok);
      tr.detail = 0;
      uint64_t used = 0;
      for (uint32_t s = 0; s < A; ++s) used += w[s] != 0;
      static_assert(sizeof(unsigned long long) == sizeof(uint64_t), "weights are u64");
      if (used > (uint64_t{1} << L)) {
        tr.failure = static_cast<uint32_t>(StatusCode::code_too_many_symbols);
        tr.detail = used | uint64_t(L) << 32;
      } else if (!package_merge_lengths(reinterpret_cast<const uint64_t*>(w), A, L, lengths,
                                        scratch)) {
        tr.failure = static_cast<uint32_t>(StatusCode::code_weights_too_large);
      }
      // A failed table codes nothing (every length 0): the packet is void (the status says so)
      // but every size stays within the plan's bounds.
      if (tr.failure) {
        for (uint32_t s = 0; s < A; ++s) lengths[s] = 0;
      }
      encode_table(lengths, A, rev);
      tr.body_bytes =
          detail::write_code_table_body(lengths, A, p.bodies + uint64_t{t} * p.body_capacity);
    }
    __syncthreads();  // the slot's scratch is reused by the next table
  }
}

}  // namespace

cudaError_t launch_code(const EncodeParams& p, cudaStream_t stream) {
  if (p.num_tables) code_kernel<<<p.code_slots, kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace co3::kernels::enc
