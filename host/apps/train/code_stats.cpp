#include "train/code_stats.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "co3/codec.h"
#include "co3/error.h"
#include "train/compressor.h"
#include "train/run_log.h"

namespace co3::train {
namespace {
// fp4 and e5m2 are the papers' formats; e3m2 and e4m3 lie between them on the frontier.
const char* kFormats[] = {"fp4", "e3m2", "e4m3", "e5m2"};
}  // namespace

CodeStatsLog::CodeStatsLog(const TrainOptions& opts)
    : every_(opts.code_stats_every), threads_(opts.threads) {
  if (every_ <= 0 || opts.out_dir.empty()) {
    every_ = 0;
    return;
  }
  make_dirs(opts.out_dir);
  const std::string path = opts.out_dir + "/" + opts.run_name() + ".codes.csv";
  csv_ = std::fopen(path.c_str(), "w");
  check(csv_ != nullptr, Errc::io, "cannot write " + path + ": " + std::strerror(errno));
  std::fprintf(csv_, "round,format,histogram,gennorm,normal,laplace,entropy\n");
}

CodeStatsLog::~CodeStatsLog() {
  if (csv_) std::fclose(csv_);
}

void CodeStatsLog::add(int64_t round, const std::vector<at::Tensor>& grads) {
  for (const char* name : kFormats) {
    CodecConfig c;
    c.format = parse_train_format(name);
    c.code = CodeSource::gennorm;
    c.threads = threads_;
    // Per tensor, as the packet codes them; weighted by size into one bits-per-entry figure.
    double bits[4] = {}, entropy = 0, n = 0;
    for (const at::Tensor& g : grads) {
      TensorStats s =
          stats(TensorView{g.data_ptr<float>(), static_cast<uint64_t>(g.numel()), DType::f32}, c);
      const double k = static_cast<double>(g.numel());
      for (int i = 0; i < 4; ++i) bits[i] += s.bits_per_entry[i] * k;
      entropy += s.entropy_bits * k;
      n += k;
    }
    std::fprintf(csv_, "%lld,%s,%.4f,%.4f,%.4f,%.4f,%.4f\n", static_cast<long long>(round), name,
                 bits[0] / n, bits[1] / n, bits[2] / n, bits[3] / n, entropy / n);
  }
  std::fflush(csv_);
}

}  // namespace co3::train
