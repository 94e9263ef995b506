// Mem-AOP-GD's per-row math, shared by the CPU path (host/torch) and the CUDA kernels
// (kernels/aop.cu) so that both select the same rows from the same inputs.
//
// Two things must agree bit for bit between the devices: the per-row squared norms (a fixed
// reduction order, below, in double with correctly rounded operations) and the selection keys
// (the counter-based generator of co3/rng.h and co3's own log from co3/detail/dmath.h, never
// the math library's). Ties are broken by row index, so "the K largest keys" is one set.
#pragma once

#include <cstdint>

#include "co3/detail/dmath.h"
#include "co3/detail/hd.h"
#include "co3/rng.h"

namespace co3 {

// How the K rows of a batch are chosen from the scores p_i = ‖a_i‖²·‖b_i‖².
enum class AopPolicy : int {
  topk = 0,      // the K largest scores
  weighted = 1,  // K draws without replacement, each with probability ∝ p among those left
  random = 2,    // K rows uniformly at random, scores ignored
};

// Lanes of the fixed-order row reduction: one CUDA block of this many threads per row.
constexpr int kAopReduceLanes = 256;

// Σ_j v_j² over one row, in double, in the order a block of kAopReduceLanes threads uses: lane t
// sums j = t, t + L, t + 2L, … sequentially, then lanes are folded pairwise (t += t + L/2, …).
// The CPU calls this; the kernel performs the same operations across threads.
inline double aop_row_sumsq(const float* v, uint64_t n) {
  double lane[kAopReduceLanes];
  for (int t = 0; t < kAopReduceLanes; ++t) {
    double acc = 0.0;
    for (uint64_t j = static_cast<uint64_t>(t); j < n; j += kAopReduceLanes) {
      const double d = static_cast<double>(v[j]);
      acc = detail::dadd(acc, detail::dmul(d, d));
    }
    lane[t] = acc;
  }
  for (int half = kAopReduceLanes / 2; half > 0; half /= 2)
    for (int t = 0; t < half; ++t) lane[t] = detail::dadd(lane[t], lane[t + half]);
  return lane[0];
}

// One entry of a_i = mA_i + √η·x_i (or √η·x_i without memory): a product and a sum, each rounded,
// never fused, on both devices.
CO3_HD float aop_entry(float memory, float sqrt_lr, float x) {
  return detail::fadd(memory, detail::fmul(sqrt_lr, x));
}

// The uniform in (0, 1) of row `row` at step `step`: a pure function of (seed, step, row), so the
// draws of a step do not depend on the device, the batch order of evaluation or the thread count.
CO3_HD double aop_uniform(uint64_t seed, uint64_t step, uint64_t row) {
  const uint64_t w = random_word(random_word(seed, step), row);
  return detail::dmul(static_cast<double>(2 * (w >> 11) + 1), 5.5511151231257827e-17);  // 2^-54
}

// The key whose K largest values are the selection. Weighted sampling without replacement uses
// Efraimidis–Spirakis exponential keys, log(u)/p (≤ 0; a zero score gives −∞, chosen last). A
// NaN score is treated as zero so that the order stays total.
CO3_HD double aop_key(AopPolicy policy, double score, uint64_t seed, uint64_t step, uint64_t row) {
  if (score != score) score = 0.0;
  switch (policy) {
    case AopPolicy::topk: return score;
    case AopPolicy::weighted:
      return score > 0.0 ? detail::ddiv(detail::log(aop_uniform(seed, step, row)), score)
                         : -detail::dinf();
    case AopPolicy::random: return aop_uniform(seed, step, row);
  }
  return 0.0;
}

// The total order of selection: a larger key first, an equal key by the smaller row index.
CO3_HD bool aop_before(double key_i, uint64_t i, double key_j, uint64_t j) {
  return key_i > key_j || (key_i == key_j && i < j);
}

}  // namespace co3
