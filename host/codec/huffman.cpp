// Host wrappers of co3/huffman.h: allocation, the §4 code-table body, the decode table.
#include "co3/huffman.h"

#include <memory>
#include <string>

#include "co3/error.h"
#include "co3/detail/encode_checks.h"
#include "co3/detail/encode_code.h"

namespace co3 {
namespace {

using detail::kRunBits;
using detail::kTokenBits;
using detail::kZeroRunToken;
constexpr uint32_t kMaxAlphabet = 1u << 16;  // symbol_bits ≤ 16

// Kraft sums in units of 2^−kMaxCodeLength: exact, and a complete code sums to kKraftOne.
constexpr uint64_t kKraftOne = uint64_t{1} << kMaxCodeLength;
uint64_t kraft_units(int len) { return uint64_t{1} << (kMaxCodeLength - len); }

class BitReader {
 public:
  BitReader(const uint8_t* data, size_t bytes) : data_(data), bits_(8 * bytes) {}
  bool has(int bits) const { return bits_ - pos_ >= static_cast<size_t>(bits); }
  uint32_t get(int bits) {  // requires has(bits)
    uint32_t v = 0;
    for (int i = 0; i < bits; ++i, ++pos_) v |= uint32_t{data_[pos_ / 8] >> (pos_ % 8) & 1u} << i;
    return v;
  }
  size_t left() const { return bits_ - pos_; }

 private:
  const uint8_t* data_;
  size_t bits_;
  size_t pos_ = 0;
};

std::string at_symbol(uint32_t s) { return " at symbol " + std::to_string(s); }

[[noreturn]] void corrupt(const std::string& what) {
  fail(Errc::corrupt_packet, "code table: " + what);
}

}  // namespace

std::vector<uint8_t> code_lengths(const std::vector<uint64_t>& weights, int max_len) {
  check(max_len >= 1 && max_len <= kMaxCodeLength, Errc::invalid_argument, [&] {
    return "code lengths: max_len " + std::to_string(max_len) + " outside 1.." +
           std::to_string(kMaxCodeLength);
  });
  check(weights.size() <= UINT32_MAX, Errc::invalid_argument, "code lengths: too many symbols");
  const auto n = static_cast<uint32_t>(weights.size());
  uint64_t used = 0;
  for (uint64_t w : weights) used += w != 0;
  check(used > 0, Errc::invalid_argument, "code lengths: no symbol has a nonzero weight");
  check(used <= uint64_t{1} << max_len, Errc::invalid_argument,
        detail::too_many_symbols_message(used, max_len));
  // Not zeroed (as the GPU's slot scratch is not): package_merge_lengths writes every word
  // before reading it, and for 65,536 symbols zeroing its 3 MiB was 5% of a bf16 encode.
  std::unique_ptr<uint64_t[]> scratch(new uint64_t[(package_merge_scratch_bytes(n, max_len) + 7) / 8]);
  std::vector<uint8_t> lengths(n);
  check(package_merge_lengths(weights.data(), n, max_len, lengths.data(), scratch.get()),
        Errc::invalid_argument, detail::weights_too_large_message());
  return lengths;
}

std::vector<uint8_t> write_code_lengths(const uint8_t* lengths, uint32_t n) {
  for (uint32_t s = 0; s < n; ++s) {
    if (lengths[s] > kMaxCodeLength) {
      fail(Errc::invalid_argument, "code table: length " + std::to_string(lengths[s]) +
                                       at_symbol(s) + " exceeds " +
                                       std::to_string(kMaxCodeLength));
    }
  }
  std::vector<uint8_t> body(detail::code_table_body_bytes(lengths, n));
  detail::write_code_table_body(lengths, n, body.data());
  return body;
}

void read_code_lengths(const uint8_t* body, size_t body_bytes, uint32_t n, int max_len,
                       uint8_t* lengths) {
  check(n >= 1 && n <= kMaxAlphabet, Errc::invalid_argument,
        [&] { return "code table: alphabet of " + std::to_string(n) + " symbols"; });
  check(max_len >= 1 && max_len <= kMaxCodeLength, Errc::invalid_argument,
        [&] { return "code table: max_length " + std::to_string(max_len); });
  BitReader in(body, body_bytes);
  uint64_t kraft = 0;
  uint32_t coded = 0;
  for (uint32_t s = 0; s < n;) {
    if (!in.has(kTokenBits)) corrupt("body ends" + at_symbol(s) + " of " + std::to_string(n));
    const uint32_t token = in.get(kTokenBits);
    if (token == kZeroRunToken) {
      if (!in.has(kRunBits)) corrupt("body ends inside a zero run" + at_symbol(s));
      const uint32_t run = in.get(kRunBits) + 1;
      if (run > n - s) {
        corrupt("zero run of " + std::to_string(run) + at_symbol(s) + " passes the alphabet of " +
                std::to_string(n));
      }
      for (uint32_t end = s + run; s < end; ++s) lengths[s] = 0;
    } else if (token > static_cast<uint32_t>(kMaxCodeLength)) {
      corrupt("invalid token " + std::to_string(token) + at_symbol(s));
    } else if (token > static_cast<uint32_t>(max_len)) {
      corrupt("length " + std::to_string(token) + at_symbol(s) + " exceeds max_length " +
              std::to_string(max_len));
    } else {
      lengths[s++] = static_cast<uint8_t>(token);
      if (token) {
        kraft += kraft_units(static_cast<int>(token));
        ++coded;
      }
    }
  }
  if (in.left() >= 8) {
    corrupt(std::to_string(in.left()) +
            " bits after the last symbol (tokens past the alphabet, or padding of 8 bits or more)");
  }
  if (in.get(static_cast<int>(in.left())) != 0) corrupt("nonzero padding bits");
  if (coded == 0) corrupt("no symbol has a code");
  if (kraft > kKraftOne) corrupt("the lengths violate the Kraft inequality");
}

DecodeTable build_decode_table(const uint8_t* lengths, uint32_t n, int max_len) {
  check(max_len >= 1 && max_len <= kMaxCodeLength, Errc::invalid_argument,
        [&] { return "decode table: max_len " + std::to_string(max_len); });
  // The lookup table packs symbol << 8 | length into 32 bits.
  check(n <= kMaxAlphabet, Errc::invalid_argument,
        [&] { return "decode table: alphabet of " + std::to_string(n) + " symbols"; });
  std::vector<uint32_t> count(max_len + 1, 0);
  uint64_t kraft = 0;
  for (uint32_t s = 0; s < n; ++s) {
    if (lengths[s] > max_len) {
      fail(Errc::invalid_argument, "decode table: length " + std::to_string(lengths[s]) +
                                       at_symbol(s) + " exceeds " + std::to_string(max_len));
    }
    ++count[lengths[s]];
    if (lengths[s]) kraft += kraft_units(lengths[s]);
  }
  check(count[0] < n, Errc::invalid_argument, "decode table: no symbol has a code");
  check(kraft <= kKraftOne, Errc::invalid_argument, "decode table: Kraft sum exceeds 1");

  DecodeTable t;
  t.max_len = max_len;
  t.lut_bits = max_len < kDecodeLutBits ? max_len : kDecodeLutBits;
  t.limit.assign(max_len + 1, 0);
  t.offset.assign(max_len + 1, 0);
  t.symbols.resize(n - count[0]);
  // Symbols of length len occupy symbols[first_index, first_index + count[len]) and codewords
  // [first_code, first_code + count[len]), both in symbol order.
  std::vector<uint32_t> next_index(max_len + 1, 0);
  uint32_t first_code = 0, first_index = 0, count_before = 0;
  for (int len = 1; len <= max_len; ++len) {
    first_code = (first_code + count_before) << 1;
    count_before = count[len];
    t.limit[len] = first_code + count[len];
    t.offset[len] = first_index - first_code;
    next_index[len] = first_index;
    first_index += count[len];
  }
  for (uint32_t s = 0; s < n; ++s) {
    if (lengths[s]) t.symbols[next_index[lengths[s]]++] = s;
  }

  std::vector<uint32_t> rev_codes(n);
  encode_table(lengths, n, rev_codes.data());
  t.lut.assign(size_t{1} << t.lut_bits, 0);
  for (uint32_t s = 0; s < n; ++s) {
    const int len = lengths[s];
    if (len == 0 || len > t.lut_bits) continue;
    // Every window whose first len bits are this codeword, whatever follows.
    for (uint32_t rest = 0; rest < 1u << (t.lut_bits - len); ++rest) {
      t.lut[rev_codes[s] | rest << len] = s << 8 | static_cast<uint32_t>(len);
    }
  }
  return t;
}

}  // namespace co3
