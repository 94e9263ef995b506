// The GPU decoder against the CPU decoder: the same bits for every format, code source, output
// dtype and accumulate mode, on real gradients and synthetic data; the same accept-or-refuse
// verdict on the fuzz corpus and on corruptions of it; the same values from two streams at once
// and from a replayed CUDA graph. Skips (visibly) where no CUDA device exists.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "../cpu/hostile_packets.h"
#include "../cpu/packet_files.h"
#include "../cpu/test_data.h"
#include "gpu_test_size.h"
#include "zero_block_packets.h"
#include "co3/codec.h"
#include "co3/crc32c.h"
#include "co3/detail/decode_values.h"
#include "co3/error.h"
#include "co3/kernels/decode.h"
#include "co3/kernels/encode.h"

namespace {

using namespace co3;
using kernels::DecodeOutput;
using kernels::DecodePacket;
using kernels::DecodePlan;

// Below full size (gpu_test_size.h): the sanitizer and ncu runs, the simulated GPU.
using co3::testing::by_size;
const bool kSmall = co3::testing::gpu_test_size() != co3::testing::GpuTestSize::full;
const size_t kRealLimit = by_size(SIZE_MAX, (size_t{1} << 17) + 17, (size_t{1} << 13) + 17);
const size_t kSamples = by_size(size_t{1} << 20, size_t{1} << 17, size_t{1} << 13);

bool have_gpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

#define CUDA_OK(x) ASSERT_EQ((x), cudaSuccess) << #x

void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

// Device memory freed on scope exit.
struct DeviceBuffer {
  void* p = nullptr;
  explicit DeviceBuffer(size_t bytes) {
    cuda_check(cudaMalloc(&p, bytes ? bytes : 1), "cudaMalloc");
  }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

// What a test asks of one output: its dtype, accumulate, and the initial contents when
// accumulating (numel values of dtype).
struct Want {
  DType dtype = DType::f32;
  bool accumulate = false;
  std::vector<uint8_t> initial;
};

// A batch of host packets decoded on the GPU into host bytes per output; throws the co3::Error
// of raise_status_sync when the device refuses the batch.
struct GpuBatch {
  std::vector<std::vector<uint8_t>> packets;
  std::vector<std::vector<uint64_t>> numels;  // per packet, per segment
  std::vector<std::vector<Want>> wants;

  std::vector<uint8_t> jobs_host;
  std::vector<std::unique_ptr<DeviceBuffer>> memory;
  std::vector<DecodeOutput> outputs;
  std::unique_ptr<DecodePlan> plan;
  void* jobs = nullptr;
  void* workspace = nullptr;
  kernels::DeviceStatus* status = nullptr;

  void* alloc(size_t bytes) {
    memory.push_back(std::make_unique<DeviceBuffer>(bytes));
    return memory.back()->p;
  }

  // Uploads packets, outputs and jobs (outside any capture), ordered on `stream`: a legacy-stream
  // cudaMemset or pageable cudaMemcpy may land after a kernel on a non-blocking stream starts.
  void prepare(cudaStream_t stream) {
    std::vector<uint64_t> caps;
    std::vector<uint32_t> counts;
    std::vector<DecodePacket> ps;
    outputs.clear();
    for (size_t p = 0; p < packets.size(); ++p) {
      caps.push_back(packets[p].size());
      counts.push_back(static_cast<uint32_t>(numels[p].size()));
      void* d = alloc(packets[p].size());
      cuda_check(cudaMemcpyAsync(d, packets[p].data(), packets[p].size(), cudaMemcpyHostToDevice,
                                 stream),
                 "copy");
      ps.push_back({static_cast<const uint8_t*>(d), packets[p].size(), nullptr});
      for (size_t s = 0; s < numels[p].size(); ++s) {
        const Want& w = wants[p][s];
        DecodeOutput o;
        o.numel = numels[p][s];
        o.dtype = w.dtype;
        o.accumulate = w.accumulate;
        o.data = o.numel ? alloc(o.numel * dtype_size(w.dtype)) : nullptr;
        outputs.push_back(o);
      }
    }
    plan = std::make_unique<DecodePlan>(caps, counts);
    jobs = alloc(plan->jobs_bytes());
    workspace = alloc(plan->workspace_bytes());
    status = static_cast<kernels::DeviceStatus*>(alloc(sizeof(kernels::DeviceStatus)));
    jobs_host.resize(plan->jobs_bytes());
    plan->write_jobs(ps, outputs, jobs_host.data());
    cuda_check(
        cudaMemcpyAsync(jobs, jobs_host.data(), jobs_host.size(), cudaMemcpyHostToDevice, stream),
        "jobs");
    reset_outputs(stream);
  }

  // The outputs poisoned (or set to their initial sums), ordered before the next launch on
  // `stream`.
  void reset_outputs(cudaStream_t stream) {
    size_t o = 0;
    for (size_t p = 0; p < packets.size(); ++p)
      for (size_t s = 0; s < numels[p].size(); ++s, ++o) {
        const Want& w = wants[p][s];
        if (!outputs[o].numel) continue;
        const size_t bytes = outputs[o].numel * dtype_size(w.dtype);
        if (w.accumulate) {
          cuda_check(cudaMemcpyAsync(outputs[o].data, w.initial.data(), bytes,
                                     cudaMemcpyHostToDevice, stream),
                     "init");
        } else {
          cuda_check(cudaMemsetAsync(outputs[o].data, 0xA5, bytes, stream), "memset");  // no stale zeros
        }
      }
  }

  void launch(cudaStream_t stream) {
    cuda_check(kernels::decode(*plan, jobs, workspace, status, stream), "decode");
  }

  std::vector<std::vector<uint8_t>> results() {
    std::vector<std::vector<uint8_t>> r;
    for (const auto& o : outputs) {
      std::vector<uint8_t> h(o.numel * dtype_size(o.dtype));
      if (!h.empty())
        cuda_check(cudaMemcpy(h.data(), o.data, h.size(), cudaMemcpyDeviceToHost), "result");
      r.push_back(std::move(h));
    }
    return r;
  }

  std::vector<std::vector<uint8_t>> run(cudaStream_t stream = nullptr) {
    prepare(stream);
    launch(stream);
    kernels::raise_status_sync(status, stream);
    return results();
  }
};

// Decoded values compared as FORMAT.md §7 specifies them: bit for bit, except that a NaN matches
// any NaN (a GPU's float32 arithmetic returns the canonical NaN 0x7fffffff where the CPU's keeps
// the operand's sign and payload; the format leaves a NaN entry's sign and payload open).
bool same_values(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want, DType d) {
  if (got.size() != want.size()) return false;
  const size_t w = dtype_size(d);
  for (size_t i = 0; i + w <= got.size(); i += w) {
    if (std::memcmp(got.data() + i, want.data() + i, w) == 0) continue;
    uint32_t a = 0, b = 0;
    std::memcpy(&a, got.data() + i, w);
    std::memcpy(&b, want.data() + i, w);
    const uint32_t exp = d == DType::f32 ? 0x7f800000u : (d == DType::f16 ? 0x7c00u : 0x7f80u);
    const uint32_t mag = d == DType::f32 ? 0x7fffffffu : 0x7fffu;
    if ((a & mag) > exp && (b & mag) > exp) continue;  // both NaN
    return false;
  }
  return true;
}
bool same_values(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want) {
  return same_values(got, want, DType::f32);
}

// The CPU oracle for one segment: decoded as float32, converted or accumulated by §7's rule.
std::vector<uint8_t> expected(const DecodedTensor& f32, const Want& w) {
  std::vector<uint8_t> out(f32.numel * dtype_size(w.dtype));
  for (uint64_t i = 0; i < f32.numel; ++i) {
    float v;
    std::memcpy(&v, f32.bytes.data() + 4 * i, 4);
    uint32_t bits;
    if (w.accumulate) {
      uint32_t old = 0;
      std::memcpy(&old, w.initial.data() + i * dtype_size(w.dtype), dtype_size(w.dtype));
      bits = detail::accumulate_bits(old, v, w.dtype);
    } else {
      bits = store_bits(v, w.dtype);
    }
    std::memcpy(out.data() + i * dtype_size(w.dtype), &bits, dtype_size(w.dtype));
  }
  return out;
}

std::vector<uint8_t> random_initial(uint64_t n, DType d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.01f);
  std::vector<uint8_t> out(n * dtype_size(d));
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t bits = store_bits(normal(rng), d);
    std::memcpy(out.data() + i * dtype_size(d), &bits, dtype_size(d));
  }
  return out;
}

// Decodes `packet` on the GPU into every output dtype, plain and accumulating, and compares
// each with the CPU.
void expect_gpu_equals_cpu(const std::vector<uint8_t>& packet, const std::string& what) {
  const std::vector<DecodedTensor> cpu = decode(packet.data(), packet.size(), true);
  for (DType d : {DType::f32, DType::f16, DType::bf16}) {
    for (bool acc : {false, true}) {
      GpuBatch b;
      b.packets = {packet};
      b.numels.emplace_back();
      b.wants.emplace_back();
      for (size_t s = 0; s < cpu.size(); ++s) {
        b.numels[0].push_back(cpu[s].numel);
        Want w;
        w.dtype = d;
        w.accumulate = acc;
        if (acc) w.initial = random_initial(cpu[s].numel, d, s + 1);
        b.wants[0].push_back(w);
      }
      const auto got = b.run();
      for (size_t s = 0; s < cpu.size(); ++s)
        ASSERT_TRUE(same_values(got[s], expected(cpu[s], b.wants[0][s]), d))
            << what << ": segment " << s << " into " << to_string(d)
            << (acc ? " accumulating" : "");
    }
  }
}

const FloatFormat kFormats[] = {formats::fp4, formats::e5m2, formats::e4m3, formats::fp16,
                                formats::bf16};

TEST(GpuDecode, EveryFormatCodeAndDtypeOnRealGradients) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device: GPU decode test not run";
  const char* files[] = {"resnet18_step120.f32", "resnet18_step0.f32"};
  for (size_t k = 0; k < (kSmall ? 1 : 2); ++k) {  // one is enough for the sanitizers
    const char* file = files[k];
    auto x = co3::testing::real_gradient(file, kRealLimit);
    if (x.empty()) x = co3::testing::gennorm_samples(kSamples, 0.3, 1e-3, 5);
    for (FloatFormat f : kFormats)
      for (CodeSource c : {CodeSource::histogram, CodeSource::gennorm}) {
        CodecConfig cfg;
        cfg.format = f;
        cfg.code = c;
        const auto packet = encode(TensorView{x.data(), x.size(), DType::f32}, cfg);
        expect_gpu_equals_cpu(packet, std::string(file) + " " + to_string(f) + " " + to_string(c));
      }
  }
}

TEST(GpuDecode, GoldenPackets) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device: GPU decode test not run";
  const auto golden = co3::testing::packet_files("golden");
  if (golden.empty()) GTEST_SKIP() << "no golden packets in tests/golden";
  for (const auto& g : golden) expect_gpu_equals_cpu(g.bytes, g.name);
}

TEST(GpuDecode, MixedSegmentsChunkSizesAndSharedTables) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device: GPU decode test not run";
  const auto x = co3::testing::gennorm_samples(by_size(400000, 20000, 12000), 0.6, 2e-3, 9);  // ≥ Σ sizes
  // Sizes around chunk and tile boundaries, an empty tensor and a single entry.
  const uint64_t sizes[] = {
      0, 1, 31, 4097, 32 * 64 + 5, by_size(100000u, 10000u, 5000u), 77, kSmall ? 0u : 8192u * 32 + 5};
  for (FloatFormat f : kFormats)
    for (uint32_t chunk : {32u, 100u, 4096u, 65536u})
      for (int group : {0, 3})  // 0: automatic (2 for fp4, else 1)
        for (bool shared : {false, true}) {
          if (group * f.width() > 16) continue;
          if (kSmall && (chunk != 100 || !shared)) continue;  // partial tiles, a shared table
          CodecConfig cfg;
          cfg.format = f;
          cfg.chunk_symbols = chunk;
          cfg.entries_per_symbol = group;
          cfg.shared_code = shared;
          cfg.scale.policy = ScalePolicy::absmax;  // the GenNorm scale's fit is slow on the CPU
          std::vector<EncodeInput> in;
          uint64_t at = 0;
          for (uint64_t n : sizes) {
            in.emplace_back(TensorView{x.data() + at, n, DType::f32});
            at += n;
          }
          const auto packet = encode(in, cfg);
          expect_gpu_equals_cpu(packet, to_string(f) + " chunk " + std::to_string(chunk) + " g " +
                                            std::to_string(group) + (shared ? " shared" : ""));
        }
}

// The GPU encoder's packet decoded where it lies: its length read from the encoder's device
// scalar, never copied to the host.
TEST(GpuDecode, TheGpuEncodersPacketInPlace) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device: GPU decode test not run";
  const auto x = co3::testing::gennorm_samples(by_size(1000000, 50000, 6000), 0.4, 1e-3, 77);
  for (FloatFormat f : kFormats) {
    CodecConfig cfg;
    cfg.format = f;
    const auto cpu_packet = encode(TensorView{x.data(), x.size(), DType::f32}, cfg);
    const auto cpu = decode(cpu_packet.data(), cpu_packet.size(), true);
    DeviceBuffer dx(x.size() * 4), out(x.size() * 4);
    CUDA_OK(cudaMemcpy(dx.p, x.data(), x.size() * 4, cudaMemcpyHostToDevice));
    const kernels::EncodePlan ep({EncodeInput(TensorView{dx.p, x.size(), DType::f32})}, cfg);
    DeviceBuffer ews(ep.workspace_bytes()), packet(ep.max_packet_bytes()), bytes(8),
        status(sizeof(kernels::DeviceStatus));
    auto* st = static_cast<kernels::DeviceStatus*>(status.p);
    CUDA_OK(ep.upload(ews.p, nullptr));
    CUDA_OK(ep.encode_async(ews.p, static_cast<uint8_t*>(packet.p), static_cast<uint64_t*>(bytes.p),
                            st, nullptr));
    const DecodePlan dp({ep.max_packet_bytes()}, {1});
    DeviceBuffer jobs(dp.jobs_bytes()), dws(dp.workspace_bytes());
    DecodeOutput o;
    o.data = out.p;
    o.numel = x.size();
    CUDA_OK(kernels::upload_jobs(dp,
                                 {{static_cast<const uint8_t*>(packet.p), ep.max_packet_bytes(),
                                   static_cast<const uint64_t*>(bytes.p)}},
                                 {o}, jobs.p, nullptr));
    CUDA_OK(kernels::decode(dp, jobs.p, dws.p, st, nullptr));
    kernels::raise_status_sync(st, nullptr);
    std::vector<uint8_t> got(x.size() * 4);
    CUDA_OK(cudaMemcpy(got.data(), out.p, got.size(), cudaMemcpyDeviceToHost));
    EXPECT_TRUE(same_values(got, cpu[0].bytes)) << to_string(f);
  }
}

// Averaging ranks' packets: each decoded into one sum, one batch after another on the stream.
TEST(GpuDecode, AccumulatesPacketsOneAfterAnother) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device: GPU decode test not run";
  const uint64_t n = by_size(500000, 30000, 5000);
  for (DType d : {DType::f32, DType::f16, DType::bf16}) {
    std::vector<uint8_t> want = random_initial(n, d, 1);
    DeviceBuffer sum(n * dtype_size(d));
    CUDA_OK(cudaMemcpy(sum.p, want.data(), want.size(), cudaMemcpyHostToDevice));
    for (int rank = 0; rank < 4; ++rank) {
      const auto x = co3::testing::gennorm_samples(n, 0.5, 1e-3, 100 + rank);
      CodecConfig cfg;
      cfg.format = kFormats[rank];
      const auto packet = encode(TensorView{x.data(), n, DType::f32}, cfg);
      const auto cpu = decode(packet.data(), packet.size(), true);
      Want w;
      w.dtype = d;
      w.accumulate = true;
      w.initial = want;
      want = expected(cpu[0], w);
      GpuBatch b;
      b.packets = {packet};
      b.numels = {{n}};
      b.wants = {{w}};
      b.prepare(nullptr);
      b.outputs[0].data = sum.p;  // every rank's packet into the one sum
      b.plan->write_jobs({{static_cast<const uint8_t*>(b.memory[0]->p), packet.size(), nullptr}},
                         b.outputs, b.jobs_host.data());
      CUDA_OK(cudaMemcpy(b.jobs, b.jobs_host.data(), b.jobs_host.size(), cudaMemcpyHostToDevice));
      b.launch(nullptr);
      kernels::raise_status_sync(b.status, nullptr);
    }
    std::vector<uint8_t> got(want.size());
    CUDA_OK(cudaMemcpy(got.data(), sum.p, got.size(), cudaMemcpyDeviceToHost));
    EXPECT_TRUE(same_values(got, want, d)) << to_string(d);
  }
}

TEST(GpuDecode, SeveralPacketsInOneBatch) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device: GPU decode test not run";
  GpuBatch b;
  std::vector<std::vector<DecodedTensor>> cpu;
  for (int p = 0; p < 5; ++p) {
    const size_t first = by_size(10000, 10000, 2000);
    const auto x = co3::testing::gennorm_samples(2 * first + by_size(7919, 7919, 797) * p, 0.5,
                                                 1e-3, 40 + p);
    CodecConfig cfg;
    cfg.format = kFormats[p % 5];
    std::vector<EncodeInput> in = {
        EncodeInput(TensorView{x.data(), first, DType::f32}),
        EncodeInput(TensorView{x.data() + first, x.size() - first, DType::f32})};
    b.packets.push_back(encode(in, cfg));
    cpu.push_back(decode(b.packets.back().data(), b.packets.back().size(), true));
    b.numels.push_back({cpu.back()[0].numel, cpu.back()[1].numel});
    b.wants.push_back({Want{}, Want{}});
  }
  const auto got = b.run();
  size_t o = 0;
  for (size_t p = 0; p < cpu.size(); ++p)
    for (size_t s = 0; s < cpu[p].size(); ++s, ++o)
      EXPECT_TRUE(same_values(got[o], cpu[p][s].bytes)) << "packet " << p << " segment " << s;
}

// The CPU's verdict and the GPU's on the same bytes.
void expect_same_verdict(const std::vector<uint8_t>& packet, const std::string& what) {
  bool cpu_ok = true;
  std::vector<DecodedTensor> cpu;
  try {
    cpu = decode(packet.data(), packet.size(), true);
  } catch (const Error& e) {
    cpu_ok = false;
  }
  // Outputs as the CPU saw them, or (refused) as the descriptors claim (a few, bounded), so
  // that the packet's own fault is the one usually met first.
  GpuBatch b;
  b.packets = {packet};
  b.numels.emplace_back();
  b.wants.emplace_back();
  if (cpu_ok) {
    for (const auto& t : cpu) {
      b.numels[0].push_back(t.numel);
      b.wants[0].push_back(Want{});
    }
  } else if (packet.size() >= 32) {
    uint32_t n;
    std::memcpy(&n, packet.data() + 20, 4);
    n = std::min<uint32_t>({n, static_cast<uint32_t>((packet.size() - 32) / 64), 64u});
    for (uint32_t s = 0; s < n; ++s) {
      uint64_t numel;
      std::memcpy(&numel, packet.data() + 32 + 64 * uint64_t{s}, 8);
      b.numels[0].push_back(std::min<uint64_t>(numel, 1 << 20));
      b.wants[0].push_back(Want{});
    }
  }
  bool gpu_ok = true;
  try {
    b.run();
  } catch (const Error& e) {
    gpu_ok = false;
    EXPECT_TRUE(e.code() == Errc::corrupt_packet || !cpu_ok) << what << ": " << e.what();
  }
  ASSERT_EQ(cpu_ok, gpu_ok) << what;
  if (cpu_ok) {
    const auto got = b.results();
    for (size_t s = 0; s < cpu.size(); ++s) ASSERT_TRUE(same_values(got[s], cpu[s].bytes)) << what;
  }
}

// The hand-built packets of test_packet: the valid ones decode alike, each hostile one is refused.
TEST(GpuDecode, HandBuiltAndHostilePackets) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device: GPU decode test not run";
  co3::testing::Spec v2;
  v2.with_shape = true;
  expect_same_verdict(co3::testing::build(co3::testing::Spec{}), "hand-built");
  expect_same_verdict(co3::testing::build(v2), "hand-built, version 2");
  expect_same_verdict(co3::testing::build(co3::testing::grouped_spec()), "hand-built, g = 2");
  expect_same_verdict(co3::testing::build(co3::testing::class_map_spec()), "hand-built, version 3");
  for (const auto& c : co3::testing::hostile_cases()) expect_same_verdict(c.packet, c.what);
}

TEST(GpuDecode, SameVerdictOnTheFuzzCorpusAndCorruptions) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device: GPU decode test not run";
  const auto packets = co3::testing::packet_files("fuzz/corpus/packet");
  ASSERT_GE(packets.size(), 10u);
  std::mt19937_64 rng(2024);
  for (const auto& file : packets) {
    const std::vector<uint8_t>& p = file.bytes;
    expect_same_verdict(p, "corpus packet");
    for (size_t n = 0; n < p.size(); n += 1 + p.size() / by_size(13, 2, 1))
      expect_same_verdict(std::vector<uint8_t>(p.begin(), p.begin() + n), "truncated");
    for (int trial = 0; trial < by_size(40, 2, 1); ++trial) {
      auto m = p;
      m[rng() % (m.size() - 4)] ^= static_cast<uint8_t>(1 + rng() % 255);
      expect_same_verdict(m, "flipped byte");
      const uint32_t crc = crc32c(m.data(), m.size() - 4);
      std::memcpy(m.data() + m.size() - 4, &crc, 4);
      expect_same_verdict(m, "flipped byte, CRC recomputed");
    }
  }
}

// Zero-block maps (FORMAT.md §6b): zero_block_packets.h's packets decode as on the CPU; map bits
// and chunk table or map bytes flipped (CRC recomputed) get the CPU's verdict.
TEST(GpuDecode, ZeroBlockMapsAndTheirCorruptions) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device: GPU decode test not run";
  const auto packets = co3::testing::zero_block_packets(by_size(200011u, 20011u, 4011u));
  for (size_t i = 0; i < packets.size(); i += by_size(1, 1, 3))
    expect_gpu_equals_cpu(packets[i], "zero-block packet " + std::to_string(i));
  // Blocks of 16, chunks of 64: several chunks without a coded block.
  for (const auto& [m, what] : co3::testing::zero_block_corruptions(
           packets[4], by_size<uint64_t>(1, 16, 7), by_size(100, 10, 3)))
    expect_same_verdict(m, what);
}

TEST(GpuDecode, CallerMistakesAreInvalidArguments) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device: GPU decode test not run";
  const auto x = co3::testing::gennorm_samples(5000, 0.5, 1e-3, 3);
  const auto packet = encode(TensorView{x.data(), x.size(), DType::f32}, CodecConfig{});
  GpuBatch b;
  b.packets = {packet};
  b.numels = {{4999}};  // one short: must not be written past
  b.wants = {{Want{}}};
  try {
    b.run();
    ADD_FAILURE() << "a wrong numel was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
  }
  b = GpuBatch{};
  b.packets = {packet};
  b.numels = {{5000, 0}};  // an output too many
  b.wants = {{Want{}, Want{}}};
  EXPECT_THROW(b.run(), Error);
}

TEST(GpuDecode, TwoStreamsAtOnceAndGraphReplay) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device: GPU decode test not run";
  auto x = co3::testing::real_gradient("resnet18_step120.f32", kRealLimit);
  if (x.empty()) x = co3::testing::gennorm_samples(kSamples, 0.3, 1e-3, 5);
  CodecConfig cfg;
  cfg.format = formats::fp4;
  const auto a = encode(TensorView{x.data(), x.size(), DType::f32}, cfg);
  cfg.format = formats::e5m2;
  const auto b = encode(TensorView{x.data(), x.size(), DType::f32}, cfg);
  const auto cpu_a = decode(a.data(), a.size(), true);
  const auto cpu_b = decode(b.data(), b.size(), true);

  cudaStream_t s1, s2;
  CUDA_OK(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  CUDA_OK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  GpuBatch ba, bb;
  ba.packets = {a};
  ba.numels = {{cpu_a[0].numel}};
  ba.wants = {{Want{}}};
  bb.packets = {b};
  bb.numels = {{cpu_b[0].numel}};
  bb.wants = {{Want{}}};
  ba.prepare(s1);
  bb.prepare(s2);
  for (int rep = 0; rep < 3; ++rep) {
    ba.launch(s1);
    bb.launch(s2);
  }
  kernels::raise_status_sync(ba.status, s1);
  kernels::raise_status_sync(bb.status, s2);
  EXPECT_TRUE(same_values(ba.results()[0], cpu_a[0].bytes));
  EXPECT_TRUE(same_values(bb.results()[0], cpu_b[0].bytes));

  // Captured once, replayed twice (outputs cleared in between): the same values each time.
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CUDA_OK(cudaStreamBeginCapture(s1, cudaStreamCaptureModeThreadLocal));
  ba.launch(s1);
  CUDA_OK(cudaStreamEndCapture(s1, &graph));
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  for (int rep = 0; rep < 2; ++rep) {
    ba.reset_outputs(s1);
    CUDA_OK(cudaGraphLaunch(exec, s1));
    kernels::raise_status_sync(ba.status, s1);
    EXPECT_TRUE(same_values(ba.results()[0], cpu_a[0].bytes)) << "replay " << rep;
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(s1);
  cudaStreamDestroy(s2);
}

}  // namespace
