#include "train/experiment.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <torch/cuda.h>
#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>

#include "co3/error.h"
#include "common/fashion_mnist.h"

namespace co3::train {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void load(bool train, int64_t limit, at::Tensor* x, at::Tensor* y) {
  apps::Split s = apps::load_fashion_mnist(train);
  if (limit > 0 && limit < s.images.size(0)) {
    s.images = s.images.narrow(0, 0, limit);
    s.labels = s.labels.narrow(0, 0, limit);
  }
  *x = ((s.images - apps::kFashionMnistMean) / apps::kFashionMnistStd).contiguous();
  *y = s.labels.contiguous();
}

constexpr int64_t kTrainImages = 60000;

}  // namespace

Experiment::Experiment(const TrainOptions& opts, bool need_train, bool need_test)
    : opts_(opts), device_(opts.device == "cuda" ? at::kCUDA : at::kCPU) {
  check(opts.device != "cuda" || torch::cuda::is_available(), Errc::invalid_argument,
        "--device cuda: no CUDA device is available");
  torch::set_num_threads(opts.threads);
  // The number of training images decides the schedule, so it is known without loading them.
  const int64_t n_train =
      opts.train_limit > 0 ? std::min(opts.train_limit, kTrainImages) : kTrainImages;
  if (need_train) {
    load(true, opts.train_limit, &train_x_, &train_y_);
    check(train_x_.size(0) == n_train, Errc::io,
          "training split holds " + std::to_string(train_x_.size(0)) + " images, expected " +
              std::to_string(n_train));
    shards_ = opts.split == "iid" ? split_iid(n_train, opts.users, opts.seed)
                                  : split_dirichlet(train_y_, opts.users, opts.alpha, opts.seed);
    train_x_ = train_x_.to(device_);
    train_y_ = train_y_.to(device_);
  }
  if (need_test) {
    load(false, opts.test_limit, &test_x_, &test_y_);
    test_x_ = test_x_.to(device_);
    test_y_ = test_y_.to(device_);
  }
  torch::manual_seed(opts.seed);
  model_ = make_model(opts.model);
  model_->to(device_);
  params_ = model_->parameters();
  for (const at::Tensor& p : params_) {
    numels_.push_back(p.numel());
    shapes_.push_back(p.sizes().vec());
    entries_ += p.numel();
  }
  const int64_t per_round = static_cast<int64_t>(opts.users) * opts.batch;
  rounds_per_epoch_ = std::max<int64_t>(1, (n_train + per_round - 1) / per_round);
  rounds_ = opts.rounds > 0
                ? opts.rounds
                : std::max<int64_t>(
                      1, std::llround(opts.epochs * static_cast<double>(rounds_per_epoch_)));
}

bool Experiment::is_eval_round(int64_t round) const {
  return (round + 1) % rounds_per_epoch_ == 0 || round + 1 == rounds_;
}

BatchSampler Experiment::make_sampler(int user) const {
  return BatchSampler(shards_.at(static_cast<size_t>(user)),
                      opts_.seed * 1000003ull + 17 + static_cast<uint64_t>(user));
}

at::Tensor Experiment::flat_params() const {
  std::vector<at::Tensor> flat;
  for (const at::Tensor& p : params_) flat.push_back(p.detach().to(at::kCPU).reshape({-1}));
  return at::cat(flat).contiguous();
}

void Experiment::set_flat_params(const at::Tensor& flat) {
  check(flat.numel() == entries_, Errc::invalid_argument,
        "parameter vector of " + std::to_string(flat.numel()) + " entries for a model of " +
            std::to_string(entries_));
  torch::NoGradGuard no_grad;
  int64_t off = 0;
  for (at::Tensor& p : params_) {
    p.copy_(flat.narrow(0, off, p.numel()).view(p.sizes()));
    off += p.numel();
  }
}

double Experiment::evaluate() {
  torch::NoGradGuard no_grad;
  model_->eval();
  int64_t correct = 0;
  const int64_t n = test_x_.size(0);
  for (int64_t i = 0; i < n; i += 1000) {
    const int64_t len = std::min<int64_t>(1000, n - i);
    at::Tensor pred = model_->forward(test_x_.narrow(0, i, len)).argmax(1);
    correct += pred.eq(test_y_.narrow(0, i, len)).sum().item<int64_t>();
  }
  model_->train();
  return static_cast<double>(correct) / static_cast<double>(n);
}

UserUpdate UserStep::run(Experiment& exp, BatchSampler& sampler, GradientCompressor& compressor,
                         std::vector<at::Tensor>* grads_out) {
  Model& model = exp.model();
  model.zero_grad();
  at::Tensor idx = sampler.next(exp.opts_.batch).to(exp.device_);
  at::Tensor loss = torch::nn::functional::cross_entropy(
      model.forward(exp.train_x_.index_select(0, idx)), exp.train_y_.index_select(0, idx));
  loss.backward();
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : exp.params_)
    grads.push_back(p.grad().to(compressor.device(), at::kFloat).contiguous());
  UserUpdate u;
  u.loss = loss.item<double>();
  const auto t0 = std::chrono::steady_clock::now();
  u.packet = compressor.compress(grads);
  u.encode_s = seconds_since(t0);
  if (grads_out)
    for (const at::Tensor& g : grads) grads_out->push_back(g.cpu());
  return u;
}

double server_step(Experiment& exp, GradientDecoder& decoder,
                   const std::vector<std::vector<uint8_t>>& packets) {
  const auto& params = exp.params();
  std::vector<at::Tensor> sum, buf;
  const at::TensorOptions where = at::TensorOptions(at::kFloat).device(decoder.device());
  for (int64_t n : exp.numels()) {
    sum.push_back(at::zeros({n}, where));
    buf.push_back(at::empty({n}, where));
  }
  double decode_s = 0;
  // A fixed order (user 0, 1, …) makes the float sum, and so the run, reproducible.
  for (const auto& packet : packets) {
    const auto t0 = std::chrono::steady_clock::now();
    decoder.decompress(packet.data(), packet.size(), buf);
    decode_s += seconds_since(t0);
    for (size_t i = 0; i < sum.size(); ++i) sum[i].add_(buf[i]);
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    at::Tensor p = params[i];
    p.add_(sum[i].div_(static_cast<double>(packets.size())).view(p.sizes()).to(p.device()),
           -exp.opts().lr);
  }
  return decode_s;
}

}  // namespace co3::train
