// GPU bench: CUDA events, the median of repeated runs after warm-up, GB/s; a table on stdout
// and, with --json FILE, JSON. Where no CUDA device exists it says so and exits 0.
//
// Inputs: float32 gradients of 1M to 256M entries (M = 2^20) tiled from a real gradient
// (resnet18_step120.f32; synthetic GenNorm data when it is absent), and a whole ResNet-50's
// gradient as one batch of 161 tensors (bench/resnet50_layers.h).
//
// Rows (each a `BenchResult run_*(const GpuInput&, cudaStream_t, const TimingOptions&)`, listed
// in run_cases):
//   copy d2d            the roofline: device-to-device copy of the tensor, GB/s counting bytes
//                       read plus written
//   copy d2d/tensor     the batch only: one copy per tensor (what per-tensor launches cost)
//   copy h2d pinned     pinned host to device, GB/s of the tensor's bytes
//   copy d2h pinned     device to pinned host, likewise
//   encode / decode     the GPU codec on every input, per format and code source (kCodecCases):
//                       encode counts float32 bytes in, decode float32 bytes out; bits/entry is
//                       the packet's, against the entropy of the quantized entries
// Codec rows feed the transfer model (bench/transfer_model.h): encode + move the packet
// + decode against moving the raw gradient over each link, and the break-even link rate.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "co3/codec.h"
#include "co3/dtype.h"
#include "co3/error.h"
#include "co3/kernels/decode.h"
#include "co3/kernels/encode.h"
#include "gpu_timing.h"
#include "io/json.h"
#include "io/readers.h"
#include "resnet50_layers.h"
#include "transfer_model.h"

#ifndef CO3_SOURCE_DIR
#error "CO3_SOURCE_DIR must be defined by the build (the checkout, to find ../shared/data)"
#endif

namespace co3::bench {
namespace {

using io::json_string;

const char kUsage[] =
    "usage: co3_bench_gpu [--sizes 1M,4M,16M,64M,256M] [--no-batch] [--data FILE.f32|.npy]\n"
    "                     [--warmup 3] [--repeats 25] [--json FILE]\n"
    "  --sizes: float32 entries per input, M = 2^20 (a plain number is entries)\n"
    "  --no-batch: leave out the ResNet-50 batch (161 tensors, 25,557,032 entries)\n"
    "  --data: the gradient the inputs are tiled from (default: resnet18_step120.f32 in\n"
    "          $CO3_DATA_DIR, shared/data or ../shared/data; synthetic GenNorm if none)\n";

// One input, resident on the device and in pinned host memory: `entries` float32 values, the
// tensors back to back.
struct GpuInput {
  std::string name;
  std::vector<uint64_t> tensor_entries;
  uint64_t entries = 0;
  float* device = nullptr;
  float* pinned = nullptr;
};

struct Source {
  std::string description;
  std::vector<float> values;
};

Source load_source(const std::string& explicit_path) {
  std::vector<std::string> candidates;
  if (!explicit_path.empty()) {
    candidates.push_back(explicit_path);
  } else {
    if (const char* d = std::getenv("CO3_DATA_DIR")) {
      candidates.push_back(std::string(d) + "/resnet18_step120.f32");
    }
    candidates.push_back(CO3_SOURCE_DIR "/shared/data/resnet18_step120.f32");
    candidates.push_back(CO3_SOURCE_DIR "/../shared/data/resnet18_step120.f32");
  }
  for (const std::string& path : candidates) {
    try {
      const io::LoadedTensor t = io::load_tensor_file(path);
      Source s{path, std::vector<float>(t.numel)};
      for (uint64_t i = 0; i < t.numel; ++i)
        s.values[i] = load_as_float(t.bytes.data(), t.dtype, i);
      if (!s.values.empty()) return s;
    } catch (const Error&) {
      if (!explicit_path.empty()) throw;  // a file asked for must be read
    }
  }
  // GenNorm(beta, alpha) by |x/alpha|^beta ~ Gamma(1/beta): the shape of real gradients.
  const double beta = 0.3, alpha = 1e-4;
  Source s{"synthetic GenNorm(beta=0.3, alpha=1e-4)", std::vector<float>(3500000)};
  std::mt19937_64 rng(0);
  std::gamma_distribution<double> g(1 / beta, 1.0);
  for (float& v : s.values) {
    v = static_cast<float>(alpha * std::pow(g(rng), 1 / beta) * ((rng() & 1) ? 1 : -1));
  }
  return s;
}

GpuInput make_input(const std::string& name, std::vector<uint64_t> tensor_entries,
                    const Source& src) {
  GpuInput in;
  in.name = name;
  in.tensor_entries = std::move(tensor_entries);
  for (uint64_t n : in.tensor_entries) in.entries += n;
  CO3_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&in.pinned), in.entries * 4));
  CO3_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&in.device), in.entries * 4));
  for (uint64_t done = 0; done < in.entries;) {  // tile the source
    const uint64_t n = std::min<uint64_t>(src.values.size(), in.entries - done);
    std::memcpy(in.pinned + done, src.values.data(), n * 4);
    done += n;
  }
  CO3_CUDA_CHECK(cudaMemcpy(in.device, in.pinned, in.entries * 4, cudaMemcpyHostToDevice));
  return in;
}

void free_input(GpuInput& in) {
  CO3_CUDA_CHECK(cudaFree(in.device));
  CO3_CUDA_CHECK(cudaFreeHost(in.pinned));
  in.device = in.pinned = nullptr;
}

// Device buffers of `bytes` each, enough of them that cycling through `per_run` of them at a
// time touches at least four times the L2 cache: repeated runs then stream from memory.
struct Rotation {
  std::vector<void*> buffers;
  int sets = 1;

  Rotation(uint64_t bytes, int per_run) {
    int l2 = 0;
    CO3_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
    const double set_bytes = static_cast<double>(bytes) * per_run;
    sets = std::max(1, std::min(64, static_cast<int>(std::ceil(4.0 * l2 / set_bytes))));
    buffers.resize(static_cast<size_t>(sets) * per_run);
    for (void*& b : buffers) CO3_CUDA_CHECK(cudaMalloc(&b, std::max<uint64_t>(bytes, 1)));
  }
  ~Rotation() {
    for (void* b : buffers) cudaFree(b);
  }
  Rotation(const Rotation&) = delete;
  Rotation& operator=(const Rotation&) = delete;
};

BenchResult copy_row(const char* stage, const GpuInput& in, double counted_bytes) {
  BenchResult r;
  r.stage = stage;
  r.input = in.name;
  r.entries = in.entries;
  r.tensors = in.tensor_entries.size();
  r.counted_bytes = counted_bytes;
  return r;
}

// The roofline: one copy of the whole tensor (or batch, stored back to back).
BenchResult run_copy_d2d(const GpuInput& in, cudaStream_t stream, const TimingOptions& t) {
  const uint64_t bytes = in.entries * 4;
  Rotation rot(bytes, 2);  // source and destination of each run
  for (int s = 0; s < rot.sets; ++s) {
    // On the timed stream: a legacy-stream device-to-device copy does not wait for the host,
    // and a non-blocking stream does not wait for it.
    CO3_CUDA_CHECK(
        cudaMemcpyAsync(rot.buffers[2 * s], in.device, bytes, cudaMemcpyDeviceToDevice, stream));
  }
  BenchResult r = copy_row("copy d2d", in, 2.0 * static_cast<double>(bytes));
  r.timing = time_on_stream(stream, t, [&](int run) {
    const int s = run % rot.sets;
    CO3_CUDA_CHECK(cudaMemcpyAsync(rot.buffers[2 * s + 1], rot.buffers[2 * s], bytes,
                                   cudaMemcpyDeviceToDevice, stream));
  });
  return r;
}

// A batch copied tensor by tensor: the same bytes as the roofline in many small copies.
BenchResult run_copy_d2d_per_tensor(const GpuInput& in, cudaStream_t stream,
                                    const TimingOptions& t) {
  const uint64_t bytes = in.entries * 4;
  Rotation rot(bytes, 2);
  for (int s = 0; s < rot.sets; ++s) {
    // On the timed stream: a legacy-stream device-to-device copy does not wait for the host,
    // and a non-blocking stream does not wait for it.
    CO3_CUDA_CHECK(
        cudaMemcpyAsync(rot.buffers[2 * s], in.device, bytes, cudaMemcpyDeviceToDevice, stream));
  }
  BenchResult r = copy_row("copy d2d/tensor", in, 2.0 * static_cast<double>(bytes));
  r.timing = time_on_stream(stream, t, [&](int run) {
    const int s = run % rot.sets;
    const auto* src = static_cast<const float*>(rot.buffers[2 * s]);
    auto* dst = static_cast<float*>(rot.buffers[2 * s + 1]);
    uint64_t offset = 0;
    for (uint64_t n : in.tensor_entries) {
      CO3_CUDA_CHECK(
          cudaMemcpyAsync(dst + offset, src + offset, n * 4, cudaMemcpyDeviceToDevice, stream));
      offset += n;
    }
  });
  return r;
}

BenchResult run_copy_h2d(const GpuInput& in, cudaStream_t stream, const TimingOptions& t) {
  const uint64_t bytes = in.entries * 4;
  Rotation rot(bytes, 1);
  BenchResult r = copy_row("copy h2d pinned", in, static_cast<double>(bytes));
  r.timing = time_on_stream(stream, t, [&](int run) {
    CO3_CUDA_CHECK(cudaMemcpyAsync(rot.buffers[run % rot.sets], in.pinned, bytes,
                                   cudaMemcpyHostToDevice, stream));
  });
  return r;
}

BenchResult run_copy_d2h(const GpuInput& in, cudaStream_t stream, const TimingOptions& t) {
  const uint64_t bytes = in.entries * 4;
  BenchResult r = copy_row("copy d2h pinned", in, static_cast<double>(bytes));
  r.timing = time_on_stream(stream, t, [&](int) {
    CO3_CUDA_CHECK(cudaMemcpyAsync(in.pinned, in.device, bytes, cudaMemcpyDeviceToHost, stream));
  });
  return r;
}

// ---- Codec rows: the GPU encoder and decoder (co3/kernels/encode.h, decode.h) ----

struct CodecCase {
  const char* name;  // "fp4 histogram γ0"
  FloatFormat format;
  CodeSource code;
  float gamma;
};

// fp4 with each code source and with error memory; the 8-bit formats and bf16 with the
// histogram code (the GenNorm scale everywhere, the codec's default).
const CodecCase kCodecCases[] = {
    {"fp4 hist", formats::fp4, CodeSource::histogram, 0.0f},
    {"fp4 gennorm", formats::fp4, CodeSource::gennorm, 0.0f},
    {"fp4 hist g0.7", formats::fp4, CodeSource::histogram, 0.7f},
    {"e4m3 hist", formats::e4m3, CodeSource::histogram, 0.0f},
    {"e5m2 hist", formats::e5m2, CodeSource::histogram, 0.0f},
    {"e5m2 hist g0.7", formats::e5m2, CodeSource::histogram, 0.7f},
    {"bf16 hist", formats::bf16, CodeSource::histogram, 0.0f},
};

CodecConfig codec_config(const CodecCase& c) {
  CodecConfig cfg;
  cfg.format = c.format;
  cfg.code = c.code;
  return cfg;
}

// Entropy of the quantized entries of the source gradient (the inputs tile it), from the CPU
// codec's report: what the packet's bits per entry are measured against.
double source_entropy(const Source& src, const CodecCase& c) {
  EncodeReport report;
  encode(TensorView{src.values.data(), src.values.size(), DType::f32}, codec_config(c), &report);
  return report.segments.at(0).entropy_bits;
}

// A packet the encode row made, kept for the decode row.
struct DevicePacket {
  uint8_t* data = nullptr;
  uint64_t capacity = 0;
  uint64_t* d_bytes = nullptr;  // its size, in device memory
  ~DevicePacket() {
    cudaFree(data);
    cudaFree(d_bytes);
  }
};

// Encode of every tensor of the input into one packet (error memory, when γ > 0, in a zeroed
// buffer that the runs keep updating, as a training loop does). GB/s counts the float32 input.
BenchResult run_encode(const GpuInput& in, cudaStream_t stream, const TimingOptions& t,
                       const CodecCase& c, double entropy, DevicePacket* packet) {
  float* memory = nullptr;
  if (c.gamma > 0) {
    CO3_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&memory), in.entries * 4));
    CO3_CUDA_CHECK(cudaMemsetAsync(memory, 0, in.entries * 4, stream));  // before the runs
  }
  std::vector<EncodeInput> inputs;
  uint64_t offset = 0;
  for (uint64_t n : in.tensor_entries) {
    inputs.emplace_back(TensorView{in.device + offset, n, DType::f32},
                        memory ? memory + offset : nullptr, c.gamma);
    offset += n;
  }
  const kernels::EncodePlan plan(inputs, codec_config(c));
  void* ws = nullptr;
  kernels::DeviceStatus* status = nullptr;
  CO3_CUDA_CHECK(cudaMalloc(&ws, std::max<size_t>(plan.workspace_bytes(), 1)));
  CO3_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&status), sizeof *status));
  packet->capacity = plan.max_packet_bytes();
  CO3_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&packet->data), packet->capacity));
  CO3_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&packet->d_bytes), 8));
  CO3_CUDA_CHECK(plan.upload(ws, stream));
  BenchResult r;
  r.stage = "encode";
  r.input = in.name;
  r.format = c.name;
  r.entries = in.entries;
  r.tensors = in.tensor_entries.size();
  r.counted_bytes = 4.0 * static_cast<double>(in.entries);
  r.entropy_bits = entropy;
  r.timing = time_on_stream(stream, t, [&](int) {
    CO3_CUDA_CHECK(plan.encode_async(ws, packet->data, packet->d_bytes, status, stream));
  });
  kernels::raise_status_sync(status, stream);
  CO3_CUDA_CHECK(cudaMemcpy(&r.packet_bytes, packet->d_bytes, 8, cudaMemcpyDeviceToHost));
  cudaFree(ws);
  cudaFree(status);
  cudaFree(memory);
  return r;
}

// Decode of that packet into float32 tensors. GB/s counts the float32 output.
BenchResult run_decode(const GpuInput& in, cudaStream_t stream, const TimingOptions& t,
                       const CodecCase& c, const DevicePacket& packet, uint64_t packet_bytes) {
  const kernels::DecodePlan plan({packet.capacity},
                                 {static_cast<uint32_t>(in.tensor_entries.size())});
  float* out = nullptr;
  void *ws = nullptr, *jobs = nullptr;
  kernels::DeviceStatus* status = nullptr;
  CO3_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&out), in.entries * 4));
  CO3_CUDA_CHECK(cudaMalloc(&ws, std::max<size_t>(plan.workspace_bytes(), 1)));
  CO3_CUDA_CHECK(cudaMalloc(&jobs, std::max<size_t>(plan.jobs_bytes(), 1)));
  CO3_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&status), sizeof *status));
  std::vector<kernels::DecodeOutput> outputs;
  uint64_t offset = 0;
  for (uint64_t n : in.tensor_entries) {
    outputs.push_back({out + offset, n, DType::f32, false});
    offset += n;
  }
  CO3_CUDA_CHECK(kernels::upload_jobs(plan, {{packet.data, packet.capacity, packet.d_bytes}},
                                      outputs, jobs, stream));
  BenchResult r;
  r.stage = "decode";
  r.input = in.name;
  r.format = c.name;
  r.entries = in.entries;
  r.tensors = in.tensor_entries.size();
  r.counted_bytes = 4.0 * static_cast<double>(in.entries);
  r.packet_bytes = packet_bytes;
  r.timing = time_on_stream(stream, t, [&](int) {
    CO3_CUDA_CHECK(kernels::decode(plan, jobs, ws, status, stream));
  });
  kernels::raise_status_sync(status, stream);
  cudaFree(out);
  cudaFree(ws);
  cudaFree(jobs);
  cudaFree(status);
  return r;
}

// Every row for one input, in print order.
std::vector<BenchResult> run_cases(const GpuInput& in, cudaStream_t stream,
                                   const TimingOptions& t, const std::vector<double>& entropy) {
  std::vector<BenchResult> rows;
  rows.push_back(run_copy_d2d(in, stream, t));
  if (in.tensor_entries.size() > 1) rows.push_back(run_copy_d2d_per_tensor(in, stream, t));
  rows.push_back(run_copy_h2d(in, stream, t));
  rows.push_back(run_copy_d2h(in, stream, t));
  for (size_t k = 0; k < std::size(kCodecCases); ++k) {
    DevicePacket packet;
    rows.push_back(run_encode(in, stream, t, kCodecCases[k], entropy[k], &packet));
    rows.push_back(run_decode(in, stream, t, kCodecCases[k], packet, rows.back().packet_bytes));
  }
  return rows;
}

// The transfer model's rows: one per (input, format) with both an encode and a decode row.
struct ModelRow {
  std::string input, format;
  uint64_t entries = 0;
  CodecCost cost;
};

std::vector<ModelRow> model_rows(const std::vector<BenchResult>& rows) {
  std::vector<ModelRow> out;
  for (const BenchResult& e : rows) {
    if (e.stage != "encode") continue;
    for (const BenchResult& d : rows) {
      if (d.stage != "decode" || d.input != e.input || d.format != e.format) continue;
      ModelRow m{e.input, e.format, e.entries, {}};
      m.cost.encode_seconds = e.timing.median_ms * 1e-3;
      m.cost.decode_seconds = d.timing.median_ms * 1e-3;
      m.cost.packet_bytes = e.packet_bytes;
      m.cost.raw_bytes = e.entries * 4;
      out.push_back(m);
    }
  }
  return out;
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";  // JSON has no infinity
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void print_header() {
  std::printf("%-16s %-9s %-16s %11s %7s %10s %10s %10s %9s %10s %8s\n", "stage", "input",
              "format", "entries", "tensors", "median ms", "min ms", "max ms", "GB/s", "bits/entry",
              "entropy");
}

// One row, flushed as soon as it is measured: a run cut short by a time limit keeps its rows.
void print_row(const BenchResult& r) {
  char bits[16] = "-", entropy[16] = "-";
  if (r.packet_bytes) {
    std::snprintf(bits, sizeof bits, "%.4f", 8.0 * r.packet_bytes / r.entries);
  }
  if (r.entropy_bits > 0) std::snprintf(entropy, sizeof entropy, "%.4f", r.entropy_bits);
  std::printf("%-16s %-9s %-16s %11llu %7llu %10.4f %10.4f %10.4f %9.1f %10s %8s\n",
              r.stage.c_str(), r.input.c_str(), r.format.empty() ? "-" : r.format.c_str(),
              static_cast<unsigned long long>(r.entries),
              static_cast<unsigned long long>(r.tensors), r.timing.median_ms, r.timing.min_ms,
              r.timing.max_ms, r.gb_per_s(), bits, entropy);
  std::fflush(stdout);
}

void print_model(const std::vector<ModelRow>& model) {
  std::printf(
      "\nAgainst uncompressed transfer (encode + packet over the link + decode, in "
      "sequence): speed-up over sending raw float32; break-even link rate in Gb/s\n");
  std::printf("%-9s %-16s %10s", "input", "format", "break-even");
  for (const Link& l : kLinks) std::printf(" %11s", l.name);
  std::printf("\n");
  for (const ModelRow& m : model) {
    std::printf("%-9s %-16s %10.1f", m.input.c_str(), m.format.c_str(),
                break_even_bytes_per_second(m.cost) * 8 / 1e9);
    for (const Link& l : kLinks) {
      std::printf(" %10.2fx", raw_seconds(m.cost, l.bytes_per_second) /
                                  compressed_seconds(m.cost, l.bytes_per_second));
    }
    std::printf("\n");
  }
}

std::string to_json(const cudaDeviceProp& prop, const Source& src, const TimingOptions& t,
                    const std::vector<BenchResult>& rows, const std::vector<ModelRow>& model) {
  std::string j = "{\"device\":" + json_string(prop.name) +
                  ",\"sms\":" + std::to_string(prop.multiProcessorCount) +
                  ",\"l2_bytes\":" + std::to_string(prop.l2CacheSize) +
                  ",\"source\":" + json_string(src.description) +
                  ",\"warmup\":" + std::to_string(t.warmup) +
                  ",\"repeats\":" + std::to_string(t.repeats) + ",\"results\":[";
  for (size_t i = 0; i < rows.size(); ++i) {
    const BenchResult& r = rows[i];
    j += std::string(i ? "," : "") + "{\"stage\":" + json_string(r.stage) +
         ",\"input\":" + json_string(r.input) + ",\"format\":" + json_string(r.format) +
         ",\"entries\":" + std::to_string(r.entries) + ",\"tensors\":" + std::to_string(r.tensors) +
         ",\"counted_bytes\":" + json_number(r.counted_bytes) +
         ",\"packet_bytes\":" + std::to_string(r.packet_bytes) +
         ",\"entropy_bits\":" + json_number(r.entropy_bits) +
         ",\"median_ms\":" + json_number(r.timing.median_ms) +
         ",\"min_ms\":" + json_number(r.timing.min_ms) +
         ",\"max_ms\":" + json_number(r.timing.max_ms) +
         ",\"runs\":" + std::to_string(r.timing.runs) + ",\"GBps\":" + json_number(r.gb_per_s()) +
         "}";
  }
  j += "],\"links\":[";
  for (size_t i = 0; i < std::size(kLinks); ++i) {
    j += std::string(i ? "," : "") + "{\"name\":" + json_string(kLinks[i].name) +
         ",\"bytes_per_second\":" + json_number(kLinks[i].bytes_per_second) + "}";
  }
  j += "],\"transfer_model\":[";
  for (size_t i = 0; i < model.size(); ++i) {
    const ModelRow& m = model[i];
    j += std::string(i ? "," : "") + "{\"input\":" + json_string(m.input) +
         ",\"format\":" + json_string(m.format) +
         ",\"encode_s\":" + json_number(m.cost.encode_seconds) +
         ",\"decode_s\":" + json_number(m.cost.decode_seconds) +
         ",\"packet_bytes\":" + std::to_string(m.cost.packet_bytes) +
         ",\"raw_bytes\":" + std::to_string(m.cost.raw_bytes) +
         ",\"break_even_Gbps\":" + json_number(break_even_bytes_per_second(m.cost) * 8 / 1e9) +
         ",\"links\":[";
    for (size_t k = 0; k < std::size(kLinks); ++k) {
      j += std::string(k ? "," : "") + "{\"name\":" + json_string(kLinks[k].name) +
           ",\"compressed_s\":" +
           json_number(compressed_seconds(m.cost, kLinks[k].bytes_per_second)) +
           ",\"raw_s\":" + json_number(raw_seconds(m.cost, kLinks[k].bytes_per_second)) + "}";
    }
    j += "]}";
  }
  return j + "]}\n";
}

// "16M" = 16 × 2^20 entries; a plain number is entries.
uint64_t parse_size(const std::string& s) {
  size_t used = 0;
  const unsigned long long v = std::stoull(s, &used);
  if (used == s.size() && v > 0) return v;
  if (used + 1 == s.size() && (s.back() == 'M' || s.back() == 'm') && v > 0 && v <= (1u << 20)) {
    return v << 20;
  }
  throw std::invalid_argument(s);
}

std::string size_name(uint64_t n) {
  return n % (1u << 20) == 0 ? std::to_string(n >> 20) + "M" : std::to_string(n);
}

int run(int argc, char** argv) {
  std::vector<uint64_t> sizes = {1ull << 20, 4ull << 20, 16ull << 20, 64ull << 20, 256ull << 20};
  bool batch = true;
  std::string data, json;
  TimingOptions t;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    try {
      if (a == "--no-batch") {
        batch = false;
      } else if (a == "--sizes" && has_value) {
        sizes.clear();
        const std::string list = argv[++i];
        for (size_t pos = 0; pos <= list.size();) {
          const size_t comma = std::min(list.find(',', pos), list.size());
          sizes.push_back(parse_size(list.substr(pos, comma - pos)));
          pos = comma + 1;
        }
      } else if (a == "--data" && has_value) {
        data = argv[++i];
      } else if (a == "--warmup" && has_value) {
        t.warmup = std::stoi(argv[++i]);
      } else if (a == "--repeats" && has_value) {
        t.repeats = std::stoi(argv[++i]);
      } else if (a == "--json" && has_value) {
        json = argv[++i];
      } else {
        std::fprintf(stderr, "co3_bench_gpu: bad option '%s'\n%s", a.c_str(), kUsage);
        return 2;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "co3_bench_gpu: bad value for '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (t.warmup < 0 || t.repeats < 1) {
    std::fprintf(stderr, "co3_bench_gpu: --warmup must be >= 0 and --repeats >= 1\n");
    return 2;
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("co3_bench_gpu: no CUDA device; nothing measured.\n");
    return 0;
  }
  cudaDeviceProp prop{};
  CO3_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  const Source src = load_source(data);
  std::printf("co3_bench_gpu: %s, %d SMs, L2 %d MiB; data: %s (%zu entries, tiled)\n", prop.name,
              prop.multiProcessorCount, prop.l2CacheSize >> 20, src.description.c_str(),
              src.values.size());
  std::printf(
      "median of %d CUDA-event-timed runs after %d warm-up; M = 2^20 entries; GB/s: "
      "d2d copies count bytes read + written, h2d/d2h the bytes moved\n\n",
      t.repeats, t.warmup);

  cudaStream_t stream;
  CO3_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  std::vector<std::pair<std::string, std::vector<uint64_t>>> inputs;
  for (uint64_t n : sizes) inputs.push_back({size_name(n), {n}});
  if (batch) {
    inputs.push_back({"resnet50", std::vector<uint64_t>(std::begin(kResNet50TensorSizes),
                                                        std::end(kResNet50TensorSizes))});
  }
  std::vector<double> entropy;
  for (const CodecCase& c : kCodecCases) entropy.push_back(source_entropy(src, c));
  // The JSON is rewritten after each input, so that a run cut short keeps what it measured.
  const auto write_json = [&](const std::vector<BenchResult>& rows) {
    if (json.empty()) return true;
    const std::string j = to_json(prop, src, t, rows, model_rows(rows));
    FILE* f = std::fopen(json.c_str(), "w");
    bool ok = f && std::fputs(j.c_str(), f) >= 0;
    if (f && std::fclose(f) != 0) ok = false;
    if (!ok) std::fprintf(stderr, "co3_bench_gpu: cannot write %s\n", json.c_str());
    return ok;
  };
  print_header();
  std::vector<BenchResult> rows;
  for (const auto& [name, tensors] : inputs) {
    GpuInput in = make_input(name, tensors, src);
    for (BenchResult& r : run_cases(in, stream, t, entropy)) {
      print_row(r);
      rows.push_back(std::move(r));
    }
    free_input(in);
    if (!write_json(rows)) return 1;
  }
  CO3_CUDA_CHECK(cudaStreamDestroy(stream));

  const std::vector<ModelRow> model = model_rows(rows);
  if (!model.empty()) print_model(model);
  return 0;
}

}  // namespace
}  // namespace co3::bench

int main(int argc, char** argv) {
  try {
    return co3::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "co3_bench_gpu: %s\n", e.what());
    return 1;
  }
}
