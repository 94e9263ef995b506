// The experiment's Markdown table: mean ± standard deviation over seeds of the final test
// accuracy, one row per policy and memory setting, one column per K.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train.h"

namespace co3::apps {

struct RunOutcome {
  Method method;
  uint64_t seed = 0;
  double final_accuracy = 0;  // after the last epoch
  double seconds = 0;         // wall time of the run
};

// `setup` is a line describing the runs, printed above the table.
std::string summary_markdown(const std::vector<RunOutcome>& runs, const std::vector<int64_t>& ks,
                             const std::string& setup);

}  // namespace co3::apps
