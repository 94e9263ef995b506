// All users in one process: the fastest way to run the experiment.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "train/options.h"
#include "train/run_log.h"

namespace co3::train {

struct RunHooks {
  // Called with every packet as it is produced (tests check sizes against the log).
  std::function<void(int64_t round, int user, const std::vector<uint8_t>& packet)> on_packet;
};

// Trains and returns the measurements; *final_params (if given) receives the parameters.
RunResult run_simulation(const TrainOptions& opts, const RunHooks& hooks = {},
                         std::vector<float>* final_params = nullptr);

// Raw little-endian float32 parameters, for comparing runs (POSIX stdio).
void save_params(const std::string& path, const std::vector<float>& params);
std::vector<float> load_params(const std::string& path);

}  // namespace co3::train
