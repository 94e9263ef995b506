// How the training set is divided among users, and how each user draws its mini-batches.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <random>
#include <vector>

namespace co3::train {

// iid: a random permutation cut into `users` near-equal shards.
std::vector<std::vector<int64_t>> split_iid(int64_t n, int users, uint64_t seed);

// Non-iid: for each class, the user proportions are drawn from Dirichlet(alpha) and the class's
// samples dealt out accordingly (small alpha: each user sees few classes). Throws
// Error(invalid_argument) naming alpha when a user would be left with no sample.
std::vector<std::vector<int64_t>> split_dirichlet(const at::Tensor& labels, int users, double alpha,
                                                  uint64_t seed);

// A user's stream of mini-batches: its shard reshuffled at every pass, batches taken in order
// (wrapping into the next pass), so every process that builds the same sampler draws the same
// batches.
class BatchSampler {
 public:
  BatchSampler(std::vector<int64_t> shard, uint64_t seed);
  at::Tensor next(int batch);  // int64 indices into the training set

 private:
  void reshuffle();
  std::vector<int64_t> shard_;
  std::mt19937_64 rng_;
  size_t pos_ = 0;
};

}  // namespace co3::train
