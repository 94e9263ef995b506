#include "train/model.h"

#include <torch/nn/functional.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <vector>

#include "co3/error.h"

namespace co3::train {
namespace {

namespace F = torch::nn::functional;

// LeNet-5 with ReLU and max-pooling: 61,706 parameters in 10 tensors.
class LeNet : public Model {
 public:
  LeNet()
      : conv1_(register_module("conv1",
                               torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 6, 5).padding(2)))),
        conv2_(register_module("conv2", torch::nn::Conv2d(6, 16, 5))),
        fc1_(register_module("fc1", torch::nn::Linear(16 * 5 * 5, 120))),
        fc2_(register_module("fc2", torch::nn::Linear(120, 84))),
        fc3_(register_module("fc3", torch::nn::Linear(84, 10))) {}

  torch::Tensor forward(torch::Tensor x) override {
    x = F::max_pool2d(torch::relu(conv1_(x)), F::MaxPool2dFuncOptions(2));
    x = F::max_pool2d(torch::relu(conv2_(x)), F::MaxPool2dFuncOptions(2));
    x = torch::relu(fc1_(x.flatten(1)));
    x = torch::relu(fc2_(x));
    return fc3_(x);
  }

 private:
  torch::nn::Conv2d conv1_, conv2_;
  torch::nn::Linear fc1_, fc2_, fc3_;
};

// GroupNorm instead of BatchNorm: only gradients travel to the server, so batch statistics
// (buffers, not parameters) would differ between users and the server's model; GroupNorm has
// none (the usual choice for federated ResNets).
torch::nn::GroupNorm norm(int64_t channels, int64_t groups) {
  return torch::nn::GroupNorm(groups, channels);
}

class BasicBlock : public torch::nn::Module {
 public:
  BasicBlock(int64_t in, int64_t out, int64_t stride, int64_t groups)
      : conv1_(register_module(
            "conv1",
            torch::nn::Conv2d(
                torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)))),
        n1_(register_module("n1", norm(out, groups))),
        conv2_(register_module(
            "conv2",
            torch::nn::Conv2d(torch::nn::Conv2dOptions(out, out, 3).padding(1).bias(false)))),
        n2_(register_module("n2", norm(out, groups))) {
    if (stride != 1 || in != out) {
      shortcut_ = register_module(
          "shortcut",
          torch::nn::Sequential(
              torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
              norm(out, groups)));
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor y = torch::relu(n1_(conv1_(x)));
    y = n2_(conv2_(y));
    return torch::relu(y + (shortcut_ ? shortcut_->forward(x) : x));
  }

 private:
  torch::nn::Conv2d conv1_;
  torch::nn::GroupNorm n1_;
  torch::nn::Conv2d conv2_;
  torch::nn::GroupNorm n2_;
  torch::nn::Sequential shortcut_{nullptr};
};

// A ResNet for 28x28x1: a 3x3 stride-1 stem without max-pooling (the ImageNet stem would shrink
// 28x28 to 7x7 before the first block), stages of basic blocks (stride 2 into every stage but
// the first), global average pooling and a linear head.
//  - ResNet-18: the usual four stages of two blocks, 64/128/256/512 channels, 32 groups.
//  - ResNet-8, small enough for a CPU: three stages of one block, 16/32/64 channels (28x28,
//    14x14, 7x7), GroupNorm with 8 groups (2, 4 and 8 channels a group). 8 weight layers (the
//    stem, six 3x3 convolutions, the head) plus two 1x1 shortcuts: 77,754 parameters in 29
//    tensors.
class ResNet : public Model {
 public:
  ResNet(const std::vector<int64_t>& widths, int blocks_per_stage, int64_t groups)
      : stem_(register_module("stem", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, widths[0], 3)
                                                            .padding(1)
                                                            .bias(false)))),
        stem_norm_(register_module("stem_norm", norm(widths[0], groups))),
        fc_(register_module("fc", torch::nn::Linear(widths.back(), 10))) {
    int64_t in = widths[0];
    for (size_t s = 0; s < widths.size(); ++s) {
      for (int b = 0; b < blocks_per_stage; ++b) {
        int64_t stride = (s > 0 && b == 0) ? 2 : 1;
        blocks_.push_back(register_module("layer" + std::to_string(s + 1) + "_" + std::to_string(b),
                                          std::make_shared<BasicBlock>(in, widths[s], stride,
                                                                       groups)));
        in = widths[s];
      }
    }
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = torch::relu(stem_norm_(stem_(x)));
    for (auto& b : blocks_) x = b->forward(x);
    return fc_(F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions(1)).flatten(1));
  }

 private:
  torch::nn::Conv2d stem_;
  torch::nn::GroupNorm stem_norm_;
  std::vector<std::shared_ptr<BasicBlock>> blocks_;
  torch::nn::Linear fc_;
};

}  // namespace

std::shared_ptr<Model> make_model(const std::string& name) {
  if (name == "lenet") return std::make_shared<LeNet>();
  if (name == "resnet8") return std::make_shared<ResNet>(std::vector<int64_t>{16, 32, 64}, 1, 8);
  if (name == "resnet18")
    return std::make_shared<ResNet>(std::vector<int64_t>{64, 128, 256, 512}, 2, 32);
  fail(Errc::invalid_argument, "model '" + name + "': expected lenet, resnet8 or resnet18");
}

}  // namespace co3::train
