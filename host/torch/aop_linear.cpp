// AopLinear's forward is at::linear; its backward replaces the weight gradient by Mem-AOP-GD's.
#include "co3/torch/aop_linear.h"

#include <torch/autograd.h>
#include <torch/nn/init.h>

#include <cmath>
#include <string>

#include "co3/error.h"

namespace co3 {
namespace {

// What backward needs beyond the differentiable inputs. The memory tensors are the module's
// buffers themselves, so the in-place update in backward is the module's state for the next
// step. They travel in this struct, not as tensor arguments, because autograd refuses undefined
// tensor inputs (no memory).
struct AopMemory {
  at::Tensor a, b;
};

// Autograd also refuses an undefined bias, so a layer without bias passes an empty placeholder.
struct AopLinearFunction : public torch::autograd::Function<AopLinearFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input,
                            const at::Tensor& weight, const at::Tensor& bias, bool has_bias,
                            AopMemory memory, const AopLinearOptions& o, uint64_t step) {
    ctx->save_for_backward({input, weight});
    ctx->saved_data["has_bias"] = has_bias;
    ctx->saved_data["mem_a"] = memory.a;
    ctx->saved_data["mem_b"] = memory.b;
    ctx->saved_data["k"] = o.k();
    ctx->saved_data["policy"] = static_cast<int64_t>(o.policy());
    ctx->saved_data["alpha"] = o.alpha();
    ctx->saved_data["lr"] = o.lr();
    ctx->saved_data["seed"] = static_cast<int64_t>(o.seed());
    ctx->saved_data["rescale"] = o.rescale();
    ctx->saved_data["step"] = static_cast<int64_t>(step);
    return at::linear(input, weight, has_bias ? bias : at::Tensor());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& input = saved[0];
    const at::Tensor& weight = saved[1];
    const int64_t in = weight.size(1), out = weight.size(0);
    const at::Tensor delta = grads[0].reshape({-1, out}).contiguous();

    at::Tensor grad_input, grad_weight, grad_bias;
    if (ctx->needs_input_grad(0)) grad_input = grads[0].matmul(weight);
    if (ctx->needs_input_grad(1)) {
      AopConfig c;
      c.k = ctx->saved_data["k"].toInt();
      c.policy = static_cast<AopPolicy>(ctx->saved_data["policy"].toInt());
      c.alpha = ctx->saved_data["alpha"].toDouble();
      c.lr = ctx->saved_data["lr"].toDouble();
      c.seed = static_cast<uint64_t>(ctx->saved_data["seed"].toInt());
      c.rescale = ctx->saved_data["rescale"].toBool();
      const at::Tensor mem_a = ctx->saved_data["mem_a"].toTensor();
      const at::Tensor mem_b = ctx->saved_data["mem_b"].toTensor();
      grad_weight = aop_weight_grad(input.reshape({-1, in}).contiguous(), delta, mem_a, mem_b, c,
                                    static_cast<uint64_t>(ctx->saved_data["step"].toInt()))
                        .grad_weight;
    }
    if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2)) grad_bias = delta.sum(0);
    return {grad_input,   grad_weight,  grad_bias,   at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

void check_options(const AopLinearOptions& o) {
  const auto bad = [](const std::string& what) {
    fail(Errc::invalid_argument, "AopLinear: " + what);
  };
  if (o.in_features() < 1)
    bad("in_features = " + std::to_string(o.in_features()) + ", must be ≥ 1");
  if (o.out_features() < 1)
    bad("out_features = " + std::to_string(o.out_features()) + ", must be ≥ 1");
  if (o.k() < 1) bad("k = " + std::to_string(o.k()) + ", must be ≥ 1");
  if (!(std::isfinite(o.lr()) && o.lr() > 0))
    bad("lr = " + std::to_string(o.lr()) + ", must be finite and > 0");
  if (!(o.alpha() >= 0 && o.alpha() <= 1))
    bad("alpha = " + std::to_string(o.alpha()) + ", must be in [0, 1]");
  if (o.policy() != AopPolicy::topk && o.policy() != AopPolicy::weighted &&
      o.policy() != AopPolicy::random)
    bad("policy = " + std::to_string(static_cast<int>(o.policy())));
}

}  // namespace

AopLinearImpl::AopLinearImpl(const AopLinearOptions& options) : options_(options) {
  check_options(options_);
  reset();
}

void AopLinearImpl::reset() {
  weight =
      register_parameter("weight", torch::empty({options_.out_features(), options_.in_features()}));
  bias = options_.bias() ? register_parameter("bias", torch::empty({options_.out_features()}))
                         : register_parameter("bias", {}, /*requires_grad=*/false);
  if (options_.memory()) {
    mem_a = register_buffer("mem_a", torch::zeros({0, options_.in_features()}));
    mem_b = register_buffer("mem_b", torch::zeros({0, options_.out_features()}));
  }
  reset_parameters();
}

void AopLinearImpl::reset_parameters() {
  // torch::nn::Linear's initialization, call for call.
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(options_.in_features()));
    torch::nn::init::uniform_(bias, -bound, bound);
  }
}

void AopLinearImpl::reset_memory() {
  if (!options_.memory()) return;
  torch::NoGradGuard no_grad;
  mem_a.resize_({0, options_.in_features()});
  mem_b.resize_({0, options_.out_features()});
}

at::Tensor AopLinearImpl::forward(const at::Tensor& input) {
  check(input.defined() && input.dim() >= 1 && input.size(-1) == options_.in_features(),
        Errc::invalid_argument, [&] {
          return "AopLinear: input must be [..., " + std::to_string(options_.in_features()) +
                 "], got " +
                 (input.defined() ? std::to_string(input.dim()) + " dimensions, last " +
                                        (input.dim() ? std::to_string(input.size(-1)) : "none")
                                  : std::string("undefined"));
        });
  if (!is_training() || !torch::GradMode::is_enabled() || !weight.requires_grad())
    return at::linear(input, weight, bias);

  const int64_t rows = input.numel() / options_.in_features();
  check(options_.k() <= rows, Errc::invalid_argument, [&] {
    return "AopLinear: k = " + std::to_string(options_.k()) + " exceeds the batch's " +
           std::to_string(rows) + " rows";
  });
  at::Tensor ma, mb;
  if (options_.memory()) {
    torch::NoGradGuard no_grad;
    if (mem_a.size(0) == 0) {  // first batch: size the memory on the layer's device
      mem_a.set_data(torch::zeros({rows, options_.in_features()}, weight.options()));
      mem_b.set_data(torch::zeros({rows, options_.out_features()}, weight.options()));
    }
    check(mem_a.size(0) == rows, Errc::invalid_argument, [&] {
      return "AopLinear: batch of " + std::to_string(rows) + " rows, but the memory holds " +
             std::to_string(mem_a.size(0)) +
             " sample slots (drop the last partial batch, or call reset_memory())";
    });
    ma = mem_a.detach();
    mb = mem_b.detach();
  }
  const bool has_bias = bias.defined();
  return AopLinearFunction::apply(input, weight, has_bias ? bias : weight.new_empty({0}), has_bias,
                                  AopMemory{ma, mb}, options_, step_++);
}

}  // namespace co3
