// The code of every table: weights (the table's histogram, or the entry-weighted mixture of its
// segments' model pmfs), length-limited code lengths by package-merge, canonical bit-reversed
// codewords and the §4 table body, all with the host's functions.
#include "encode_stages.h"

namespace co3::kernels::enc {
namespace {

// Block b builds tables b, b + gridDim.x, … in its slot's scratch. Invariants: a model mixture
// adds the members' masses in segment order for every symbol (thread k owns symbols k, k + 256,
// …, so mix[s] sees the CPU's sequence of additions); everything order-dependent beyond that
// (the pmf, package-merge, the codewords, the body) runs in thread 0 as the host runs it.
__global__ void __launch_bounds__(kThreads) code_kernel(EncodeParams p) {
  const CodeSlot slot = code_slot(p, blockIdx.x);
  for (uint32_t t = blockIdx.x; t < p.num_tables; t += gridDim.x) {
    const unsigned long long* weights = hist_row(p, t);
    if (p.pc.code != CodeSource::histogram) {
      for (uint32_t s = threadIdx.x; s < p.alphabet; s += kThreads) slot.mix[s] = 0.0;
      __shared__ double share;
      for (uint32_t k = 0; k < p.tables[t].num_members; ++k) {
        __syncthreads();  // every thread is done with the previous member's pmf
        if (threadIdx.x == 0) share = member_pmf(p, t, k, slot.pmf);
        __syncthreads();
        for (uint32_t s = threadIdx.x; s < p.alphabet; s += kThreads)
          mix_member(p, slot.mix, slot.pmf, share, s);
      }
      for (uint32_t s = threadIdx.x; s < p.alphabet; s += kThreads)
        slot.weights[s] = detail::model_weight(slot.mix[s]);
      weights = slot.weights;
      __syncthreads();
    }
    if (threadIdx.x == 0) finish_table(p, t, weights, slot.scratch);
    __syncthreads();  // the slot is reused by the next table
  }
}

}  // namespace

cudaError_t launch_code(const EncodeParams& p, cudaStream_t stream) {
  if (p.num_tables) code_kernel<<<p.code_slots, kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace co3::kernels::enc
