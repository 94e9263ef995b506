// Hostile packets. A small writer built from docs/FORMAT.md alone (independent of the encoder)
// makes a valid packet by hand; each test breaks one rule and expects the decoder to name it.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <random>

#include "co3/codec.h"
#include "co3/crc32c.h"
#include "co3/error.h"
#include "hd_validate.h"
#include "test_data.h"

namespace {

using namespace co3;

struct Spec {
  uint64_t numel = 5;
  float scale = 0.5f;
  uint32_t chunk = 32;
  uint16_t table = 0;
  uint8_t dtype = 0, E = 2, M = 1, layout = 0, g = 1, symbol_bits = 4, max_len = 2;
  int16_t bias = 1;
  // fp4 codes 0 (+0), 2 (+1.0) and 10 (-1.0) with lengths 1, 2, 2: codewords 0, 10, 11.
  std::vector<uint8_t> lengths = {1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0};
  std::vector<uint16_t> chunk_words = {1};
  // Entries [1, 0, -1, 0, -1]: codewords 10 0 11 0 11, MSB-first into an LSB-first stream.
  std::vector<uint32_t> payload = {0xD9};
  // Version 2 (FORMAT.md §3a): the shape section, as [ndim, sizes...] words.
  bool with_shape = false;
  std::vector<uint64_t> shape_words = {2, 1, 5};  // shape [1, 5]
  std::function<void(std::vector<uint8_t>&)> tamper;  // applied before the CRC
};

template <class T>
void put(std::vector<uint8_t>& b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof v);
}
size_t a8(size_t x) { return (x + 7) / 8 * 8; }

std::vector<uint8_t> build(const Spec& s) {
  const size_t body = (5 * s.lengths.size() + 7) / 8;  // one 5-bit token per symbol
  const size_t shapes_at = 32 + 64;
  const size_t table_at = shapes_at + (s.with_shape ? 8 * s.shape_words.size() : 0);
  const size_t data_at = table_at + a8(16 + body);
  const size_t total = data_at + a8(2 * s.chunk_words.size()) + a8(4 * s.payload.size()) + 4;
  std::vector<uint8_t> b(total, 0);
  std::memcpy(b.data(), "CO3p", 4);
  put<uint16_t>(b, 4, s.with_shape ? 2 : 1);
  put<uint16_t>(b, 6, s.with_shape ? 1 : 0);
  put<uint64_t>(b, 8, total);
  if (s.with_shape)
    for (size_t k = 0; k < s.shape_words.size(); ++k) put<uint64_t>(b, shapes_at + 8 * k, s.shape_words[k]);
  put<uint32_t>(b, 16, 1);
  put<uint32_t>(b, 20, 1);
  const size_t d = 32;
  put<uint64_t>(b, d + 0, s.numel);
  put<uint64_t>(b, d + 8, data_at);
  put<uint64_t>(b, d + 16, s.payload.size());
  put<float>(b, d + 24, s.scale);
  put<float>(b, d + 28, 0.7f);
  put<float>(b, d + 32, 0.9f);
  put<uint32_t>(b, d + 36, s.chunk);
  put<uint16_t>(b, d + 40, s.table);
  b[d + 42] = s.dtype;
  b[d + 43] = s.E;
  b[d + 44] = s.M;
  b[d + 45] = s.layout;
  put<int16_t>(b, d + 46, s.bias);
  b[d + 49] = s.g;
  b[table_at] = s.symbol_bits;
  b[table_at + 1] = s.max_len;
  put<uint32_t>(b, table_at + 4, static_cast<uint32_t>(body));
  for (size_t i = 0; i < s.lengths.size(); ++i)
    for (int k = 0; k < 5; ++k)
      if ((s.lengths[i] >> k) & 1) b[table_at + 16 + (5 * i + k) / 8] |= 1 << ((5 * i + k) % 8);
  for (size_t k = 0; k < s.chunk_words.size(); ++k) put<uint16_t>(b, data_at + 2 * k, s.chunk_words[k]);
  const size_t payload_at = data_at + a8(2 * s.chunk_words.size());
  for (size_t k = 0; k < s.payload.size(); ++k) put<uint32_t>(b, payload_at + 4 * k, s.payload[k]);
  if (s.tamper) s.tamper(b);
  put<uint32_t>(b, b.size() - 4, crc32c(b.data(), b.size() - 4));
  return b;
}

// The host+device validator (the GPU's checks, hd_validate.h) must refuse it too.
void expect_hd_rejected(const std::vector<uint8_t>& p) {
  const kernels::DeviceStatus st = co3::testing::validate_hd(p.data(), p.size());
  EXPECT_NE(st.code, 0u) << "the host+device validator accepted it";
  if (st.code) {
    EXPECT_EQ(kernels::status_error(st).code(), Errc::corrupt_packet);
  }
}

// The decoder must refuse with corrupt_packet and a message containing `needle`.
void expect_rejected(const std::vector<uint8_t>& p, const std::string& needle) {
  expect_hd_rejected(p);
  try {
    decode(p.data(), p.size());
    ADD_FAILURE() << "accepted; expected an error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::corrupt_packet) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Packet, HandBuiltPacketDecodes) {
  const auto p = build(Spec{});
  EXPECT_EQ(co3::testing::validate_hd(p.data(), p.size()).code, 0u);
  const auto out = decode(p.data(), p.size());
  ASSERT_EQ(out.size(), 1u);
  const float* y = reinterpret_cast<const float*>(out[0].bytes.data());
  EXPECT_EQ(std::vector<float>(y, y + 5), (std::vector<float>{0.5f, 0, -0.5f, 0, -0.5f}));
}

TEST(Packet, HeaderFields) {
  Spec s;
  s.tamper = [](auto& b) { b[0] = 'X'; };
  expect_rejected(build(s), "magic");
  s.tamper = [](auto& b) { b[4] = 3; };
  expect_rejected(build(s), "version");
  s.tamper = [](auto& b) { b[4] = 2; };  // version 2 without the shapes flag
  expect_rejected(build(s), "flags");
  s.tamper = [](auto& b) { b[6] = 1; };
  expect_rejected(build(s), "flags");
  s.tamper = [](auto& b) { b[30] = 1; };
  expect_rejected(build(s), "reserved");
  s.tamper = [](auto& b) { b[20] = 2; };  // two segments claimed, one present
  expect_rejected(build(s), "segment");
}

TEST(Packet, Version2ShapesDecodeAndAreChecked) {
  Spec s;
  s.with_shape = true;
  const auto p = build(s);
  const auto out = decode(p.data(), p.size());
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].shape.has_value());
  EXPECT_EQ(*out[0].shape, (std::vector<int64_t>{1, 5}));
  EXPECT_EQ(*inspect(p.data(), p.size()).segments[0].shape, (std::vector<int64_t>{1, 5}));
  const float* y = reinterpret_cast<const float*>(out[0].bytes.data());
  EXPECT_EQ(std::vector<float>(y, y + 5), (std::vector<float>{0.5f, 0, -0.5f, 0, -0.5f}));
  // A version-1 packet has no shape.
  const auto v1 = build(Spec{});
  EXPECT_FALSE(decode(v1.data(), v1.size())[0].shape.has_value());

  s.shape_words = {2, 2, 5};
  expect_rejected(build(s), "shape holds 10 elements, num_elements says 5");
  s.shape_words = {65, 5};
  expect_rejected(build(s), "ndim 65 exceeds 64");
  s.shape_words = {2, (uint64_t{1} << 48) + 1, 5};
  expect_rejected(build(s), "exceeds 2^48");
  // Sizes whose product wraps 2^64 must not pass as 5 or 0.
  s.shape_words = {3, uint64_t{1} << 48, uint64_t{1} << 48, 5};
  expect_rejected(build(s), "shape holds");
  s.shape_words = {2, 0, 5};
  expect_rejected(build(s), "shape holds 0 elements");
  // A shape section claiming more dimensions than bytes remain.
  s.shape_words = {40, 5};
  expect_rejected(build(s), "runs past the end");
  s.shape_words = {2, 1, 5};
  s.tamper = [](auto& b) { b[6] = 3; };  // an unknown flag
  expect_rejected(build(s), "flags");
}

TEST(Packet, TruncatedPaddedAndCrc) {
  const auto p = build(Spec{});
  for (size_t n = 0; n < p.size(); ++n) {
    std::vector<uint8_t> t(p.begin(), p.begin() + n);
    EXPECT_THROW(decode(t.data(), t.size()), Error) << n;
    expect_hd_rejected(t);
  }
  auto longer = p;
  longer.push_back(0);
  expect_rejected(longer, "total_bytes");
  auto flipped = p;
  flipped[p.size() - 10] ^= 4;
  expect_rejected(flipped, "CRC");
}

TEST(Packet, CodeTableViolations) {
  Spec s;
  s.lengths[4] = 1;  // Kraft sum 1.5
  expect_rejected(build(s), "Kraft");
  s = Spec{};
  s.lengths[2] = 3;  // longer than max_length 2
  expect_rejected(build(s), "code table");
  s = Spec{};
  s.symbol_bits = 5;  // 32 symbols but 16 tokens; and wrong for the segment
  expect_rejected(build(s), "code table");
  s = Spec{};
  s.tamper = [](auto& b) { b[96 + 16] = 27; };  // token 27 is invalid
  expect_rejected(build(s), "code table");
}

TEST(Packet, DescriptorRanges) {
  const std::pair<std::function<void(Spec&)>, std::string> cases[] = {
      {[](Spec& s) { s.dtype = 3; }, "dtype"},
      {[](Spec& s) { s.E = 9; }, "exp_bits"},
      {[](Spec& s) { s.M = 11; }, "man_bits"},
      {[](Spec& s) { s.layout = 3; }, "layout"},
      {[](Spec& s) { s.g = 5; }, "entries_per_symbol"},
      {[](Spec& s) { s.chunk = 16; }, "chunk_symbols"},
      {[](Spec& s) { s.scale = -1; }, "scale"},
      {[](Spec& s) { s.scale = INFINITY; }, "scale"},
      {[](Spec& s) { s.table = 1; }, "code_table"},
      {[](Spec& s) { s.bias = -200; }, "bias"},
      {[](Spec& s) { s.tamper = [](auto& b) { b[32 + 48] = 7; }; }, "rounding"},
      {[](Spec& s) { s.tamper = [](auto& b) { b[32 + 60] = 1; }; }, "reserved"},
      {[](Spec& s) { s.tamper = [](auto& b) { b[32 + 8] += 8; }; }, "data_offset"},
  };
  for (const auto& [mutate, needle] : cases) {
    Spec s;
    mutate(s);
    expect_rejected(build(s), needle);
  }
}

TEST(Packet, ElementCountsAndOffsetsMustMatchThePayload) {
  Spec s;
  // Zero padding bits read as the codeword '0', so a count is caught once the stream runs dry
  // (the CRC is what protects the count against accidents).
  s.numel = 31;
  expect_rejected(build(s), "run past");
  s.numel = 4;  // one fewer: a codeword left over in the padding
  expect_rejected(build(s), "padding");
  s.numel = uint64_t{1} << 40;  // far more than the payload can hold: refused before allocating
  expect_rejected(build(s), "needs more payload");
  s = Spec{};
  s.chunk_words = {2};  // the table says 2 words, the payload holds 1
  expect_rejected(build(s), "chunk table sums");
  s = Spec{};
  s.payload = {0xD9, 0};
  s.chunk_words = {2};  // a whole unused word
  expect_rejected(build(s), "more words");
  s = Spec{};
  s.payload = {0xD9 | 0x400};  // a set padding bit
  expect_rejected(build(s), "padding");
  s = Spec{};
  s.lengths = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};  // one codeword, '0'
  s.payload = {0x1};  // ...but the stream starts with '1'
  expect_rejected(build(s), "invalid codeword");
}

// Thousands of random byte flips of real packets: every one detected, none crashes.
TEST(Packet, MutatedRealPacketsAreAlwaysDetected) {
  auto x = co3::testing::real_gradient("resnet18_step120.f32", 1 << 16);
  if (x.empty()) x = co3::testing::gennorm_samples(1 << 16, 0.25, 1e-3, 1);
  std::mt19937_64 rng(12345);
  int decoded_with_fixed_crc = 0, rejected_with_fixed_crc = 0;
  for (FloatFormat f : {formats::fp4, formats::e5m2, formats::e4m3})
    for (CodeSource c : {CodeSource::histogram, CodeSource::gennorm}) {
      CodecConfig cfg;
      cfg.format = f;
      cfg.code = c;
      cfg.chunk_symbols = 512;
      const auto pkt = encode(TensorView{x.data(), x.size(), DType::f32}, cfg);
      for (int trial = 0; trial < 600; ++trial) {
        auto m = pkt;
        const size_t at = rng() % m.size();
        m[at] ^= static_cast<uint8_t>(1 + rng() % 255);
        expect_hd_rejected(m);
        try {
          decode(m.data(), m.size());
          ADD_FAILURE() << "flip at byte " << at << " of " << m.size() << " went undetected";
        } catch (const Error& e) {
          ASSERT_EQ(e.code(), Errc::corrupt_packet) << e.what();
        }
        // With the CRC recomputed the deeper checks face the same bytes: no crash, and an
        // accepted packet must still describe the same tensor.
        if (at + 4 < m.size()) {
          const uint32_t crc = crc32c(m.data(), m.size() - 4);
          std::memcpy(m.data() + m.size() - 4, &crc, 4);
          const bool hd_accepts = co3::testing::validate_hd(m.data(), m.size()).code == 0;
          try {
            const auto out = decode(m.data(), m.size());
            ++decoded_with_fixed_crc;
            ASSERT_EQ(out.size(), 1u);
            EXPECT_TRUE(hd_accepts) << "the host+device validator refused a packet the CPU decodes";
          } catch (const Error& e) {
            ASSERT_EQ(e.code(), Errc::corrupt_packet) << e.what();
            ++rejected_with_fixed_crc;
            EXPECT_FALSE(hd_accepts) << "the host+device validator accepted: " << e.what();
          }
        }
      }
    }
  std::printf("with a recomputed CRC: %d rejected, %d decoded (payload flips are valid data)\n",
              rejected_with_fixed_crc, decoded_with_fixed_crc);
  EXPECT_GT(rejected_with_fixed_crc, 0);
}

}  // namespace
