// Mem-AOP-GD's entry points: arguments are checked here once, then every stage runs on the
// tensors' device (aop_stages.h) and the selected product goes through ATen's matmul (cuBLAS on
// the GPU, the CPU BLAS otherwise).
#include <ATen/ops/empty_like.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/ones_like.h>
#include <c10/core/ScalarType.h>

#include <cmath>
#include <string>

#include "aop_stages.h"
#include "co3/error.h"
#include "co3/torch/aop.h"

namespace co3 {
namespace {

std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

void check_device(const at::Tensor& t, const std::string& what) {
  if (t.device().is_cpu()) return;
#if defined(CO3_HAVE_KERNELS)
  if (t.device().is_cuda()) return;
#endif
  fail(Errc::invalid_argument, what + ": on " + t.device().str() +
                                   ", but co3's Mem-AOP-GD runs on the CPU" +
#if defined(CO3_HAVE_KERNELS)
                                   " and CUDA devices"
#else
                                   " only (built without CUDA kernels)"
#endif
  );
}

// A contiguous tensor of `dtype` with `dims` dimensions, on `device` when given.
void check_tensor(const at::Tensor& t, const std::string& what, int64_t dims, at::ScalarType dtype,
                  const at::Tensor* same_device_as = nullptr) {
  check(t.defined(), Errc::invalid_argument, [&] { return what + ": undefined tensor"; });
  check(t.dim() == dims, Errc::invalid_argument, [&] {
    return what + ": shape " + shape_of(t) + ", expected " + std::to_string(dims) + " dimensions";
  });
  check(t.scalar_type() == dtype, Errc::invalid_argument, [&] {
    return what + ": dtype " + std::string(c10::toString(t.scalar_type())) + ", expected " +
           c10::toString(dtype);
  });
  check_device(t, what);
  if (same_device_as)
    check(t.device() == same_device_as->device(), Errc::invalid_argument, [&] {
      return what + ": on " + t.device().str() + ", but the inputs are on " +
             same_device_as->device().str();
    });
  check(t.is_contiguous(), Errc::invalid_argument, [&] { return what + ": not contiguous"; });
}

void check_k(int64_t k, int64_t rows) {
  check(k >= 1 && k <= rows, Errc::invalid_argument, [&] {
    return "k = " + std::to_string(k) + " is outside [1, " + std::to_string(rows) +
           "] (the batch's rows)";
  });
}

void check_config(const AopConfig& c) {
  check(std::isfinite(c.lr) && c.lr > 0, Errc::invalid_argument,
        [&] { return "lr = " + std::to_string(c.lr) + ": must be finite and > 0"; });
  check(std::isfinite(c.alpha) && c.alpha >= 0 && c.alpha <= 1, Errc::invalid_argument,
        [&] { return "alpha = " + std::to_string(c.alpha) + ": must be in [0, 1]"; });
  check(c.policy == AopPolicy::topk || c.policy == AopPolicy::weighted ||
            c.policy == AopPolicy::random,
        Errc::invalid_argument,
        [&] { return "policy = " + std::to_string(static_cast<int>(c.policy)); });
}

// The stages of one device, bound once per call.
struct Stages {
  at::Tensor (*prepare)(const at::Tensor&, const at::Tensor&, float, const at::Tensor&);
  at::Tensor (*keys)(const at::Tensor&, const at::Tensor&, AopPolicy, uint64_t, uint64_t);
  aop_stages::Selection (*select)(const at::Tensor&, int64_t);
  at::Tensor (*gather)(const at::Tensor&, const at::Tensor&);
  void (*update_memory)(const at::Tensor&, const at::Tensor&, float);
};

Stages stages_for(const at::Tensor& t) {
#if defined(CO3_HAVE_KERNELS)
  if (t.device().is_cuda()) {
    namespace s = aop_stages::cuda;
    return {s::prepare, s::keys, s::select, s::gather, s::update_memory};
  }
#endif
  (void)t;
  namespace s = aop_stages::cpu;
  return {s::prepare, s::keys, s::select, s::gather, s::update_memory};
}

}  // namespace

AopPolicy parse_aop_policy(const std::string& name) {
  if (name == "topk") return AopPolicy::topk;
  if (name == "weighted") return AopPolicy::weighted;
  if (name == "random") return AopPolicy::random;
  fail(Errc::invalid_argument, "policy '" + name + "' unknown (expected topk, weighted or random)");
}

const char* aop_policy_name(AopPolicy policy) {
  switch (policy) {
    case AopPolicy::topk: return "topk";
    case AopPolicy::weighted: return "weighted";
    case AopPolicy::random: return "random";
  }
  return "unknown";
}

at::Tensor aop_select(const at::Tensor& scores, int64_t k, AopPolicy policy, uint64_t seed,
                      uint64_t step) {
  check_tensor(scores, "scores", 1, at::kDouble);
  check_k(k, scores.size(0));
  AopConfig c;
  c.policy = policy;
  check_config(c);
  const Stages s = stages_for(scores);
  // keys() multiplies two row sums; scores·1 is the score itself, exactly.
  const at::Tensor ones = at::ones_like(scores);
  return s.select(s.keys(scores, ones, policy, seed, step), k).selected;
}

AopResult aop_weight_grad(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& mem_a,
                          const at::Tensor& mem_b, const AopConfig& config, uint64_t step) {
  check_tensor(x, "x", 2, at::kFloat);
  check_tensor(delta, "delta", 2, at::kFloat, &x);
  const int64_t rows = x.size(0);
  check(delta.size(0) == rows, Errc::invalid_argument, [&] {
    return "delta: shape " + shape_of(delta) + " has " + std::to_string(delta.size(0)) +
           " rows, x " + shape_of(x) + " has " + std::to_string(rows);
  });
  check(mem_a.defined() == mem_b.defined(), Errc::invalid_argument,
        "mem_a and mem_b: give both (memory) or neither (no memory)");
  const bool memory = mem_a.defined();
  if (memory) {
    check_tensor(mem_a, "mem_a", 2, at::kFloat, &x);
    check_tensor(mem_b, "mem_b", 2, at::kFloat, &x);
    check(mem_a.sizes() == x.sizes(), Errc::invalid_argument, [&] {
      return "mem_a: shape " + shape_of(mem_a) + ", expected x's " + shape_of(x) +
             " (the memory holds one row per sample slot: the batch size must not change)";
    });
    check(mem_b.sizes() == delta.sizes(), Errc::invalid_argument, [&] {
      return "mem_b: shape " + shape_of(mem_b) + ", expected delta's " + shape_of(delta) +
             " (the memory holds one row per sample slot: the batch size must not change)";
    });
  }
  check_k(config.k, rows);
  check_config(config);

  const Stages s = stages_for(x);
  // √η and √α are rounded once, here, so that both devices use the same floats.
  const float sqrt_lr = static_cast<float>(std::sqrt(config.lr));
  const at::Tensor a = memory ? mem_a : at::empty_like(x);
  const at::Tensor b = memory ? mem_b : at::empty_like(delta);
  const at::Tensor sumsq_a = s.prepare(x, mem_a, sqrt_lr, a);
  const at::Tensor sumsq_b = s.prepare(delta, mem_b, sqrt_lr, b);
  const aop_stages::Selection sel =
      s.select(s.keys(sumsq_a, sumsq_b, config.policy, config.seed, step), config.k);

  // ΔW = Σ_{i∈S} b_i a_iᵀ = B_Sᵀ·A_S: the one GEMM, K deep instead of D.
  at::Tensor dw = at::matmul(s.gather(b, sel.selected).t(), s.gather(a, sel.selected));
  double factor = 1.0 / config.lr;  // an optimizer step of lr = η then applies ΔW itself
  if (config.rescale) factor *= static_cast<double>(rows) / static_cast<double>(config.k);
  dw.mul_(factor);

  if (memory) {
    const float sqrt_decay = static_cast<float>(std::sqrt(config.alpha));
    s.update_memory(mem_a, sel.chosen, sqrt_decay);
    s.update_memory(mem_b, sel.chosen, sqrt_decay);
  }
  return {dw, sel.selected};
}

}  // namespace co3
