// The host+device encoder pieces (include/co3/detail/encode_*.h) behave as the GPU kernels rely
// on: a chunk packed as many ranges at odd bit offsets equals the chunk packed whole, CRCs of
// pieces combine to the whole buffer's, the in-place fold is fold_pairwise, the table body writer
// and its size agree and read back.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "co3/crc32c.h"
#include "co3/detail/crc32c_hd.h"
#include "co3/detail/encode_batch.h"
#include "co3/detail/encode_bits.h"
#include "co3/detail/encode_code.h"
#include "co3/detail/encode_entry.h"
#include "co3/detail/encode_layout.h"
#include "co3/detail/encode_stats.h"
#include "co3/huffman.h"

namespace {

using namespace co3::detail;

// A random complete code over 256 symbols and a symbol stream drawn from it.
struct Code {
  std::vector<uint8_t> lengths;
  std::vector<uint32_t> rev;
};
Code random_code(uint64_t seed, int max_len) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> w(256);
  for (auto& x : w) x = rng() % 1000 + (rng() % 7 == 0 ? 100000 : 0);
  Code c;
  c.lengths = co3::code_lengths(w, max_len);
  c.rev.resize(256);
  co3::encode_table(c.lengths.data(), 256, c.rev.data());
  return c;
}

TEST(EncodeBits, RangesAtAnyOffsetEqualTheWholeChunk) {
  const Code c = random_code(1, 14);
  std::mt19937_64 rng(2);
  std::vector<uint16_t> sym(5000);
  for (auto& s : sym) s = static_cast<uint16_t>(rng() % 256);
  const uint64_t bits = range_bits(sym.data(), 0, sym.size(), c.lengths.data());
  const uint64_t words = chunk_words_for(bits);
  std::vector<uint32_t> whole(words, 0), pieces(words, 0);
  pack_range(sym.data(), 0, sym.size(), c.lengths.data(), c.rev.data(), 0,
             [&](uint64_t w, uint32_t v) { whole[w] |= v; });
  // Cut into ranges of random (also empty) sizes, packed in reverse order at scanned offsets.
  std::vector<uint64_t> cuts = {0};
  while (cuts.back() < sym.size())
    cuts.push_back(std::min<uint64_t>(sym.size(), cuts.back() + rng() % 97));
  uint64_t offset = bits;
  for (size_t k = cuts.size() - 1; k-- > 0;) {
    offset -= range_bits(sym.data(), cuts[k], cuts[k + 1], c.lengths.data());
    pack_range(sym.data(), cuts[k], cuts[k + 1], c.lengths.data(), c.rev.data(), offset,
               [&](uint64_t w, uint32_t v) {
                 ASSERT_LT(w, words);
                 pieces[w] |= v;
               });
  }
  EXPECT_EQ(offset, 0u);
  EXPECT_EQ(pieces, whole);
  // The padding bits past the last codeword are zero.
  if (bits % 32) {
    EXPECT_EQ(whole.back() >> (bits % 32), 0u);
  }
}

// The CPU's bytewise packer (one store per few codewords) writes the words pack_range writes,
// for codes up to 24 bits, every codewords-per-store the code allows, and chunks of 0, 1 and any
// number of symbols.
template <int kPerStore>
void check_byte_packer(const Code& c, int max_len, std::mt19937_64& rng) {
  if (kPerStore > codewords_per_store(max_len)) return;
  const CodeWords cw{c.rev.data(), c.lengths.data()};
  const size_t n = rng() % 3 == 0 ? rng() % 3 : rng() % 700;
  std::vector<uint16_t> sym(n);
  for (auto& s : sym) s = static_cast<uint16_t>(rng() % 256);
  std::vector<uint32_t> want(chunk_words_for(range_bits(sym.data(), 0, n, c.lengths.data())), 0);
  pack_range(sym.data(), 0, n, c.lengths.data(), c.rev.data(), 0, [&](uint64_t w, uint32_t v) { want[w] |= v; });
  std::vector<uint8_t> bytes(3 * n + 16, 0xAB);
  const uint64_t bits = pack_chunk_bytes<kPerStore>(sym.data(), 0, n, cw, bytes.data());
  EXPECT_EQ(bits, range_bits(sym.data(), 0, n, c.lengths.data()));
  std::vector<uint32_t> got(chunk_words_for(bits));
  if (!got.empty()) std::memcpy(got.data(), bytes.data(), 4 * got.size());
  EXPECT_EQ(got, want);
}

// The pair packer (8-bit alphabets, codewords of at most kPairMaxLen bits) writes the same words,
// for chunks of even and odd lengths.
template <int kPairsPerStore>
void check_pair_packer(const Code& c, int max_len, std::mt19937_64& rng) {
  if (max_len > kPairMaxLen || kPairsPerStore > codewords_per_store(2 * max_len)) return;
  const CodeWords cw{c.rev.data(), c.lengths.data()};
  std::vector<uint32_t> pair_codes(1u << 16);
  std::vector<uint8_t> pair_lens(1u << 16);
  for (uint32_t x = 0; x < pair_codes.size(); ++x) pair_codeword(cw, x & 255, x >> 8, &pair_codes[x], &pair_lens[x]);
  const size_t n = rng() % 3 == 0 ? rng() % 4 : rng() % 700;
  std::vector<uint16_t> sym(n);
  for (auto& s : sym) s = static_cast<uint16_t>(rng() % 256);
  std::vector<uint32_t> want(chunk_words_for(range_bits(sym.data(), 0, n, c.lengths.data())), 0);
  pack_range(sym.data(), 0, n, c.lengths.data(), c.rev.data(), 0, [&](uint64_t w, uint32_t v) { want[w] |= v; });
  std::vector<uint8_t> bytes(3 * n + 16, 0xAB);
  const uint64_t bits = pack_chunk_pairs<kPairsPerStore>(sym.data(), 0, n, {pair_codes.data(), pair_lens.data()}, cw, bytes.data());
  EXPECT_EQ(bits, range_bits(sym.data(), 0, n, c.lengths.data()));
  std::vector<uint32_t> got(chunk_words_for(bits));
  if (!got.empty()) std::memcpy(got.data(), bytes.data(), 4 * got.size());
  EXPECT_EQ(got, want);
}

TEST(EncodeBits, PairPackerEqualsPackRange) {
  std::mt19937_64 rng(23);
  for (int trial = 0; trial < 400; ++trial) {
    const int max_len = 8 + static_cast<int>(rng() % (kPairMaxLen - 7));
    SCOPED_TRACE(max_len);
    const Code c = random_code(500 + trial, max_len);
    check_pair_packer<1>(c, max_len, rng);
    check_pair_packer<2>(c, max_len, rng);
  }
}

TEST(EncodeBits, BytePackerEqualsPackRange) {
  std::mt19937_64 rng(21);
  for (int trial = 0; trial < 400; ++trial) {
    const int max_len = 8 + static_cast<int>(rng() % 17);  // 256 symbols need 8 bits at least
    SCOPED_TRACE(max_len);
    const Code c = random_code(100 + trial, max_len);
    check_byte_packer<1>(c, max_len, rng);
    check_byte_packer<2>(c, max_len, rng);
    check_byte_packer<3>(c, max_len, rng);
    check_byte_packer<4>(c, max_len, rng);
  }
}

TEST(EncodeBits, ChunkWords) {
  EXPECT_EQ(chunk_words_for(0), 0u);
  EXPECT_EQ(chunk_words_for(1), 1u);
  EXPECT_EQ(chunk_words_for(32), 1u);
  EXPECT_EQ(chunk_words_for(33), 2u);
}

// Random bytes for the CRC tests, and the byte table their reference update reads.
std::vector<uint8_t> random_bytes(size_t n, std::mt19937_64& rng) {
  std::vector<uint8_t> buf(n);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  return buf;
}
struct CrcTable {
  uint32_t t[256];
  CrcTable() {
    for (uint32_t b = 0; b < 256; ++b) t[b] = crc32c_table_entry(b);
  }
};

TEST(Crc, PiecesCombinedInATreeEqualTheWhole) {
  std::mt19937_64 rng(3);
  const std::vector<uint8_t> buf = random_bytes(100003, rng);
  const CrcTable crc_table;
  const uint32_t* const table = crc_table.t;
  const uint32_t whole = co3::crc32c(buf.data(), buf.size());
  EXPECT_EQ(~crc32c_update(table, ~0u, buf.data(), buf.size()), whole);
  // Pieces of 4096 bytes (the last short, some empty past the end), folded pairwise.
  struct Piece {
    uint32_t crc;
    uint64_t bytes;
  };
  std::vector<Piece> p;
  for (uint64_t at = 0; at < buf.size() + 3 * 4096; at += 4096) {
    const uint64_t n = at < buf.size() ? std::min<uint64_t>(4096, buf.size() - at) : 0;
    p.push_back({n ? ~crc32c_update(table, ~0u, buf.data() + at, n) : 0u, n});
  }
  while (p.size() > 1) {
    std::vector<Piece> next;
    for (size_t i = 0; i + 1 < p.size(); i += 2)
      next.push_back(
          {crc32c_combine_hd(p[i].crc, p[i + 1].crc, p[i + 1].bytes), p[i].bytes + p[i + 1].bytes});
    if (p.size() % 2) next.push_back(p.back());
    p = next;
  }
  EXPECT_EQ(p[0].crc, whole);
  EXPECT_EQ(p[0].bytes, buf.size());
}

// crc32c (three interleaved streams from 16 KiB on, where the CPU has SSE4.2) is the byte-table
// CRC for sizes around the three-way threshold and its thirds' rounding, and when it continues
// an earlier CRC.
TEST(Crc, EverySizeAndContinuationEqualsTheTableUpdate) {
  std::mt19937_64 rng(8);
  const std::vector<uint8_t> buf = random_bytes(200000, rng);
  const CrcTable crc_table;
  const uint32_t* const table = crc_table.t;
  std::vector<size_t> sizes = {0, 1, 7, 8, 9, 100, 16383, 16384, 16385, 199999, 200000};
  for (int k = 0; k < 60; ++k) sizes.push_back(16384 + rng() % (buf.size() - 16384));
  for (size_t n : sizes)
    for (uint32_t prev : {0u, 0x12345678u}) {
      const uint32_t want = ~crc32c_update(table, ~prev, buf.data(), n);
      EXPECT_EQ(co3::crc32c(buf.data(), n, prev), want) << n;
      // Unaligned starts too.
      if (n + 3 <= buf.size()) {
        EXPECT_EQ(co3::crc32c(buf.data() + 3, n, prev), ~crc32c_update(table, ~prev, buf.data() + 3, n)) << n;
      }
    }
}

TEST(EncodeStats, InPlaceFoldIsFoldPairwise) {
  std::mt19937_64 rng(4);
  for (size_t n : {0, 1, 2, 3, 7, 64, 1001}) {
    std::vector<co3::Moments> parts(n);
    for (auto& m : parts)
      for (int k = 0; k < 5; ++k)
        m.add(static_cast<float>(static_cast<int64_t>(rng() % 2001) - 1000) * 1e-3f);
    const co3::Moments a = co3::fold_pairwise(parts);
    const co3::Moments b = fold_pairwise_in_place(parts.data(), parts.size());
    EXPECT_EQ(a.sum, b.sum);
    EXPECT_EQ(a.sum_abs, b.sum_abs);
    EXPECT_EQ(a.sum_sq, b.sum_sq);
    EXPECT_EQ(a.max_abs, b.max_abs);
    EXPECT_EQ(a.count, b.count);
  }
}

TEST(EncodeStats, ScaleIsAlwaysANormalFloat) {
  auto t = [](double) { return 1.0; };
  const co3::FloatFormat f = co3::formats::fp4;
  EXPECT_EQ(choose_scale(co3::ScalePolicy::none, 0, f, 5.0f, 1, 1, t), 1.0f);
  EXPECT_EQ(choose_scale(co3::ScalePolicy::absmax, 0, f, 6.0f, 1, 1, t), 2.0f);  // fp4 reaches 3
  EXPECT_EQ(choose_scale(co3::ScalePolicy::absmax, 0, f, 0.0f, 1, 1, t), 1.0f);
  EXPECT_EQ(choose_scale(co3::ScalePolicy::gennorm, 0, f, 0, 1, 1e-300, t), kFloatMinNormal);
  EXPECT_EQ(choose_scale(co3::ScalePolicy::gennorm, 0, f, 0, 1, 1e300, t), kFloatMax);
  EXPECT_EQ(choose_scale(co3::ScalePolicy::gennorm, 0, f, 0, 1, 3.0, [](double) { return 2.0; }),
            1.5f);
  EXPECT_EQ(fit_field(1e300), kFloatMax);
}

TEST(EncodeCode, ModelWeightIsTheFloorOfTwoToThe40) {
  for (double mix : {0.0, 1e-13, 1e-12, 0.25, 0.3, 1.0 / 3.0, 1.0}) {
    const double scaled = std::floor(mix * 1099511627776.0);
    EXPECT_EQ(model_weight(mix), scaled >= 1.0 ? static_cast<uint64_t>(scaled) : 1u) << mix;
  }
  EXPECT_EQ(model_weight(std::nan("")), 1u);
  const double pmf[4] = {0.5, 0.25, 0.125, 0.125};
  // Symbol 0b1101 of two 2-bit entries: entry 0 is 1, entry 1 is 3.
  EXPECT_EQ(symbol_model_mass(pmf, 0xD, 2, 2, 0.5), 0.5 * 0.25 * 0.125);
  EXPECT_EQ(mixture_share(1, 3), 1.0 / 3.0);
}

TEST(EncodeCode, TableBodySizeWriterAndReaderAgree) {
  std::mt19937_64 rng(5);
  for (uint32_t n : {1u, 2u, 16u, 256u, 4096u, 65536u}) {
    for (int trial = 0; trial < 4; ++trial) {
      std::vector<uint64_t> w(n, 0);
      // Sparse weights give long zero runs (also past 65536 = one run token's limit at n = 2^16).
      const uint32_t used = std::max<uint32_t>(1, n >> (2 * trial));
      for (uint32_t k = 0; k < used; ++k) w[rng() % n] = rng() % 100 + 1;
      const std::vector<uint8_t> len = co3::code_lengths(w, 24);
      const uint32_t bytes = code_table_body_bytes(len.data(), n);
      EXPECT_LE(bytes, code_table_body_bound(n));
      std::vector<uint8_t> body(bytes + 8, 0xAB);
      EXPECT_EQ(write_code_table_body(len.data(), n, body.data()), bytes);
      for (uint32_t k = bytes; k < body.size(); ++k)
        ASSERT_EQ(body[k], 0xAB) << "wrote past the body";
      EXPECT_EQ(co3::write_code_lengths(len.data(), n),
                std::vector<uint8_t>(body.begin(), body.begin() + bytes));
      std::vector<uint8_t> back(n);
      co3::read_code_lengths(body.data(), bytes, n, 24, back.data());
      EXPECT_EQ(back, len);
    }
  }
  // An all-zero run longer than 65536 is split in two run tokens.
  std::vector<uint8_t> len(65536, 0);
  len[65535] = 1;
  EXPECT_EQ(code_table_body_bytes(len.data(), 65536), (5 + 16 + 5 + 7) / 8u);
}

TEST(EncodeEntry, NonFiniteAndTheErrorMemory) {
  const co3::FloatFormat f = co3::formats::fp4;
  auto value = [&](uint32_t c) { return code_value(f, c, 0.5f); };
  const EntryCode one =
      quantize_entry(0.5f, 0, 0.5f, f, co3::Rounding::nearest_even, 0, false, value);
  EXPECT_EQ(one.code, co3::encode_float(1.0f, f, co3::Rounding::nearest_even));
  EXPECT_EQ(one.memory(), 0.0f);
  const EntryCode nan =
      quantize_entry(std::nanf(""), 0, 0.5f, f, co3::Rounding::nearest_even, 0, false, value);
  EXPECT_EQ(nan.code, 0u);
  EXPECT_FALSE(nan.finite);
  EXPECT_EQ(nan.memory(), 0.0f);
  const EntryCode inf =
      quantize_entry(-INFINITY, 0, 0.5f, f, co3::Rounding::nearest_even, 0, false, value);
  EXPECT_EQ(inf.code, f.sign_bit() | f.max_code());
  EXPECT_EQ(inf.memory(), 0.0f);
  // 'propagate': every non-finite u is code 0 (the class map says what it was).
  for (float u : {-INFINITY, INFINITY, std::nanf("")}) {
    const EntryCode kept =
        quantize_entry(u, 0, 0.5f, f, co3::Rounding::nearest_even, 0, true, value);
    EXPECT_EQ(kept.code, 0u);
    EXPECT_FALSE(kept.finite);
  }
  EXPECT_EQ(quantize_entry(0.5f, 0, 0.5f, f, co3::Rounding::nearest_even, 0, true, value).code,
            one.code);
  EXPECT_EQ(feedback_input(1.0f, nullptr, 0.7f, 0), 1.0f);
  const float mem[1] = {2.0f};
  EXPECT_EQ(feedback_input(1.0f, mem, 0.5f, 0), 2.0f);
  // Two fp4 entries per symbol; the entry past numel is 0.
  EXPECT_EQ(encode_symbol(1, 2, 4, 3, [](uint64_t i) { return static_cast<uint32_t>(i + 1); }), 3u);
  EXPECT_EQ(encode_symbol(0, 2, 4, 3, [](uint64_t i) { return static_cast<uint32_t>(i + 1); }),
            0x21u);
}

TEST(EncodeLayout, CursorWalksFormatSection1) {
  LayoutCursor c(2, 24);
  EXPECT_EQ(c.table(5), 32u + 128 + 24);
  EXPECT_EQ(c.segment(3, 5), 32u + 128 + 24 + 24);
  EXPECT_EQ(c.total(), 32u + 128 + 24 + 24 + 8 + 24 + 4);
}

TEST(EncodeBatch, FindSegmentSkipsEmptySegments) {
  // Items per segment, with empty ones first, in the middle, in a row and last.
  const std::vector<uint64_t> items = {0, 3, 0, 0, 1, 5, 0, 2, 0};
  std::vector<uint64_t> first;
  uint64_t total = 0;
  for (uint64_t n : items) {
    first.push_back(total);
    total += n;
  }
  for (uint64_t idx = 0; idx < total; ++idx) {
    const uint32_t s = find_segment(static_cast<uint32_t>(items.size()), idx,
                                    [&](uint32_t k) { return first[k]; });
    EXPECT_GE(idx, first[s]);
    EXPECT_LT(idx, first[s] + items[s]) << "index " << idx << " went to segment " << s;
  }
  EXPECT_EQ(find_segment(1, 0, [](uint32_t) { return uint64_t{0}; }), 0u);
}

}  // namespace
