#include "decode_tables.h"

#include <algorithm>

namespace co3::detail {

namespace {

// Second-level tables: a prefix whose longest codeword has kLutBits + b bits gets 2^b entries
// indexed by the b stream bits after it. Canonical codes give each prefix codewords of nearly one
// length, so the entries stay close to the number of long codewords; a table where they would
// not (possible only in a crafted packet) keeps the canonical path for every prefix instead.
void build_sub_tables(const ParsedTable& t, TableDecoder& out) {
  constexpr uint32_t kBits = kLutBits;
  if (t.max_length <= static_cast<int>(kBits)) return;
  const uint32_t n = static_cast<uint32_t>(t.lengths.size());
  std::vector<uint32_t> rev(n);
  encode_table(t.lengths.data(), n, rev.data());
  std::vector<uint8_t> index_bits(kLutSize, 0);
  uint64_t long_codes = 0;
  for (uint32_t s = 0; s < n; ++s)
    if (t.lengths[s] > kBits) {
      uint8_t& b = index_bits[rev[s] & (kLutSize - 1)];
      b = std::max<uint8_t>(b, static_cast<uint8_t>(t.lengths[s] - kBits));
      ++long_codes;
    }
  std::vector<uint32_t> at(kLutSize);
  uint64_t total = 0;
  for (uint32_t p = 0; p < kLutSize; ++p) {
    at[p] = static_cast<uint32_t>(total);
    if (index_bits[p]) total += uint64_t{1} << index_bits[p];
  }
  if (total > std::max<uint64_t>(4096, 8 * long_codes)) {
    out.sub_refused = true;
    return;
  }
  out.sub.assign(total, 0);
  for (uint32_t s = 0; s < n; ++s) {
    const uint32_t len = t.lengths[s];
    if (len <= kBits) continue;
    const uint32_t p = rev[s] & (kLutSize - 1), b = index_bits[p], own = len - kBits;
    for (uint32_t hi = 0; hi < 1u << (b - own); ++hi)
      out.sub[at[p] + ((rev[s] >> kBits) | hi << own)] = s | len << 16;
  }
  for (uint32_t p = 0; p < kLutSize; ++p)
    if (index_bits[p]) out.bulk_lut[p] = bulk_sub_entry(at[p], index_bits[p]);
}

}  // namespace

// decode_wide.h's two levels from the first-level entries and second-level tables of the bulk
// path: the second level is `sub` followed by one entry for each prefix that holds a whole
// codeword (or none). False where the sub tables were refused as too sparse (that table keeps
// decode_bulk.h's canonical path).
bool build_wide_tables(TableDecoder& out) {
  // Without them, a prefix that holds no whole codeword may still start long ones: the two
  // levels would take it for one that starts none.
  if (out.sub_refused) return false;
  const size_t base = out.sub.size();
  out.wide_first.resize(kLutSize);
  out.wide_second.assign(out.sub.begin(), out.sub.end());
  out.wide_second.resize(base + kLutSize, 0);
  const CanonicalView view = out.tables().canonical;
  for (uint32_t p = 0; p < kLutSize; ++p) {
    // A prefix that holds no whole codeword may have a second-level table (build_sub_tables).
    const uint64_t e = out.bulk_lut[p];
    const uint32_t b = lut_count(out.lut[p]) == 0 ? static_cast<uint32_t>(e) & 63 : 0;
    if (b != 0) {
      out.wide_first[p] = (e >> 16) << 32 | ((1u << b) - 1);
      continue;
    }
    uint32_t sym = 0;
    const int len = decode_canonical(view, p, &sym);  // bits past the prefix read as zero
    if (len > kLutBits) return false;  // longer codewords without a table: not after sub_refused
    out.wide_first[p] = uint64_t{base + p} << 32;
    if (len != 0) out.wide_second[base + p] = sym | static_cast<uint32_t>(len) << 16;
  }
  return true;
}

// Per-length counts, canonical bases, symbols by (length, symbol), one lookup entry per
// kLutBits-bit prefix, then the second-level tables.
void build_table(const ParsedTable& t, TableDecoder& out) {
  out = TableDecoder{};  // nothing of a previous table stays (the optional tables above all)
  uint32_t count[kMaxCodeLength + 1] = {};
  for (uint8_t len : t.lengths) ++count[len];
  out.max_len = t.max_length;
  out.symbol_bits = t.symbol_bits;
  canonical_bases(count, t.max_length, out.limit, out.offset, out.first);
  out.symbols.resize(t.lengths.size() - count[0]);
  uint32_t next[kMaxCodeLength + 1];
  std::copy(out.first, out.first + kMaxCodeLength + 1, next);
  for (uint32_t s = 0; s < t.lengths.size(); ++s)
    if (t.lengths[s]) out.symbols[next[t.lengths[s]]++] = static_cast<uint16_t>(s);
  out.lut.resize(kLutSize);
  const ChunkTables view = out.tables();
  for (uint32_t p = 0; p < kLutSize; ++p) out.lut[p] = lut_entry(view.canonical, p);
  if (t.symbol_bits != 8 && t.symbol_bits != 16) return;  // no bulk path for other widths
  out.bulk_lut.resize(kLutSize);
  uint64_t symbols_per_lookup = 0;  // summed over the prefixes
  for (uint32_t p = 0; p < kLutSize; ++p) {
    out.bulk_lut[p] = bulk_lut_entry(out.lut[p]);
    symbols_per_lookup += lut_count(out.lut[p]);
  }
  build_sub_tables(t, out);
  // One-symbol lookups where multi-symbol entries would rarely hold two (decode_short.h).
  const bool few_per_lookup = static_cast<double>(symbols_per_lookup) < kShortBelow * kLutSize;
  if (t.symbol_bits == 8 && t.max_length <= kShortBits && few_per_lookup) {
    out.short_lut.resize(kShortSize);
    for (uint32_t p = 0; p < kShortSize; ++p) out.short_lut[p] = short_entry(view.canonical, p);
  }
  if (t.symbol_bits == 16 && few_per_lookup && !build_wide_tables(out)) {
    out.wide_first.clear();
    out.wide_second.clear();
  }
}

}  // namespace co3::detail
