// CPU codec throughput and compression on real gradients (or synthetic GenNorm data):
// medians of repeated runs, GB/s of float32 input (encode) and output (decode), bits per entry
// against the entropy of the quantized entries. Prints a table and, with --json FILE, JSON.
//
//   co3_bench_cpu [--data FILE.f32|.npy|.pt] [--entries N] [--repeats R] [--threads T] [--json FILE]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "co3/codec.h"
#include "co3/dtype.h"
#include "co3/error.h"
#include "io/readers.h"

namespace {

using Clock = std::chrono::steady_clock;

template <class F>
double median_seconds(int repeats, F fn) {
  std::vector<double> t;
  fn();  // warm-up: page faults and first-touch allocation stay out of the numbers
  for (int r = 0; r < repeats; ++r) {
    const auto a = Clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(Clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = "../shared/data/resnet18_step120.f32", json;
  size_t entries = SIZE_MAX;
  int repeats = 5, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--data") data = v;
    else if (k == "--entries") entries = std::stoull(v);
    else if (k == "--repeats") repeats = std::stoi(v);
    else if (k == "--threads") threads = std::stoi(v);
    else if (k == "--json") json = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  std::vector<float> x;
  std::string source = data;
  try {
    const co3::io::LoadedTensor t = co3::io::load_tensor_file(data);
    x.resize(std::min<uint64_t>(entries, t.numel));  // float32 whatever the file's dtype
    for (size_t i = 0; i < x.size(); ++i) x[i] = co3::load_as_float(t.bytes.data(), t.dtype, i);
  } catch (const co3::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
  }
  if (x.empty()) {
    source = "synthetic GenNorm(beta=0.3)";
    std::mt19937_64 rng(0);
    std::gamma_distribution<double> g(1 / 0.3, 1.0);
    x.resize(std::min<size_t>(entries, 3500000));
    for (auto& v : x) v = static_cast<float>(1e-4 * std::pow(g(rng), 1 / 0.3) * ((rng() & 1) ? 1 : -1));
  }
  std::printf("co3 CPU benchmark: %s, %zu entries, threads %d (0: all cores), median of %d\n", source.c_str(),
              x.size(), threads, repeats);
  std::printf("%-6s %-9s %10s %10s %10s %10s %10s %10s\n", "format", "code", "enc GB/s",
              "dec GB/s", "entropy", "bits/ent", "overhead", "ratio");
  std::string out = "{\"source\":\"" + source + "\",\"entries\":" + std::to_string(x.size()) + ",\"results\":[";
  const co3::TensorView view{x.data(), x.size(), co3::DType::f32};
  bool first = true;
  for (const char* fmt : {"fp4", "e4m3", "e5m2", "bf16"})
    for (co3::CodeSource code : {co3::CodeSource::histogram, co3::CodeSource::gennorm}) {
      co3::CodecConfig cfg;
      cfg.format = co3::parse_format(fmt);
      cfg.code = code;
      cfg.threads = threads;
      co3::EncodeReport rep;
      std::vector<uint8_t> pkt;
      const double te = median_seconds(repeats, [&] { pkt = co3::encode(view, cfg, &rep); });
      std::vector<float> y(x.size());
      const double td = median_seconds(repeats, [&] {
        co3::decode_into(pkt.data(), pkt.size(), {y.data()}, true, threads);
      });
      const double gb = 4.0 * x.size() / 1e9;
      const double bits = 8.0 * pkt.size() / x.size();
      const double h = rep.segments[0].entropy_bits;
      std::printf("%-6s %-9s %10.3f %10.3f %10.4f %10.4f %9.2f%% %10.2f\n", fmt,
                  co3::to_string(code), gb / te, gb / td, h, bits, 100 * (bits / h - 1),
                  32.0 / bits);
      char buf[512];
      std::snprintf(buf, sizeof buf,
                    "%s{\"format\":\"%s\",\"code\":\"%s\",\"encode_s\":%.6g,\"decode_s\":%.6g,"
                    "\"encode_GBps\":%.6g,\"decode_GBps\":%.6g,\"entropy_bits\":%.6g,"
                    "\"bits_per_entry\":%.6g,\"packet_bytes\":%zu}",
                    first ? "" : ",", fmt, co3::to_string(code), te, td, gb / te, gb / td, h, bits,
                    pkt.size());
      out += buf;
      first = false;
    }
  out += "]}\n";
  if (!json.empty()) {
    FILE* f = std::fopen(json.c_str(), "w");
    if (!f || std::fputs(out.c_str(), f) < 0) {
      std::fprintf(stderr, "cannot write %s\n", json.c_str());
      return 1;
    }
    std::fclose(f);
  }
  return 0;
}
