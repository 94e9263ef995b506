// One training run of the single-layer Fashion-MNIST classifier, Linear(784, 10), by exact SGD or
// by Mem-AOP-GD (co3::AopLinear), the set-up of the Mem-AOP-GD paper's classification experiment.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

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

// ce: cross-entropy on the logits. softmax_ce: the authors' model, Softmax after the layer, then
// cross-entropy, which applies a second softmax: the loss stays above log(e + 9) − 1
// (kSoftmaxCeLossFloor) and its gradient fades as the first softmax saturates.
enum class Loss { ce, softmax_ce };
// mean_std: (x − training mean) / training std. half: the authors' (x − 0.5) / 0.5.
enum class Normalize { mean_std, half };

// "ce", "softmax-ce" / "mean-std", "half" (and back); anything else throws naming the value.
Loss parse_loss(const std::string& name);
const char* loss_name(Loss loss);
Normalize parse_normalize(const std::string& name);
const char* normalize_name(Normalize normalize);

// The infimum of softmax-ce: all of the first softmax's mass on the true class, 1 against 0
// nine times; never reached (the softmax never saturates fully).
extern const double kSoftmaxCeLossFloor;
// A class whose test recall is below this is "dead": the model (almost) never predicts it.
constexpr double kDeadClassRecall = 0.05;

struct RunSpec {
  Method method;
  uint64_t seed = 0;  // initialization, shuffling and the random policies' draws
  int epochs = 30;
  int64_t batch = 64;  // D; the last partial batch of an epoch is dropped
  double lr = 0.01;
  double alpha = 1.0;
  Loss loss = Loss::ce;
};

struct EpochStats {
  int epoch = 0;             // 1-based
  double train_loss = 0;     // mean loss over the epoch's batches
  double test_accuracy = 0;  // fraction of the 10000 test images classified right
  std::vector<double> class_recall;  // per class: its test images classified right
  int dead_classes() const;          // classes with recall < kDeadClassRecall
};

// Normalized, flattened images [N, 784] and labels [N], on `device`.
struct Data {
  at::Tensor train_x, train_y, test_x, test_y;
};
Data load_data(Normalize normalize, c10::Device device);

// Calls `progress` after each epoch. Trains on data's device (CPU, or CUDA through co3's kernels).
std::vector<EpochStats> train(const RunSpec& spec, const Data& data,
                              void (*progress)(const RunSpec&, const EpochStats&));

}  // namespace co3::apps
