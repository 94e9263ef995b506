#include "train.h"

#include <torch/torch.h>

#include "co3/torch/aop_linear.h"
#include "common/fashion_mnist.h"

namespace co3::apps {
namespace {

at::Tensor normalize(const at::Tensor& images) {
  return ((images - kFashionMnistMean) / kFashionMnistStd).reshape({images.size(0), -1});
}

double accuracy(const std::function<at::Tensor(const at::Tensor&)>& model, const at::Tensor& x,
                const at::Tensor& y) {
  torch::NoGradGuard no_grad;
  return model(x).argmax(1).eq(y).to(torch::kDouble).mean().item<double>();
}

}  // namespace

std::string Method::label() const {
  if (exact) return "exact";
  return std::string(aop_policy_name(policy)) + (memory ? "-mem" : "-nomem") + "-k" +
         std::to_string(k);
}

Data load_data() {
  const Split train = load_fashion_mnist(true), test = load_fashion_mnist(false);
  return {normalize(train.images), train.labels, normalize(test.images), test.labels};
}

std::vector<EpochStats> train(const RunSpec& spec, const Data& data,
                              void (*progress)(const RunSpec&, const EpochStats&)) {
  // The same seed gives every method the same initial weights and the same batches: the
  // initialization draws from the global generator, the shuffling from its own.
  torch::manual_seed(spec.seed);
  torch::nn::Linear linear(784, 10);
  AopLinear aop(AopLinearOptions(784, 10)
                    .k(spec.method.exact ? 1 : spec.method.k)
                    .policy(spec.method.policy)
                    .memory(spec.method.memory)
                    .alpha(spec.alpha)
                    .lr(spec.lr)
                    .seed(spec.seed));
  {
    torch::NoGradGuard no_grad;
    aop->weight.copy_(linear->weight);
    aop->bias.copy_(linear->bias);
  }
  torch::nn::Module& module = spec.method.exact ? static_cast<torch::nn::Module&>(*linear)
                                                : static_cast<torch::nn::Module&>(*aop);
  const std::function<at::Tensor(const at::Tensor&)> model =
      spec.method.exact ? std::function<at::Tensor(const at::Tensor&)>(
                              [&](const at::Tensor& x) { return linear(x); })
                        : [&](const at::Tensor& x) { return aop(x); };
  // Plain SGD with lr = η applies Mem-AOP-GD's step exactly (co3/torch/aop_linear.h).
  torch::optim::SGD opt(module.parameters(), torch::optim::SGDOptions(spec.lr));
  at::Generator shuffle = at::make_generator<at::CPUGeneratorImpl>(spec.seed);

  const int64_t n = data.train_x.size(0), batches = n / spec.batch;
  std::vector<EpochStats> out;
  for (int epoch = 1; epoch <= spec.epochs; ++epoch) {
    module.train();
    const at::Tensor order = torch::randperm(n, shuffle, torch::kLong);
    double loss_sum = 0;
    for (int64_t b = 0; b < batches; ++b) {
      const at::Tensor idx = order.slice(0, b * spec.batch, (b + 1) * spec.batch);
      opt.zero_grad();
      const at::Tensor loss = torch::cross_entropy_loss(model(data.train_x.index_select(0, idx)),
                                                        data.train_y.index_select(0, idx));
      loss.backward();
      opt.step();
      loss_sum += loss.item<double>();
    }
    module.eval();
    out.push_back({epoch, loss_sum / static_cast<double>(batches),
                   accuracy(model, data.test_x, data.test_y)});
    if (progress) progress(spec, out.back());
  }
  return out;
}

}  // namespace co3::apps
