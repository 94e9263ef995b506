// The CPU stages of Mem-AOP-GD: plain loops over co3/aop.h's math, so that they select exactly
// the rows the CUDA kernels select (ATen's vectorized add could fuse √η·x + m into an FMA).
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "aop_stages.h"

namespace co3::aop_stages::cpu {

at::Tensor prepare(const at::Tensor& x, const at::Tensor& memory, float sqrt_lr,
                   const at::Tensor& out) {
  const int64_t rows = x.size(0), cols = x.size(1);
  at::Tensor sumsq = at::empty({rows}, x.options().dtype(at::kDouble));
  const float* px = x.data_ptr<float>();
  const float* pm = memory.defined() ? memory.data_ptr<float>() : nullptr;
  float* po = out.data_ptr<float>();
  double* ps = sumsq.data_ptr<double>();
  // Rows are independent, so splitting them among threads changes no bit.
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t base = r * cols;
      for (int64_t j = 0; j < cols; ++j)
        po[base + j] = aop_entry(pm ? pm[base + j] : 0.0f, sqrt_lr, px[base + j]);
      ps[r] = aop_row_sumsq(po + base, static_cast<uint64_t>(cols));
    }
  });
  return sumsq;
}

at::Tensor keys(const at::Tensor& sumsq_a, const at::Tensor& sumsq_b, AopPolicy policy,
                uint64_t seed, uint64_t step) {
  const int64_t rows = sumsq_a.size(0);
  at::Tensor out = at::empty({rows}, sumsq_a.options());
  const double* pa = sumsq_a.data_ptr<double>();
  const double* pb = sumsq_b.data_ptr<double>();
  double* po = out.data_ptr<double>();
  for (int64_t r = 0; r < rows; ++r)
    po[r] = aop_key(policy, detail::dmul(pa[r], pb[r]), seed, step, static_cast<uint64_t>(r));
  return out;
}

Selection select(const at::Tensor& keys, int64_t k) {
  const int64_t rows = keys.size(0);
  const double* pk = keys.data_ptr<double>();
  std::vector<int64_t> order(static_cast<size_t>(rows));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t i, int64_t j) {
    return aop_before(pk[i], static_cast<uint64_t>(i), pk[j], static_cast<uint64_t>(j));
  });
  Selection s;
  s.selected = at::empty({k}, keys.options().dtype(at::kLong));
  s.chosen = at::empty({rows}, keys.options().dtype(at::kByte));
  std::copy(order.begin(), order.begin() + k, s.selected.data_ptr<int64_t>());
  uint8_t* pc = s.chosen.data_ptr<uint8_t>();
  std::fill(pc, pc + rows, uint8_t{0});
  for (int64_t i = 0; i < k; ++i) pc[order[static_cast<size_t>(i)]] = 1;
  return s;
}

at::Tensor gather(const at::Tensor& src, const at::Tensor& selected) {
  const int64_t k = selected.size(0), cols = src.size(1);
  at::Tensor dst = at::empty({k, cols}, src.options());
  const float* ps = src.data_ptr<float>();
  const int64_t* idx = selected.data_ptr<int64_t>();
  float* pd = dst.data_ptr<float>();
  for (int64_t i = 0; i < k; ++i) std::copy_n(ps + idx[i] * cols, cols, pd + i * cols);
  return dst;
}

void update_memory(const at::Tensor& memory, const at::Tensor& chosen, float sqrt_decay) {
  const int64_t rows = memory.size(0), cols = memory.size(1);
  float* pm = memory.data_ptr<float>();
  const uint8_t* pc = chosen.data_ptr<uint8_t>();
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      for (int64_t j = r * cols; j < (r + 1) * cols; ++j)
        pm[j] = pc[r] ? 0.0f : detail::fmul(sqrt_decay, pm[j]);
  });
}

}  // namespace co3::aop_stages::cpu
