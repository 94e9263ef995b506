// The encoder's pack stage on the CPU (twin of kernels/encode_pack.cu): the words each chunk
// takes, the chunks' codewords packed into parts (one per worker), and the parts copied into
// the packet. The bit packing itself is include/co3/detail/encode_bits.h's.
#include <algorithm>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

#include "co3/huffman.h"
#include "co3/detail/encode_bits.h"
#include "co3/detail/zero_blocks.h"
#include "cpu_features.h"
#include "encode_pipeline.h"
#include "thread_pool.h"

namespace co3::detail {

std::vector<uint16_t> chunk_words(const SymbolBuffer& symbols, const uint8_t* lengths,
                                  uint32_t chunk_symbols, int threads) {
  const size_t n = symbols.size();
  const size_t chunks = (n + chunk_symbols - 1) / chunk_symbols;
  std::vector<uint16_t> words(chunks);
  symbols.visit([&](const auto* sym) {
    parallel_for(chunks, threads, 16, [&](size_t b, size_t e) {
      for (size_t k = b; k < e; ++k) {
        const size_t end = std::min(n, (k + 1) * size_t{chunk_symbols});
        words[k] = static_cast<uint16_t>(
            chunk_words_for(range_bits(sym, k * size_t{chunk_symbols}, end, lengths)));
      }
    });
  });
  return words;
}

namespace {

template <class Sym>
using PackChunk = uint64_t (*)(const Sym*, uint64_t, uint64_t, CodeWords, uint8_t*);
template <class Sym>
using PackPairs = uint64_t (*)(const Sym*, uint64_t, uint64_t, CodeWords, CodeWords, uint8_t*);

// The packers compiled for BMI2 as well (shifts by a register without the count in CL, and
// without the moves around it), chosen at run time (cpu_features.h).
template <int kPerStore, class Sym>
__attribute__((flatten)) CO3_TARGET_BMI2 uint64_t pack_bytes_bmi2(const Sym* sym, uint64_t begin,
                                                                 uint64_t end, CodeWords cw,
                                                                 uint8_t* out) {
  return pack_chunk_bytes<kPerStore, Sym>(sym, begin, end, cw, out);
}
template <class Sym>
__attribute__((flatten)) CO3_TARGET_BMI2 uint64_t pack_pairs_bmi2(const Sym* sym, uint64_t begin,
                                                                 uint64_t end, CodeWords pairs,
                                                                 CodeWords cw, uint8_t* out) {
  return pack_chunk_pairs<2, Sym>(sym, begin, end, pairs, cw, out);
}

template <class Sym>
PackChunk<Sym> pack_chunk_for(int max_len) {
  const bool bmi2 = cpu_has_bmi2();
  switch (codewords_per_store(max_len)) {
    case 4: return bmi2 ? pack_bytes_bmi2<4, Sym> : pack_chunk_bytes<4, Sym>;
    case 3: return bmi2 ? pack_bytes_bmi2<3, Sym> : pack_chunk_bytes<3, Sym>;
    default: return bmi2 ? pack_bytes_bmi2<2, Sym> : pack_chunk_bytes<2, Sym>;
  }
}

template <class Sym>
PackPairs<Sym> pack_pairs_for() {
  return cpu_has_bmi2() ? pack_pairs_bmi2<Sym> : pack_chunk_pairs<2, Sym>;
}

// The pair table pays for itself (65,536 entries) from about this many symbols on.
constexpr size_t kPairSymbols = size_t{1} << 18;

// starts: where each chunk's symbols begin (chunks + 1 offsets), or null for chunks of
// chunk_symbols each.
template <class Sym>
PackedChunks pack_symbols(const Sym* symbols, uint64_t nsym, const std::vector<uint8_t>& lengths,
                          uint32_t chunk_symbols, int threads,
                          const std::vector<uint64_t>* starts = nullptr) {
  std::vector<uint32_t> codes(lengths.size());
  encode_table(lengths.data(), static_cast<uint32_t>(lengths.size()), codes.data());
  const CodeWords cw{codes.data(), lengths.data()};
  const uint8_t max_len = *std::max_element(lengths.begin(), lengths.end());
  const PackChunk<Sym> by_symbol = pack_chunk_for<Sym>(max_len);
  // 8-bit alphabets with short codes (e4m3, e5m2: L = 12) add codewords in pairs.
  std::vector<uint32_t> pair_codes;
  std::vector<uint8_t> pair_lens;
  if (lengths.size() == 256 && max_len <= kPairMaxLen && nsym >= kPairSymbols) {
    pair_codes.resize(size_t{1} << 16);
    pair_lens.resize(size_t{1} << 16);
    for (uint32_t b = 0; b < 256; ++b)
      for (uint32_t a = 0; a < 256; ++a) pair_codeword(cw, a, b, &pair_codes[a | b << 8], &pair_lens[a | b << 8]);
  }
  const CodeWords pairs{pair_codes.data(), pair_lens.data()};
  static_assert(codewords_per_store(2 * kPairMaxLen) >= 2, "two pairs between stores");
  const PackPairs<Sym> by_pairs = pack_pairs_for<Sym>();
  const auto pack = [&](const Sym* sym, uint64_t begin, uint64_t end, uint8_t* out) {
    return pair_codes.empty() ? by_symbol(sym, begin, end, cw, out) : by_pairs(sym, begin, end, pairs, cw, out);
  };
  const size_t chunks = starts ? starts->size() - 1 : (nsym + chunk_symbols - 1) / chunk_symbols;
  const auto chunk_begin = [&](size_t k) {
    return starts ? static_cast<size_t>((*starts)[k]) : std::min<size_t>(nsym, k * size_t{chunk_symbols});
  };
  PackedChunks p;
  p.words.resize(chunks);
  std::vector<std::pair<size_t, PackedChunks::Part>> parts;
  std::mutex mu;
  parallel_for(chunks, threads, 16, [&](size_t b, size_t e) {
    const size_t first = chunk_begin(b), last = chunk_begin(e);
    // Each chunk at most max_len bits a symbol, whole words, and the packer's 8 bytes of room.
    // Not zeroed: the packer's stores cover every byte of every chunk's words. Pooled
    // (scratch.h): a large tensor's payload would otherwise be fresh pages every call.
    PackedChunks::Part part{Scratch((last - first) * max_len / 8 + 4 * (e - b) + 8), 0};
    uint8_t* const bytes = part.bytes.data();
    size_t at = 0;
    for (size_t k = b; k < e; ++k) {
      const size_t begin = chunk_begin(k), end = chunk_begin(k + 1);
      // A chunk of no coded symbols (§6b) takes no words.
      const uint64_t words = begin == end ? 0 : chunk_words_for(pack(symbols, begin, end, bytes + at));
      p.words[k] = static_cast<uint16_t>(words);
      at += 4 * words;
    }
    part.size = at;
    std::lock_guard<std::mutex> lock(mu);
    parts.emplace_back(b, std::move(part));
  });
  std::sort(parts.begin(), parts.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  for (auto& part : parts) p.parts.push_back(std::move(part.second));
  for (uint16_t w : p.words) p.payload_words += w;
  return p;
}

}  // namespace

PackedChunks pack_segment(const SymbolBuffer& symbols, const std::vector<uint8_t>& lengths,
                          uint32_t chunk_symbols, int threads) {
  return symbols.visit([&](const auto* sym) {
    return pack_symbols(sym, symbols.size(), lengths, chunk_symbols, threads);
  });
}

PackedChunks pack_segment(const Quantized& q, const std::vector<uint8_t>& lengths,
                          uint32_t chunk_symbols, int threads) {
  if (!q.zero_block) return pack_segment(q.symbols, lengths, chunk_symbols, threads);
  return q.coded.visit([&](const auto* sym) {
    return pack_symbols(sym, q.coded.size(), lengths, chunk_symbols, threads, &q.chunk_starts);
  });
}

void apply_zero_blocks(Quantized& q, int b, uint32_t chunk_symbols, int threads) {
  const uint64_t nsym = q.symbols.size();
  if (!b || !nsym) return;
  const uint64_t block = uint64_t{1} << b, blocks = (nsym + block - 1) / block;
  const uint64_t per_chunk = chunk_symbols / block;
  const uint64_t chunks = (nsym + chunk_symbols - 1) / chunk_symbols;
  std::vector<uint8_t> map(align8((blocks + 7) / 8), 0);
  std::vector<uint64_t> coded_in(chunks, 0);  // coded symbols of each chunk
  // Each worker writes whole map bytes (8 blocks each; a byte may straddle two chunks, so the
  // chunks' counts are summed from the finished map).
  q.symbols.visit([&](const auto* sym) {
    parallel_for((blocks + 7) / 8, threads, 1024, [&](size_t lo, size_t hi) {
      for (size_t byte = lo; byte < hi; ++byte) map[byte] = zero_map_byte(sym, nsym, b, byte);
    });
  });
  uint64_t coded = 0;
  for (uint64_t k = 0; k < blocks; ++k)
    if (block_coded(map.data(), k)) {
      const uint64_t len = k + 1 == blocks ? nsym - k * block : block;
      coded_in[k / per_chunk] += len;
      coded += len;
    }
  if (!zero_map_saves(nsym, coded, blocks)) return;
  q.symbol_hist[0] += zero_map_hist0_change(nsym, coded);
  q.zero_block = static_cast<uint8_t>(b);
  q.zero_map = std::move(map);
  q.chunk_starts.assign(chunks + 1, 0);
  for (uint64_t k = 0; k < chunks; ++k) q.chunk_starts[k + 1] = q.chunk_starts[k] + coded_in[k];
  q.coded.resize(coded, q.symbols.bytes());
  const auto copy = [&](const auto* sym) {
    using Sym = std::remove_const_t<std::remove_pointer_t<decltype(sym)>>;
    Sym* const out = q.coded.template data<Sym>();
    parallel_for(chunks, threads, 16, [&](size_t lo, size_t hi) {
      for (size_t c = lo; c < hi; ++c) {
        uint64_t at = q.chunk_starts[c];
        for (uint64_t k = c * per_chunk; k < std::min(blocks, (c + 1) * per_chunk); ++k) {
          if (!block_coded(q.zero_map.data(), k)) continue;
          const uint64_t e = std::min(nsym, (k + 1) * block);
          std::copy(sym + k * block, sym + e, out + at);
          at += e - k * block;
        }
      }
    });
  };
  q.symbols.visit(copy);
}

void write_payload(const PackedChunks& p, uint8_t* payload, int threads) {
  // One part per packing thread: copied in parallel (a serial copy of a large payload was the
  // encoder's one pass that did not scale with threads).
  std::vector<size_t> at(p.parts.size() + 1, 0);
  for (size_t i = 0; i < p.parts.size(); ++i) at[i + 1] = at[i] + p.parts[i].size;
  parallel_for(p.parts.size(), threads, 1, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i)
      std::copy(p.parts[i].bytes.data(), p.parts[i].bytes.data() + p.parts[i].size, payload + at[i]);
  });
}

}  // namespace co3::detail
