// The LibTorch API on CUDA tensors: the device path gives the CPU path's bytes and values, keeps
// error memory on the device, accumulates, and raises device-found errors as the CPU does.
// Skips (visibly) where no CUDA device exists.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "co3/error.h"
#include "co3/torch/codec.h"
#include "co3/torch/compressor.h"

namespace {

using co3::Codec;
using co3::CodecConfig;

bool have_gpu() { return torch::cuda::is_available(); }

#define REQUIRE_GPU() \
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device: the LibTorch device path was not run"

std::vector<at::Tensor> gradients(at::Device device) {
  torch::manual_seed(7);
  // GenNorm-like heavy tails, mixed dtypes and shapes, one non-contiguous, one empty.
  const at::Tensor w = (torch::randn({300, 200}) * torch::rand({300, 200}).pow(4)) * 1e-3;
  return {w.to(device), torch::randn({512}).to(at::kHalf).to(device),
          torch::randn({64, 48}).to(at::kBFloat16).t().to(device), torch::empty({0}, device)};
}

at::Tensor exact_bytes(const at::Tensor& packet) {
  return packet.narrow(0, 0, co3::packet_size(packet)).to(at::kCPU);
}

TEST(TorchGpu, EncodeGivesTheCpuBytes) {
  REQUIRE_GPU();
  for (auto fmt : {co3::formats::fp4, co3::formats::e5m2, co3::formats::e4m3, co3::formats::bf16}) {
    for (auto code : {co3::CodeSource::histogram, co3::CodeSource::gennorm}) {
      CodecConfig cfg;
      cfg.format = fmt;
      cfg.code = code;
      const Codec codec(cfg);
      const at::Tensor cpu = codec.encode(gradients(at::kCPU));
      const at::Tensor gpu = codec.encode(gradients(at::kCUDA));
      ASSERT_TRUE(gpu.is_cuda());
      EXPECT_TRUE(torch::equal(exact_bytes(gpu), cpu)) << co3::to_string(fmt);
    }
  }
}

TEST(TorchGpu, DecodeGivesTheCpuValuesAndAccumulates) {
  REQUIRE_GPU();
  CodecConfig cfg;
  cfg.format = co3::formats::fp4;
  const Codec codec(cfg);
  const at::Tensor packet = codec.encode(gradients(at::kCPU));
  const std::vector<at::Tensor> want = codec.decode(packet);
  const std::vector<at::Tensor> got = codec.decode(packet.to(at::kCUDA));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(got[i].is_cuda());
    EXPECT_TRUE(torch::equal(got[i].to(at::kCPU), want[i])) << i;
  }
  // Twice accumulated into float32 zeros: 2·value, exactly (value + value is exact).
  std::vector<at::Tensor> sums;
  for (const at::Tensor& w : want) sums.push_back(torch::zeros(w.sizes(), torch::dtype(at::kFloat).device(at::kCUDA)));
  codec.decode_into(packet.to(at::kCUDA), sums, /*accumulate=*/true);
  codec.decode_into(packet.to(at::kCUDA), sums, /*accumulate=*/true);
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_TRUE(torch::equal(sums[i].to(at::kCPU), want[i].to(at::kFloat) * 2)) << i;
}

// fp4 with error feedback, the compressor's other defaults.
co3::CompressorOptions fp4_options() {
  co3::CompressorOptions o;
  o.config.format = co3::formats::fp4;
  o.gamma = 0.7f;
  return o;
}

TEST(TorchGpu, CompressorMemoryMatchesTheCpu) {
  REQUIRE_GPU();
  const co3::CompressorOptions o = fp4_options();
  co3::Compressor on_cpu(o), on_gpu(o);
  for (int step = 0; step < 3; ++step) {
    torch::manual_seed(100 + step);
    const at::Tensor g = torch::randn({1000, 37}) * 1e-2;
    const at::Tensor p_cpu = on_cpu.compress({"g"}, {g});
    const at::Tensor p_gpu = on_gpu.compress({"g"}, {g.to(at::kCUDA)});
    EXPECT_TRUE(torch::equal(exact_bytes(p_gpu), p_cpu)) << "step " << step;
    EXPECT_TRUE(on_gpu.memory("g").is_cuda());
    EXPECT_TRUE(torch::equal(on_gpu.memory("g").to(at::kCPU), on_cpu.memory("g"))) << "step " << step;
  }
}

TEST(TorchGpu, DeviceFoundErrorsRaiseTheCpuError) {
  REQUIRE_GPU();
  const Codec codec;  // non-finite policy 'error'
  at::Tensor g = torch::randn({4096});
  g[17] = std::numeric_limits<float>::infinity();
  std::string cpu_message;
  try {
    codec.encode(g);
  } catch (const co3::Error& e) {
    cpu_message = e.what();
  }
  ASSERT_FALSE(cpu_message.empty());
  const at::Tensor packet = codec.encode(g.to(at::kCUDA));  // no sync: the error is on the device
  try {
    co3::packet_size(packet);
    ADD_FAILURE() << "packet_size accepted a failure record";
  } catch (const co3::Error& e) {
    EXPECT_EQ(e.code(), co3::Errc::non_finite);
    EXPECT_EQ(std::string(e.what()), cpu_message);
  }
  EXPECT_THROW(codec.decode(packet), co3::Error);
  // The receiver of the record raises the sender's error too, from the device decoder.
  at::Tensor out = torch::zeros({4096}, torch::dtype(at::kFloat).device(at::kCUDA));
  try {
    codec.decode_into(packet, {out}, /*accumulate=*/true);
    ADD_FAILURE() << "decode_into accepted a failure record";
  } catch (const co3::Error& e) {
    EXPECT_EQ(e.code(), co3::Errc::non_finite);
    EXPECT_EQ(std::string(e.what()), cpu_message);
  }
}

// The device paths of decode_accumulate (one wait for the list) and encode_into (a buffer of
// max_packet_bytes, no allocation) give the CPU paths' values and bytes.
TEST(TorchGpu, DecodeAccumulateAndEncodeIntoMatchTheCpu) {
  REQUIRE_GPU();
  const Codec codec;
  std::vector<at::Tensor> cpu_packets, gpu_packets;
  for (int r = 0; r < 4; ++r) {
    torch::manual_seed(10 + r);
    const at::Tensor g = torch::randn({70000}) * 1e-3;
    cpu_packets.push_back(codec.encode(g));
    at::Tensor buffer = torch::empty({codec.max_packet_bytes({g.cuda()})},
                                     torch::dtype(at::kByte).device(at::kCUDA));
    codec.encode_into({g.cuda()}, buffer);
    const int64_t n = co3::packet_size(buffer);
    ASSERT_TRUE(torch::equal(buffer.narrow(0, 0, n).cpu(), cpu_packets.back())) << "rank " << r;
    gpu_packets.push_back(buffer);  // with its tail: the decoder reads the length from the header
  }
  at::Tensor cpu_sum = torch::zeros({70000});
  codec.decode_accumulate(cpu_packets, {cpu_sum});
  at::Tensor gpu_sum = torch::zeros({70000}, torch::dtype(at::kFloat).device(at::kCUDA));
  codec.decode_accumulate(gpu_packets, {gpu_sum});
  EXPECT_TRUE(torch::equal(gpu_sum.cpu(), cpu_sum));
  gpu_packets[2] = gpu_packets[2].clone();
  gpu_packets[2][200] = gpu_packets[2][200].item<uint8_t>() ^ 0x04;
  try {
    codec.decode_accumulate(gpu_packets, {gpu_sum});
    ADD_FAILURE() << "a corrupt packet was accumulated";
  } catch (const co3::Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("packet 2: ", 0), 0u) << e.what();
  }
}

// A compress the device refuses (NaN in the second tensor under the 'error' policy, found by
// the first pass; a code too short for the data, found after the conversion) leaves every
// memory on the device as it was.
TEST(TorchGpu, AFailingCompressLeavesEveryMemoryAsItWas) {
  REQUIRE_GPU();
  co3::CompressorOptions o;
  o.config.format = co3::formats::e5m2;
  o.config.non_finite = co3::NonFinitePolicy::error;
  o.gamma = 0.7f;
  co3::Compressor comp(o);
  torch::manual_seed(6);
  const at::Tensor a = (torch::randn({40, 30}) * 1e-2).to(at::kCUDA);
  const at::Tensor b = (torch::randn({700}) * 1e-2).to(at::kCUDA);
  comp.compress({"a", "b"}, {a, b});
  const at::Tensor mem_a = comp.memory("a").clone(), mem_b = comp.memory("b").clone();
  at::Tensor bad = b.clone();
  bad[123] = std::numeric_limits<float>::quiet_NaN();
  const at::Tensor failed = comp.compress({"a", "b"}, {a, bad});
  EXPECT_THROW(co3::packet_size(failed), co3::Error);
  EXPECT_TRUE(torch::equal(comp.memory("a"), mem_a));
  EXPECT_TRUE(torch::equal(comp.memory("b"), mem_b));

  o.config.max_code_length = 3;
  co3::Compressor short_code(o);
  short_code.load_state(comp.state());
  const at::Tensor too_short = short_code.compress({"a", "b"}, {a, b});
  EXPECT_THROW(co3::packet_size(too_short), co3::Error);
  EXPECT_TRUE(torch::equal(short_code.memory("a").to(at::kCPU), mem_a.to(at::kCPU)));
  EXPECT_TRUE(torch::equal(short_code.memory("b").to(at::kCPU), mem_b.to(at::kCPU)));
  // With a code long enough, the memory pass writes what the CPU writes.
  o.config.max_code_length = 7;
  co3::Compressor on_gpu(o), on_cpu(o);
  on_gpu.load_state(comp.state());
  on_cpu.load_state(comp.state());
  const at::Tensor p_gpu = on_gpu.compress({"a", "b"}, {a, b});
  const at::Tensor p_cpu = on_cpu.compress({"a", "b"}, {a.to(at::kCPU), b.to(at::kCPU)});
  EXPECT_TRUE(torch::equal(exact_bytes(p_gpu), p_cpu));
  EXPECT_TRUE(torch::equal(on_gpu.memory("a").to(at::kCPU), on_cpu.memory("a")));
  EXPECT_TRUE(torch::equal(on_gpu.memory("b").to(at::kCPU), on_cpu.memory("b")));
}

// The Compressor's default policy, 'propagate', on the device: the CPU's packet and memory,
// and the non-finite entries decode (and accumulate) to themselves.
TEST(TorchGpu, PropagatedNonFiniteEntriesDecodeToThemselves) {
  REQUIRE_GPU();
  const co3::CompressorOptions o = fp4_options();
  co3::Compressor on_cpu(o), on_gpu(o);
  torch::manual_seed(8);
  at::Tensor g = torch::randn({5000}) * 1e-2;
  on_cpu.compress({"g"}, {g});
  on_gpu.compress({"g"}, {g.to(at::kCUDA)});
  g[3] = std::numeric_limits<float>::infinity();
  g[4000] = -std::numeric_limits<float>::infinity();
  g[4999] = std::numeric_limits<float>::quiet_NaN();
  const at::Tensor p_cpu = on_cpu.compress({"g"}, {g});
  const at::Tensor p_gpu = on_gpu.compress({"g"}, {g.to(at::kCUDA)});
  EXPECT_TRUE(torch::equal(exact_bytes(p_gpu), p_cpu));
  EXPECT_TRUE(torch::equal(on_gpu.memory("g").to(at::kCPU), on_cpu.memory("g")));
  const Codec codec;
  at::Tensor sum = torch::zeros({5000}, torch::dtype(at::kFloat).device(at::kCUDA));
  codec.decode_into(p_gpu, {sum}, /*accumulate=*/true);
  const at::Tensor s = sum.to(at::kCPU);
  EXPECT_EQ(s[3].item<float>(), std::numeric_limits<float>::infinity());
  EXPECT_EQ(s[4000].item<float>(), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(s[4999].item<float>()));
  EXPECT_EQ(torch::isfinite(s).sum().item<int64_t>(), 4997);
}

TEST(TorchGpu, CorruptPacketRaisesOnDecodeInto) {
  REQUIRE_GPU();
  const Codec codec;
  at::Tensor packet = codec.encode(torch::randn({10000}));
  packet[100] = packet[100].item<uint8_t>() ^ 0x10;  // the CRC no longer matches
  at::Tensor out = torch::empty({10000}, torch::dtype(at::kFloat).device(at::kCUDA));
  try {
    codec.decode_into(packet.to(at::kCUDA), {out});
    ADD_FAILURE() << "a corrupt packet was decoded";
  } catch (const co3::Error& e) {
    EXPECT_EQ(e.code(), co3::Errc::corrupt_packet) << e.what();
  }
}

}  // namespace
