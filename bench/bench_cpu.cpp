// CPU codec throughput and compression on real gradients (or synthetic GenNorm data) at the
// sizes a training loop hands over (issue 25): the data file tiled (or cut) to each size asked
// for, 1.5M, 6.25M (PyTorch's 25 MB DDP bucket) and 32M entries (128 MB) by default. For each
// size and thread count, every format with the histogram and GenNorm codes and libzstd levels 1
// and 3 (when the bench was built with libzstd) are timed in alternating rounds: each round
// encodes with every row in turn, then decodes with every row in turn, so that a change of load
// during the run reaches every row alike; medians of the rounds. Every row writes into memory
// allocated once (co3::encode_into a buffer of max_packet_bytes, zstd into a frame of
// ZSTD_compressBound; decoders into one output), as a training loop that keeps its buffers does.
// Prints GB/s of float32 input (encode) and output (decode), each against zstd -1 of the same
// round, bits per entry against the entropy of the quantized entries, and a summary of each
// format's speed at every size against its speed at the first; the small-model case (a LeNet-5,
// 10 tensors, 61,706 entries, one e5m2 packet) against its entries' streaming cost. --json FILE
// writes it all as JSON.
//
// Wall-clock GB/s is what a caller sees; "cpu" GB/s divides by the process's CPU time instead,
// which stays meaningful when other processes share the cores (it counts every worker thread).
//
//   co3_bench_cpu [--data FILE.f32|.npy|.pt] [--entries N[,N...]] [--repeats R]
//                 [--threads T,...] [--json FILE]   (--threads 0 = all cores; default 1,0)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_timing.h"
#include "co3/codec.h"
#include "co3/dtype.h"
#include "co3/error.h"
#include "codec/cpu_features.h"
#include "io/readers.h"
#include "small_model.h"
#include "zstd_rows.h"

namespace {

using co3::bench::Timing;
using co3::bench::median_timing;
using co3::bench::process_cpu_seconds;

struct Options {
  std::string data = "../shared/data/resnet18_step120.f32", json;
  std::vector<uint64_t> entries = {1500000, 6250000, 32000000};
  int repeats = 7;
  std::vector<int> threads = {1, 0};
};

// The data file as float32 (whatever its dtype), or synthetic GenNorm data when it cannot be read.
std::vector<float> load_base(const Options& o, std::string* source) {
  std::vector<float> x;
  *source = o.data;
  try {
    const co3::io::LoadedTensor t = co3::io::load_tensor_file(o.data);
    x.resize(t.numel);
    for (size_t i = 0; i < x.size(); ++i) x[i] = co3::load_as_float(t.bytes.data(), t.dtype, i);
  } catch (const co3::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
  }
  if (x.empty()) {
    *source = "synthetic GenNorm(beta=0.3)";
    std::mt19937_64 rng(0);
    std::gamma_distribution<double> g(1 / 0.3, 1.0);
    x.resize(3500000);
    for (auto& v : x) v = static_cast<float>(1e-4 * std::pow(g(rng), 1 / 0.3) * ((rng() & 1) ? 1 : -1));
  }
  return x;
}

// The base repeated (or cut) to n entries.
std::vector<float> tiled(const std::vector<float>& base, uint64_t n) {
  std::vector<float> x(n);
  for (uint64_t i = 0; i < n; i += base.size())
    std::copy_n(base.begin(), std::min<uint64_t>(base.size(), n - i), x.begin() + i);
  return x;
}

// Samples of one row (wall and CPU seconds), medians at the end.
struct Samples {
  std::vector<double> wall, cpu;
  template <class F>
  void time(F&& fn) {
    const auto a = std::chrono::steady_clock::now();
    const double c = process_cpu_seconds();
    fn();
    cpu.push_back(process_cpu_seconds() - c);
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  Timing median() const {
    auto m = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    return {m(wall), m(cpu)};
  }
};

struct Row {
  std::string format, code;
  std::function<void()> encode, decode;
  double entropy = 0, bits = 0;
  size_t bytes = 0;
  Samples enc, dec;
};

struct Table {
  uint64_t entries;
  int threads;
  std::vector<Row> rows;
};

void print_table(const Table& t, double gb) {
  std::printf("\n%llu entries, threads %d%s\n", static_cast<unsigned long long>(t.entries), t.threads,
              t.threads == 0 ? " (all cores)" : "");
  std::printf("%-6s %-9s %9s %9s %8s %9s %9s %8s %9s %9s %9s %8s\n", "format", "code", "enc GB/s",
              "enc cpu", "enc/zstd", "dec GB/s", "dec cpu", "dec/zstd", "entropy", "bits/ent",
              "overhead", "ratio");
  const Row* z1 = nullptr;
  for (const Row& r : t.rows)
    if (r.format == "zstd-1") z1 = &r;
  for (const Row& r : t.rows) {
    const Timing e = r.enc.median(), d = r.dec.median();
    char entropy[16] = "-", overhead[16] = "-", ez[16] = "-", dz[16] = "-";
    if (r.entropy > 0) {
      std::snprintf(entropy, sizeof entropy, "%.4f", r.entropy);
      std::snprintf(overhead, sizeof overhead, "%.2f%%", 100 * (r.bits / r.entropy - 1));
    }
    if (z1) {
      std::snprintf(ez, sizeof ez, "%.2fx", z1->enc.median().wall / e.wall);
      std::snprintf(dz, sizeof dz, "%.2fx", z1->dec.median().wall / d.wall);
    }
    std::printf("%-6s %-9s %9.3f %9.3f %8s %9.3f %9.3f %8s %9s %9.4f %9s %8.2f\n", r.format.c_str(),
                r.code.c_str(), gb / e.wall, gb / e.cpu, ez, gb / d.wall, gb / d.cpu, dz, entropy,
                r.bits, overhead, 32.0 / r.bits);
  }
}

std::string json_row(const Table& t, const Row& r, double gb) {
  const Timing e = r.enc.median(), d = r.dec.median();
  char buf[768];
  std::snprintf(buf, sizeof buf,
                "{\"entries\":%llu,\"threads\":%d,\"format\":\"%s\",\"code\":\"%s\",\"encode_s\":%.6g,"
                "\"decode_s\":%.6g,\"encode_GBps\":%.6g,\"decode_GBps\":%.6g,\"encode_cpu_GBps\":%.6g,"
                "\"decode_cpu_GBps\":%.6g,\"entropy_bits\":%.6g,\"bits_per_entry\":%.6g,"
                "\"packet_bytes\":%zu}",
                static_cast<unsigned long long>(t.entries), t.threads, r.format.c_str(), r.code.c_str(),
                e.wall, d.wall, gb / e.wall, gb / d.wall, gb / e.cpu, gb / d.cpu, r.entropy, r.bits,
                r.bytes);
  return buf;
}

// Buffers of one co3 row, allocated once.
struct Co3Buffers {
  std::vector<uint8_t> packet;
  size_t size = 0;
};

Table run_table(const std::vector<float>& x, const Options& o, int threads, std::vector<float>& y) {
  Table t{x.size(), threads, {}};
  const co3::TensorView view{x.data(), x.size(), co3::DType::f32};
  const std::vector<co3::EncodeInput> in = {co3::EncodeInput(view)};
  std::vector<std::unique_ptr<Co3Buffers>> buffers;
  for (const char* fmt : {"fp4", "e4m3", "e5m2", "bf16"})
    for (co3::CodeSource code : {co3::CodeSource::histogram, co3::CodeSource::gennorm}) {
      co3::CodecConfig cfg;
      cfg.format = co3::parse_format(fmt);
      cfg.code = code;
      cfg.threads = threads;
      buffers.push_back(std::make_unique<Co3Buffers>());
      Co3Buffers* b = buffers.back().get();
      b->packet.resize(co3::max_packet_bytes(in, cfg));
      Row r;
      r.format = fmt;
      r.code = co3::to_string(code);
      // Timed without a report (a report adds its NMSE sums); the report comes from one call.
      r.encode = [b, in, cfg] { b->size = co3::encode_into(in, cfg, b->packet.data(), b->packet.size()); };
      r.decode = [b, &y, threads] { co3::decode_into(b->packet.data(), b->size, {y.data()}, true, threads); };
      co3::EncodeReport rep;
      b->size = co3::encode_into(in, cfg, b->packet.data(), b->packet.size(), &rep);
      r.entropy = rep.segments[0].entropy_bits;
      r.bits = 8.0 * b->size / x.size();
      r.bytes = b->size;
      t.rows.push_back(std::move(r));
    }
  std::vector<std::unique_ptr<co3::bench::ZstdRunner>> zstd;
  if (co3::bench::ZstdRunner::available()) {
    for (int level : {1, 3}) {
      zstd.push_back(std::make_unique<co3::bench::ZstdRunner>(x, level, threads));
      co3::bench::ZstdRunner* z = zstd.back().get();
      Row r;
      r.format = "zstd-" + std::to_string(level);
      r.code = "lossless";
      r.encode = [z] { z->encode(); };
      r.decode = [z] { z->decode(); };
      z->encode();
      z->decode();
      if (!z->round_trip()) {
        std::fprintf(stderr, "zstd: round trip failed\n");
        std::exit(1);
      }
      r.bits = 8.0 * z->bytes() / x.size();
      r.bytes = z->bytes();
      t.rows.push_back(std::move(r));
    }
  }
  // One round untimed (first touch of every buffer), then the timed rounds.
  for (int round = 0; round <= o.repeats; ++round) {
    for (Row& r : t.rows) round ? r.enc.time(r.encode) : r.encode();
    for (Row& r : t.rows) round ? r.dec.time(r.decode) : r.decode();
  }
  return t;
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

// Each format's histogram-code speed at every size against its speed at the first size.
void print_summary(const std::vector<Table>& tables, int threads) {
  std::vector<const Table*> ts;
  for (const Table& t : tables)
    if (t.threads == threads) ts.push_back(&t);
  if (ts.size() < 2) return;
  std::printf("\nthreads %d: GB/s (share of the first size's), histogram code\n%-7s", threads, "format");
  for (const Table* t : ts) std::printf(" %26llu", static_cast<unsigned long long>(t->entries));
  std::printf("\n");
  for (size_t i = 0; i < ts[0]->rows.size(); ++i) {
    const Row& r0 = ts[0]->rows[i];
    if (r0.code == "gennorm") continue;
    std::printf("%-7s", r0.format.c_str());
    const double gb0 = 4.0 * ts[0]->entries / 1e9;
    const double e0 = gb0 / r0.enc.median().wall, d0 = gb0 / r0.dec.median().wall;
    for (const Table* t : ts) {
      const Row& r = t->rows[i];
      const double gb = 4.0 * t->entries / 1e9;
      const double e = gb / r.enc.median().wall, d = gb / r.dec.median().wall;
      std::printf("   %5.2f (%3.0f%%) / %5.2f (%3.0f%%)", e, 100 * e / e0, d, 100 * d / d0);
    }
    std::printf("\n");
  }
}

std::vector<uint64_t> parse_list(const std::string& v) {
  std::vector<uint64_t> out;
  std::stringstream ss(v);
  for (std::string t; std::getline(ss, t, ',');) out.push_back(std::stoull(t));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--help" || k == "-h") {
      std::printf("co3_bench_cpu [--data FILE.f32|.npy|.pt] [--entries N[,N...]] [--repeats R]\n"
                  "              [--threads T,...] [--json FILE]\n"
                  "defaults: --data %s --entries 1500000,6250000,32000000 --repeats 7 --threads 1,0\n",
                  o.data.c_str());
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value (--help)\n", k.c_str());
      return 2;
    }
    const std::string v = argv[i + 1];
    try {
      if (k == "--data") o.data = v;
      else if (k == "--entries") o.entries = parse_list(v);
      else if (k == "--repeats") o.repeats = std::stoi(v);
      else if (k == "--json") o.json = v;
      else if (k == "--threads") {
        o.threads.clear();
        for (uint64_t t : parse_list(v)) o.threads.push_back(static_cast<int>(t));
      } else {
        std::fprintf(stderr, "unknown option %s (--help)\n", k.c_str());
        return 2;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "%s: cannot read %s\n", k.c_str(), v.c_str());
      return 2;
    }
  }
  if (o.entries.empty() || o.repeats < 1 || o.threads.empty() ||
      std::find(o.entries.begin(), o.entries.end(), uint64_t{0}) != o.entries.end()) {
    std::fprintf(stderr, "--entries, --repeats and --threads need positive values\n");
    return 2;
  }
  std::string source;
  const std::vector<float> base = load_base(o, &source);
  const char* isa = co3::detail::cpu_has_avx512() ? "AVX-512" : co3::detail::cpu_has_avx2() ? "AVX2" : "baseline";
  std::printf("co3 CPU benchmark: %s (%zu entries) tiled to each size, %u hardware threads, %s loops, "
              "alternating rounds, median of %d\n",
              source.c_str(), base.size(), std::thread::hardware_concurrency(), isa, o.repeats);
  if (!co3::bench::ZstdRunner::available())
    std::printf("zstd rows absent: the bench was built without libzstd (apt install libzstd-dev)\n");
  std::vector<Table> tables;
  std::vector<std::string> small;
  for (uint64_t n : o.entries) {
    const std::vector<float> x = tiled(base, n);
    std::vector<float> y(n);
    for (int threads : o.threads) {
      tables.push_back(run_table(x, o, threads, y));
      print_table(tables.back(), 4.0 * n / 1e9);
      if (n == o.entries.front() && x.size() >= co3::bench::lenet_entries() * 2)
        for (const Row& r : tables.back().rows)
          if (r.format == "e5m2" && r.code == "histogram")
            small.push_back(small_model(x, o, threads, r.enc.median()));
    }
    co3::release_scratch();  // the next size starts as a fresh process would
  }
  for (int threads : o.threads) print_summary(tables, threads);
  if (!o.json.empty()) {
    std::string out = "{\"source\":\"" + source + "\",\"loops\":\"" + isa +
                      "\",\"hardware_threads\":" + std::to_string(std::thread::hardware_concurrency()) +
                      ",\"repeats\":" + std::to_string(o.repeats) + ",\"results\":[";
    bool first = true;
    for (const Table& t : tables)
      for (const Row& r : t.rows) {
        out += (first ? "" : ",") + json_row(t, r, 4.0 * t.entries / 1e9);
        first = false;
      }
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
