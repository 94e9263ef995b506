// Length-limited Huffman codes, canonical codewords, the §4 table body and the decoder.
#include "co3/huffman.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "co3/error.h"

namespace co3 {
namespace {

using u128 = unsigned __int128;
using Weights = std::vector<uint64_t>;
using Lengths = std::vector<uint8_t>;

u128 cost(const Weights& w, const Lengths& len) {
  u128 c = 0;
  for (size_t i = 0; i < w.size(); ++i) c += u128{w[i]} * len[i];
  return c;
}

// Σ 2^(24 − len) over coded symbols: 2^24 means Kraft sum exactly 1.
uint64_t kraft(const Lengths& len) {
  uint64_t k = 0;
  for (uint8_t l : len) k += l ? uint64_t{1} << (kMaxCodeLength - l) : 0;
  return k;
}
constexpr uint64_t kKraftOne = uint64_t{1} << kMaxCodeLength;

int max_length(const Lengths& len) { return *std::max_element(len.begin(), len.end()); }

// Package-merge through the CO3_HD entry point; `ok` receives its verdict.
Lengths pm(const Weights& w, int max_len, bool* ok = nullptr) {
  const auto n = static_cast<uint32_t>(w.size());
  std::vector<uint64_t> scratch(package_merge_scratch_bytes(n, max_len) / 8);  // exact, for ASan
  Lengths len(n, 0xEE);
  const bool r = package_merge_lengths(w.data(), n, max_len, len.data(), scratch.data());
  if (ok) *ok = r;
  return len;
}

// Oracle 1: classic Huffman. Repeatedly joins the two lightest trees; a leaf's length is the
// number of joins above it, found by walking parent links. Returns Σ weight·length and the
// deepest leaf.
u128 huffman_cost(const Weights& w, int* deepest) {
  using Node = std::pair<u128, size_t>;
  std::priority_queue<Node, std::vector<Node>, std::greater<Node>> heap;
  std::vector<size_t> parent;
  std::vector<size_t> leaf_node(w.size(), SIZE_MAX);
  for (size_t i = 0; i < w.size(); ++i) {
    if (!w[i]) continue;
    leaf_node[i] = parent.size();
    heap.push({w[i], parent.size()});
    parent.push_back(SIZE_MAX);
  }
  if (heap.size() == 1) {
    *deepest = 1;
    return heap.top().first;
  }
  while (heap.size() > 1) {
    const Node a = heap.top();
    heap.pop();
    const Node b = heap.top();
    heap.pop();
    parent[a.second] = parent[b.second] = parent.size();
    heap.push({a.first + b.first, parent.size()});
    parent.push_back(SIZE_MAX);
  }
  u128 total = 0;
  *deepest = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    if (leaf_node[i] == SIZE_MAX) continue;
    int depth = 0;
    for (size_t v = leaf_node[i]; parent[v] != SIZE_MAX; v = parent[v]) ++depth;
    total += u128{w[i]} * depth;
    *deepest = std::max(*deepest, depth);
  }
  return total;
}

// Oracle 2: the cheapest length vector with every length in 1 … max_len and Kraft ≤ 1, by
// trying them all (weighted symbols only; a lone symbol costs its weight).
u128 exhaustive_cost(const Weights& w, int max_len) {
  std::vector<uint64_t> coded;
  for (uint64_t x : w) {
    if (x) coded.push_back(x);
  }
  if (coded.size() == 1) return coded[0];
  u128 best = ~u128{0};
  const std::function<void(size_t, uint64_t, u128)> search = [&](size_t i, uint64_t used,
                                                                 u128 c) {
    if (i == coded.size()) {
      best = std::min(best, c);
      return;
    }
    for (int l = 1; l <= max_len; ++l) {
      const uint64_t units = uint64_t{1} << (max_len - l);
      if (used + units <= uint64_t{1} << max_len) {
        search(i + 1, used + units, c + u128{coded[i]} * l);
      }
    }
  };
  search(0, 0, 0);
  return best;
}

// Oracle 3: a literal package-merge over explicit items (weight in 128 bits, the multiset of
// leaves it holds), for checking exactness when 64-bit package weights would overflow.
u128 naive_package_merge_cost(const Weights& w, int max_len) {
  struct Item {
    u128 weight;
    std::vector<int> count;  // per symbol
  };
  const size_t n = w.size();
  std::vector<Item> leaves;
  for (size_t i = 0; i < n; ++i) {
    if (!w[i]) continue;
    Item it{w[i], std::vector<int>(n, 0)};
    it.count[i] = 1;
    leaves.push_back(it);
  }
  if (leaves.size() == 1) return leaves[0].weight;  // length 1
  const auto by_weight = [](const Item& a, const Item& b) { return a.weight < b.weight; };
  std::vector<Item> list = leaves;
  std::stable_sort(list.begin(), list.end(), by_weight);
  for (int level = max_len - 1; level >= 1; --level) {
    std::vector<Item> next = leaves;
    for (size_t k = 0; k + 1 < list.size(); k += 2) {
      Item p{list[k].weight + list[k + 1].weight, list[k].count};
      for (size_t i = 0; i < n; ++i) p.count[i] += list[k + 1].count[i];
      next.push_back(p);
    }
    std::stable_sort(next.begin(), next.end(), by_weight);
    list = next;
  }
  u128 total = 0;
  for (size_t k = 0; k < 2 * leaves.size() - 2; ++k) total += list[k].weight;
  return total;
}

// Weight vectors of many shapes. Shuffled, so symbol order carries no information.
Weights make_weights(size_t n, int shape, std::mt19937_64& rng) {
  Weights w(n);
  for (size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(i);
    switch (shape) {
      case 0:  // flat, many ties
        w[i] = 1 + rng() % 1000;
        break;
      case 1:  // flat up to 2^40
        w[i] = 1 + (rng() >> 24);
        break;
      case 2:  // Zipf
        w[i] = 1 + static_cast<uint64_t>(1e12 / std::pow(x + 1, 1.3));
        break;
      case 3:  // geometric, down to a long tail of ones
        w[i] = std::max(1.0, std::ldexp(std::pow(0.6, x), 47));
        break;
      case 4:  // log-uniform over 2^0 … 2^39: long codes
        w[i] = uint64_t{1} << (rng() % 40);
        break;
      default:  // sparse
        w[i] = rng() % 4 == 0 ? 1 + rng() % 100000 : 0;
        break;
    }
  }
  std::shuffle(w.begin(), w.end(), rng);
  if (std::count(w.begin(), w.end(), 0) == static_cast<long>(n)) w[rng() % n] = 1;
  return w;
}

// Random-shaped weights with at most 2^max_len of them nonzero.
Weights feasible_weights(size_t n, int max_len, std::mt19937_64& rng) {
  Weights w = make_weights(n, static_cast<int>(rng() % 6), rng);
  for (size_t i = 0, coded = 0; i < n; ++i) {
    if (w[i] && ++coded > (size_t{1} << max_len)) w[i] = 0;
  }
  return w;
}

void expect_valid_lengths(const Weights& w, const Lengths& len, int max_len) {
  size_t coded = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    ASSERT_EQ(w[i] == 0, len[i] == 0) << "symbol " << i;
    ASSERT_LE(len[i], max_len);
    coded += w[i] != 0;
  }
  if (coded == 1) {
    EXPECT_EQ(max_length(len), 1);
  } else {
    EXPECT_EQ(kraft(len), kKraftOne) << "package-merge codes are complete";
  }
}

TEST(PackageMerge, MatchesHuffmanWhenTheLimitDoesNotBind) {
  std::mt19937_64 rng(1);
  const size_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 16, 31, 100, 255, 256, 257, 1000, 4096, 20000,
                          65536};
  int free_cases = 0, bound_cases = 0;
  for (size_t n : sizes) {
    for (int shape = 0; shape < 6; ++shape) {
      SCOPED_TRACE("n " + std::to_string(n) + " shape " + std::to_string(shape));
      const Weights w = make_weights(n, shape, rng);
      int deepest = 0;
      const u128 best = huffman_cost(w, &deepest);
      bool ok = false;
      const Lengths len = pm(w, kMaxCodeLength, &ok);
      ASSERT_TRUE(ok);
      expect_valid_lengths(w, len, kMaxCodeLength);
      if (deepest <= kMaxCodeLength) {
        EXPECT_TRUE(cost(w, len) == best);
        ++free_cases;
      } else {
        EXPECT_TRUE(cost(w, len) >= best);  // the limit binds: this Huffman tree is too deep
        ++bound_cases;
      }
    }
  }
  EXPECT_GT(free_cases, 0);
  EXPECT_GT(bound_cases, 0);
}

TEST(PackageMerge, LongCodesWhenAllowed) {
  // Fibonacci-like weights give Huffman a chain: the limit 24 binds at 26 symbols.
  Weights w = {1, 1};
  while (w.size() < 30) w.push_back(w[w.size() - 1] + w[w.size() - 2]);
  int deepest = 0;
  huffman_cost(w, &deepest);
  EXPECT_EQ(deepest, 29);
  const Lengths len = pm(w, kMaxCodeLength);
  EXPECT_EQ(max_length(len), kMaxCodeLength);
  expect_valid_lengths(w, len, kMaxCodeLength);
  EXPECT_TRUE(cost(w, len) == naive_package_merge_cost(w, kMaxCodeLength));
}

TEST(PackageMerge, OptimalWhenTheLimitBinds) {
  std::mt19937_64 rng(2);
  for (int trial = 0; trial < 400; ++trial) {
    const size_t n = 1 + trial % 8;
    Weights w(n);
    for (auto& x : w) x = rng() % 3 == 0 ? 0 : 1 + (trial % 2 ? rng() % 5 : rng() % 100000);
    if (std::count(w.begin(), w.end(), 0) == static_cast<long>(n)) w[0] = 7;
    const size_t coded = n - std::count(w.begin(), w.end(), 0);
    for (int max_len = 1; max_len <= 5; ++max_len) {
      bool ok = false;
      const Lengths len = pm(w, max_len, &ok);
      ASSERT_EQ(ok, coded <= (size_t{1} << max_len));
      if (!ok) continue;
      expect_valid_lengths(w, len, max_len);
      EXPECT_TRUE(cost(w, len) == exhaustive_cost(w, max_len)) << "trial " << trial;
    }
  }
}

TEST(PackageMerge, MatchesLiteralPackageMerge) {
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 60; ++trial) {
    const size_t n = 2 + rng() % 40;
    const Weights w = make_weights(n, trial % 6, rng);
    for (int max_len : {6, 8, 12, 24}) {
      bool ok = false;
      const Lengths len = pm(w, max_len, &ok);
      ASSERT_TRUE(ok);
      EXPECT_TRUE(cost(w, len) == naive_package_merge_cost(w, max_len));
    }
  }
}

TEST(PackageMerge, HugeWeightsStayExact) {
  // Powers of two up to 2^63 (sum < 2^64): some unselected packages pass 2^64 and saturate, yet
  // the result is exact. Scaling every weight by 2^24 changes no comparison of exact sums, so the
  // lengths must equal those of the small weights.
  const int exponents[] = {30, 10, 18, 30, 6,  5,  20, 1,  35, 30, 29, 10, 26, 2, 15, 5,
                           23, 29, 15, 17, 1,  11, 12, 27, 3,  11, 11, 39, 8,  16, 10, 12};
  Weights small, huge;
  for (int e : exponents) {
    small.push_back(uint64_t{1} << e);
    huge.push_back(uint64_t{1} << (e + 24));
  }
  for (int max_len : {6, 8, 12, 24}) {
    bool ok = false;
    const Lengths len = pm(huge, max_len, &ok);
    ASSERT_TRUE(ok) << max_len;
    expect_valid_lengths(huge, len, max_len);
    EXPECT_EQ(len, pm(small, max_len));
    EXPECT_TRUE(cost(huge, len) == naive_package_merge_cost(huge, max_len));
  }
  // Four weights of 2^62 − 1 sum below 2^64, but every length is 2: the cost does not fit.
  bool ok = true;
  pm(Weights(4, (uint64_t{1} << 62) - 1), 8, &ok);
  EXPECT_FALSE(ok);
  EXPECT_THROW(code_lengths(Weights(4, (uint64_t{1} << 62) - 1), 8), Error);
}

TEST(PackageMerge, SingleSymbolAndZeros) {
  EXPECT_EQ(pm({0, 0, 5, 0}, 1), (Lengths{0, 0, 1, 0}));
  EXPECT_EQ(pm({0, 0, 5, 0}, 24), (Lengths{0, 0, 1, 0}));
  EXPECT_EQ(pm({3, 0, 9}, 1), (Lengths{1, 0, 1}));
  EXPECT_EQ(code_lengths({0, 1}, 3), (Lengths{0, 1}));
}

TEST(PackageMerge, TiesBreakBySymbolIndex) {
  // Equal weights: the lower symbol index counts as lighter and gets the longer code.
  EXPECT_EQ(pm({1, 1, 1}, 24), (Lengths{2, 2, 1}));
  EXPECT_EQ(pm({4, 4, 4, 4, 4}, 24), (Lengths{3, 3, 2, 2, 2}));
  EXPECT_EQ(pm({1, 1, 2}, 24), (Lengths{2, 2, 1}));
  // {1, 1, 2, 2} has two optimal codes, (3, 3, 2, 1) and (2, 2, 2, 2). Taking a leaf before a
  // package of equal weight gives the flat one.
  EXPECT_EQ(pm({1, 1, 2, 2}, 24), (Lengths{2, 2, 2, 2}));
}

TEST(PackageMerge, Infeasible) {
  bool ok = true;
  pm(Weights(5, 1), 2, &ok);  // 5 symbols > 2^2
  EXPECT_FALSE(ok);
  pm(Weights(4, 1), 2, &ok);
  EXPECT_TRUE(ok);
  pm(Weights(3, 1), 1, &ok);
  EXPECT_FALSE(ok);
  pm(Weights(65536, 1), 15, &ok);
  EXPECT_FALSE(ok);
  pm(Weights(65536, 1), 16, &ok);
  EXPECT_TRUE(ok);
  pm(Weights(8, 0), 8, &ok);
  EXPECT_FALSE(ok);
  pm(Weights{}, 8, &ok);
  EXPECT_FALSE(ok);
  for (int bad : {0, -1, 25}) {
    pm(Weights(4, 1), bad, &ok);
    EXPECT_FALSE(ok) << bad;
  }
  for (const auto& [w, l] : std::vector<std::pair<Weights, int>>{
           {Weights(5, 1), 2}, {Weights(3, 0), 4}, {Weights(2, 1), 0}, {Weights(2, 1), 25}}) {
    try {
      code_lengths(w, l);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::invalid_argument);
    }
  }
}

// ---- Canonical codes ----

TEST(Canonical, Rfc1951Example) {
  // RFC 1951 §3.2.2: lengths (3, 3, 3, 3, 3, 2, 4, 4) for A … H.
  const Lengths len = {3, 3, 3, 3, 3, 2, 4, 4};
  std::vector<uint32_t> code(8);
  canonical_codes(len.data(), 8, code.data());
  EXPECT_EQ(code, (std::vector<uint32_t>{0b010, 0b011, 0b100, 0b101, 0b110, 0b00, 0b1110,
                                         0b1111}));
  std::vector<uint32_t> rev(8);
  encode_table(len.data(), 8, rev.data());
  EXPECT_EQ(rev, (std::vector<uint32_t>{0b010, 0b110, 0b001, 0b101, 0b011, 0b00, 0b0111,
                                        0b1111}));
}

TEST(Canonical, ZeroLengthsAndSingleSymbol) {
  const Lengths len = {0, 2, 0, 1, 2, 0};
  std::vector<uint32_t> code(6, 99);
  canonical_codes(len.data(), 6, code.data());
  EXPECT_EQ(code, (std::vector<uint32_t>{0, 0b10, 0, 0b0, 0b11, 0}));
  const Lengths one = {0, 0, 1};
  canonical_codes(one.data(), 3, code.data());
  EXPECT_EQ(code[2], 0u);
}

TEST(Canonical, ReverseBits) {
  EXPECT_EQ(reverse_bits(0, 0), 0u);
  EXPECT_EQ(reverse_bits(1, 1), 1u);
  EXPECT_EQ(reverse_bits(0b0001, 4), 0b1000u);
  EXPECT_EQ(reverse_bits(0b110, 3), 0b011u);
  EXPECT_EQ(reverse_bits(0x000001, 24), 0x800000u);
  EXPECT_EQ(reverse_bits(0x80000000u, 32), 1u);
}

TEST(Canonical, PrefixFreeAndDeflateOrder) {
  std::mt19937_64 rng(4);
  for (size_t n : {2, 3, 10, 300, 65536}) {
    for (int max_len : {2, 9, 16, 24}) {
      if (n > (size_t{1} << max_len)) continue;
      const Weights w = make_weights(n, 4, rng);
      const Lengths len = pm(w, max_len);
      std::vector<uint32_t> code(n);
      canonical_codes(len.data(), static_cast<uint32_t>(n), code.data());
      // Each codeword owns the interval of 24-bit strings it prefixes; prefix-free means the
      // intervals are disjoint. Sorted by (length, symbol) the intervals are also consecutive
      // with no gap, which is exactly the DEFLATE rule for a complete code.
      std::vector<uint32_t> order;
      for (uint32_t s = 0; s < n; ++s) {
        if (len[s]) order.push_back(s);
      }
      std::stable_sort(order.begin(), order.end(),
                       [&](uint32_t a, uint32_t b) { return len[a] < len[b]; });
      uint64_t next = 0;
      for (uint32_t s : order) {
        ASSERT_LT(code[s], 1u << len[s]);
        const uint64_t lo = uint64_t{code[s]} << (kMaxCodeLength - len[s]);
        EXPECT_EQ(lo, next) << "symbol " << s;
        next = lo + (uint64_t{1} << (kMaxCodeLength - len[s]));
      }
      EXPECT_EQ(next, kKraftOne);
    }
  }
}

// ---- Encode and decode ----

class BitSink {
 public:
  void put(uint32_t rev_code, int len) {
    for (int i = 0; i < len; ++i, ++bits_) {
      if (bits_ % 32 == 0) words_.push_back(0);
      words_.back() |= (rev_code >> i & 1u) << (bits_ % 32);
    }
  }
  // The 64 stream bits from `bit` on (zeros past the end).
  uint64_t window(size_t bit) const {
    u128 acc = 0;
    for (size_t k = 0; k < 3; ++k) {
      const size_t i = bit / 32 + k;
      if (i < words_.size()) acc |= u128{words_[i]} << (32 * k);
    }
    return static_cast<uint64_t>(acc >> (bit % 32));
  }
  size_t bits() const { return bits_; }

 private:
  std::vector<uint32_t> words_;
  size_t bits_ = 0;
};

TEST(Decode, RoundTripEveryMaxLength) {
  std::mt19937_64 rng(5);
  for (int max_len = 1; max_len <= kMaxCodeLength; ++max_len) {
    for (uint32_t n : {2u, 5u, 300u, 65536u}) {
      SCOPED_TRACE("max_len " + std::to_string(max_len) + " n " + std::to_string(n));
      // At most 2^max_len weighted symbols, spread over the alphabet, with weights spanning
      // 2^40 so that the limit binds and long codes appear.
      Weights w = make_weights(n, 4, rng);
      const size_t keep = std::min<size_t>(n, size_t{1} << max_len);
      for (size_t i = keep; i < n; ++i) w[i] = 0;
      std::shuffle(w.begin(), w.end(), rng);
      const Lengths len = pm(w, max_len);
      if (keep > 1 && n > 2 * static_cast<uint32_t>(max_len)) {
        EXPECT_EQ(max_length(len), max_len);
      }
      std::vector<uint32_t> rev(n), coded;
      encode_table(len.data(), n, rev.data());
      for (uint32_t s = 0; s < n; ++s) {
        if (len[s]) coded.push_back(s);
      }
      std::vector<uint32_t> message(5000);
      BitSink sink;
      for (auto& s : message) {
        s = coded[rng() % coded.size()];
        sink.put(rev[s], len[s]);
      }
      const DecodeTable table = build_decode_table(len.data(), n, max_len);
      const DecodeTableView view = table.view();
      EXPECT_EQ(view.lut_bits, std::min(max_len, kDecodeLutBits));
      size_t bit = 0;
      for (uint32_t expected : message) {
        uint32_t s = UINT32_MAX;
        const int used = decode_symbol(view, sink.window(bit), &s);
        ASSERT_EQ(s, expected) << "at bit " << bit;
        ASSERT_EQ(used, len[s]);
        bit += used;
      }
      EXPECT_EQ(bit, sink.bits());
    }
  }
}

// Every window of max_len bits, against a brute-force map from windows to codewords; random
// bits above max_len must not matter. Incomplete codes leave windows that must decode to 0.
void check_all_windows(const Lengths& len, int max_len, std::mt19937_64& rng) {
  const auto n = static_cast<uint32_t>(len.size());
  std::vector<uint32_t> rev(n);
  encode_table(len.data(), n, rev.data());
  std::vector<int64_t> owner(size_t{1} << max_len, -1);
  for (uint32_t s = 0; s < n; ++s) {
    if (!len[s]) continue;
    for (uint32_t rest = 0; rest < 1u << (max_len - len[s]); ++rest) {
      ASSERT_EQ(owner[rev[s] | rest << len[s]], -1) << "not prefix-free";
      owner[rev[s] | rest << len[s]] = s;
    }
  }
  const DecodeTable table = build_decode_table(len.data(), n, max_len);
  for (uint64_t low = 0; low < owner.size(); ++low) {
    const uint64_t window = low | (rng() << max_len);
    uint32_t s = UINT32_MAX;
    const int used = decode_symbol(table.view(), window, &s);
    if (owner[low] < 0) {
      ASSERT_EQ(used, 0) << "window " << low << " decoded to " << s;
    } else {
      ASSERT_EQ(s, owner[low]) << "window " << low;
      ASSERT_EQ(used, len[s]);
    }
  }
}

TEST(Decode, IncompleteCodesNeverDecodeWrongly) {
  std::mt19937_64 rng(6);
  for (int max_len = 1; max_len <= 16; ++max_len) {
    for (int trial = 0; trial < 3; ++trial) {
      SCOPED_TRACE("max_len " + std::to_string(max_len) + " trial " + std::to_string(trial));
      const uint32_t n = 1 + rng() % std::min<uint32_t>(2000, 1u << max_len);
      Lengths len = pm(make_weights(n, 4, rng), max_len);
      check_all_windows(len, max_len, rng);  // complete
      // Drop symbols (keeping at least one) to leave holes at every depth.
      for (auto& l : len) {
        if (rng() % 3 == 0) l = 0;
      }
      if (max_length(len) == 0) len[0] = static_cast<uint8_t>(max_len);
      check_all_windows(len, max_len, rng);
    }
  }
}

TEST(Decode, SingleSymbolCode) {
  for (int max_len : {1, 5, 11, 12, 24}) {
    const Lengths len = {0, 0, 0, 1};
    const DecodeTable table = build_decode_table(len.data(), 4, max_len);
    uint32_t s = 99;
    EXPECT_EQ(decode_symbol(table.view(), 0xFFFFFFFEu, &s), 1);
    EXPECT_EQ(s, 3u);
    EXPECT_EQ(decode_symbol(table.view(), 0x1, &s), 0) << max_len;  // codeword `1` is invalid
    EXPECT_EQ(decode_symbol(table.view(), ~uint64_t{0}, &s), 0) << max_len;
  }
}

TEST(Decode, BuildRejectsInvalidLengths) {
  const Lengths over = {1, 1, 1};
  const Lengths none = {0, 0};
  const Lengths too_long = {1, 2, 3, 3};
  EXPECT_THROW(build_decode_table(over.data(), 3, 4), Error);
  EXPECT_THROW(build_decode_table(none.data(), 2, 4), Error);
  EXPECT_THROW(build_decode_table(too_long.data(), 4, 2), Error);
  EXPECT_THROW(build_decode_table(too_long.data(), 4, 25), Error);
}

// ---- The §4 body ----

// Test-side body writer: tokens as '0'/'1' characters in stream order, then packed.
class Tokens {
 public:
  Tokens& field(uint32_t v, int bits) {
    for (int i = 0; i < bits; ++i) s_ += (v >> i & 1) ? '1' : '0';
    return *this;
  }
  Tokens& len(uint32_t l) { return field(l, 5); }
  Tokens& run(uint32_t r) { return field(31, 5).field(r - 1, 16); }
  Tokens& raw(const std::string& bits) {
    s_ += bits;
    return *this;
  }
  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> b((s_.size() + 7) / 8, 0);
    for (size_t i = 0; i < s_.size(); ++i) b[i / 8] |= (s_[i] == '1') << (i % 8);
    return b;
  }

 private:
  std::string s_;
};

TEST(TableBody, EncoderRule) {
  // 4 zeros are four 0 tokens; 5 zeros are one run token.
  const Lengths len = {3, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 3, 0};
  const auto body = write_code_lengths(len.data(), static_cast<uint32_t>(len.size()));
  const auto expected =
      Tokens().len(3).len(0).len(0).len(0).len(0).len(2).run(5).len(1).len(3).len(0).bytes();
  EXPECT_EQ(body, expected);
  Lengths back(len.size());
  read_code_lengths(body.data(), body.size(), static_cast<uint32_t>(len.size()), 3, back.data());
  EXPECT_EQ(back, len);
}

TEST(TableBody, LongRunsSplitAt65536) {
  Lengths len(70000, 0);
  len[69999] = 1;
  const auto body = write_code_lengths(len.data(), 70000);
  EXPECT_EQ(body, Tokens().run(65536).run(4463).len(1).bytes());
  Lengths tail(65540, 0);
  tail[0] = 1;
  EXPECT_EQ(write_code_lengths(tail.data(), 65540), Tokens().len(1).run(65536).len(0).len(0)
                                                        .len(0).bytes());
}

TEST(TableBody, RoundTrip) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const uint32_t n = trial < 100 ? 1 + rng() % 300 : 1u << (rng() % 17);
    const int max_len = 1 + static_cast<int>(rng() % kMaxCodeLength);
    const Lengths len = pm(feasible_weights(n, max_len, rng), max_len);
    const auto body = write_code_lengths(len.data(), n);
    ASSERT_LE(body.size(), 65536u);
    Lengths back(n);
    read_code_lengths(body.data(), body.size(), n, max_len, back.data());
    ASSERT_EQ(back, len);
  }
  // The whole alphabet coded but one symbol: a run of 65535.
  Lengths len(65536, 0);
  len[12345] = 1;
  const auto body = write_code_lengths(len.data(), 65536);
  EXPECT_EQ(body.size(), 6u);
  Lengths back(65536);
  read_code_lengths(body.data(), body.size(), 65536, 1, back.data());
  EXPECT_EQ(back, len);
}

void expect_corrupt(const std::vector<uint8_t>& body, uint32_t n, int max_len,
                    const std::string& what) {
  Lengths len(n);
  try {
    read_code_lengths(body.data(), body.size(), n, max_len, len.data());
    ADD_FAILURE() << "accepted: " << what;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::corrupt_packet);
    EXPECT_EQ(std::string(e.what()).rfind("code table: ", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(TableBody, RejectsMalformed) {
  for (uint32_t t = 25; t <= 30; ++t) {
    expect_corrupt(Tokens().len(1).len(t).len(1).bytes(), 3, 8, "invalid token");
  }
  expect_corrupt(Tokens().len(1).len(13).len(1).bytes(), 3, 12, "exceeds max_length");
  // Too few tokens: 3 of 4 symbols, 1 padding bit left.
  expect_corrupt(Tokens().len(1).len(2).len(2).bytes(), 4, 8, "body ends");
  expect_corrupt(Tokens().len(1).field(31, 5).field(3, 6).bytes(), 9, 8, "inside a zero run");
  expect_corrupt(Tokens().len(1).run(10).bytes(), 10, 8, "passes the alphabet");
  // Too many tokens: 4 tokens for 2 symbols leave 15 bits.
  expect_corrupt(Tokens().len(1).len(1).len(0).len(0).bytes(), 2, 8, "bits after the last");
  expect_corrupt(Tokens().len(1).len(1).raw("000001").bytes(), 2, 8, "nonzero padding");
  expect_corrupt(Tokens().len(1).len(1).raw("100000").bytes(), 2, 8, "nonzero padding");
  auto padded = Tokens().len(1).len(1).bytes();
  padded.push_back(0);  // 8 more zero bits
  expect_corrupt(padded, 2, 8, "bits after the last");
  expect_corrupt(Tokens().len(1).len(1).len(1).bytes(), 3, 8, "Kraft");
  expect_corrupt(Tokens().len(2).len(2).len(2).len(2).len(2).bytes(), 5, 8, "Kraft");
  expect_corrupt(Tokens().run(10).bytes(), 10, 8, "no symbol has a code");
  expect_corrupt(Tokens().len(0).len(0).bytes(), 2, 8, "no symbol has a code");
  expect_corrupt({}, 2, 8, "body ends");
  // Valid neighbours of the cases above.
  Lengths len(4);
  const auto ok = Tokens().len(1).len(2).len(3).len(3).bytes();
  read_code_lengths(ok.data(), ok.size(), 4, 3, len.data());
  EXPECT_EQ(len, (Lengths{1, 2, 3, 3}));
  const auto incomplete = Tokens().len(2).len(0).len(3).bytes();
  read_code_lengths(incomplete.data(), incomplete.size(), 3, 3, len.data());
}

TEST(TableBody, BitFlipsAreRejectedOrValid) {
  std::mt19937_64 rng(8);
  int accepted = 0, rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const uint32_t n = 1 + rng() % 600;
    const int max_len = 1 + static_cast<int>(rng() % kMaxCodeLength);
    auto body = write_code_lengths(pm(feasible_weights(n, max_len, rng), max_len).data(), n);
    for (int flips = 1 + static_cast<int>(rng() % 3); flips > 0; --flips) {
      body[rng() % body.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    if (rng() % 8 == 0) body.resize(rng() % (body.size() + 2));
    Lengths len(n, 0xEE);
    try {
      read_code_lengths(body.data(), body.size(), n, max_len, len.data());
      ++accepted;
      ASSERT_LE(max_length(len), max_len);
      ASSERT_GT(max_length(len), 0);
      ASSERT_LE(kraft(len), kKraftOne);
      build_decode_table(len.data(), n, max_len);
    } catch (const Error& e) {
      ++rejected;
      ASSERT_EQ(e.code(), Errc::corrupt_packet) << e.what();
    }
  }
  EXPECT_GT(accepted, 0);
  EXPECT_GT(rejected, 0);
}

TEST(TableBody, RejectsBadArguments) {
  const auto body = Tokens().len(1).bytes();
  Lengths len(1);
  EXPECT_THROW(read_code_lengths(body.data(), body.size(), 1, 0, len.data()), Error);
  EXPECT_THROW(read_code_lengths(body.data(), body.size(), 0, 8, len.data()), Error);
  const Lengths bad = {25};
  EXPECT_THROW(write_code_lengths(bad.data(), 1), Error);
}

}  // namespace
}  // namespace co3
