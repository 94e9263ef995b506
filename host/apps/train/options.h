// Everything one co3-train run is configured by, and the command-line parser that fills it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace co3::train {

// How each user's gradient travels to the server.
struct MethodSpec {
  std::string kind = "co3";       // fp32 | bf16 | co3 | topk | powersgd
  std::string format = "fp4";     // co3: fp4 | e5m2 | e4m3 | e3m2 | E,M[,bias[,layout]]
  std::string code = "gennorm";   // co3: histogram | gennorm | normal | laplace
  std::string scale = "gennorm";  // co3: gennorm | absmax | none | rate:BITS | VALUE (--bits B: rate:B)
  int entries_per_symbol = 0;     // co3: entries per Huffman symbol, 0: automatic
  float gamma = 0.7f;             // co3: error-feedback memory decay
  bool shared_code = true;        // co3: one code table per packet
  int zero_block = 0;             // co3: zero-block maps of this many symbols (FORMAT.md §6b), 0: none
  bool flat = false;              // co3, topk: the model's gradient as one tensor (co3: one segment, as a DDP bucket)
  double topk_ratio = 0.01;       // topk: fraction of each tensor's entries sent
  int powersgd_rank = 1;          // powersgd: rank R of each matrix's factors P, Q

  // A short name for file names and tables, e.g. "co3-fp4-gennorm-g0.7".
  std::string label() const;
};

struct TrainOptions {
  // Data and model.
  std::string model = "lenet";  // lenet | resnet8 | resnet18
  int users = 10;
  std::string split = "iid";  // iid | dirichlet
  double alpha = 0.5;         // Dirichlet concentration for split == dirichlet
  int batch = 64;             // samples per user per round
  double lr = 0.05;
  double epochs = 8;        // an epoch = the training set seen once across all users
  int64_t rounds = 0;       // > 0 overrides epochs
  int64_t train_limit = 0;  // > 0: only the first N training images (tests)
  int64_t test_limit = 0;   // > 0: only the first N test images (tests)
  uint64_t seed = 0;
  int threads = 1;             // torch and codec threads
  std::string device = "cpu";  // cpu | cuda

  MethodSpec method;

  // Execution.
  std::string mode = "sim";  // sim | dist
  bool spawn = false;        // dist: fork one process per rank and wait for them
  int rank = -1;             // dist: 0 = server, 1..users = users
  int world_size = 0;        // dist: users + 1
  std::string master_addr = "127.0.0.1";
  int master_port = 0;  // dist: 0 with --spawn picks a free port
  int timeout_s = 600;  // dist: collective and --spawn timeout

  // Output.
  std::string out_dir;       // CSV directory; empty: no CSV
  std::string name;          // run name; empty: method label + seed
  std::string summary;       // Markdown file a summary row is appended to
  std::string save_params;   // raw float32 parameters after training
  int code_stats_every = 0;  // > 0: code-source bits on user 0's gradient every K rounds
  std::string packet_log;    // sim: a CSV of every packet's round, user, bytes, bits per entry
  bool progress = true;      // a progress line when stderr is a terminal
  bool print_name = false;   // print run_name() and exit (scripts/train_grid.sh resumes with it)

  std::string run_name() const;
};

// Parses argv (without argv[0]); throws co3::Error(invalid_argument) naming the bad flag/value.
// Returns false when --help was given (the usage text is then in *help).
bool parse_args(const std::vector<std::string>& args, TrainOptions* opts, std::string* help);

// The launcher's own command line turned into one rank's (used by --spawn): the execution
// flags are replaced, everything else is passed on unchanged.
std::vector<std::string> dist_rank_args(const std::vector<std::string>& args, int rank,
                                        int world_size, int port);

}  // namespace co3::train
