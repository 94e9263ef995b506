// What every execution mode shares: the data, the model, the users' shards, the schedule, and
// the two halves of a round (a user's step and the server's step). Simulation and the
// multi-process mode call the same functions in the same order, so they compute the same
// parameters bit for bit.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "train/compressor.h"
#include "train/model.h"
#include "train/options.h"
#include "train/shards.h"

namespace co3::train {

class Experiment {
 public:
  // Loads the splits it needs (the server of a dist run needs no training images, a user no
  // test images), seeds torch and builds the model.
  Experiment(const TrainOptions& opts, bool need_train, bool need_test);

  const TrainOptions& opts() const { return opts_; }
  at::Device device() const { return device_; }  // where the model and its gradients live
  Model& model() { return *model_; }
  const std::vector<at::Tensor>& params() const { return params_; }
  const std::vector<int64_t>& numels() const { return numels_; }
  const std::vector<std::vector<int64_t>>& shapes() const { return shapes_; }
  int64_t entries() const { return entries_; }  // parameters per gradient
  int64_t rounds() const { return rounds_; }
  int64_t rounds_per_epoch() const { return rounds_per_epoch_; }
  bool is_eval_round(
      int64_t round) const;  // after this round (0-based): end of an epoch or of the run

  // User `u`'s batch stream (same seed ⇒ same batches in every process).
  BatchSampler make_sampler(int user) const;

  // The parameters as one float32 CPU vector, and back (dist broadcasts it).
  at::Tensor flat_params() const;
  void set_flat_params(const at::Tensor& flat);

  // Test accuracy in [0, 1] on the (possibly limited) test split.
  double evaluate();

 private:
  TrainOptions opts_;
  at::Device device_;
  at::Tensor train_x_, train_y_, test_x_, test_y_;
  std::vector<std::vector<int64_t>> shards_;
  std::shared_ptr<Model> model_;
  std::vector<at::Tensor> params_;
  std::vector<int64_t> numels_;
  std::vector<std::vector<int64_t>> shapes_;
  int64_t entries_ = 0, rounds_ = 0, rounds_per_epoch_ = 0;

  friend struct UserStep;
};

// One user's part of a round: a mini-batch gradient at the current parameters, compressed.
struct UserUpdate {
  std::vector<uint8_t> packet;
  double loss = 0;
  double encode_s = 0;
};
struct UserStep {
  // `grads_out`, when given, receives the raw gradients (for the code-source statistics).
  static UserUpdate run(Experiment& exp, BatchSampler& sampler, GradientCompressor& compressor,
                        std::vector<at::Tensor>* grads_out = nullptr);
};

// The server's part: decode the packets in user order, average, one SGD step. Returns the
// decoding time in seconds.
double server_step(Experiment& exp, GradientDecoder& decoder,
                   const std::vector<std::vector<uint8_t>>& packets);

}  // namespace co3::train
