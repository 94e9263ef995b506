// The encoder's code stage on the CPU (twin of kernels/encode_code.cu): the code lengths of a
// segment's symbols, from its histogram or from a fitted GenNorm model (one code for a segment,
// or one shared by several). The per-symbol arithmetic is include/co3/detail/encode_code.h's.
#include <cstdint>
#include <vector>

#include "co3/gennorm.h"
#include "co3/huffman.h"
#include "co3/detail/encode_code.h"
#include "co3/detail/encode_layout.h"
#include "co3/detail/encode_stats.h"
#include "encode_pipeline.h"

namespace co3::detail {

void model_parameters(const Quantized& q, CodeSource src, double* beta, double* alpha) {
  const GenNormFit fit = model_fit(src, GenNormFit{q.beta, q.alpha}, q.moments);
  *beta = fit.beta;
  *alpha = fit.alpha;
}

std::vector<uint8_t> code_lengths_for(const std::vector<const Quantized*>& qs, CodeSource src,
                                      const PacketCoding& pc) {
  const int L = pc.max_code_length;
  const size_t symbols = qs.front()->symbol_hist.size();
  if (src == CodeSource::histogram) {
    std::vector<uint64_t> counts(symbols, 0);
    for (const Quantized* q : qs)
      for (size_t k = 0; k < symbols; ++k) counts[k] += q->symbol_hist[k];
    return code_lengths(counts, L);
  }
  // A model code for several segments codes their mixture, each weighted by its entries.
  uint64_t total = 0;
  for (const Quantized* q : qs) total += q->numel;
  std::vector<double> mix(symbols, 0.0), pmf;
  for (const Quantized* q : qs) {
    double beta, alpha;
    model_parameters(*q, src, &beta, &alpha);
    pmf.assign(size_t{1} << q->width, 0.0);
    gennorm_code_pmf(pc.format, pc.rounding, beta, ddiv(alpha, q->scale), pmf.data());
    const double share = mixture_share(q->numel, total);
    for (uint32_t s = 0; s < symbols; ++s)
      mix[s] = dadd(mix[s], symbol_model_mass(pmf.data(), s, q->width, q->entries_per_symbol, share));
  }
  std::vector<uint64_t> w(symbols);
  for (size_t s = 0; s < symbols; ++s) w[s] = model_weight(mix[s]);
  return code_lengths(w, L);
}

std::vector<uint8_t> code_lengths_for(const Quantized& q, CodeSource src, const PacketCoding& pc) {
  return code_lengths_for(std::vector<const Quantized*>{&q}, src, pc);
}

}  // namespace co3::detail
