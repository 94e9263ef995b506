#include "train.h"

#include <torch/torch.h>

#include <cmath>

#include "co3/error.h"
#include "co3/torch/aop_linear.h"
#include "common/fashion_mnist.h"

namespace co3::apps {
namespace {

constexpr int64_t kClasses = 10;

at::Tensor normalize(const at::Tensor& images, Normalize how) {
  const at::Tensor x = how == Normalize::half
                           ? (images - 0.5) / 0.5
                           : (images - kFashionMnistMean) / kFashionMnistStd;
  return x.reshape({images.size(0), -1});
}

// Test accuracy and per-class recall, in eval mode and without autograd.
void evaluate(const std::function<at::Tensor(const at::Tensor&)>& model, const Data& data,
              EpochStats* e) {
  torch::NoGradGuard no_grad;
  const at::Tensor pred = model(data.test_x).argmax(1);
  const at::Tensor right = pred.eq(data.test_y);
  e->test_accuracy = right.to(torch::kDouble).mean().item<double>();
  const at::Tensor hits = torch::bincount(data.test_y.masked_select(right), {}, kClasses);
  const at::Tensor totals = torch::bincount(data.test_y, {}, kClasses);
  const at::Tensor recall = (hits.to(torch::kDouble) / totals.to(torch::kDouble)).cpu();
  e->class_recall.assign(recall.data_ptr<double>(), recall.data_ptr<double>() + kClasses);
}

}  // namespace

const double kSoftmaxCeLossFloor = std::log(std::exp(1.0) + 9.0) - 1.0;

std::string Method::label() const {
  if (exact) return "exact";
  return std::string(aop_policy_name(policy)) + (memory ? "-mem" : "-nomem") + "-k" +
         std::to_string(k);
}

Loss parse_loss(const std::string& name) {
  if (name == "ce") return Loss::ce;
  if (name == "softmax-ce") return Loss::softmax_ce;
  fail(Errc::invalid_argument, "--loss '" + name + "': expected ce or softmax-ce");
}

const char* loss_name(Loss loss) { return loss == Loss::ce ? "ce" : "softmax-ce"; }

Normalize parse_normalize(const std::string& name) {
  if (name == "mean-std") return Normalize::mean_std;
  if (name == "half") return Normalize::half;
  fail(Errc::invalid_argument, "--normalize '" + name + "': expected mean-std or half");
}

const char* normalize_name(Normalize normalize) {
  return normalize == Normalize::mean_std ? "mean-std" : "half";
}

int EpochStats::dead_classes() const {
  int dead = 0;
  for (double r : class_recall) dead += r < kDeadClassRecall ? 1 : 0;
  return dead;
}

Data load_data(Normalize how, c10::Device device) {
  const Split train = load_fashion_mnist(true), test = load_fashion_mnist(false);
  return {normalize(train.images, how).to(device), train.labels.to(device),
          normalize(test.images, how).to(device), test.labels.to(device)};
}

std::vector<EpochStats> train(const RunSpec& spec, const Data& data,
                              void (*progress)(const RunSpec&, const EpochStats&)) {
  // The same seed gives every method the same initial weights and the same batches on either
  // device: the initialization draws from the global CPU generator, the shuffling from its own
  // CPU generator, and only then do the weights move to the data's device.
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
  const c10::Device device = data.train_x.device();
  linear->to(device);
  aop->to(device);
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
    const at::Tensor order = torch::randperm(n, shuffle, torch::kLong).to(device);
    at::Tensor loss_sum = torch::zeros({}, data.train_x.options().dtype(torch::kDouble));
    for (int64_t b = 0; b < batches; ++b) {
      const at::Tensor idx = order.slice(0, b * spec.batch, (b + 1) * spec.batch);
      opt.zero_grad();
      const at::Tensor logits = model(data.train_x.index_select(0, idx));
      // The authors' Softmax layer; the argmax, and so the accuracy, is the same either way.
      const at::Tensor scores = spec.loss == Loss::softmax_ce ? logits.softmax(1) : logits;
      const at::Tensor loss = torch::cross_entropy_loss(scores, data.train_y.index_select(0, idx));
      loss.backward();
      opt.step();
      // Summed on the device: a per-step .item() would stall the GPU's queue every batch.
      loss_sum += loss.detach();
    }
    module.eval();
    EpochStats e;
    e.epoch = epoch;
    e.train_loss = loss_sum.item<double>() / static_cast<double>(batches);
    evaluate(model, data, &e);
    out.push_back(e);
    if (progress) progress(spec, out.back());
  }
  return out;
}

}  // namespace co3::apps
