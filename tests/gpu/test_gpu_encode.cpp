// The GPU encoder (co3/kernels/encode.h) gives the CPU codec's bytes and error memory: on the
// golden packets, a 160-tensor mixed-dtype batch, replayed from a CUDA graph, on two streams at
// once, and with the CPU's errors. Skips (visibly) where no CUDA device exists.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../golden/golden_cases.h"
#include "encode_cases.h"
#include "gpu_test_size.h"
#include "co3/codec.h"
#include "co3/error.h"
#include "co3/kernels/encode.h"

namespace {

using co3::golden::Tensor;

bool have_gpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

#define SKIP_WITHOUT_GPU() \
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device: GPU encoder test not run"

void cuda_ok(cudaError_t e) {
  ASSERT_EQ(e, cudaSuccess) << cudaGetErrorString(e);
}

struct DeviceMemory {
  void* ptr = nullptr;
  explicit DeviceMemory(size_t bytes) {
    EXPECT_EQ(cudaMalloc(&ptr, bytes ? bytes : 1), cudaSuccess);
  }
  ~DeviceMemory() { cudaFree(ptr); }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
};

// Tensors (and their error memories) copied to the device, as EncodeInputs over device memory.
struct DeviceBatch {
  std::vector<std::unique_ptr<DeviceMemory>> grads, memories;
  std::vector<co3::EncodeInput> inputs;

  explicit DeviceBatch(const std::vector<Tensor>& ts) {
    for (const Tensor& t : ts) {
      grads.push_back(std::make_unique<DeviceMemory>(t.bytes.size()));
      EXPECT_EQ(
          cudaMemcpy(grads.back()->ptr, t.bytes.data(), t.bytes.size(), cudaMemcpyHostToDevice),
          cudaSuccess);
      float* mem = nullptr;
      if (!t.memory.empty()) {
        memories.push_back(std::make_unique<DeviceMemory>(4 * t.memory.size()));
        mem = static_cast<float*>(memories.back()->ptr);
        EXPECT_EQ(cudaMemcpy(mem, t.memory.data(), 4 * t.memory.size(), cudaMemcpyHostToDevice),
                  cudaSuccess);
      }
      co3::EncodeInput in({grads.back()->ptr, t.numel, t.dtype}, mem, t.gamma);
      in.shape = t.shape;
      in.fit = t.fit;
      inputs.push_back(in);
    }
    // A pageable cudaMemcpy may return before its DMA lands; the encoders run on non-blocking
    // streams, which do not wait for the legacy stream: the uploads finish here.
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
  std::vector<std::vector<float>> memory() const {
    std::vector<std::vector<float>> out;
    for (const co3::EncodeInput& in : inputs) {
      out.emplace_back(in.memory ? in.grad.numel : 0);
      if (in.memory) {
        EXPECT_EQ(
            cudaMemcpy(out.back().data(), in.memory, 4 * in.grad.numel, cudaMemcpyDeviceToHost),
            cudaSuccess);
      }
    }
    return out;
  }
};

// The plan's pieces by hand: upload once, then encode_async on a stream (optionally captured).
struct Encoder {
  co3::kernels::EncodePlan plan;
  DeviceMemory ws, packet, scalars;
  Encoder(const std::vector<co3::EncodeInput>& in, const co3::CodecConfig& cfg, cudaStream_t s,
          const co3::PriorCode* prior = nullptr)
      : plan(in, cfg, prior),
        ws(plan.workspace_bytes()),
        packet(plan.max_packet_bytes()),
        scalars(sizeof(uint64_t) + sizeof(co3::kernels::DeviceStatus)) {
    EXPECT_EQ(plan.upload(ws.ptr, s), cudaSuccess);
  }
  uint64_t* bytes() { return static_cast<uint64_t*>(scalars.ptr); }
  co3::kernels::DeviceStatus* status() {
    return reinterpret_cast<co3::kernels::DeviceStatus*>(bytes() + 1);
  }
  cudaError_t launch(cudaStream_t s) {
    return plan.encode_async(ws.ptr, static_cast<uint8_t*>(packet.ptr), bytes(), status(), s);
  }
  std::vector<uint8_t> result(cudaStream_t s) {
    co3::kernels::raise_status_sync(status(), s);
    uint64_t n = 0;
    EXPECT_EQ(cudaMemcpy(&n, bytes(), 8, cudaMemcpyDeviceToHost), cudaSuccess);
    std::vector<uint8_t> out(n);
    EXPECT_EQ(cudaMemcpy(out.data(), packet.ptr, n, cudaMemcpyDeviceToHost), cudaSuccess);
    return out;
  }
};

// A case's steps on the device through the plan, the packet poisoned before each encode (so that
// unwritten bytes show); the last packet and the final error memories.
std::vector<uint8_t> encode_gpu(const co3::golden::Case& c,
                                std::vector<std::vector<float>>* memory) {
  DeviceBatch b(c.tensors);
  Encoder e(b.inputs, c.config, nullptr);
  std::vector<uint8_t> packet;
  for (int step = 0; step < c.steps; ++step) {
    EXPECT_EQ(cudaMemsetAsync(e.packet.ptr, 0xEE, e.plan.max_packet_bytes(), nullptr), cudaSuccess);
    EXPECT_EQ(e.launch(nullptr), cudaSuccess);
    packet = e.result(nullptr);
  }
  *memory = b.memory();
  return packet;
}

// Where two packets first differ, for a readable failure.
size_t first_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

void expect_same_memory(const std::vector<std::vector<float>>& a,
                        const std::vector<std::vector<float>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    ASSERT_EQ(a[k].size(), b[k].size()) << "tensor " << k;
    EXPECT_EQ(std::memcmp(a[k].data(), b[k].data(), 4 * a[k].size()), 0) << "tensor " << k;
  }
}

TEST(GpuEncode, GoldenPacketsAndCpuMemory) {
  SKIP_WITHOUT_GPU();
  for (const co3::golden::Case& c : co3::golden::cases()) {
    SCOPED_TRACE(c.name);
    if (c.missing_data) {
      std::printf("[ SKIPPED  ] golden case %s: ../shared/data absent\n", c.name.c_str());
      continue;
    }
    std::vector<std::vector<float>> gpu_mem, cpu_mem;
    const std::vector<uint8_t> gpu = encode_gpu(c, &gpu_mem);
    const std::vector<uint8_t> cpu = co3::golden::encode_cpu(c, &cpu_mem);
    const std::vector<uint8_t> want =
        co3::golden::read_file(co3::golden::golden_dir() + "/" + c.name + ".co3");
    EXPECT_EQ(gpu.size(), want.size());
    EXPECT_EQ(first_difference(gpu, want), want.size()) << "differs from the golden file";
    EXPECT_EQ(gpu, cpu);
    expect_same_memory(gpu_mem, cpu_mem);
    const DeviceBatch b(c.tensors);
    EXPECT_LE(cpu.size(), co3::kernels::EncodePlan(b.inputs, c.config).max_packet_bytes());
  }
}

// 160 tensors of the three dtypes, sizes from 0 to ~70K entries, error feedback on most (24
// at the small size of the sanitizers, 20 of at most 4,000 entries on the simulated GPU:
// gpu_test_size.h).
std::vector<Tensor> batch160() {
  using co3::testing::by_size;
  const uint64_t max_entries = by_size<uint64_t>(70001, 70001, 4001);
  std::vector<Tensor> ts;
  for (int k = 0; k < by_size(160, 24, 20); ++k) {
    const uint64_t n = k % 17 == 0 ? 0 : (uint64_t{37} * k * k + 13 * k) % max_entries;
    const co3::DType d =
        k % 3 == 0 ? co3::DType::f32 : (k % 3 == 1 ? co3::DType::f16 : co3::DType::bf16);
    Tensor t = co3::golden::synthetic(n, 1000 + k, d);
    if (k % 4) {
      t.gamma = 0.7f;
      t.memory.resize(n);
      for (uint64_t i = 0; i < n; ++i) t.memory[i] = co3::golden::synthetic_value(2000 + k, i);
    }
    ts.push_back(std::move(t));
  }
  return ts;
}

TEST(GpuEncode, Batch160MixedDtypesEqualsCpu) {
  SKIP_WITHOUT_GPU();
  for (bool shared : {false, true}) {
    for (co3::CodeSource src : {co3::CodeSource::histogram, co3::CodeSource::gennorm}) {
      co3::golden::Case c;
      c.name = "batch160";
      c.config = co3::golden::config(co3::formats::fp4, co3::Rounding::stochastic,
                                     co3::ScalePolicy::gennorm, src);
      c.config.shared_code = shared;
      c.tensors = batch160();
      c.steps = 2;
      SCOPED_TRACE(std::string(shared ? "shared " : "") + co3::to_string(src));
      std::vector<std::vector<float>> gpu_mem, cpu_mem;
      const std::vector<uint8_t> gpu = encode_gpu(c, &gpu_mem);
      const std::vector<uint8_t> cpu = co3::golden::encode_cpu(c, &cpu_mem);
      EXPECT_EQ(first_difference(gpu, cpu), cpu.size());
      EXPECT_EQ(gpu.size(), cpu.size());
      expect_same_memory(gpu_mem, cpu_mem);
    }
  }
}

co3::golden::Case no_memory_case() {
  co3::golden::Case c;
  c.config = co3::golden::config(co3::formats::e4m3, co3::Rounding::nearest_even,
                                 co3::ScalePolicy::gennorm, co3::CodeSource::histogram);
  const uint64_t step = co3::testing::by_size<uint64_t>(5000, 5000, 400);  // sim: ≤ 4,407 entries
  for (int k = 0; k < 12; ++k)
    c.tensors.push_back(
        co3::golden::synthetic(step * k + 7, 300 + k, k % 2 ? co3::DType::bf16 : co3::DType::f32));
  return c;
}

TEST(GpuEncode, GraphReplayGivesTheSameBytes) {
  SKIP_WITHOUT_GPU();
  const co3::golden::Case c = no_memory_case();
  const std::vector<uint8_t> cpu = co3::golden::encode_cpu(c);
  DeviceBatch b(c.tensors);
  cudaStream_t s;
  cuda_ok(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  Encoder e(b.inputs, c.config, s);
  cuda_ok(cudaStreamSynchronize(s));
  cudaGraph_t graph;
  cuda_ok(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  cuda_ok(e.launch(s));
  cuda_ok(cudaStreamEndCapture(s, &graph));
  cudaGraphExec_t exec;
  cuda_ok(cudaGraphInstantiate(&exec, graph, 0));
  for (int replay = 0; replay < 3; ++replay) {
    cuda_ok(cudaMemsetAsync(e.packet.ptr, 0xEE, e.plan.max_packet_bytes(), s));  // stale bytes
    cuda_ok(cudaGraphLaunch(exec, s));
    EXPECT_EQ(e.result(s), cpu) << "replay " << replay;
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(s);
}

TEST(GpuEncode, TwoStreamsAtOnceGiveTheBytesOfOne) {
  SKIP_WITHOUT_GPU();
  const co3::golden::Case c = no_memory_case();
  co3::golden::Case d = no_memory_case();
  d.config.format = co3::formats::fp4;
  d.config.code = co3::CodeSource::laplace;
  const std::vector<uint8_t> cpu_c = co3::golden::encode_cpu(c), cpu_d = co3::golden::encode_cpu(d);
  DeviceBatch bc(c.tensors), bd(d.tensors);
  cudaStream_t s1, s2;
  cuda_ok(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  cuda_ok(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  Encoder e1(bc.inputs, c.config, s1), e2(bd.inputs, d.config, s2);
  for (int round = 0; round < 4; ++round) {
    cuda_ok(e1.launch(s1));
    cuda_ok(e2.launch(s2));
    EXPECT_EQ(e1.result(s1), cpu_c);
    EXPECT_EQ(e2.result(s2), cpu_d);
  }
  cudaStreamDestroy(s1);
  cudaStreamDestroy(s2);
}

// A prior code (the tables of a CPU encode of the case, one step) gives that packet and memory.
void expect_prior_code_gives_cpu(const co3::golden::Case& c) {
  std::vector<std::vector<float>> cpu_mem;
  const std::vector<uint8_t> cpu = co3::golden::encode_cpu(c, &cpu_mem);
  const co3::PriorCode prior = co3::prior_code(cpu.data(), cpu.size());
  DeviceBatch b(c.tensors);
  Encoder e(b.inputs, c.config, nullptr, &prior);
  cuda_ok(cudaMemsetAsync(e.packet.ptr, 0xEE, e.plan.max_packet_bytes(), nullptr));
  cuda_ok(e.launch(nullptr));
  EXPECT_EQ(e.result(nullptr), cpu);
  expect_same_memory(b.memory(), cpu_mem);
}

// The tables of a CPU encode with given fits.
TEST(GpuEncode, PriorCodeGivesTheCpuPacket) {
  SKIP_WITHOUT_GPU();
  for (bool shared : {false, true}) {
    co3::golden::Case c;
    c.config = co3::golden::config(co3::formats::fp4, co3::Rounding::stochastic,
                                   co3::ScalePolicy::gennorm, co3::CodeSource::gennorm);
    c.config.shared_code = shared;
    c.tensors = {co3::golden::synthetic(30000, 1), co3::golden::synthetic(0, 2),
                 co3::golden::synthetic(5001, 3, co3::DType::bf16)};
    for (Tensor& t : c.tensors) {
      t.fit = co3::GenNormParams{0.9, 0.004};
      t.gamma = 0.7f;
      t.memory.assign(t.numel, 1e-3f);
    }
    expect_prior_code_gives_cpu(c);
  }
}

// The error the CPU throws, and the error memory it leaves, for the same inputs.
void expect_same_error(const co3::golden::Case& c) {
  std::string cpu_what;
  co3::Errc cpu_code{};
  std::vector<std::vector<float>> cpu_mem;
  {
    std::vector<std::vector<float>> mem;
    for (const Tensor& t : c.tensors) mem.push_back(t.memory);
    std::vector<co3::EncodeInput> in;
    for (size_t k = 0; k < c.tensors.size(); ++k)
      in.emplace_back(
          co3::TensorView{c.tensors[k].bytes.data(), c.tensors[k].numel, c.tensors[k].dtype},
          mem[k].empty() ? nullptr : mem[k].data(), c.tensors[k].gamma);
    try {
      co3::encode(in, c.config);
      FAIL() << "the CPU codec accepted the case";
    } catch (const co3::Error& e) {
      cpu_what = e.what();
      cpu_code = e.code();
    }
    cpu_mem = mem;
  }
  DeviceBatch b(c.tensors);
  try {
    co3::kernels::encode_sync(b.inputs, c.config);
    FAIL() << "the GPU encoder accepted the case";
  } catch (const co3::Error& e) {
    EXPECT_EQ(e.code(), cpu_code);
    EXPECT_EQ(std::string(e.what()), cpu_what);
  }
  expect_same_memory(b.memory(), cpu_mem);
  for (size_t k = 0; k < c.tensors.size(); ++k)
    EXPECT_EQ(cpu_mem[k], c.tensors[k].memory) << "a failed encode moved memory " << k;
  // Through the plan: the buffer holds the failure record (FORMAT.md §11), 32 bytes.
  const DeviceBatch fresh(c.tensors);
  Encoder e(fresh.inputs, c.config, nullptr);
  cuda_ok(e.launch(nullptr));
  cuda_ok(cudaDeviceSynchronize());
  uint64_t bytes = 0;
  cuda_ok(cudaMemcpy(&bytes, e.bytes(), 8, cudaMemcpyDeviceToHost));
  ASSERT_EQ(bytes, 32u);
  std::vector<uint8_t> record(32);
  cuda_ok(cudaMemcpy(record.data(), e.packet.ptr, 32, cudaMemcpyDeviceToHost));
  EXPECT_EQ(std::string(record.begin(), record.begin() + 4), "CO3e");
  EXPECT_THROW(co3::decode(record.data(), record.size()), co3::Error);
  EXPECT_THROW(co3::kernels::raise_status_sync(e.status(), nullptr), co3::Error);
}

TEST(GpuEncode, NonFiniteIsTheCpuError) {
  SKIP_WITHOUT_GPU();
  co3::golden::Case c;
  c.config = co3::golden::config(co3::formats::fp4, co3::Rounding::nearest_even,
                                 co3::ScalePolicy::gennorm, co3::CodeSource::histogram);
  for (int k = 0; k < 4; ++k) {
    std::vector<float> v(20000);
    for (uint64_t i = 0; i < v.size(); ++i) v[i] = co3::golden::synthetic_value(70 + k, i);
    if (k >= 2) v[1234 * k] = std::nanf("");  // tensors 2 and 3: the error names tensor 2
    Tensor t = co3::golden::make_tensor(v, co3::DType::f32);
    t.gamma = 0.5f;
    t.memory.assign(v.size(), 0.25f);  // a failed encode keeps every memory
    c.tensors.push_back(t);
  }
  expect_same_error(c);
}

// Under 'propagate' the tensors holding ±Inf/NaN get class maps and keep their memory: the
// CPU's packet and memories.
TEST(GpuEncode, PropagateGivesTheCpuPacketAndMemory) {
  SKIP_WITHOUT_GPU();
  co3::golden::Case c;
  c.config = co3::golden::config(co3::formats::fp4, co3::Rounding::stochastic,
                                 co3::ScalePolicy::gennorm, co3::CodeSource::histogram);
  c.config.non_finite = co3::NonFinitePolicy::propagate;
  for (int k = 0; k < 3; ++k) {
    std::vector<float> v(30000 + 7 * k);
    for (uint64_t i = 0; i < v.size(); ++i) v[i] = co3::golden::synthetic_value(95 + k, i);
    if (k != 1) v[5] = INFINITY, v[8192] = -INFINITY, v[v.size() - 1] = std::nanf("");
    Tensor t = co3::golden::make_tensor(v, k == 2 ? co3::DType::bf16 : co3::DType::f32);
    t.gamma = 0.5f;
    t.memory.assign(v.size(), 1e-4f);
    c.tensors.push_back(t);
  }
  c.steps = 2;
  std::vector<std::vector<float>> gpu_mem, cpu_mem;
  const std::vector<uint8_t> gpu = encode_gpu(c, &gpu_mem);
  const std::vector<uint8_t> cpu = co3::golden::encode_cpu(c, &cpu_mem);
  EXPECT_EQ(first_difference(gpu, cpu), cpu.size());
  EXPECT_EQ(gpu, cpu);
  expect_same_memory(gpu_mem, cpu_mem);
  EXPECT_EQ(gpu_mem[0], c.tensors[0].memory);
  EXPECT_EQ(gpu_mem[2], c.tensors[2].memory);
}

TEST(GpuEncode, HistogramCodeTooShortIsTheCpuError) {
  SKIP_WITHOUT_GPU();
  co3::golden::Case c;
  c.config = co3::golden::config(co3::formats::e5m2, co3::Rounding::nearest_even,
                                 co3::ScalePolicy::gennorm, co3::CodeSource::histogram);
  c.config.max_code_length = 3;  // 8 codes for far more distinct symbols
  c.tensors.push_back(co3::golden::synthetic(10000, 81));
  c.tensors.back().gamma = 0.7f;
  c.tensors.back().memory.assign(10000, 1e-3f);  // found after the conversion: memory kept
  expect_same_error(c);
}

// The device's packet and error memory after a case's steps equal the CPU codec's.
void expect_gpu_like_cpu(const co3::golden::Case& c) {
  std::vector<std::vector<float>> gpu_mem, cpu_mem;
  const std::vector<uint8_t> gpu = encode_gpu(c, &gpu_mem);
  const std::vector<uint8_t> cpu = co3::golden::encode_cpu(c, &cpu_mem);
  EXPECT_EQ(gpu.size(), cpu.size());
  EXPECT_EQ(first_difference(gpu, cpu), cpu.size()) << "first differing byte";
  expect_same_memory(gpu_mem, cpu_mem);
}

// The cases that only the CPU emulation ran before (tests/gpu/encode_cases.h), on the device.
TEST(GpuEncode, ChunksTooLargeForSharedMemoryPackWithGlobalAtomics) {
  SKIP_WITHOUT_GPU();
  expect_gpu_like_cpu(co3::testing::chunks_too_large_for_shared_memory());
}

TEST(GpuEncode, Bf16ByRoundedBitsUnderClamp) {
  SKIP_WITHOUT_GPU();
  for (co3::Rounding r : {co3::Rounding::nearest_even, co3::Rounding::nearest_down}) {
    SCOPED_TRACE(static_cast<int>(r));
    expect_gpu_like_cpu(co3::testing::bf16_rounded_bits_under_clamp(r));
  }
}

TEST(GpuEncode, NoTensorsAndOnlyEmptyOnes) {
  SKIP_WITHOUT_GPU();
  for (const co3::golden::Case& c : co3::testing::no_tensors_and_only_empty_ones()) {
    SCOPED_TRACE(c.name);
    expect_gpu_like_cpu(c);
  }
}

// Zero-block maps (FORMAT.md §6b): blocks of 2 and 64, chunks of no coded block, every block
// coded, everything left out, a map that does not save, mixed batches, class maps beside them
// (of 2^20, 2^16, 2^12 entries a tensor: gpu_test_size.h).
TEST(GpuEncode, ZeroBlockMapsGiveTheCpuPacketAndMemory) {
  SKIP_WITHOUT_GPU();
  const uint64_t n = co3::testing::by_size<uint64_t>(uint64_t{1} << 20, 1u << 16, 1u << 12);
  for (const co3::testing::ZeroBlockCase& z : co3::testing::zero_block_cases(n)) {
    SCOPED_TRACE(z.c.name);
    expect_gpu_like_cpu(z.c);
  }
}

// The same maps under a given code (a model code's tables as the prior code): no histogram.
TEST(GpuEncode, ZeroBlockMapsUnderAPriorCode) {
  SKIP_WITHOUT_GPU();
  const uint64_t n = co3::testing::by_size<uint64_t>(uint64_t{1} << 20, 1u << 16, 1u << 12);
  for (const co3::testing::ZeroBlockCase& z : co3::testing::zero_block_cases(n)) {
    if (z.c.config.code == co3::CodeSource::histogram) continue;
    SCOPED_TRACE(z.c.name);
    co3::golden::Case one = z.c;
    one.steps = 1;
    expect_prior_code_gives_cpu(one);
  }
}

TEST(GpuEncode, DeferredMemoryPassWhenTheCodeSucceeds) {
  SKIP_WITHOUT_GPU();
  expect_gpu_like_cpu(co3::testing::deferred_memory_when_the_code_may_fail());
}

TEST(GpuEncode, MoreThan2To31Entries) {
  SKIP_WITHOUT_GPU();
  const char* opt = std::getenv("CO3_LARGE_TESTS");
  if (!opt || std::string(opt) != "1")
    GTEST_SKIP() << "set CO3_LARGE_TESTS=1 (2^31 + 4097 entries)";
  if (co3::testing::gpu_test_size() != co3::testing::GpuTestSize::full)
    GTEST_SKIP() << "2^31 + 4097 entries: not at the small or simulator sizes";
  co3::golden::Case c;
  c.config = co3::golden::config(co3::formats::fp4, co3::Rounding::nearest_even,
                                 co3::ScalePolicy::gennorm, co3::CodeSource::histogram);
  c.config.threads = 0;
  const uint64_t n = (uint64_t{1} << 31) + 4097;
  Tensor t;
  t.dtype = co3::DType::bf16;
  t.numel = n;
  t.bytes.resize(2 * n);
  for (uint64_t i = 0; i < n; ++i) {
    const uint16_t h = co3::float_to_bf16(co3::golden::synthetic_value(90, i % 1000003));
    std::memcpy(t.bytes.data() + 2 * i, &h, 2);
  }
  c.tensors.push_back(std::move(t));
  std::vector<std::vector<float>> mem;
  const std::vector<uint8_t> gpu = encode_gpu(c, &mem);
  const std::vector<uint8_t> cpu = co3::golden::encode_cpu(c);
  EXPECT_EQ(gpu.size(), cpu.size());
  EXPECT_EQ(first_difference(gpu, cpu), cpu.size());
}

}  // namespace
