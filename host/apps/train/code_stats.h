// The code-source comparison: on the same gradients, the payload bits per entry that the
// histogram, GenNorm, Normal and Laplace codes would take, per format (co3::stats). Written to
// <out>/<run>.codes.csv every --code-stats-every rounds, on user 0's raw gradient.
#pragma once

#include <ATen/Tensor.h>

#include <cstdio>
#include <vector>

#include "train/options.h"

namespace co3::train {

class CodeStatsLog {
 public:
  explicit CodeStatsLog(const TrainOptions& opts);
  ~CodeStatsLog();
  bool due(int64_t round) const { return every_ > 0 && round % every_ == 0; }
  void add(int64_t round, const std::vector<at::Tensor>& grads);

 private:
  int every_;
  int threads_;
  std::FILE* csv_ = nullptr;
};

}  // namespace co3::train
