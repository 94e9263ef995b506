// The CUDA stages of Mem-AOP-GD: thin wrappers that allocate through ATen's caching allocator
// and launch co3's torch-free kernels (kernels/aop.cu) on the current stream of the device.
#if defined(CO3_HAVE_KERNELS)

#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "aop_stages.h"
#include "co3/kernels/aop.h"

namespace co3::aop_stages::cuda {
namespace {

cudaStream_t stream_of(const at::Tensor& t) {
  return at::cuda::getCurrentCUDAStream(t.device().index()).stream();
}

}  // namespace

at::Tensor prepare(const at::Tensor& x, const at::Tensor& memory, float sqrt_lr,
                   const at::Tensor& out) {
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor sumsq = at::empty({x.size(0)}, x.options().dtype(at::kDouble));
  C10_CUDA_CHECK(kernels::aop_prepare(
      x.data_ptr<float>(), memory.defined() ? memory.data_ptr<float>() : nullptr, sqrt_lr,
      static_cast<uint64_t>(x.size(0)), static_cast<uint64_t>(x.size(1)), out.data_ptr<float>(),
      sumsq.data_ptr<double>(), stream_of(x)));
  return sumsq;
}

at::Tensor keys(const at::Tensor& sumsq_a, const at::Tensor& sumsq_b, AopPolicy policy,
                uint64_t seed, uint64_t step) {
  const c10::cuda::CUDAGuard guard(sumsq_a.device());
  at::Tensor out = at::empty({sumsq_a.size(0)}, sumsq_a.options());
  C10_CUDA_CHECK(kernels::aop_keys(sumsq_a.data_ptr<double>(), sumsq_b.data_ptr<double>(),
                                   static_cast<uint64_t>(sumsq_a.size(0)), policy, seed, step,
                                   out.data_ptr<double>(), stream_of(sumsq_a)));
  return out;
}

Selection select(const at::Tensor& keys, int64_t k) {
  const c10::cuda::CUDAGuard guard(keys.device());
  Selection s;
  s.selected = at::empty({k}, keys.options().dtype(at::kLong));
  s.chosen = at::empty({keys.size(0)}, keys.options().dtype(at::kByte));
  C10_CUDA_CHECK(kernels::aop_select(keys.data_ptr<double>(), static_cast<uint64_t>(keys.size(0)),
                                     static_cast<uint64_t>(k), s.selected.data_ptr<int64_t>(),
                                     s.chosen.data_ptr<uint8_t>(), stream_of(keys)));
  return s;
}

at::Tensor gather(const at::Tensor& src, const at::Tensor& selected) {
  const c10::cuda::CUDAGuard guard(src.device());
  at::Tensor dst = at::empty({selected.size(0), src.size(1)}, src.options());
  C10_CUDA_CHECK(kernels::aop_gather(
      src.data_ptr<float>(), static_cast<uint64_t>(src.size(1)), selected.data_ptr<int64_t>(),
      static_cast<uint64_t>(selected.size(0)), dst.data_ptr<float>(), stream_of(src)));
  return dst;
}

void update_memory(const at::Tensor& memory, const at::Tensor& chosen, float sqrt_decay) {
  const c10::cuda::CUDAGuard guard(memory.device());
  C10_CUDA_CHECK(
      kernels::aop_update_memory(memory.data_ptr<float>(), static_cast<uint64_t>(memory.size(0)),
                                 static_cast<uint64_t>(memory.size(1)), chosen.data_ptr<uint8_t>(),
                                 sqrt_decay, stream_of(memory)));
}

}  // namespace co3::aop_stages::cuda

#endif  // CO3_HAVE_KERNELS
