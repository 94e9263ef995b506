// The GPU bench's "against uncompressed transfer" model: is encoding, moving the packet and
// decoding faster than moving the raw float32 gradient over a given link? Plain host arithmetic
// on measured times and sizes (tests/cpu/test_transfer_model.cpp checks it).
//
// The model is sequential: encode, then transfer, then decode, with no overlap of coding and
// transfer and no latency term, over a link that carries its full rate in one direction.
#pragma once

#include <cstdint>
#include <limits>

namespace co3::bench {

struct Link {
  const char* name;
  double bytes_per_second;  // one direction
};

// Ethernet/InfiniBand line rates (Gb/s ÷ 8), PCIe 5.0 x16 (~64 GB/s per direction) and NVLink 4
// on an H100/H200 (900 GB/s both directions together, 450 GB/s each way).
inline constexpr Link kLinks[] = {
    {"10 Gb/s", 10e9 / 8},   {"25 Gb/s", 25e9 / 8}, {"100 Gb/s", 100e9 / 8},
    {"400 Gb/s", 400e9 / 8}, {"PCIe 5 x16", 64e9},  {"NVLink", 450e9},
};

// What one format costs on one input, as measured.
struct CodecCost {
  double encode_seconds = 0;
  double decode_seconds = 0;
  uint64_t packet_bytes = 0;
  uint64_t raw_bytes = 0;  // the uncompressed gradient (4 bytes an entry for float32)
};

inline double raw_seconds(const CodecCost& c, double link_bytes_per_second) {
  return static_cast<double>(c.raw_bytes) / link_bytes_per_second;
}

inline double compressed_seconds(const CodecCost& c, double link_bytes_per_second) {
  return c.encode_seconds + static_cast<double>(c.packet_bytes) / link_bytes_per_second +
         c.decode_seconds;
}

// The link rate (bytes/s) below which compressing wins: raw/B = encode + decode + packet/B
// gives B = (raw − packet) / (encode + decode). 0 when the packet is not smaller than the raw
// gradient (compressing never wins); +infinity when coding took no time (it always wins).
inline double break_even_bytes_per_second(const CodecCost& c) {
  if (c.packet_bytes >= c.raw_bytes) return 0;
  const double coding = c.encode_seconds + c.decode_seconds;
  const double saved = static_cast<double>(c.raw_bytes - c.packet_bytes);
  if (coding <= 0) return std::numeric_limits<double>::infinity();
  return saved / coding;
}

}  // namespace co3::bench
