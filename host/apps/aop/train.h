// One training run of the single-layer Fashion-MNIST classifier, Linear(784, 10), by exact SGD or
// by Mem-AOP-GD (co3::AopLinear), the set-up of the Mem-AOP-GD paper's classification experiment.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "co3/aop.h"

namespace co3::apps {

struct Method {
  bool exact = true;  // plain torch::nn::Linear; the fields below are then unused
  AopPolicy policy = AopPolicy::topk;
  bool memory = false;
  int64_t k = 0;
  std::string label() const;  // "exact", "topk-mem-k16", "random-nomem-k8", …
};

struct RunSpec {
  Method method;
  uint64_t seed = 0;  // initialization, shuffling and the random policies' draws
  int epochs = 30;
  int64_t batch = 64;  // D; the last partial batch of an epoch is dropped
  double lr = 0.01;
  double alpha = 1.0;
};

struct EpochStats {
  int epoch = 0;             // 1-based
  double train_loss = 0;     // mean cross-entropy over the epoch's batches
  double test_accuracy = 0;  // fraction of the 10000 test images classified right
};

// Normalized, flattened images [N, 784] and labels [N].
struct Data {
  at::Tensor train_x, train_y, test_x, test_y;
};
Data load_data();

// Calls `progress` after each epoch.
std::vector<EpochStats> train(const RunSpec& spec, const Data& data,
                              void (*progress)(const RunSpec&, const EpochStats&));

}  // namespace co3::apps
