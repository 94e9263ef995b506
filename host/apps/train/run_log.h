// The measurements of one run as it goes: per round the packet sizes and times, per evaluation
// (each epoch's end and the run's) a CSV row; a progress line on a terminal; the summary row.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "train/options.h"

namespace co3::train {

struct RoundRecord {
  double loss = 0;                     // mean of the users' mini-batch losses
  std::vector<uint64_t> packet_bytes;  // per user, the real packet sizes
  double encode_s = 0, decode_s = 0;   // summed over users
};

struct EvalRecord {
  int64_t round = 0;  // rounds done
  double epoch = 0;
  double train_loss = 0;              // mean over the rounds since the previous evaluation
  double test_accuracy = 0;           // in [0, 1]
  double bits_per_entry = 0;          // over the rounds since the previous evaluation
  double encode_s = 0, decode_s = 0;  // summed over those rounds
};

struct RunResult {
  std::vector<RoundRecord> rounds;
  std::vector<EvalRecord> evals;
  int64_t entries = 0;  // parameters per gradient
  double final_accuracy() const { return evals.empty() ? 0 : evals.back().test_accuracy; }
  double bits_per_entry()
      const;  // every packet of the run: Σ bytes · 8 / (users · rounds · entries)
};

class RunLog {
 public:
  RunLog(const TrainOptions& opts, int64_t entries, int64_t rounds, int64_t rounds_per_epoch);
  ~RunLog();
  void add_round(RoundRecord r);
  void add_eval(double test_accuracy);  // evaluates the rounds since the last call
  void finish();                        // final newline, summary row
  const RunResult& result() const { return result_; }

 private:
  const TrainOptions& opts_;
  int64_t total_rounds_, rounds_per_epoch_;
  size_t since_ = 0;  // first round not yet in an EvalRecord
  RunResult result_;
  std::FILE* csv_ = nullptr;
  bool tty_ = false;
};

// mkdir -p with POSIX calls (no std::filesystem next to libtorch); throws Error(io).
void make_dirs(const std::string& path);

// "| run | … |" header and row of the Markdown summary.
std::string summary_header();
std::string summary_row(const TrainOptions& opts, const RunResult& r);

}  // namespace co3::train
