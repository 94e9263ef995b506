#include "train/run_log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "co3/error.h"

namespace co3::train {

double RunResult::bits_per_entry() const {
  double bytes = 0, sent = 0;
  for (const RoundRecord& r : rounds)
    for (uint64_t b : r.packet_bytes) {
      bytes += static_cast<double>(b);
      sent += static_cast<double>(entries);
    }
  return sent > 0 ? 8 * bytes / sent : 0;
}

void make_dirs(const std::string& path) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos == path.size() || path[pos] == '/') {
      std::string prefix = path.substr(0, pos);
      if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
        fail(Errc::io, "cannot create directory " + prefix + ": " + std::strerror(errno));
    }
  }
}

RunLog::RunLog(const TrainOptions& opts, int64_t entries, int64_t rounds, int64_t rounds_per_epoch)
    : opts_(opts), total_rounds_(rounds), rounds_per_epoch_(rounds_per_epoch) {
  result_.entries = entries;
  tty_ = opts.progress && ::isatty(STDERR_FILENO);
  if (!opts.out_dir.empty()) {
    make_dirs(opts.out_dir);
    const std::string path = opts.out_dir + "/" + opts.run_name() + ".csv";
    csv_ = std::fopen(path.c_str(), "w");
    check(csv_ != nullptr, Errc::io, "cannot write " + path + ": " + std::strerror(errno));
    std::fprintf(csv_, "round,epoch,train_loss,test_accuracy,bits_per_entry,encode_s,decode_s\n");
  }
}

RunLog::~RunLog() {
  if (csv_) std::fclose(csv_);
}

void RunLog::add_round(RoundRecord r) {
  result_.rounds.push_back(std::move(r));
  if (tty_) {
    const size_t n = result_.rounds.size();
    std::fprintf(stderr, "\r%s  round %zu/%lld  epoch %.2f  loss %.4f   ", opts_.run_name().c_str(),
                 n, static_cast<long long>(total_rounds_),
                 static_cast<double>(n) / static_cast<double>(rounds_per_epoch_),
                 result_.rounds.back().loss);
    std::fflush(stderr);
  }
}

void RunLog::add_eval(double test_accuracy) {
  EvalRecord e;
  e.round = static_cast<int64_t>(result_.rounds.size());
  e.epoch = static_cast<double>(e.round) / static_cast<double>(rounds_per_epoch_);
  e.test_accuracy = test_accuracy;
  double bytes = 0, sent = 0;
  const size_t n = result_.rounds.size() - since_;
  for (size_t i = since_; i < result_.rounds.size(); ++i) {
    const RoundRecord& r = result_.rounds[i];
    e.train_loss += r.loss / static_cast<double>(n);
    e.encode_s += r.encode_s;
    e.decode_s += r.decode_s;
    for (uint64_t b : r.packet_bytes) {
      bytes += static_cast<double>(b);
      sent += static_cast<double>(result_.entries);
    }
  }
  e.bits_per_entry = sent > 0 ? 8 * bytes / sent : 0;
  since_ = result_.rounds.size();
  result_.evals.push_back(e);
  if (csv_) {
    std::fprintf(csv_, "%lld,%.4f,%.6f,%.6f,%.6f,%.6f,%.6f\n", static_cast<long long>(e.round),
                 e.epoch, e.train_loss, e.test_accuracy, e.bits_per_entry, e.encode_s, e.decode_s);
    std::fflush(csv_);
  }
  if (tty_)
    std::fprintf(stderr, "\r%s  epoch %.2f  loss %.4f  test acc %.2f%%  %.3f bits/entry\n",
                 opts_.run_name().c_str(), e.epoch, e.train_loss, 100 * e.test_accuracy,
                 e.bits_per_entry);
}

void RunLog::finish() {
  if (opts_.summary.empty()) return;
  struct stat st;
  const bool fresh = ::stat(opts_.summary.c_str(), &st) != 0 || st.st_size == 0;
  std::FILE* f = std::fopen(opts_.summary.c_str(), "a");
  check(f != nullptr, Errc::io, "cannot append to " + opts_.summary + ": " + std::strerror(errno));
  if (fresh) std::fprintf(f, "%s", summary_header().c_str());
  std::fprintf(f, "%s", summary_row(opts_, result_).c_str());
  std::fclose(f);
}

std::string summary_header() {
  return "| run | method | seed | rounds | final test acc % | bits/entry | encode ms/round | "
         "decode ms/round |\n"
         "|---|---|---:|---:|---:|---:|---:|---:|\n";
}

std::string summary_row(const TrainOptions& opts, const RunResult& r) {
  double enc = 0, dec = 0;
  for (const RoundRecord& x : r.rounds) {
    enc += x.encode_s;
    dec += x.decode_s;
  }
  const double n = r.rounds.empty() ? 1 : static_cast<double>(r.rounds.size());
  char buf[512];
  std::snprintf(buf, sizeof buf, "| %s | %s | %llu | %zu | %.2f | %.3f | %.2f | %.2f |\n",
                opts.run_name().c_str(), opts.method.label().c_str(),
                static_cast<unsigned long long>(opts.seed), r.rounds.size(),
                100 * r.final_accuracy(), r.bits_per_entry(), 1e3 * enc / n, 1e3 * dec / n);
  return buf;
}

}  // namespace co3::train
