// Zero-block maps (docs/FORMAT.md §6b, version 4): a segment leaves out the blocks of its symbols
// that are all zero. The oracle is the same encode without a map: the map changes only how the
// symbols are coded, so both packets decode to the same bits and leave the same error memory.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "co3/codec.h"
#include "co3/crc32c.h"
#include "co3/detail/packet_layout.h"
#include "co3/detail/validate_packet.h"
#include "co3/error.h"
#include "test_data.h"

namespace {

using namespace co3;
using co3::testing::sparse;

CodecConfig ternary(int zero_block, int g = 4, uint32_t chunk = 4096) {
  CodecConfig c;
  c.format = FloatFormat{1, 0, 1, Layout::finite};  // codes 0, ±1
  c.entries_per_symbol = g;
  c.scale = {ScalePolicy::absmax, 1.0f, 0.0f};
  c.code = CodeSource::histogram;
  c.chunk_symbols = chunk;
  c.zero_block = zero_block;
  c.threads = 2;
  return c;
}

struct Encoded {
  std::vector<uint8_t> packet;
  std::vector<float> memory;
};

Encoded encode_with(const std::vector<float>& v, const CodecConfig& c, float gamma = 1.0f) {
  Encoded e;
  e.memory.assign(v.size(), 0.0f);
  EncodeInput in({v.data(), v.size(), DType::f32}, e.memory.data(), gamma);
  e.packet = encode(std::vector<EncodeInput>{in}, c);
  return e;
}

std::vector<float> decoded(const std::vector<uint8_t>& p) {
  const std::vector<DecodedTensor> t = decode(p.data(), p.size());
  std::vector<float> out(t.at(0).numel);
  std::memcpy(out.data(), t[0].bytes.data(), 4 * out.size());
  return out;
}

uint16_t version_of(const std::vector<uint8_t>& p) { return detail::load_le<uint16_t>(p.data() + 4); }
detail::Descriptor descriptor_of(const std::vector<uint8_t>& p, size_t s = 0) {
  return detail::load_descriptor(p.data() + detail::kHeaderBytes + detail::kDescriptorBytes * s);
}

void fix_crc(std::vector<uint8_t>& p) {
  detail::store_le(p.data() + p.size() - 4, crc32c(p.data(), p.size() - 4));
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), 4 * a.size()) == 0;
}

// Every block size, entries per symbol, odd sizes and chunkings: the map's packet decodes to
// the map-free packet's values, leaves the same memory, and is smaller where the data is sparse.
TEST(ZeroBlocks, SameValuesAndMemoryAsWithoutTheMap) {
  for (uint64_t n : {1ull, 7ull, 1000ull, 100003ull})
    for (int g : {1, 2, 4})
      for (int block : {2, 8, 32, 64}) {
        SCOPED_TRACE("n " + std::to_string(n) + " g " + std::to_string(g) + " block " +
                     std::to_string(block));
        const std::vector<float> v = sparse(n, 0.01, n * 31 + g);
        const Encoded plain = encode_with(v, ternary(0, g, 128));
        const Encoded mapped = encode_with(v, ternary(block, g, 128));
        EXPECT_TRUE(same_bits(decoded(plain.packet), decoded(mapped.packet)));
        EXPECT_TRUE(same_bits(plain.memory, mapped.memory));
        EXPECT_LE(mapped.packet.size(), plain.packet.size() + 16);
        if (n >= 1000) {
          EXPECT_EQ(version_of(mapped.packet), detail::kVersionZeroBlocks);
          EXPECT_EQ(descriptor_of(mapped.packet).block_symbols(), static_cast<uint32_t>(block));
          EXPECT_LT(mapped.packet.size(), plain.packet.size());
        }
      }
}

// Below Huffman's floor: four entries a symbol cost at least 1/4 bit an entry without the map;
// with it a 1 %-dense gradient takes well under that.
TEST(ZeroBlocks, SparseDataCodesBelowOneBitASymbol) {
  const uint64_t n = 1 << 20;
  const std::vector<float> v = sparse(n, 0.01, 5);
  // A scale below every nonzero |x|: each nonzero entry codes ±1, so 1 % of the codes are not 0.
  CodecConfig c = ternary(0);
  c.scale = {ScalePolicy::value, 1e-6f, 0.0f};
  const Encoded plain = encode_with(v, c);
  c.zero_block = 16;
  const Encoded mapped = encode_with(v, c);
  const double plain_bits = 8.0 * plain.packet.size() / n, mapped_bits = 8.0 * mapped.packet.size() / n;
  std::printf("1%% dense, ternary x4: %.4f bits/entry without the map, %.4f with blocks of 16\n",
              plain_bits, mapped_bits);
  EXPECT_GE(plain_bits, 0.25);
  EXPECT_LT(mapped_bits, 0.15);
}

// co3::stats sizes the packet as encode() lays it out, the map included.
TEST(ZeroBlocks, StatsCountTheMap) {
  const std::vector<float> v = sparse(100000, 0.01, 6);
  const CodecConfig c = ternary(16);
  const Encoded e = encode_with(v, c);
  const TensorStats s = stats(TensorView{v.data(), v.size(), DType::f32}, c);
  EXPECT_DOUBLE_EQ(s.packet_bits_per_entry, 8.0 * e.packet.size() / v.size());
}

// Dense data: the map would cost more than it saves, so none is written (and the packet is the
// version-1 packet it was).
TEST(ZeroBlocks, DenseDataTakesNoMap) {
  std::vector<float> v(50000);
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& x : v) x = normal(rng);
  CodecConfig c = ternary(8, 2);
  c.format = formats::e4m3;
  c.entries_per_symbol = 1;
  c.scale.policy = ScalePolicy::gennorm;
  const Encoded mapped = encode_with(v, c);
  c.zero_block = 0;
  const Encoded plain = encode_with(v, c);
  EXPECT_EQ(version_of(mapped.packet), detail::kVersionPlain);
  EXPECT_EQ(mapped.packet, plain.packet);
}

// An all-zero tensor: every block left out, every chunk without words, zeros decoded.
TEST(ZeroBlocks, AllZeroTensorHasNoPayload) {
  const std::vector<float> v(70001, 0.0f);
  const Encoded e = encode_with(v, ternary(64, 4, 256));
  const detail::Descriptor d = descriptor_of(e.packet);
  EXPECT_EQ(d.zero_block, 6);
  EXPECT_EQ(d.payload_words, 0u);
  EXPECT_TRUE(same_bits(decoded(e.packet), v));
}

// Several tensors, one shared code, shapes, and NaN under 'propagate' (a class map beside the
// zero-block map: flags 7): the values match the map-free encode.
TEST(ZeroBlocks, BesideSharedCodesShapesAndClassMaps) {
  std::vector<std::vector<float>> ts = {sparse(5000, 0.02, 1), sparse(33, 0.5, 2),
                                        std::vector<float>(4096, 0.0f), sparse(20000, 0.005, 4)};
  ts[3][777] = std::numeric_limits<float>::quiet_NaN();
  const auto run = [&](int block) {
    CodecConfig c = ternary(block);
    c.shared_code = true;
    c.non_finite = NonFinitePolicy::propagate;
    std::vector<EncodeInput> in;
    for (auto& t : ts) {
      EncodeInput e({t.data(), t.size(), DType::f32});
      e.shape = std::vector<int64_t>{static_cast<int64_t>(t.size())};
      in.push_back(e);
    }
    return encode(in, c);
  };
  const std::vector<uint8_t> plain = run(0), mapped = run(16);
  EXPECT_EQ(version_of(mapped), detail::kVersionZeroBlocks);
  EXPECT_EQ(detail::load_le<uint16_t>(mapped.data() + 6),
            detail::kFlagZeroBlocks | detail::kFlagNonFinite | detail::kFlagShapes);
  const auto a = decode(plain.data(), plain.size()), b = decode(mapped.data(), mapped.size());
  ASSERT_EQ(a.size(), b.size());
  for (size_t s = 0; s < a.size(); ++s) {
    EXPECT_EQ(a[s].bytes, b[s].bytes) << "tensor " << s;
    EXPECT_EQ(a[s].shape, b[s].shape);
  }
}

// The rate policy counts the map in its budget: a quarter of a bit an entry is met, where
// without the map the packet's floor (one bit a symbol of four entries) is above it.
TEST(ZeroBlocks, RatePolicyReachesAQuarterBit) {
  const uint64_t n = 1 << 18;
  std::vector<float> v(n);
  std::mt19937_64 rng(9);
  std::student_t_distribution<float> t(3.0f);
  for (float& x : v) x = t(rng);
  CodecConfig c = ternary(16);
  c.scale = {ScalePolicy::rate, 1.0f, 0.25f};
  EncodeReport r;
  const std::vector<uint8_t> p = encode(std::vector<EncodeInput>{EncodeInput({v.data(), n, DType::f32})}, c, &r);
  std::printf("rate 0.25 with blocks of 16: %.4f bits/entry\n", r.bits_per_entry);
  EXPECT_LE(r.bits_per_entry, 0.25 * 1.05);
  EXPECT_GT(r.bits_per_entry, 0.10);  // not the all-zero packet
}

// Configuration: block sizes that are not powers of two in 2 … 64 dividing the chunk are refused.
TEST(ZeroBlocks, BadBlockSizesAreRefused) {
  for (int block : {-1, 1, 3, 12, 128}) {
    CodecConfig c = ternary(block);
    EXPECT_THROW(validate(c), Error) << block;
  }
  CodecConfig c = ternary(64, 4, 96);  // 96 is not a multiple of 64
  EXPECT_THROW(validate(c), Error);
  c.chunk_symbols = 128;
  EXPECT_NO_THROW(validate(c));
}

// The decoder's checks (§9): each corruption, with its CRC recomputed, is refused as a corrupt
// packet (test_gpu_decode_emulated gives the GPU stages the same and more); a header check
// told that its decoder reads no maps refuses version 4 outright.
TEST(ZeroBlocks, DecoderRefusesBrokenMaps) {
  const std::vector<float> v = sparse(20000, 0.01, 8);
  const std::vector<uint8_t> good = encode_with(v, ternary(16, 4, 128)).packet;
  ASSERT_EQ(version_of(good), detail::kVersionZeroBlocks);
  const detail::Descriptor d = descriptor_of(good);
  const uint64_t map = d.zero_map_offset(), blocks = d.num_blocks();
  const auto refused = [](std::vector<uint8_t> p, const char* what) {
    fix_crc(p);
    try {
      decode(p.data(), p.size());
      ADD_FAILURE() << what << ": accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::corrupt_packet) << what << ": " << e.what();
    }
  };
  {
    auto p = good;
    p[detail::kHeaderBytes + 52] = 7;  // blocks of 128 symbols
    refused(p, "zero_block 7");
  }
  {
    auto p = good;
    p[6] = detail::kFlagShapes;  // version 4 without ZERO_BLOCKS
    refused(p, "flags");
  }
  {
    auto p = good;
    p[4] = 3;
    p[6] = detail::kFlagNonFinite;  // a map in a version-3 packet
    refused(p, "version 3");
  }
  if (blocks % 8) {
    auto p = good;
    p[map + blocks / 8] |= static_cast<uint8_t>(0x80);  // a bit past the last block
    refused(p, "map bits past the last block");
  }
  {
    // A block left out that its chunk still codes: the chunk's words no longer match.
    auto p = good;
    uint64_t k = 0;
    while (!detail::block_coded(p.data() + map, k)) ++k;
    p[map + k / 8] &= static_cast<uint8_t>(~(1u << (k % 8)));
    refused(p, "a coded block cleared");
  }
  {
    // A chunk that codes nothing given a block: its 0 words no longer match.
    auto p = good;
    const uint64_t per_chunk = d.chunk_symbols / d.block_symbols();
    uint64_t chunk = 0;
    while (detail::chunk_codes_symbols(d, p.data() + map, chunk)) ++chunk;
    ASSERT_LT(chunk, d.num_chunks()) << "the test needs a chunk without coded blocks";
    p[map + (chunk * per_chunk) / 8] |= static_cast<uint8_t>(1u << ((chunk * per_chunk) % 8));
    refused(p, "a block set in an empty chunk");
  }
  EXPECT_EQ(detail::check_header(good.data(), good.size(), 0, /*zero_maps=*/false).code,
            static_cast<uint32_t>(kernels::Status::bad_version));
  EXPECT_EQ(detail::check_header(good.data(), good.size()).code, 0u);
}

// A huge num_elements behind a tiny packet is refused before any allocation: its map would lie
// past the end.
TEST(ZeroBlocks, HugeCountWithTinyMapIsRefused) {
  auto p = encode_with(std::vector<float>(4096, 0.0f), ternary(64, 4, 256)).packet;
  ASSERT_EQ(version_of(p), detail::kVersionZeroBlocks);
  detail::store_le<uint64_t>(p.data() + detail::kHeaderBytes, uint64_t{1} << 40);
  fix_crc(p);
  EXPECT_THROW(decode(p.data(), p.size()), Error);
}

}  // namespace
