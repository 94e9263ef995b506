// Writes the fuzzers' seed corpora (checked in under tests/fuzz/corpus):
//
//   co3_make_corpus OUT_DIR
//
// OUT_DIR/packet:       real packets of every preset × {histogram, gennorm} code, and a few more
//                       (several segments, a shared table, shapes, class maps)
// OUT_DIR/code_lengths: the code tables of those packets in fuzz_code_lengths' input layout
// OUT_DIR/npy:          tiny float32/float16 .npy files, version 1 and 2 headers
//
// The values are the first 1,500 entries of $CO3_DATA_DIR/resnet18_step120.f32 (default
// ../shared/data) when present, else GenNorm samples. Seeds that parse are what lets a fuzzer
// get past the magic, CRC and header checks, so every file written is checked to parse back.
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "co3/codec.h"
#include "co3/dtype.h"
#include "co3/error.h"
#include "co3/huffman.h"
#include "io/readers.h"
#include "test_data.h"

namespace {

// Seeds stay small: the corpus is checked in, and small inputs fuzz fast. The one exception is a
// packet of a 16-bit format with a model code, whose table lists all 65536 lengths (~43 KB).
constexpr size_t kMaxSeedBytes = 8192;
constexpr size_t kMaxPacketSeedBytes = 48 * 1024;

void write_seed(const std::string& path, const std::vector<uint8_t>& bytes,
                size_t max_bytes = kMaxSeedBytes) {
  co3::check(bytes.size() <= max_bytes, co3::Errc::invalid_argument,
             path + ": " + std::to_string(bytes.size()) + " bytes is too big for a seed");
  co3::io::write_file(path, bytes.data(), bytes.size());
  std::printf("%6zu  %s\n", bytes.size(), path.c_str());
}

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// fuzz_code_lengths' input: byte 0 chooses the alphabet size n (see fuzz_code_lengths.cpp),
// byte 1 is max_len − 1, the rest is the body.
std::vector<uint8_t> code_lengths_input(uint32_t n, int max_len, const uint8_t* body, size_t size) {
  int choice = 0;
  while (choice < 256 && !(std::max(1, (1 << choice % 17) - choice / 17) == static_cast<int>(n))) {
    ++choice;
  }
  co3::check(choice < 256, co3::Errc::invalid_argument, "no byte chooses n = " + std::to_string(n));
  std::vector<uint8_t> in(2 + size);
  in[0] = static_cast<uint8_t>(choice);
  in[1] = static_cast<uint8_t>(max_len - 1);
  std::copy(body, body + size, in.begin() + 2);
  return in;
}

// A packet's first code table (FORMAT.md §1 and §4), as a fuzz_code_lengths input.
std::vector<uint8_t> first_table(const std::vector<uint8_t>& packet) {
  const uint32_t segments = load_u32(packet.data() + 20);
  const uint8_t* h = packet.data() + 32 + 64 * size_t{segments};
  return code_lengths_input(1u << h[0], h[1], h + 16, load_u32(h + 4));
}

// A .npy file the way numpy writes it: the header dict padded with spaces to a multiple of 64.
std::vector<uint8_t> npy(const std::string& descr, const std::string& shape, bool fortran,
                         int version, const std::vector<uint8_t>& values) {
  std::string header = "{'descr': '" + descr +
                       "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
  const size_t prefix = version == 1 ? 10 : 12;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(version), 0};
  for (size_t i = 0; i < prefix - 8; ++i)
    out.push_back(static_cast<uint8_t>(header.size() >> 8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), values.begin(), values.end());
  return out;
}

std::vector<uint8_t> as_bytes(const std::vector<float>& v, co3::DType d) {
  std::vector<uint8_t> out(v.size() * co3::dtype_size(d));
  for (size_t i = 0; i < v.size(); ++i) {
    const uint32_t bits = co3::store_bits(v[i], d);
    std::memcpy(out.data() + i * co3::dtype_size(d), &bits, co3::dtype_size(d));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string out = argv[1];
  try {
    for (const char* dir : {"", "/packet", "/code_lengths", "/npy"})
      mkdir((out + dir).c_str(), 0755);

    std::vector<float> data = co3::testing::real_gradient("resnet18_step120.f32", 1500);
    const bool real = data.size() == 1500;
    if (!real) data = co3::testing::gennorm_samples(1500, 0.8, 1e-3, 1);
    std::printf("values: %s\n",
                real ? "resnet18_step120.f32[0:1500]" : "GenNorm(0.8, 1e-3) samples");
    const co3::TensorView view{data.data(), data.size(), co3::DType::f32};

    std::vector<std::vector<uint8_t>> packets;
    const auto add_packet = [&](const std::string& name, const std::vector<uint8_t>& p) {
      co3::decode(p.data(), p.size(), false, 1);
      write_seed(out + "/packet/" + name + ".co3", p, kMaxPacketSeedBytes);
      packets.push_back(p);
    };
    co3::CodecConfig cfg;
    cfg.chunk_symbols = 256;  // several chunks per packet: the chunk table is fuzzed too
    cfg.threads = 1;
    for (const char* format : {"fp4", "e5m2", "e4m3", "fp16", "bf16"}) {
      for (co3::CodeSource code : {co3::CodeSource::histogram, co3::CodeSource::gennorm}) {
        cfg.format = co3::parse_format(format);
        cfg.code = code;
        add_packet(std::string(format) + "_" + co3::to_string(code), co3::encode(view, cfg));
      }
    }
    // A custom format with another layout, stochastic rounding and a short code limit; and
    // packets of several segments (dtypes float16 and bfloat16, an empty one), with a table
    // each and with one table shared by all.
    co3::CodecConfig custom = cfg;
    custom.format = co3::parse_format("3,2,4,finite");
    custom.rounding = co3::Rounding::stochastic;
    custom.code = co3::CodeSource::laplace;
    custom.max_code_length = 8;
    add_packet("custom_laplace", co3::encode(view, custom));
    const std::vector<float> head(data.begin(), data.begin() + 300);
    const std::vector<uint8_t> f16 = as_bytes(head, co3::DType::f16);
    const std::vector<uint8_t> bf16 = as_bytes(head, co3::DType::bf16);
    cfg.format = co3::formats::e4m3;
    cfg.code = co3::CodeSource::normal;
    const std::vector<co3::EncodeInput> several = {{{f16.data(), 300, co3::DType::f16}},
                                                   {{nullptr, 0, co3::DType::f32}},
                                                   {{bf16.data(), 300, co3::DType::bf16}}};
    add_packet("multi_segment", co3::encode(several, cfg));
    cfg.shared_code = true;
    add_packet("shared_table", co3::encode(several, cfg));

    // Code tables: the packets' (deduplicated, the small ones), and hand-made edge cases.
    std::vector<std::vector<uint8_t>> tables;
    for (const auto& p : packets) {
      std::vector<uint8_t> t = first_table(p);
      bool keep = t.size() <= kMaxSeedBytes;
      for (const auto& u : tables) keep = keep && u != t;
      if (keep) tables.push_back(t);
    }
    const auto hand_made = [&](std::vector<uint8_t> lengths, int max_len) {
      const auto n = static_cast<uint32_t>(lengths.size());
      const std::vector<uint8_t> body = co3::write_code_lengths(lengths.data(), n);
      tables.push_back(code_lengths_input(n, max_len, body.data(), body.size()));
    };
    hand_made({1}, 1);                 // one symbol, codeword 0
    hand_made({1, 2, 0, 0}, 2);        // incomplete: codeword 11 is invalid
    std::vector<uint8_t> deep(32, 0);  // lengths 1 … 24, 24: complete
    for (int len = 1; len <= 24; ++len) deep[len + 3] = static_cast<uint8_t>(len);
    deep[28] = 24;
    hand_made(deep, 24);
    std::vector<uint8_t> runs(65536, 0);  // the largest alphabet, long zero runs
    runs[3] = runs[40000] = 1;
    hand_made(runs, 24);
    for (size_t i = 0; i < tables.size(); ++i) {
      write_seed(out + "/code_lengths/table" + std::to_string(i) + ".bin", tables[i]);
    }

    // A version-2 packet (shapes); added after the table seeds were taken, since first_table
    // reads version-1 layouts.
    std::vector<co3::EncodeInput> shaped = several;
    shaped[0].shape = std::vector<int64_t>{15, 20};
    shaped[2].shape = std::vector<int64_t>{3, 10, 10};
    add_packet("shapes_v2", co3::encode(shaped, cfg));

    // A version-3 packet: class maps of ±Inf and NaN (the 'propagate' policy) in a float32 and a
    // bfloat16 segment, beside a segment without one.
    std::vector<float> holes(head);
    holes[7] = INFINITY;
    holes[100] = -INFINITY;
    holes[299] = NAN;
    const std::vector<uint8_t> bf16_holes = as_bytes(holes, co3::DType::bf16);
    co3::CodecConfig propagate = cfg;
    propagate.non_finite = co3::NonFinitePolicy::propagate;
    add_packet("class_maps_v3",
               co3::encode({{{holes.data(), 300, co3::DType::f32}},
                            {{f16.data(), 300, co3::DType::f16}},
                            {{bf16_holes.data(), 300, co3::DType::bf16}}},
                           propagate));

    // Version-4 packets: zero-block maps (FORMAT.md §6b) over runs of zeros, ternary codes four
    // a symbol in blocks of 16 and fp4 pairs in blocks of 2 (chunks of 64, a partial last block),
    // the second beside a class map.
    std::vector<float> sparse(data.size(), 0.0f);
    for (size_t i = 0; i < sparse.size(); ++i)
      if ((i / 50) % 9 == 0) sparse[i] = data[i];
    co3::CodecConfig zero = cfg;
    zero.format = co3::FloatFormat{1, 0, 1, co3::Layout::finite};
    zero.entries_per_symbol = 4;
    zero.zero_block = 16;
    add_packet("zero_blocks_v4", co3::encode({{{sparse.data(), sparse.size(), co3::DType::f32}}}, zero));
    std::vector<float> sparse_holes = sparse;
    sparse_holes[3] = NAN;
    zero.format = co3::formats::fp4;
    zero.entries_per_symbol = 2;
    zero.zero_block = 2;
    zero.chunk_symbols = 64;
    zero.non_finite = co3::NonFinitePolicy::propagate;
    add_packet("zero_blocks_class_map_v4",
               co3::encode({{{sparse_holes.data(), sparse_holes.size() - 1, co3::DType::f32}}}, zero));

    // .npy files, each checked to parse.
    const std::vector<float> few(data.begin(), data.begin() + 12);
    const auto add_npy = [&](const std::string& name, const std::vector<uint8_t>& file) {
      co3::io::parse_npy(file.data(), file.size(), name);
      write_seed(out + "/npy/" + name, file);
    };
    add_npy("f4_v1.npy", npy("<f4", "(12,)", false, 1, as_bytes(few, co3::DType::f32)));
    add_npy("f2_v1_2d.npy", npy("<f2", "(3, 4)", false, 1, as_bytes(few, co3::DType::f16)));
    add_npy("f4_v2.npy", npy("<f4", "(2, 6)", false, 2, as_bytes(few, co3::DType::f32)));
    add_npy("f2_v2_fortran.npy", npy("<f2", "(1, 12)", true, 2, as_bytes(few, co3::DType::f16)));
    add_npy("f4_scalar.npy", npy("<f4", "()", false, 1, as_bytes({few[0]}, co3::DType::f32)));
    add_npy("f4_empty.npy", npy("<f4", "(0, 5)", false, 1, {}));
  } catch (const co3::Error& e) {
    std::fprintf(stderr, "co3_make_corpus: %s\n", e.what());
    return 1;
  }
  return 0;
}
