// Version-4 packets (zero-block maps, FORMAT.md §6b) from the CPU encoder, for the GPU decoder's
// tests (test_gpu_decode, test_gpu_decode_emulated): sparse ternary (four entries a symbol) and
// fp4 segments, blocks of 2, 16 and 64 symbols in chunks of one block to many, a partial last
// symbol and block, two segments a packet.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "../cpu/test_data.h"
#include "co3/codec.h"
#include "co3/crc32c.h"
#include "co3/detail/packet_layout.h"

namespace co3::testing {

// `n` entries in the larger segment (its last symbol partial when n % 4 ≠ 0), n / 7 in the other.
inline std::vector<std::vector<uint8_t>> zero_block_packets(uint64_t n) {
  const auto config = [](FloatFormat f, int g, uint32_t chunk, int block) {
    CodecConfig c;
    c.format = f;
    c.entries_per_symbol = g;
    c.scale.policy = ScalePolicy::absmax;
    c.code = CodeSource::histogram;
    c.chunk_symbols = chunk;
    c.zero_block = block;
    return c;
  };
  const FloatFormat ternary{1, 0, 1, Layout::finite};
  std::vector<std::vector<uint8_t>> packets;
  for (const int block : {2, 16, 64})
    for (const uint32_t chunk : {64u, 4096u}) {
      const auto a = sparse(n, 0.01, block + chunk);
      const auto b = sparse(n / 7, 0.2, block * chunk);
      const std::vector<EncodeInput> in = {EncodeInput(TensorView{a.data(), a.size(), DType::f32}),
                                           EncodeInput(TensorView{b.data(), b.size(), DType::f32})};
      packets.push_back(encode(in, config(ternary, 4, chunk, block)));
      packets.push_back(encode(in, config(formats::fp4, 1, chunk, block)));
    }
  return packets;
}

// Corruptions of a zero-block packet's first segment, each with its CRC recomputed (so that
// the map and chunk table checks, not the CRC, must catch them) and named: every `step`-th map
// bit flipped (padding bits included), then `byte_flips` random bytes of its chunk table or map.
inline std::vector<std::pair<std::vector<uint8_t>, std::string>> zero_block_corruptions(
    const std::vector<uint8_t>& p, uint64_t step, int byte_flips) {
  const detail::Descriptor d = detail::load_descriptor(p.data() + detail::kHeaderBytes);
  const auto with_crc = [](std::vector<uint8_t> m) {
    const uint32_t crc = crc32c(m.data(), m.size() - 4);
    std::memcpy(m.data() + m.size() - 4, &crc, 4);
    return m;
  };
  std::vector<std::pair<std::vector<uint8_t>, std::string>> out;
  const uint64_t map = d.zero_map_offset();
  for (uint64_t k = 0; k < 8 * d.zero_map_bytes(); k += step) {
    auto m = p;
    m[map + k / 8] ^= static_cast<uint8_t>(1u << (k % 8));
    out.emplace_back(with_crc(m), "map bit " + std::to_string(k) + " flipped");
  }
  std::mt19937_64 rng(64);
  for (int trial = 0; trial < byte_flips; ++trial) {
    auto m = p;
    m[d.data_offset + rng() % (d.payload_offset() - d.data_offset)] ^=
        static_cast<uint8_t>(1 + rng() % 255);
    out.emplace_back(with_crc(m), "chunk table or map byte flipped");
  }
  return out;
}

}  // namespace co3::testing
