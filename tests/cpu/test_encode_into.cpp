// encode_into (codec.h) and the encoder's pooled scratch memory (host/codec/scratch.h, issue 25):
// the packet written into caller memory that holds garbage is encode()'s, byte for byte, for
// every golden case on one and two threads, and no byte past it is touched; a buffer too small
// is refused with the error memories as they were; large tensors encoded one after another
// through reused (dirty) scratch buffers give the packets a fresh process gives.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "../golden/golden_cases.h"
#include "co3/codec.h"
#include "co3/error.h"
#include "codec/scratch.h"

namespace {

using co3::golden::Case;

std::vector<co3::EncodeInput> inputs_of(const Case& c, std::vector<std::vector<float>>& mem) {
  std::vector<co3::EncodeInput> in;
  for (size_t k = 0; k < c.tensors.size(); ++k) {
    const auto& t = c.tensors[k];
    co3::EncodeInput e({t.bytes.data(), t.numel, t.dtype}, mem[k].empty() ? nullptr : mem[k].data(),
                       t.gamma);
    e.shape = t.shape;
    e.fit = t.fit;
    in.push_back(e);
  }
  return in;
}

std::vector<std::vector<float>> memories(const Case& c) {
  std::vector<std::vector<float>> m;
  for (const auto& t : c.tensors) m.push_back(t.memory);
  return m;
}

TEST(EncodeInto, IsEncodeByteForByteInGarbageMemory) {
  size_t checked = 0;
  for (Case c : co3::golden::cases()) {
    if (c.missing_data) continue;
    for (int threads : {1, 2}) {
      c.config.threads = threads;
      auto mem_a = memories(c), mem_b = memories(c);
      const std::vector<uint8_t> want = co3::encode(inputs_of(c, mem_a), c.config);
      const auto in = inputs_of(c, mem_b);
      const uint64_t bound = co3::max_packet_bytes(in, c.config);
      ASSERT_GE(bound, want.size()) << c.name;
      std::vector<uint8_t> buf(bound + 64, 0xA5);
      const uint64_t size = co3::encode_into(in, c.config, buf.data(), bound);
      ASSERT_EQ(size, want.size()) << c.name << " threads " << threads;
      EXPECT_EQ(0, std::memcmp(buf.data(), want.data(), size)) << c.name << " threads " << threads;
      for (size_t i = size; i < buf.size(); ++i)
        ASSERT_EQ(buf[i], 0xA5) << c.name << ": byte " << i << " past the packet was written";
      EXPECT_EQ(mem_a, mem_b) << c.name;
      ++checked;
    }
  }
  EXPECT_GT(checked, 20u);
}

TEST(EncodeInto, RefusesABufferTooSmallAndLeavesTheMemoryAsItWas) {
  const co3::golden::Tensor t = co3::golden::synthetic(50000, 7);
  std::vector<float> memory(t.numel, 1e-4f);
  const std::vector<float> before = memory;
  co3::CodecConfig cfg;
  cfg.format = co3::formats::e5m2;
  std::vector<co3::EncodeInput> in = {co3::EncodeInput({t.bytes.data(), t.numel, t.dtype}, memory.data(), 0.7f)};
  std::vector<float> probe = memory;
  in[0].memory = probe.data();
  const size_t size = co3::encode(in, cfg).size();
  in[0].memory = memory.data();
  std::vector<uint8_t> buf(size - 1, 0xA5);
  try {
    co3::encode_into(in, cfg, buf.data(), buf.size());
    FAIL() << "a buffer one byte short was accepted";
  } catch (const co3::Error& e) {
    EXPECT_EQ(e.code(), co3::Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("the buffer holds " + std::to_string(size - 1)), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(memory, before);
  EXPECT_THROW(co3::encode_into(in, cfg, nullptr, size), co3::Error);
  EXPECT_EQ(memory, before);
  buf.assign(size, 0xA5);
  EXPECT_EQ(co3::encode_into(in, cfg, buf.data(), buf.size()), size);
  EXPECT_NE(memory, before);  // a successful encode moves the memory
}

// Tensors above the pool's threshold (byte symbols for fp4 and e4m3, 16-bit for bf16), encoded
// through the pool's reused buffers, then again from an emptied pool: the same packets.
TEST(EncodeInto, ReusedScratchGivesTheSamePackets) {
  const co3::golden::Tensor a = co3::golden::synthetic(2500000, 11), b = co3::golden::synthetic(2300000, 12);
  for (const char* fmt : {"fp4", "e4m3", "bf16"}) {
    co3::CodecConfig cfg;
    cfg.format = co3::parse_format(fmt);
    cfg.threads = 2;
    const co3::TensorView va{a.bytes.data(), a.numel, a.dtype}, vb{b.bytes.data(), b.numel, b.dtype};
    const std::vector<uint8_t> pa = co3::encode(va, cfg);
    EXPECT_GT(co3::detail::scratch_pool_bytes(), 0u) << fmt << ": nothing was kept";
    const std::vector<uint8_t> pb = co3::encode(vb, cfg);  // through a's dirty buffers
    co3::release_scratch();
    EXPECT_EQ(co3::detail::scratch_pool_bytes(), 0u);
    EXPECT_EQ(co3::encode(vb, cfg), pb) << fmt;
    EXPECT_EQ(co3::encode(va, cfg), pa) << fmt;
    // And the values come back (the packets are not merely equal, they decode).
    std::vector<float> y(a.numel);
    co3::decode_into(pa.data(), pa.size(), {y.data()}, true);
    const float* x = reinterpret_cast<const float*>(a.bytes.data());
    double err = 0, ref = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      err += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
      ref += double(x[i]) * x[i];
    }
    EXPECT_LT(err / ref, 0.2) << fmt;
  }
}

}  // namespace
