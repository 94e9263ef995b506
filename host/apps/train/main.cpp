// co3-train: federated training on Fashion-MNIST with compressed gradients (docs/TRAINING.md).
// Exit status: 0 done, 1 a run-time failure, 2 a bad command line.
#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "co3/error.h"
#include "train/distributed.h"
#include "train/options.h"
#include "train/simulation.h"

namespace {

void write_packet_log(const std::string& path, const std::vector<std::array<int64_t, 3>>& packets,
                      int64_t entries) {
  FILE* f = std::fopen(path.c_str(), "w");
  co3::check(f != nullptr, co3::Errc::io, "cannot write " + path);
  std::fprintf(f, "round,user,bytes,bits_per_entry\n");
  for (const auto& [round, user, bytes] : packets)
    std::fprintf(f, "%lld,%lld,%lld,%.6f\n", static_cast<long long>(round),
                 static_cast<long long>(user), static_cast<long long>(bytes),
                 8.0 * static_cast<double>(bytes) / static_cast<double>(entries));
  co3::check(std::fclose(f) == 0, co3::Errc::io, "cannot write " + path);
}

}  // namespace

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
    // --packet-log: every packet's size, kept until the run ends (when the entries are known).
    std::vector<std::array<int64_t, 3>> packets;
    RunHooks hooks;
    if (!opts.packet_log.empty())
      hooks.on_packet = [&](int64_t round, int user, const std::vector<uint8_t>& p) {
        packets.push_back({round, user, static_cast<int64_t>(p.size())});
      };
    RunResult r = opts.mode == "sim" ? run_simulation(opts, hooks) : run_dist_rank(opts);
    if (!opts.packet_log.empty()) write_packet_log(opts.packet_log, packets, r.entries);
    if (server) std::printf("%s%s", summary_header().c_str(), summary_row(opts, r).c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "co3-train: %s\n", e.what());
    return 1;
  }
}
