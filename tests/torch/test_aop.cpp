// Mem-AOP-GD on the CPU: exact when every row is kept, the memory as a plain reference computes
// it step by step, weighted sampling drawing by the scores, the module as a drop-in for Linear.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "co3/error.h"
#include "co3/torch/aop.h"
#include "co3/torch/aop_linear.h"

namespace {

using co3::AopPolicy;
constexpr AopPolicy kPolicies[] = {AopPolicy::topk, AopPolicy::weighted, AopPolicy::random};

co3::AopConfig config(int64_t k, AopPolicy policy, double lr = 0.01, double alpha = 1.0) {
  co3::AopConfig c;
  c.k = k;
  c.policy = policy;
  c.lr = lr;
  c.alpha = alpha;
  c.seed = 7;
  return c;
}

std::set<int64_t> as_set(const at::Tensor& idx) {
  const at::Tensor c = idx.contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

template <class F>
void expect_invalid(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no co3::Error thrown; expected one mentioning '" << needle << "'";
  } catch (const co3::Error& e) {
    EXPECT_EQ(e.code(), co3::Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Aop, KEqualsDWithoutMemoryIsTheExactGradient) {
  torch::manual_seed(1);
  const at::Tensor x = torch::randn({64, 784}), delta = torch::randn({64, 10});
  const at::Tensor exact = delta.t().matmul(x);
  for (AopPolicy p : kPolicies) {
    const co3::AopResult r = co3::aop_weight_grad(x, delta, {}, {}, config(64, p), 0);
    EXPECT_TRUE(torch::allclose(r.grad_weight, exact, 1e-4, 1e-4)) << co3::aop_policy_name(p);
    EXPECT_EQ(as_set(r.selected).size(), 64u);
  }
}

TEST(Aop, KEqualsDWithMemoryStaysExactAndTheMemoryEmpty) {
  torch::manual_seed(2);
  at::Tensor ma = torch::zeros({32, 20}), mb = torch::zeros({32, 5});
  for (uint64_t step = 0; step < 3; ++step) {
    const at::Tensor x = torch::randn({32, 20}), delta = torch::randn({32, 5});
    const co3::AopResult r =
        co3::aop_weight_grad(x, delta, ma, mb, config(32, AopPolicy::weighted, 0.1, 0.5), step);
    EXPECT_TRUE(torch::allclose(r.grad_weight, delta.t().matmul(x), 1e-4, 1e-5));
    EXPECT_EQ(ma.abs().max().item<float>(), 0.0f);
    EXPECT_EQ(mb.abs().max().item<float>(), 0.0f);
  }
}

// The method as the authors state it, in plain tensor operations: only the generator of the
// uniforms (co3::aop_uniform) is shared with the code under test.
struct Reference {
  at::Tensor ma, mb;  // float64, so that the comparison measures co3's float32 rounding only
  at::Tensor step(const at::Tensor& x, const at::Tensor& delta, const co3::AopConfig& c,
                  uint64_t step, std::set<int64_t>* chosen) {
    const int64_t rows = x.size(0);
    const at::Tensor a = ma + std::sqrt(c.lr) * x.to(torch::kDouble);
    const at::Tensor b = mb + std::sqrt(c.lr) * delta.to(torch::kDouble);
    const at::Tensor p = (a.norm(2, 1) * b.norm(2, 1)).pow(2);
    at::Tensor keys = torch::empty({rows}, torch::kDouble);
    for (int64_t i = 0; i < rows; ++i) {
      const double u = co3::aop_uniform(c.seed, step, static_cast<uint64_t>(i));
      const double pi = p[i].item<double>();
      keys[i] = c.policy == AopPolicy::topk       ? pi
                : c.policy == AopPolicy::weighted ? std::log(u) / pi
                                                  : u;
    }
    const at::Tensor s = std::get<1>(keys.topk(c.k));
    *chosen = as_set(s);
    const at::Tensor dw = b.index_select(0, s).t().matmul(a.index_select(0, s)) / c.lr;
    const at::Tensor keep = torch::ones({rows, 1}, torch::kDouble).index_fill_(0, s, 0.0);
    ma = std::sqrt(c.alpha) * a * keep;
    mb = std::sqrt(c.alpha) * b * keep;
    return dw.to(torch::kFloat);
  }
};

TEST(Aop, MemoryMatchesAPlainReferenceStepByStep) {
  const int64_t rows = 64, in = 50, out = 10;
  for (AopPolicy p : kPolicies) {
    SCOPED_TRACE(co3::aop_policy_name(p));
    torch::manual_seed(3);
    const co3::AopConfig c = config(16, p, 0.05, 0.9);
    at::Tensor ma = torch::zeros({rows, in}), mb = torch::zeros({rows, out});
    Reference ref{torch::zeros({rows, in}, torch::kDouble),
                  torch::zeros({rows, out}, torch::kDouble)};
    for (uint64_t step = 0; step < 12; ++step) {
      // Rows of very different sizes, as gradients are, so that the scores matter.
      const at::Tensor scale = torch::rand({rows, 1}) * 3;
      const at::Tensor x = torch::randn({rows, in}) * scale, delta = torch::randn({rows, out});
      std::set<int64_t> want;
      const at::Tensor expected = ref.step(x, delta, c, step, &want);
      const co3::AopResult got = co3::aop_weight_grad(x, delta, ma, mb, c, step);
      ASSERT_EQ(as_set(got.selected), want) << "step " << step;
      EXPECT_TRUE(torch::allclose(got.grad_weight, expected, 1e-4, 1e-5)) << "step " << step;
      EXPECT_TRUE(torch::allclose(ma, ref.ma.to(torch::kFloat), 1e-5, 1e-6)) << "step " << step;
      EXPECT_TRUE(torch::allclose(mb, ref.mb.to(torch::kFloat), 1e-5, 1e-6)) << "step " << step;
    }
    // The memory really carried something: rows left out are non-zero.
    EXPECT_GT(ma.abs().sum().item<float>(), 0.0f);
  }
}

TEST(Aop, TopKKeepsTheLargestProductsAndSelectionIsBestFirst) {
  const at::Tensor scores = torch::tensor({0.5, 4.0, 1.0, 4.0, 9.0, 0.0}, torch::kDouble);
  const at::Tensor s = co3::aop_select(scores, 3, AopPolicy::topk, 0, 0);
  // 9 first, then the tie 4.0/4.0 broken by the smaller row.
  EXPECT_EQ(std::vector<int64_t>(s.data_ptr<int64_t>(), s.data_ptr<int64_t>() + 3),
            (std::vector<int64_t>{4, 1, 3}));
}

TEST(Aop, RandomPoliciesAreAFunctionOfSeedAndStep) {
  const at::Tensor scores = torch::rand({100}, torch::kDouble);
  for (AopPolicy p : {AopPolicy::weighted, AopPolicy::random}) {
    const at::Tensor s0 = co3::aop_select(scores, 10, p, 5, 3);
    EXPECT_TRUE(torch::equal(s0, co3::aop_select(scores, 10, p, 5, 3)));
    EXPECT_FALSE(torch::equal(s0, co3::aop_select(scores, 10, p, 5, 4)));
    EXPECT_FALSE(torch::equal(s0, co3::aop_select(scores, 10, p, 6, 3)));
  }
}

// Inclusion probabilities of successive sampling (draw k without replacement, each draw ∝ p among
// the rows left), by enumerating every ordered sequence of draws.
void inclusion(const std::vector<double>& p, int k, std::vector<bool>& used, double prob,
               std::vector<double>& pi) {
  if (k == 0) {
    for (size_t i = 0; i < p.size(); ++i) pi[i] += used[i] ? prob : 0.0;
    return;
  }
  double left = 0;
  for (size_t i = 0; i < p.size(); ++i) left += used[i] ? 0.0 : p[i];
  for (size_t i = 0; i < p.size(); ++i) {
    if (used[i]) continue;
    used[i] = true;
    inclusion(p, k - 1, used, prob * p[i] / left, pi);
    used[i] = false;
  }
}

// The largest standardized deviation of the inclusion counts from n·π_i over `draws` selections.
double max_z(const std::vector<double>& p, int k, AopPolicy policy, int draws) {
  std::vector<double> pi(p.size(), 0.0);
  std::vector<bool> used(p.size(), false);
  inclusion(p, k, used, 1.0, pi);
  const at::Tensor scores = torch::tensor(p, torch::kDouble);
  std::vector<double> count(p.size(), 0.0);
  for (int d = 0; d < draws; ++d)
    for (int64_t i : as_set(co3::aop_select(scores, k, policy, 2024, static_cast<uint64_t>(d))))
      count[static_cast<size_t>(i)] += 1;
  double worst = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double mean = draws * pi[i], sd = std::sqrt(draws * pi[i] * (1 - pi[i]));
    worst = std::max(worst, std::abs(count[i] - mean) / sd);
  }
  return worst;
}

// With a fixed seed the outcome is fixed; the bound 4.5 (a two-sided 7e-6 tail per row) is one a
// right sampler passes by a wide margin, and the checks below show that it fails wrong ones.
TEST(Aop, WeightedSamplingDrawsByTheScores) {
  const int draws = 20000;
  const std::vector<double> p1 = {1, 2, 3, 4, 5, 6, 7, 8};  // K = 1: inclusion is p_i / Σp
  EXPECT_LT(max_z(p1, 1, AopPolicy::weighted, draws), 4.5);
  EXPECT_GT(max_z(p1, 1, AopPolicy::random, draws), 4.5);
  const std::vector<double> p3 = {0.2, 1, 1.5, 3, 5, 9};  // K = 3 of 6, exact by enumeration
  EXPECT_LT(max_z(p3, 3, AopPolicy::weighted, draws), 4.5);
  EXPECT_GT(max_z(p3, 3, AopPolicy::random, draws), 4.5);
  EXPECT_GT(max_z(p3, 3, AopPolicy::topk, draws), 4.5);
}

// Keeping k of D uniformly: every row is included with probability k/D.
TEST(Aop, RandomPolicyIncludesEveryRowEqually) {
  const std::vector<double> p = {0.1, 1, 10, 100, 1000};
  std::vector<double> flat(p.size(), 1.0);
  EXPECT_LT(max_z(flat, 2, AopPolicy::random, 20000), 4.5);
  EXPECT_GT(max_z(p, 2, AopPolicy::random, 20000), 4.5);
}

TEST(Aop, BadArgumentsAreNamed) {
  const at::Tensor x = torch::randn({8, 4}), d = torch::randn({8, 3});
  expect_invalid([&] { co3::aop_weight_grad(x, d, {}, {}, config(9, AopPolicy::topk), 0); },
                 "k = 9");
  expect_invalid([&] { co3::aop_weight_grad(x, d, {}, {}, config(0, AopPolicy::topk), 0); },
                 "k = 0");
  expect_invalid(
      [&] {
        co3::aop_weight_grad(x, torch::randn({7, 3}), {}, {}, config(2, AopPolicy::topk), 0);
      },
      "delta");
  expect_invalid(
      [&] { co3::aop_weight_grad(x.to(torch::kDouble), d, {}, {}, config(2, AopPolicy::topk), 0); },
      "x: dtype");
  expect_invalid([&] { co3::aop_weight_grad(x, d, {}, {}, config(2, AopPolicy::topk, -1.0), 0); },
                 "lr = -1");
  expect_invalid(
      [&] { co3::aop_weight_grad(x, d, {}, {}, config(2, AopPolicy::topk, 0.1, 1.5), 0); },
      "alpha = 1.5");
  expect_invalid(
      [&] {
        co3::aop_weight_grad(x, d, torch::zeros({4, 4}), torch::zeros({4, 3}),
                             config(2, AopPolicy::topk), 0);
      },
      "batch size must not change");
  expect_invalid(
      [&] {
        co3::aop_weight_grad(x, d, torch::zeros({8, 4}), {}, config(2, AopPolicy::topk), 0);
      },
      "mem_a and mem_b");
  expect_invalid(
      [&] {
        co3::aop_weight_grad(x.t(), torch::randn({4, 3}), {}, {}, config(2, AopPolicy::topk), 0);
      },
      "not contiguous");
  expect_invalid([] { co3::parse_aop_policy("best"); }, "'best'");
  expect_invalid(
      [] { co3::aop_select(torch::rand({4}, torch::kDouble), 5, AopPolicy::topk, 0, 0); }, "k = 5");
  expect_invalid([] { co3::AopLinear(co3::AopLinearOptions(4, 3).k(0)); }, "k = 0");
  expect_invalid([] { co3::AopLinear(co3::AopLinearOptions(4, 3).alpha(2)); }, "alpha = 2");
}

TEST(AopLinear, KEqualsDWithoutMemoryMatchesLinear) {
  torch::manual_seed(4);
  torch::nn::Linear lin(30, 7);
  co3::AopLinear aop(co3::AopLinearOptions(30, 7).k(16).memory(false));
  {
    torch::NoGradGuard g;
    aop->weight.copy_(lin->weight);
    aop->bias.copy_(lin->bias);
  }
  // [2, 8, 30]: the leading dimensions are the 16 rows.
  const at::Tensor x1 = torch::randn({2, 8, 30}).requires_grad_(),
                   x2 = x1.detach().clone().requires_grad_();
  const at::Tensor target = torch::randn({2, 8, 7});
  torch::mse_loss(lin(x1), target).backward();
  torch::mse_loss(aop(x2), target).backward();
  EXPECT_TRUE(torch::allclose(aop->weight.grad(), lin->weight.grad(), 1e-4, 1e-6));
  EXPECT_TRUE(torch::allclose(aop->bias.grad(), lin->bias.grad(), 1e-5, 1e-7));
  EXPECT_TRUE(torch::allclose(x2.grad(), x1.grad(), 1e-5, 1e-7));
  EXPECT_EQ(aop->step(), 1u);
}

// An SGD step of lr = η applies exactly the method's ΔW, with the memory the module keeps.
TEST(AopLinear, SgdStepAppliesTheMethodsUpdate) {
  torch::manual_seed(5);
  const double lr = 0.05;
  co3::AopLinear aop(
      co3::AopLinearOptions(12, 4).k(3).policy(AopPolicy::weighted).alpha(0.8).lr(lr).seed(9));
  torch::optim::SGD opt(aop->parameters(), torch::optim::SGDOptions(lr));
  at::Tensor ma = torch::zeros({10, 12}), mb = torch::zeros({10, 4});
  co3::AopConfig c = config(3, AopPolicy::weighted, lr, 0.8);
  c.seed = 9;
  for (uint64_t step = 0; step < 5; ++step) {
    const at::Tensor x = torch::randn({10, 12}), target = torch::randint(0, 4, {10});
    const at::Tensor w0 = aop->weight.detach().clone();
    opt.zero_grad();
    const at::Tensor logits = aop(x);
    const at::Tensor delta = torch::autograd::grad({torch::cross_entropy_loss(logits, target)},
                                                   {logits}, {}, /*retain_graph=*/true)[0];
    torch::cross_entropy_loss(logits, target).backward();
    opt.step();
    const co3::AopResult want = co3::aop_weight_grad(x, delta.contiguous(), ma, mb, c, step);
    EXPECT_TRUE(torch::allclose(w0 - aop->weight.detach(), lr * want.grad_weight, 1e-4, 1e-7))
        << "step " << step;
    EXPECT_TRUE(torch::equal(aop->mem_a, ma)) << "step " << step;
    EXPECT_TRUE(torch::equal(aop->mem_b, mb)) << "step " << step;
  }
}

TEST(AopLinear, ABatchOfAnotherSizeIsRefusedUntilTheMemoryIsReset) {
  co3::AopLinear aop(co3::AopLinearOptions(6, 2).k(2));
  aop(torch::randn({8, 6})).sum().backward();
  EXPECT_EQ(aop->mem_a.sizes(), (std::vector<int64_t>{8, 6}));
  expect_invalid([&] { aop(torch::randn({5, 6})); }, "batch of 5 rows, but the memory holds 8");
  aop->reset_memory();
  aop(torch::randn({5, 6})).sum().backward();
  EXPECT_EQ(aop->mem_b.sizes(), (std::vector<int64_t>{5, 2}));
  expect_invalid([&] { aop(torch::randn({5, 7})); }, "input must be [..., 6]");
  // Evaluation is a plain linear map: no memory, no step.
  aop->eval();
  const uint64_t step = aop->step();
  EXPECT_EQ(aop(torch::randn({3, 6})).sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(aop->step(), step);
}

}  // namespace
