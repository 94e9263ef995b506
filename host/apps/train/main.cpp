// co3-train: federated training on Fashion-MNIST with compressed gradients (docs/TRAINING.md).
// Exit status: 0 done, 1 a run-time failure, 2 a bad command line.
#include <cstdio>
#include <string>
#include <vector>

#include "co3/error.h"
#include "train/distributed.h"
#include "train/options.h"
#include "train/simulation.h"

int main(int argc, char** argv) {
  using namespace co3::train;
  std::vector<std::string> args(argv + 1, argv + argc);
  TrainOptions opts;
  try {
    std::string help;
    if (!parse_args(args, &opts, &help)) {
      std::fputs(help.c_str(), stdout);
      return 0;
    }
  } catch (const co3::Error& e) {
    std::fprintf(stderr, "co3-train: %s\n", e.what());
    return 2;
  }
  if (opts.print_name) {
    std::printf("%s\n", opts.run_name().c_str());
    return 0;
  }
  try {
    if (opts.mode == "dist" && opts.spawn) return spawn_ranks(opts, args);
    const bool server = opts.mode == "sim" || opts.rank == 0;
    RunResult r = opts.mode == "sim" ? run_simulation(opts) : run_dist_rank(opts);
    if (server) std::printf("%s%s", summary_header().c_str(), summary_row(opts, r).c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "co3-train: %s\n", e.what());
    return 1;
  }
}
