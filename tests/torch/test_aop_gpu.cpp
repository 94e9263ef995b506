// Mem-AOP-GD on the GPU gives the CPU's selection bit for bit (same scores, same draws) and the
// same gradient and memory. Skips, saying so, where no CUDA device exists.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "co3/torch/aop.h"
#include "co3/torch/aop_linear.h"
#include "torch/aop_stages.h"

namespace {

using co3::AopPolicy;
constexpr AopPolicy kPolicies[] = {AopPolicy::topk, AopPolicy::weighted, AopPolicy::random};

#define REQUIRE_GPU() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device: GPU Mem-AOP-GD test not run"

#if defined(CO3_HAVE_KERNELS)

TEST(AopGpu, SelectionIsIdenticalToTheCpus) {
  REQUIRE_GPU();
  torch::manual_seed(11);
  for (int64_t rows : {1, 7, 300, 8192}) {
    // Ties and zero scores too, which the row-index tie-break must settle the same way.
    at::Tensor scores = torch::rand({rows}, torch::kDouble);
    scores.slice(0, 0, rows / 3).fill_(0.25);
    scores.slice(0, rows / 3, rows / 2).zero_();
    for (AopPolicy p : kPolicies)
      for (int64_t k : {int64_t{1}, rows / 3 + 1, rows})
        for (uint64_t step = 0; step < 3; ++step) {
          const at::Tensor cpu = co3::aop_select(scores, k, p, 5, step);
          const at::Tensor gpu = co3::aop_select(scores.cuda(), k, p, 5, step);
          ASSERT_TRUE(torch::equal(cpu, gpu.cpu()))
              << co3::aop_policy_name(p) << " rows " << rows << " k " << k << " step " << step;
        }
  }
}

TEST(AopGpu, RowsAndNormsAreBitIdentical) {
  REQUIRE_GPU();
  torch::manual_seed(12);
  for (int64_t cols : {1, 255, 4097}) {
    const at::Tensor x = torch::randn({129, cols}), memory = torch::randn({129, cols});
    const at::Tensor out_cpu = torch::empty_like(x), out_gpu = torch::empty_like(x).cuda();
    const at::Tensor s_cpu = co3::aop_stages::cpu::prepare(x, memory, 0.3f, out_cpu);
    const at::Tensor s_gpu = co3::aop_stages::cuda::prepare(x.cuda(), memory.cuda(), 0.3f, out_gpu);
    EXPECT_TRUE(torch::equal(out_cpu, out_gpu.cpu())) << "cols " << cols;
    EXPECT_TRUE(torch::equal(s_cpu, s_gpu.cpu())) << "cols " << cols;
  }
}

TEST(AopGpu, WeightGradAndMemoryAgreeWithTheCpu) {
  REQUIRE_GPU();
  for (AopPolicy p : kPolicies) {
    SCOPED_TRACE(co3::aop_policy_name(p));
    torch::manual_seed(13);
    co3::AopConfig c;
    c.k = 40;
    c.policy = p;
    c.lr = 0.02;
    c.alpha = 0.9;
    c.seed = 3;
    at::Tensor ma = torch::zeros({256, 513}), mb = torch::zeros({256, 70});
    at::Tensor ma_gpu = ma.cuda(), mb_gpu = mb.cuda();
    for (uint64_t step = 0; step < 5; ++step) {
      const at::Tensor x = torch::randn({256, 513}), delta = torch::randn({256, 70});
      const co3::AopResult cpu = co3::aop_weight_grad(x, delta, ma, mb, c, step);
      const co3::AopResult gpu =
          co3::aop_weight_grad(x.cuda(), delta.cuda(), ma_gpu, mb_gpu, c, step);
      ASSERT_TRUE(torch::equal(cpu.selected, gpu.selected.cpu())) << "step " << step;
      EXPECT_TRUE(torch::allclose(cpu.grad_weight, gpu.grad_weight.cpu(), 1e-4, 1e-4));
      // The memory is element-wise arithmetic on the same rows: the same bits.
      EXPECT_TRUE(torch::equal(ma, ma_gpu.cpu())) << "step " << step;
      EXPECT_TRUE(torch::equal(mb, mb_gpu.cpu())) << "step " << step;
    }
  }
}

TEST(AopGpu, ModuleTrainsOnTheDeviceLikeOnTheCpu) {
  REQUIRE_GPU();
  torch::manual_seed(14);
  co3::AopLinear cpu(co3::AopLinearOptions(64, 16).k(8).policy(AopPolicy::weighted).lr(0.05));
  co3::AopLinear gpu = std::dynamic_pointer_cast<co3::AopLinearImpl>(cpu->clone(torch::kCUDA));
  ASSERT_TRUE(gpu);
  for (int step = 0; step < 3; ++step) {
    const at::Tensor x = torch::randn({32, 64}), y = torch::randint(0, 16, {32});
    cpu->zero_grad();
    gpu->zero_grad();
    torch::cross_entropy_loss(cpu(x), y).backward();
    torch::cross_entropy_loss(gpu(x.cuda()), y.cuda()).backward();
    EXPECT_TRUE(gpu->mem_a.is_cuda());
    EXPECT_TRUE(torch::allclose(cpu->weight.grad(), gpu->weight.grad().cpu(), 1e-4, 1e-5));
    EXPECT_TRUE(torch::allclose(cpu->mem_a, gpu->mem_a.cpu(), 1e-5, 1e-6));
  }
}

#else

TEST(AopGpu, BuiltWithoutKernels) {
  GTEST_SKIP() << "co3 built without CUDA kernels";
}

#endif

}  // namespace
