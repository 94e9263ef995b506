// Mem-AOP-GD in the co3 torch.ops library (libco3_ops.so): torch.ops.co3.aop_select and
// torch.ops.co3.aop_weight_grad. A fragment, because the library itself is declared with the
// codec's ops (TORCH_LIBRARY(co3, …) in ops_codec.cpp). Both ops run on CPU and CUDA tensors
// (the functions dispatch on the device inside), so one CompositeExplicitAutograd kernel serves
// every backend; they are not differentiable (AopLinear is the autograd-aware way in).
#include <torch/library.h>

#include <cstdint>
#include <string>
#include <tuple>

#include "co3/error.h"
#include "co3/torch/aop.h"

namespace {

// co3's argument errors become Python ValueErrors with co3's message.
template <class F>
auto translating(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const co3::Error& e) {
    if (e.code() == co3::Errc::invalid_argument) TORCH_CHECK_VALUE(false, e.what());
    TORCH_CHECK(false, e.what());
  }
}

uint64_t non_negative(int64_t v, const char* what) {
  TORCH_CHECK_VALUE(v >= 0, what, " = ", v, ": must be ≥ 0");
  return static_cast<uint64_t>(v);
}

at::Tensor aop_select(const at::Tensor& scores, int64_t k, c10::string_view policy, int64_t seed,
                      int64_t step) {
  return translating([&] {
    return co3::aop_select(scores, k, co3::parse_aop_policy(std::string(policy)),
                           non_negative(seed, "seed"), non_negative(step, "step"));
  });
}

std::tuple<at::Tensor, at::Tensor> aop_weight_grad(const at::Tensor& x, const at::Tensor& delta,
                                                   const c10::optional<at::Tensor>& mem_a,
                                                   const c10::optional<at::Tensor>& mem_b,
                                                   int64_t k, c10::string_view policy, double lr,
                                                   double alpha, int64_t seed, int64_t step,
                                                   bool rescale) {
  return translating([&] {
    co3::AopConfig c;
    c.k = k;
    c.policy = co3::parse_aop_policy(std::string(policy));
    c.lr = lr;
    c.alpha = alpha;
    c.seed = non_negative(seed, "seed");
    c.rescale = rescale;
    const co3::AopResult r =
        co3::aop_weight_grad(x, delta, mem_a.value_or(at::Tensor()), mem_b.value_or(at::Tensor()),
                             c, non_negative(step, "step"));
    return std::make_tuple(r.grad_weight, r.selected);
  });
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(co3, m) {
  // The k rows of float64 scores [D] chosen by policy 'topk', 'weighted' or 'random' with the
  // draws of (seed, step): int64 [k], best first.
  m.def("aop_select(Tensor scores, int k, str policy, int seed=0, int step=0) -> Tensor");
  // (grad_weight [out, in] = ΔW/η, selected [k]) for x [D, in] and delta [D, out], float32; with
  // mem_a [D, in] and mem_b [D, out] the memory is used and updated in place.
  m.def(
      "aop_weight_grad(Tensor x, Tensor delta, Tensor(a!)? mem_a, Tensor(b!)? mem_b, int k, "
      "str policy='topk', float lr=0.01, float alpha=1.0, int seed=0, int step=0, "
      "bool rescale=False) -> (Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(co3, CompositeExplicitAutograd, m) {
  m.impl("aop_select", &aop_select);
  m.impl("aop_weight_grad", &aop_weight_grad);
}
