// CPU codec throughput and compression on real gradients (or synthetic GenNorm data): medians of
// repeated runs, GB/s of float32 input (encode) and output (decode), bits per entry against the
// entropy of the quantized entries, on one core and on all cores; libzstd levels 1 and 3 on the
// same input as reference rows (when the bench was built with libzstd); and the small-model case
// (a LeNet-sized model, 10 tensors, 61,706 entries, one e5m2 packet) against its entries'
// streaming cost. Prints tables and, with --json FILE, JSON.
//
// Wall-clock GB/s is what a caller sees; "cpu" GB/s divides by the process's CPU time instead,
// which stays meaningful when other processes share the cores (it counts every worker thread).
//
//   co3_bench_cpu [--data FILE.f32|.npy|.pt] [--entries N] [--tile-mb MB] [--repeats R]
//                 [--threads T,...] [--json FILE]      (--threads 0 = all cores; default 1,0)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_timing.h"
#include "co3/codec.h"
#include "co3/dtype.h"
#include "co3/error.h"
#include "io/readers.h"
#include "small_model.h"
#include "zstd_rows.h"

namespace {

using co3::bench::Timing;
using co3::bench::median_timing;

struct Options {
  std::string data = "../shared/data/resnet18_step120.f32", json;
  size_t entries = SIZE_MAX;
  double tile_mb = 0;
  int repeats = 5;
  std::vector<int> threads = {1, 0};
};

std::vector<float> load_input(const Options& o, std::string* source) {
  std::vector<float> x;
  *source = o.data;
  try {
    const co3::io::LoadedTensor t = co3::io::load_tensor_file(o.data);
    x.resize(std::min<uint64_t>(o.entries, t.numel));  // float32 whatever the file's dtype
    for (size_t i = 0; i < x.size(); ++i) x[i] = co3::load_as_float(t.bytes.data(), t.dtype, i);
  } catch (const co3::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
  }
  if (x.empty()) {
    *source = "synthetic GenNorm(beta=0.3)";
    std::mt19937_64 rng(0);
    std::gamma_distribution<double> g(1 / 0.3, 1.0);
    x.resize(std::min<size_t>(o.entries, 3500000));
    for (auto& v : x) v = static_cast<float>(1e-4 * std::pow(g(rng), 1 / 0.3) * ((rng() & 1) ? 1 : -1));
  }
  if (o.tile_mb > 0) {  // the gradient repeated to the size asked for (issue 13's 128 MB runs)
    const size_t n = static_cast<size_t>(o.tile_mb * 1e6 / 4), base = x.size();
    x.resize(n);
    for (size_t i = base; i < n; ++i) x[i] = x[i % base];
    *source += " tiled to " + std::to_string(n) + " entries";
  }
  return x;
}

std::string json_row(int threads, const char* what, const char* code, const Timing& te,
                     const Timing& td, double gb, double h, double bits, size_t bytes) {
  char buf[640];
  std::snprintf(buf, sizeof buf,
                "{\"threads\":%d,\"format\":\"%s\",\"code\":\"%s\",\"encode_s\":%.6g,\"decode_s\":%.6g,"
                "\"encode_GBps\":%.6g,\"decode_GBps\":%.6g,\"encode_cpu_GBps\":%.6g,"
                "\"decode_cpu_GBps\":%.6g,\"entropy_bits\":%.6g,\"bits_per_entry\":%.6g,"
                "\"packet_bytes\":%zu}",
                threads, what, code, te.wall, td.wall, gb / te.wall, gb / td.wall, gb / te.cpu,
                gb / td.cpu, h, bits, bytes);
  return buf;
}

void print_row(const char* what, const char* code, const Timing& te, const Timing& td, double gb,
               double h, double bits) {
  char entropy[16] = "-", overhead[16] = "-";
  if (h > 0) {
    std::snprintf(entropy, sizeof entropy, "%.4f", h);
    std::snprintf(overhead, sizeof overhead, "%.2f%%", 100 * (bits / h - 1));
  }
  std::printf("%-6s %-9s %9.3f %9.3f %9.3f %9.3f %9s %9.4f %9s %8.2f\n", what, code, gb / te.wall,
              gb / te.cpu, gb / td.wall, gb / td.cpu, entropy, bits, overhead, 32.0 / bits);
}

// One table: every format on `threads` threads, then the zstd rows.
void run_table(const std::vector<float>& x, const Options& o, int threads, std::vector<std::string>* rows,
               std::vector<Timing>* e5m2_encode) {
  std::printf("\nthreads %d%s, median of %d\n", threads, threads == 0 ? " (all cores)" : "", o.repeats);
  std::printf("%-6s %-9s %9s %9s %9s %9s %9s %9s %9s %8s\n", "format", "code", "enc GB/s", "enc cpu",
              "dec GB/s", "dec cpu", "entropy", "bits/ent", "overhead", "ratio");
  const co3::TensorView view{x.data(), x.size(), co3::DType::f32};
  const double gb = 4.0 * x.size() / 1e9;
  for (const char* fmt : {"fp4", "e4m3", "e5m2", "bf16"})
    for (co3::CodeSource code : {co3::CodeSource::histogram, co3::CodeSource::gennorm}) {
      co3::CodecConfig cfg;
      cfg.format = co3::parse_format(fmt);
      cfg.code = code;
      cfg.threads = threads;
      std::vector<uint8_t> pkt;
      // Timed without a report (a report adds its NMSE sums); the report comes from one more call.
      const Timing te = median_timing(o.repeats, [&] { pkt = co3::encode(view, cfg); });
      co3::EncodeReport rep;
      co3::encode(view, cfg, &rep);
      std::vector<float> y(x.size());
      const Timing td = median_timing(o.repeats, [&] {
        co3::decode_into(pkt.data(), pkt.size(), {y.data()}, true, threads);
      });
      const double bits = 8.0 * pkt.size() / x.size();
      const double h = rep.segments[0].entropy_bits;
      print_row(fmt, co3::to_string(code), te, td, gb, h, bits);
      rows->push_back(json_row(threads, fmt, co3::to_string(code), te, td, gb, h, bits, pkt.size()));
      if (std::string(fmt) == "e5m2" && code == co3::CodeSource::histogram) e5m2_encode->push_back(te);
    }
  for (int level : {1, 3}) {
    co3::bench::ZstdResult z;
    if (!co3::bench::zstd_row(x, level, o.repeats, threads, &z)) {
      if (level == 1) std::printf("zstd rows absent: the bench was built without libzstd (apt install libzstd-dev)\n");
      break;
    }
    const std::string name = "zstd-" + std::to_string(level);
    const double bits = 8.0 * z.bytes / x.size();
    print_row(name.c_str(), "lossless", z.encode, z.decode, gb, 0, bits);
    rows->push_back(json_row(threads, name.c_str(), "lossless", z.encode, z.decode, gb, 0, bits, z.bytes));
  }
}

// The small-model case: a LeNet-5's 10 tensors (61,706 entries) cut from the input, one e5m2
// packet, GenNorm scale, histogram codes, against the time the same entries take at the large
// tensor's encode rate (its streaming cost).
std::string small_model(const std::vector<float>& x, const Options& o, int threads, const Timing& big) {
  const std::vector<co3::EncodeInput> in = co3::bench::lenet_inputs(x.data());
  const size_t at = co3::bench::lenet_entries();
  co3::CodecConfig cfg;
  cfg.format = co3::formats::e5m2;
  cfg.threads = threads;
  const Timing t = median_timing(std::max(o.repeats, 25), [&] { co3::encode(in, cfg); });
  const double share = static_cast<double>(at) / static_cast<double>(x.size());
  const double stream = big.wall * share, stream_cpu = big.cpu * share;
  std::printf("small model (10 tensors, %zu entries, e5m2, one packet), threads %d: encode %.3f ms, "
              "streaming cost %.3f ms, ratio %.2f; in CPU time %.3f ms, %.3f ms, ratio %.2f\n",
              at, threads, 1e3 * t.wall, 1e3 * stream, t.wall / stream, 1e3 * t.cpu, 1e3 * stream_cpu,
              t.cpu / stream_cpu);
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "{\"threads\":%d,\"entries\":%zu,\"encode_s\":%.6g,\"encode_cpu_s\":%.6g,"
                "\"streaming_s\":%.6g,\"streaming_cpu_s\":%.6g,\"ratio\":%.6g,\"ratio_cpu\":%.6g}",
                threads, at, t.wall, t.cpu, stream, stream_cpu, t.wall / stream, t.cpu / stream_cpu);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--data") o.data = v;
    else if (k == "--entries") o.entries = std::stoull(v);
    else if (k == "--tile-mb") o.tile_mb = std::stod(v);
    else if (k == "--repeats") o.repeats = std::stoi(v);
    else if (k == "--json") o.json = v;
    else if (k == "--threads") {
      o.threads.clear();
      std::stringstream ss(v);
      for (std::string t; std::getline(ss, t, ',');) o.threads.push_back(std::stoi(t));
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  std::string source;
  const std::vector<float> x = load_input(o, &source);
  std::printf("co3 CPU benchmark: %s, %zu entries, %u hardware threads, median of %d\n",
              source.c_str(), x.size(), std::thread::hardware_concurrency(), o.repeats);
  std::vector<std::string> rows, small;
  for (int t : o.threads) {
    std::vector<Timing> e5m2_s;
    run_table(x, o, t, &rows, &e5m2_s);
    if (x.size() >= co3::bench::lenet_entries() * 2 && !e5m2_s.empty()) small.push_back(small_model(x, o, t, e5m2_s[0]));
  }
  if (!o.json.empty()) {
    std::string out = "{\"source\":\"" + source + "\",\"entries\":" + std::to_string(x.size()) +
                      ",\"hardware_threads\":" + std::to_string(std::thread::hardware_concurrency()) +
                      ",\"results\":[";
    for (size_t i = 0; i < rows.size(); ++i) out += (i ? "," : "") + rows[i];
    out += "],\"small_model\":[";
    for (size_t i = 0; i < small.size(); ++i) out += (i ? "," : "") + small[i];
    out += "]}\n";
    FILE* f = std::fopen(o.json.c_str(), "w");
    if (!f || std::fputs(out.c_str(), f) < 0) {
      std::fprintf(stderr, "cannot write %s\n", o.json.c_str());
      return 1;
    }
    std::fclose(f);
  }
  return 0;
}
