// The host+device decoder pieces (detail/decode_table.h, decode_chunk.h, validate_packet.h) on
// the CPU: the canonical path and the multi-symbol lookup agree with the reference decoder of
// huffman.h, and the status-returning validator gives parse_packet + decode's verdict on every
// packet of the fuzz corpus and on thousands of corruptions of them.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "co3/codec.h"
#include "co3/crc32c.h"
#include "co3/error.h"
#include "co3/huffman.h"
#include "co3/detail/decode_bulk.h"
#include "co3/detail/decode_short.h"
#include "co3/detail/decode_values.h"
#include "co3/detail/decode_wide.h"
#include "co3/detail/encode_bits.h"
#include "codec/decode_tables.h"
#include "hd_validate.h"
#include "packet_files.h"
#include "test_data.h"

namespace {

using namespace co3;

// Random valid code lengths over n symbols, max_len ≤ 24, complete or not.
std::vector<uint8_t> random_lengths(std::mt19937_64& rng, uint32_t n, int max_len) {
  std::vector<uint64_t> w(n);
  for (auto& x : w) x = rng() % 3 == 0 ? 0 : (uint64_t{1} << (rng() % 40)) + rng() % 1000;
  w[rng() % n] = 1;
  auto len = code_lengths(w, max_len);
  if (rng() % 2) {  // drop one codeword: Kraft < 1, some bit strings are no codeword
    for (auto& l : len)
      if (l) {
        l = 0;
        break;
      }
    bool any = false;
    for (auto l : len) any = any || l;
    if (!any) len[0] = 1;
  }
  return len;
}

struct Built {
  uint32_t limit[kMaxCodeLength + 1], offset[kMaxCodeLength + 1], first[kMaxCodeLength + 1];
  std::vector<uint16_t> symbols;
  std::vector<uint64_t> lut;
  detail::CanonicalView view;
};

Built build(const std::vector<uint8_t>& len, int max_len, int symbol_bits) {
  Built b;
  uint32_t count[kMaxCodeLength + 1] = {};
  for (auto l : len) ++count[l];
  detail::canonical_bases(count, max_len, b.limit, b.offset, b.first);
  uint32_t next[kMaxCodeLength + 1];
  std::copy(b.first, b.first + kMaxCodeLength + 1, next);
  b.symbols.resize(len.size() - count[0]);
  for (uint32_t s = 0; s < len.size(); ++s)
    if (len[s]) b.symbols[next[len[s]]++] = static_cast<uint16_t>(s);
  b.view = {b.limit, b.offset, b.symbols.data(), max_len, symbol_bits};
  b.lut.resize(detail::kLutSize);
  for (uint32_t p = 0; p < detail::kLutSize; ++p) b.lut[p] = detail::lut_entry(b.view, p);
  return b;
}

TEST(DecodeHd, CanonicalPathAndLookupMatchTheReferenceDecoder) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 60; ++trial) {
    const int symbol_bits = 1 + static_cast<int>(rng() % 16);
    const uint32_t n = 1u << symbol_bits;
    const int max_len =
        std::max<int>(1 + static_cast<int>(rng() % 24), symbol_bits > 1 ? symbol_bits : 1);
    const auto len = random_lengths(rng, n, max_len);
    const DecodeTable ref = build_decode_table(len.data(), n, max_len);
    const Built b = build(len, max_len, symbol_bits);
    for (int k = 0; k < 4000; ++k) {
      const uint64_t window = rng() >> (rng() % 64);
      uint32_t s_ref = 0, s_new = 0;
      const int l_ref = decode_symbol(ref.view(), window, &s_ref);
      const int l_new = detail::decode_canonical(b.view, window, &s_new);
      ASSERT_EQ(l_ref, l_new) << trial;
      if (l_ref) {
        ASSERT_EQ(s_ref, s_new);
      }
      // The lookup entry: its codewords are the reference decoder's, one after another.
      const uint64_t e = b.lut[window & (detail::kLutSize - 1)];
      if (detail::lut_count(e) == 0) {  // the long path decode_bulk takes for such prefixes
        uint32_t s_long = 0;
        ASSERT_EQ(detail::decode_canonical_long(b.view, window, &s_long), l_new) << trial;
        if (l_new) {
          ASSERT_EQ(s_long, s_new);
        }
      }
      uint64_t w = window & (detail::kLutSize - 1);
      uint32_t used = 0;
      for (uint32_t i = 0; i < detail::lut_count(e); ++i) {
        uint32_t s;
        const int l = decode_symbol(ref.view(), w >> used, &s);
        ASSERT_GT(l, 0);
        ASSERT_EQ(s, detail::lut_symbol(e, i, symbol_bits));
        if (i == 0) {
          ASSERT_EQ(static_cast<uint32_t>(l), detail::lut_first_bits(e));
        }
        used += l;
      }
      ASSERT_EQ(used, detail::lut_total_bits(e));
      ASSERT_LE(used, static_cast<uint32_t>(detail::kLutBits));
      // Greedy and maximal: the next codeword does not fit in the prefix (or the entry is full).
      uint32_t s;
      const int l = decode_symbol(ref.view(), w >> used, &s);
      const uint32_t cap = std::min<uint32_t>(48 / symbol_bits, detail::kMaxLutSymbols);
      EXPECT_TRUE(detail::lut_count(e) == cap || l == 0 ||
                  used + l > static_cast<uint32_t>(detail::kLutBits));
    }
  }
}

// A chunk's symbols and status by decode_run alone, the reference for the bulk paths.
struct Decoded {
  kernels::Status status;
  std::vector<uint16_t> symbols;
};
Decoded decode_alone(const detail::ChunkTables& t, const std::vector<uint32_t>& words, uint32_t count) {
  Decoded d{kernels::Status::ok, std::vector<uint16_t>(count)};
  detail::ChunkStream s;
  s.words = static_cast<uint32_t>(words.size());
  d.status = detail::decode_run(s, t, count, [&](uint32_t i) { return words[i]; },
                                [&](uint32_t j, uint32_t v) { d.symbols[j] = static_cast<uint16_t>(v); });
  if (d.status == kernels::Status::ok) d.status = detail::finish_chunk(s);
  return d;
}

// A chunk's words as the bytes a packet holds, in a buffer of exactly their size (so that a read
// past the chunk's last word is an out-of-bounds read under ASan).
std::vector<uint8_t> chunk_bytes(const std::vector<uint32_t>& words) {
  std::vector<uint8_t> bytes(4 * words.size());
  if (!words.empty()) std::memcpy(bytes.data(), words.data(), bytes.size());
  return bytes;
}

// The rest of a chunk after the bulk, as host/codec/decode_payload.cpp finishes it: decode_bulk alone, then
// decode_run from its position, then the end-of-chunk checks.
template <uint32_t kCap, int kBits, uint32_t kSteps, class Sym>
kernels::Status finish(detail::BulkStream& b, const detail::TableDecoder& td, const std::vector<uint8_t>& bytes,
                       uint32_t count, std::vector<Sym>& out) {
  if constexpr (kCap != 0)
    detail::decode_bulk<kCap, kBits, kSteps>(b, td.bulk(), bytes.data() + bytes.size(), count, out.data());
  const auto load = [&](uint32_t i) {
    uint32_t w;
    std::memcpy(&w, bytes.data() + 4 * size_t{i}, 4);
    return w;
  };
  const auto words = static_cast<uint32_t>(bytes.size() / 4);
  detail::ChunkStream s = detail::chunk_stream_at(b, words, load);
  const uint32_t k = b.k;
  const kernels::Status st = detail::decode_run(s, td.tables(), count - k, load,
                                                [&](uint32_t j, uint32_t v) { out[k + j] = static_cast<Sym>(v); });
  return st == kernels::Status::ok ? detail::finish_chunk(s) : st;
}

// f(std::integral_constant<int, N>) for every lane count the decoder interleaves, 2 … 6.
template <int... N, class F>
void for_each_lane_count(std::integer_sequence<int, N...>, F f) {
  (f(std::integral_constant<int, N + 2>{}), ...);
}
template <class F>
void for_each_lane_count(F f) {
  for_each_lane_count(std::make_integer_sequence<int, 5>{}, f);
}

// A group decoder on N of the chunks (a, b, b, a, a, b), each chunk then continued by
// finish_one (its bulk alone, then decode_run), against decode_run alone.
template <int N, class Sym, class Group, class FinishOne>
void check_group(Group group, FinishOne finish_one, const std::vector<uint8_t>& ba,
                 const std::vector<uint8_t>& bb, uint32_t ca, uint32_t cb, const Decoded& ra, const Decoded& rb) {
  static_assert(N <= 6, "the chunks below");
  const std::vector<uint8_t>* bytes[6] = {&ba, &bb, &bb, &ba, &ba, &bb};
  const uint32_t counts[6] = {ca, cb, cb, ca, ca, cb};
  const Decoded* want[6] = {&ra, &rb, &rb, &ra, &ra, &rb};
  detail::BulkStream s[N];
  const uint8_t* end[N];
  uint32_t count[N];
  std::vector<Sym> out[N];
  Sym* outp[N];
  for (int i = 0; i < N; ++i) {
    s[i] = detail::bulk_stream(bytes[i]->data());
    end[i] = bytes[i]->data() + bytes[i]->size();
    count[i] = counts[i];
    out[i].resize(count[i] + 8);
    outp[i] = out[i].data();
  }
  group(s, end, count, outp);
  for (int i = 0; i < N; ++i) {
    SCOPED_TRACE(i);
    ASSERT_EQ(finish_one(s[i], *bytes[i], count[i], out[i]), want[i]->status);
    if (want[i]->status == kernels::Status::ok) {
      ASSERT_TRUE(std::equal(want[i]->symbols.begin(), want[i]->symbols.end(), out[i].begin()));
    }
  }
}

// decode_wide and decode_wide_group, each continued by decode_run, against decode_run alone.
template <uint32_t kSteps>
void check_wide(const detail::TableDecoder& td, const std::vector<uint8_t>& ba, const std::vector<uint8_t>& bb,
                uint32_t ca, uint32_t cb, const Decoded& ra, const Decoded& rb) {
  const detail::WideTables wt{td.wide_first.data(), td.wide_second.data()};
  const auto finish_wide = [&](detail::BulkStream& st, const std::vector<uint8_t>& bytes, uint32_t count,
                               std::vector<uint16_t>& out) {
    detail::decode_wide<kSteps>(st, wt, bytes.data() + bytes.size(), count, out.data());
    return finish<0, 16, kSteps>(st, td, bytes, count, out);  // kCap 0: decode_run from st
  };
  std::vector<uint16_t> oa(ca + 8), ob(cb + 8);
  detail::BulkStream s1 = detail::bulk_stream(ba.data());
  ASSERT_EQ(finish_wide(s1, ba, ca, oa), ra.status);
  if (ra.status == kernels::Status::ok) {
    ASSERT_TRUE(std::equal(ra.symbols.begin(), ra.symbols.end(), oa.begin()));
  }
  for_each_lane_count([&](auto lanes) {
    constexpr int L = decltype(lanes)::value;
    check_group<L, uint16_t>(
        [&](auto* st, auto* end, auto* count, auto* out) {
          detail::decode_wide_group<kSteps, L>(st, wt, end, count, out);
        },
        finish_wide, ba, bb, ca, cb, ra, rb);
  });
}

// decode_bulk and decode_bulk_pair, each continued by decode_run, give decode_run's symbols and
// verdict (decode_run alone on the GPU's tables, without second-level entries) on valid chunks
// and on corrupted ones (flipped bits, missing or extra words, wrong counts).
template <uint32_t kCap, int kBits, uint32_t kSteps>
void check_bulk_paths(const std::vector<uint8_t>& len, int max_len, std::mt19937_64& rng) {
  const uint32_t n = 1u << kBits;
  const Built b = build(len, max_len, kBits);
  const detail::ChunkTables t{b.lut.data(), b.view};
  detail::TableDecoder td;
  detail::build_table({kBits, max_len, len}, td);
  std::vector<uint32_t> rev(n);
  encode_table(len.data(), n, rev.data());
  std::vector<uint16_t> coded;
  for (uint32_t s = 0; s < n; ++s)
    if (len[s]) coded.push_back(static_cast<uint16_t>(s));
  // Symbols among the first few coded ones (short codewords, several per lookup) or among all
  // (long codewords, the second-level tables).
  const bool all = rng() % 2;
  const auto chunk = [&](uint32_t* count) {
    *count = 1 + static_cast<uint32_t>(rng() % 3000);
    std::vector<uint16_t> sym(*count);
    for (auto& x : sym) x = coded[rng() % (all ? coded.size() : std::min<size_t>(coded.size(), 1 + rng() % 64))];
    std::vector<uint32_t> words(detail::chunk_words_for(detail::range_bits(sym.data(), 0, sym.size(), len.data())), 0);
    detail::pack_range(sym.data(), 0, sym.size(), len.data(), rev.data(), 0,
                       [&](uint64_t w, uint32_t v) { words[w] |= v; });
    switch (rng() % 6) {
      case 0: words[rng() % words.size()] ^= 1u << (rng() % 32); break;
      case 1: words.pop_back(); break;
      case 2: words.push_back(0); break;
      case 3: *count += rng() % 2 ? 1 : static_cast<uint32_t>(-1); break;
      default: break;
    }
    return words;
  };
  uint32_t ca, cb;
  const std::vector<uint32_t> wa = chunk(&ca), wb = chunk(&cb);
  if (ca == 0 || cb == 0) return;
  const Decoded ra = decode_alone(t, wa, ca), rb = decode_alone(t, wb, cb);
  const std::vector<uint8_t> ba = chunk_bytes(wa), bb = chunk_bytes(wb);
  // One chunk by decode_bulk.
  using Sym = std::conditional_t<kBits <= 8, uint8_t, uint16_t>;  // as host/codec/decode_payload.cpp
  std::vector<Sym> out(ca + 8);
  detail::BulkStream s = detail::bulk_stream(ba.data());
  ASSERT_EQ((finish<kCap, kBits, kSteps>(s, td, ba, ca, out)), ra.status);
  if (ra.status == kernels::Status::ok) {
    ASSERT_TRUE(std::equal(ra.symbols.begin(), ra.symbols.end(), out.begin()));
  }
  // Two chunks by decode_bulk_pair.
  std::vector<Sym> oa(ca + 8), ob(cb + 8);
  detail::BulkStream sa = detail::bulk_stream(ba.data()), sb = detail::bulk_stream(bb.data());
  detail::decode_bulk_pair<kCap, kBits, kSteps>(sa, sb, td.bulk(), ba.data() + ba.size(), bb.data() + bb.size(),
                                                ca, cb, oa.data(), ob.data());
  ASSERT_EQ((finish<kCap, kBits, kSteps>(sa, td, ba, ca, oa)), ra.status);
  ASSERT_EQ((finish<kCap, kBits, kSteps>(sb, td, bb, cb, ob)), rb.status);
  if (ra.status == kernels::Status::ok) {
    ASSERT_TRUE(std::equal(ra.symbols.begin(), ra.symbols.end(), oa.begin()));
  }
  if (rb.status == kernels::Status::ok) {
    ASSERT_TRUE(std::equal(rb.symbols.begin(), rb.symbols.end(), ob.begin()));
  }
  // decode_wide.h's two levels, for every 16-bit table they can serve (as decode_short.h's).
  if constexpr (kBits == 16) {
    if (!detail::build_wide_tables(td)) return;
    switch (detail::wide_steps_per_refill(max_len)) {
      case 5: return check_wide<5>(td, ba, bb, ca, cb, ra, rb);
      case 4: return check_wide<4>(td, ba, bb, ca, cb, ra, rb);
      case 3: return check_wide<3>(td, ba, bb, ca, cb, ra, rb);
      default: return check_wide<2>(td, ba, bb, ca, cb, ra, rb);
    }
  }
  // decode_short.h's one-symbol entries, for every 8-bit table they can serve (the decoder
  // takes them only where a lookup averages few symbols; correctness does not depend on it).
  if constexpr (kBits == 8) {
    if (max_len > detail::kShortBits) return;
    std::vector<uint32_t> short_lut(detail::kShortSize);
    for (uint32_t p = 0; p < detail::kShortSize; ++p) short_lut[p] = detail::short_entry(td.tables().canonical, p);
    const auto finish_short = [&](detail::BulkStream& st, const std::vector<uint8_t>& bytes, uint32_t count,
                                  std::vector<Sym>& out) {
      detail::decode_short(st, short_lut.data(), bytes.data() + bytes.size(), count, out.data());
      return finish<0, kBits, kSteps>(st, td, bytes, count, out);  // kCap 0: decode_run from st
    };
    std::vector<Sym> sa1(ca + 8), sb1(cb + 8);
    detail::BulkStream s1 = detail::bulk_stream(ba.data());
    ASSERT_EQ(finish_short(s1, ba, ca, sa1), ra.status);
    if (ra.status == kernels::Status::ok) {
      ASSERT_TRUE(std::equal(ra.symbols.begin(), ra.symbols.end(), sa1.begin()));
    }
    for_each_lane_count([&](auto lanes) {
      constexpr int L = decltype(lanes)::value;
      check_group<L, Sym>(
          [&](auto* st, auto* end, auto* count, auto* out) {
            detail::decode_short_group<L>(st, short_lut.data(), end, count, out);
          },
          finish_short, ba, bb, ca, cb, ra, rb);
    });
  }
}

// The decoder's steps per refill (kBulkSteps) and fewer, which end batches at other places.
template <int kBits>
void check_bulk_paths(const std::vector<uint8_t>& len, int max_len, std::mt19937_64& rng) {
  constexpr uint32_t kCap = detail::lut_symbol_cap(kBits);
  static_assert(detail::kBulkSteps == 5, "the cases below");
  switch (rng() % 3 ? 5 : 2 + rng() % 3) {
    case 5: return check_bulk_paths<kCap, kBits, 5>(len, max_len, rng);
    case 4: return check_bulk_paths<kCap, kBits, 4>(len, max_len, rng);
    case 3: return check_bulk_paths<kCap, kBits, 3>(len, max_len, rng);
    default: return check_bulk_paths<kCap, kBits, 2>(len, max_len, rng);
  }
}

template <int kBits>
void check_bulk_paths(std::mt19937_64& rng) {
  const int max_len = kBits + static_cast<int>(rng() % (25 - kBits));
  check_bulk_paths<kBits>(random_lengths(rng, 1u << kBits, max_len), max_len, rng);
}

TEST(DecodeHd, BulkAndPairedDecodingEqualDecodeRun) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 600; ++trial) {
    SCOPED_TRACE(trial);
    check_bulk_paths<8>(rng);
    check_bulk_paths<16>(rng);
  }
}

// A table whose second-level tables would be mostly empty entries (one 24-bit codeword under an
// 11-bit prefix: 2^13 entries for one codeword) keeps the canonical path; the bulk still equals
// decode_run, and so do tables with a single codeword and with every codeword long.
TEST(DecodeHd, BulkOnSparseAndExtremeTables) {
  std::mt19937_64 rng(3);
  std::vector<uint8_t> sparse(256, 0);
  sparse[7] = 1;
  sparse[200] = 24;
  detail::TableDecoder td;
  detail::build_table({8, 24, sparse}, td);
  EXPECT_TRUE(td.sub.empty());
  std::vector<uint8_t> single(1u << 16, 0);
  single[12345] = 1;
  std::vector<uint8_t> flat(1u << 16, 16);  // every codeword 16 bits: all through sub-tables
  detail::build_table({16, 16, flat}, td);
  EXPECT_EQ(td.sub.size(), size_t{1} << 16);
  for (int trial = 0; trial < 40; ++trial) {
    SCOPED_TRACE(trial);
    check_bulk_paths<8>(sparse, 24, rng);
    check_bulk_paths<16>(single, 1, rng);
    check_bulk_paths<16>(flat, 16, rng);
  }
}

// parse_packet + decode's verdict: accept, or the category of the refusal.
bool cpu_accepts(const std::vector<uint8_t>& p) {
  try {
    decode(p.data(), p.size(), false, 1);
    return true;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::corrupt_packet) << e.what();
    return false;
  }
}

bool hd_accepts(const std::vector<uint8_t>& p) {
  const kernels::DeviceStatus st = co3::testing::validate_hd(p.data(), p.size());
  if (st.code) {
    const Error e = kernels::status_error(st);
    EXPECT_EQ(e.code(), Errc::corrupt_packet) << e.what();
  }
  return st.code == 0;
}

void fix_crc(std::vector<uint8_t>& m) {
  const uint32_t crc = crc32c(m.data(), m.size() - 4);
  std::memcpy(m.data() + m.size() - 4, &crc, 4);
}

TEST(DecodeHd, SameVerdictOnTheFuzzCorpusAndItsCorruptions) {
  const auto packets = co3::testing::packet_files("fuzz/corpus/packet");
  ASSERT_GE(packets.size(), 10u) << "tests/fuzz/corpus/packet not found";
  std::mt19937_64 rng(99);
  int accepted = 0, rejected = 0;
  for (const auto& file : packets) {
    const std::vector<uint8_t>& p = file.bytes;
    ASSERT_TRUE(cpu_accepts(p));
    ASSERT_TRUE(hd_accepts(p));
    for (size_t n = 0; n < p.size(); n += 1 + p.size() / 97) {
      const std::vector<uint8_t> t(p.begin(), p.begin() + n);
      ASSERT_EQ(cpu_accepts(t), hd_accepts(t)) << "truncated to " << n;
    }
    for (int trial = 0; trial < 400; ++trial) {
      auto m = p;
      const int flips = 1 + static_cast<int>(rng() % 3);
      for (int f = 0; f < flips; ++f)
        m[rng() % (m.size() - 4)] ^= static_cast<uint8_t>(1 + rng() % 255);
      ASSERT_EQ(cpu_accepts(m), hd_accepts(m));
      fix_crc(m);  // past the CRC: the deeper checks face the same bytes
      const bool cpu = cpu_accepts(m);
      ASSERT_EQ(cpu, hd_accepts(m)) << "flips with a recomputed CRC";
      (cpu ? accepted : rejected)++;
    }
  }
  std::printf("recomputed-CRC corruptions: %d rejected, %d accepted by both\n", rejected, accepted);
  EXPECT_GT(rejected, 0);
}

// The code_lengths fuzz seeds (fuzz_code_lengths' input: alphabet choice, max_len, body) and
// corruptions of them: the token reader accepts what read_code_lengths accepts, with the same
// lengths.
TEST(DecodeHd, TokenReaderMatchesReadCodeLengthsOnTheFuzzCorpus) {
  const auto seeds = co3::testing::packet_files("fuzz/corpus/code_lengths", ".bin");
  ASSERT_GE(seeds.size(), 5u) << "tests/fuzz/corpus/code_lengths not found";
  std::mt19937_64 rng(5);
  int accepted = 0, rejected = 0;
  for (const auto& seed : seeds)
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<uint8_t> in = seed.bytes;
      if (trial > 0) in[2 + rng() % (in.size() - 2)] ^= static_cast<uint8_t>(1 + rng() % 255);
      if (trial % 7 == 6) in.resize(2 + rng() % (in.size() - 1));
      const auto n = static_cast<uint32_t>(std::max(1, (1 << in[0] % 17) - in[0] / 17));
      const int max_len = 1 + in[1] % 24;
      std::vector<uint8_t> want(n), got(n, 0);
      bool cpu_ok = true;
      try {
        read_code_lengths(in.data() + 2, in.size() - 2, n, max_len, want.data());
      } catch (const Error& e) {
        ASSERT_EQ(e.code(), Errc::corrupt_packet);
        cpu_ok = false;
      }
      uint32_t count[kMaxCodeLength + 1] = {};
      uint64_t detail;
      const kernels::Status st = detail::read_code_tokens(
          in.data() + 2, static_cast<uint32_t>(in.size() - 2), n, max_len, count, &detail,
          [&](uint32_t s, int len) { got[s] = static_cast<uint8_t>(len); });
      ASSERT_EQ(cpu_ok, st == kernels::Status::ok) << seed.name << " trial " << trial;
      if (cpu_ok) {
        ASSERT_EQ(want, got) << seed.name << " trial " << trial;
      }
      (cpu_ok ? accepted : rejected)++;
    }
  std::printf("code tables: %d accepted, %d rejected by both\n", accepted, rejected);
  EXPECT_GT(rejected, 0);
  EXPECT_GT(accepted, 0);
}

// The encoder's golden packets (tests/golden, from the ENC worker's branch): every one accepted.
TEST(DecodeHd, AcceptsEveryGoldenPacket) {
  const auto golden = co3::testing::packet_files("golden");
  if (golden.empty()) GTEST_SKIP() << "no golden packets in tests/golden";
  for (const auto& g : golden) {
    EXPECT_TRUE(cpu_accepts(g.bytes)) << g.name;
    EXPECT_TRUE(hd_accepts(g.bytes)) << g.name;
  }
}

// The CPU decoder's computed bf16 → float32 values (decode_values.h) are entry_bits' for every
// code (NaN codes, ±Inf, subnormals, zeros) under scales that keep, underflow and overflow them.
TEST(DecodeHd, Bf16ValuesComputedEqualEntryBits) {
  for (float scale : {1.0f, 3.1e-4f, 1.17549435e-38f, 7.5e-30f, 2.5e3f, 1e30f, 3.4028235e38f})
    for (uint32_t code = 0; code < 65536; ++code)
      ASSERT_EQ(co3::detail::bf16_code_f32_bits(code, scale),
                co3::detail::entry_bits(co3::formats::bf16, scale, code, co3::DType::f32))
          << std::hex << "code " << code << " scale " << scale;
}

TEST(DecodeHd, EveryStatusBecomesAnErrorNamingIt) {
  for (uint32_t c = 1; c <= static_cast<uint32_t>(kernels::Status::packet_capacity); ++c) {
    const Error e = kernels::status_error({c, 3, 17});
    EXPECT_GT(std::strlen(e.what()), 10u);
    EXPECT_EQ(std::strchr(e.what(), '\n'), nullptr);
    const bool caller = c >= static_cast<uint32_t>(kernels::Status::output_count);
    EXPECT_EQ(e.code(), caller ? Errc::invalid_argument : Errc::corrupt_packet) << e.what();
    EXPECT_EQ(std::string(e.what()).find("unknown device status"), std::string::npos) << c;
  }
}

}  // namespace
