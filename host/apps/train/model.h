// The networks of the experiment: a LeNet-style CNN (fast on a CPU), a ResNet-8 (three residual
// stages of 16/32/64 channels, the harder model a CPU still trains) and a ResNet-18 adapted to
// 28x28x1 inputs (for a GPU).
#pragma once

#include <torch/nn/module.h>

#include <memory>
#include <string>

namespace co3::train {

// A classifier of [N, 1, 28, 28] images into 10 logits.
class Model : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor x) = 0;
};

// "lenet", "resnet8" or "resnet18"; parameters drawn from torch's generator (seed it first).
std::shared_ptr<Model> make_model(const std::string& name);

}  // namespace co3::train
