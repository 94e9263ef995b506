// The GPU encoder's stages run on the CPU: every per-thread function of kernels/encode_stages.h
// called in loops in the kernels' order, over the plan's job table and workspace in host memory,
// with the block cooperation (the lane trees, reductions, scans, the OR-ed words) spelled out as
// the kernels do it. It checks the plan (job table, workspace layout, packet bound) and the
// stages' bookkeeping (segments, offsets, layout, padding, CRC, the error memory and the status)
// against the CPU codec without a device; test_gpu_encode checks the kernels where one exists.
#include <gtest/gtest.h>

#include <cmath>

#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "../../kernels/encode_stages.h"
#include "../golden/golden_cases.h"
#include "encode_cases.h"
#include "co3/codec.h"
#include "co3/error.h"
#include "co3/kernels/encode.h"

namespace {

using namespace co3::kernels::enc;
using co3::Moments;
using co3::kernels::DeviceStatus;
using co3::kernels::EncodePlan;

constexpr uint32_t T = kThreads;

struct Emulated {
  std::vector<uint8_t> packet;
  DeviceStatus status{};
};

// encode_async's launch sequence, one block and one thread at a time.
Emulated emulate(const EncodePlan& plan) {
  // Garbage, as a device allocation holds (cudaMalloc does not clear, the caching allocator
  // hands back used blocks): every workspace byte a stage reads must have been written first.
  std::vector<uint8_t> storage(plan.workspace_bytes() + 256, 0xA5);
  void* ws = storage.data() + (256 - reinterpret_cast<uintptr_t>(storage.data()) % 256);
  const std::vector<uint8_t>& upload = plan_upload_bytes(plan);
  std::memcpy(ws, upload.data(), upload.size());
  const EncodeParams p = rebased(plan_params(plan), ws);
  Emulated out;
  // Stale bytes everywhere: the stages must write every byte of the packet.
  std::vector<uint8_t> packet(plan.max_packet_bytes(), 0xEE);
  uint64_t packet_bytes = 0;
  DeviceStatus& status = out.status;
  if (!p.given_code) std::memset(p.hist, 0, sizeof(unsigned long long) * p.num_tables * p.alphabet);
  p.chunk_words[p.total_chunks] = 0;

  // Pass 1: tile_moments_kernel, segment_stats_kernel, first_bad_kernel.
  std::vector<Moments> lanes(T);
  for (uint64_t t = 0; t < p.total_tiles; ++t) {
    for (uint32_t l = 0; l < T; ++l) lanes[l] = tile_lane(p, t, l);
    for (uint32_t h = T / 2; h >= 1; h /= 2)
      for (uint32_t l = 0; l < h; ++l) lanes[l].merge(lanes[l + h]);
    p.tile_moments[t] = lanes[0];
  }
  for (uint32_t s = 0; s < p.num_segments; ++s) {
    uint64_t n = p.jobs[s].num_tiles;
    uint32_t levels = 0;
    Moments *from, *to;
    for (; n > 1; n = co3::detail::fold_level_size(n), ++levels) {
      fold_buffers(p, s, levels, &from, &to);
      for (uint64_t i = 0; i < co3::detail::fold_level_size(n); ++i)
        co3::detail::fold_level_item(from, to, n, i);
    }
    fold_buffers(p, s, levels, &from, &to);
    finish_segment(p, s, n ? from[0] : Moments{});
  }
  uint32_t first = p.num_segments;
  for (uint32_t s = p.num_segments; s-- > 0;)
    if (refuses(p, s)) first = s;
  report_first_bad(p, first, &status);

  // Pass 2: quantize_kernel (threads in reverse order: the symbols' order must not matter), the
  // code values from a table filled by code_value, as the kernel's for formats of ≤ 8 bits.
  std::vector<float> values(size_t{1} << p.pc.format.width());
  for (uint64_t b = 0; b < p.total_symtiles; ++b) {
    const SymbolTile tile = symbol_tile(p, b, *p.first_bad);
    for (uint32_t c = 0; c < values.size(); ++c)
      values[c] = co3::detail::code_value(p.pc.format, c, tile.scale);
    for (uint64_t j = tile.end; j-- > tile.begin;) {
      const uint32_t sym = quantize_symbol(p, tile, j, [&](uint32_t c) { return values[c]; });
      if (!p.given_code) ++hist_row(p, tile.job.table)[sym];
    }
  }

  // zero_map_kernel (bytes in reverse) and zero_choice_kernel (each segment's lanes summed, its
  // histogram change added), with zero_block only.
  if (p.pc.zero_block_log2) {
    for (uint64_t i = p.total_map_bytes; i-- > 0;) zero_map_stage_byte(p, i);
    for (uint32_t s = 0; s < p.num_segments; ++s) {
      uint64_t coded = 0;
      for (uint32_t l = 0; l < T; ++l) coded += zero_lane_coded(p, s, l, T);
      const uint64_t gain = choose_zero_map(p, s, coded);
      if (gain && !p.given_code) hist_row(p, p.jobs[s].table)[0] += gain;
    }
  }

  // code_kernel (not for a given code): table t in slot t mod code_slots.
  for (uint32_t t = 0; t < p.num_tables && !p.given_code; ++t) {
    const CodeSlot slot = code_slot(p, t % p.code_slots);
    const unsigned long long* weights = hist_row(p, t);
    if (p.pc.code != co3::CodeSource::histogram) {
      for (uint32_t s = 0; s < p.alphabet; ++s) slot.mix[s] = 0.0;
      for (uint32_t k = 0; k < p.tables[t].num_members; ++k) {
        const double share = member_pmf(p, t, k, slot.pmf);
        for (uint32_t s = 0; s < p.alphabet; ++s) mix_member(p, slot.mix, slot.pmf, share, s);
      }
      for (uint32_t s = 0; s < p.alphabet; ++s)
        slot.weights[s] = co3::detail::model_weight(slot.mix[s]);
      weights = slot.weights;
    }
    finish_table(p, t, weights, slot.scratch);
  }

  // Pass 3: chunk_bits_kernel, chunk_scan_kernel, layout_kernel.
  for (uint64_t k = 0; k < p.total_chunks; ++k) {
    const ChunkRange c = chunk_range(p, k);
    uint64_t bits = 0;
    for (uint32_t l = 0; l < T; ++l) bits += chunk_lane_bits(p, c, l, T);
    p.chunk_words[k] = co3::detail::chunk_words_for(bits);
  }
  {
    uint64_t base = 0;
    std::vector<uint64_t> bases(T);
    for (uint32_t l = 0; l < T; ++l) {
      bases[l] = base;
      base += scan_run_sum(p, l, T);
    }
    for (uint32_t l = 0; l < T; ++l) scan_run_write(p, l, T, bases[l]);
  }
  layout_offsets(p, packet.data(), &packet_bytes, &status);
  EXPECT_LE(packet_bytes, plan.max_packet_bytes()) << "the plan's bound is too small";
  if (packet_bytes > plan.max_packet_bytes()) return out;
  for (uint32_t s = 0; s < p.num_segments; ++s) layout_segment(p, packet.data(), s);
  for (uint32_t t = 0; t < p.num_tables; ++t)
    for (uint32_t l = 0; l < T; ++l) layout_table(p, packet.data(), t, l, T);

  // pack_kernel: lanes packed in reverse order into a zeroed word buffer, copied out.
  for (uint64_t k = 0; k < p.total_chunks; ++k) {
    const ChunkRange c = chunk_range(p, k);
    std::vector<uint64_t> offset(T);
    uint64_t acc = 0;
    for (uint32_t l = 0; l < T; ++l) {
      offset[l] = acc;
      acc += pack_lane_bits(p, c, pack_lane(c, l, T));
    }
    const uint64_t words = p.chunk_words[k];
    EXPECT_EQ(co3::detail::chunk_words_for(acc), words);
    if (p.pack_shared_words) {
      EXPECT_LE(words, p.pack_shared_words);
    }
    std::vector<uint32_t> buf(words, 0);
    for (uint32_t l = T; l-- > 0;)
      pack_lane_words(p, c, pack_lane(c, l, T), offset[l], [&](uint64_t w, uint32_t v) {
        ASSERT_LT(w, words) << "chunk " << k << " lane " << l;
        buf[w] |= v;
      });
    uint32_t* const dst = chunk_out(p, packet.data(), c, k);
    EXPECT_LE(reinterpret_cast<uint8_t*>(dst + words), packet.data() + packet_bytes);
    std::memcpy(dst, buf.data(), 4 * words);
    finish_chunk(p, packet.data(), c, k);
  }

  // zero_copy_kernel (the zero-block maps taken), bytes in reverse.
  for (uint64_t i = p.total_map_bytes; i-- > 0;) store_zero_map_byte(p, packet.data(), i);

  // class_map_kernel ('propagate': the maps of segments holding NaN/Inf), words in reverse.
  for (uint64_t t = 0; t < p.total_tiles; ++t) {
    const MapWords m = class_map_tile(p, t);
    for (uint64_t w = m.end; w-- > m.begin;) store_class_map_word(p, packet.data(), m.segment, w);
  }

  // memory_kernel (a code that may fail: the error memory once the status is known).
  if (p.defer_memory && !status.code) {
    for (uint64_t b = 0; b < p.total_symtiles; ++b) {
      const SymbolTile tile = symbol_tile(p, b, *p.first_bad);
      for (uint64_t j = tile.end; j-- > tile.begin;)
        memory_symbol(p, tile, j, [&](uint32_t c) {
          return co3::detail::code_value(p.pc.format, c, tile.scale);
        });
    }
  }

  // crc_pieces_kernel and crc_final_kernel, their trees step by step.
  uint32_t table[256];
  for (uint32_t b = 0; b < 256; ++b) table[b] = co3::detail::crc32c_table_entry(b);
  const auto join_block = [](std::vector<CrcPart>& parts) {
    for (uint32_t h = 1; h < T; h *= 2)
      for (uint32_t i = 0; i < T; i += 2 * h) parts[i] = crc_join(parts[i], parts[i + h]);
  };
  std::vector<CrcPart> parts(T);
  for (uint64_t b = 0; b < p.crc_blocks; ++b) {
    for (uint32_t l = 0; l < T; ++l)
      parts[l] = crc_piece(table, packet.data(), packet_bytes - 4, b * T + l);
    join_block(parts);
    p.crc_block_crc[b] = parts[0].crc;
    p.crc_block_bytes[b] = parts[0].bytes;
  }
  const uint64_t per = (p.crc_blocks + T - 1) / T;
  for (uint32_t l = 0; l < T; ++l) {
    CrcPart a{0u, 0};
    for (uint64_t b = l * per; b < (l + 1) * per && b < p.crc_blocks; ++b)
      a = crc_join(a, CrcPart{p.crc_block_crc[b], p.crc_block_bytes[b]});
    parts[l] = a;
  }
  join_block(parts);
  EXPECT_EQ(parts[0].bytes, packet_bytes - 4);
  co3::detail::store_le(packet.data() + packet_bytes - 4, parts[0].crc);
  finish_encode(packet.data(), &packet_bytes, &status);
  packet.resize(packet_bytes);
  out.packet = std::move(packet);
  return out;
}

// Inputs over host memory (the emulation reads them where the GPU would read device memory).
std::vector<co3::EncodeInput> inputs_of(const std::vector<co3::golden::Tensor>& ts,
                                        std::vector<std::vector<float>>& memory) {
  std::vector<co3::EncodeInput> in;
  for (size_t k = 0; k < ts.size(); ++k) {
    co3::EncodeInput e({ts[k].bytes.data(), ts[k].numel, ts[k].dtype},
                       memory[k].empty() ? nullptr : memory[k].data(), ts[k].gamma);
    e.shape = ts[k].shape;
    e.fit = ts[k].fit;
    in.push_back(e);
  }
  return in;
}

std::vector<std::vector<float>> initial_memory(const co3::golden::Case& c) {
  std::vector<std::vector<float>> m;
  for (const auto& t : c.tensors) m.push_back(t.memory);
  return m;
}

// Emulated packets and memory equal the CPU codec's (and the golden file, if `golden`).
void expect_like_cpu(const co3::golden::Case& c, bool golden) {
  std::vector<std::vector<float>> mem = initial_memory(c);
  std::vector<uint8_t> packet;
  for (int step = 0; step < c.steps; ++step) {
    const Emulated e = emulate(EncodePlan(inputs_of(c.tensors, mem), c.config));
    ASSERT_EQ(e.status.code, 0u) << "status " << e.status.code;
    packet = e.packet;
  }
  std::vector<std::vector<float>> cpu_mem;
  const std::vector<uint8_t> cpu = co3::golden::encode_cpu(c, &cpu_mem);
  ASSERT_EQ(packet.size(), cpu.size());
  size_t first = 0;
  while (first < cpu.size() && packet[first] == cpu[first]) ++first;
  EXPECT_EQ(first, cpu.size()) << "first differing byte";
  for (size_t k = 0; k < mem.size(); ++k)
    EXPECT_EQ(std::memcmp(mem[k].data(), cpu_mem[k].data(), 4 * mem[k].size()), 0)
        << "memory " << k;
  if (golden) {
    EXPECT_EQ(packet, co3::golden::read_file(co3::golden::golden_dir() + "/" + c.name + ".co3"));
  }
}

TEST(GpuEncodeEmulated, GoldenCases) {
  for (const co3::golden::Case& c : co3::golden::cases()) {
    SCOPED_TRACE(c.name);
    if (c.missing_data) {
      std::printf("[ SKIPPED  ] golden case %s: ../shared/data absent\n", c.name.c_str());
      continue;
    }
    expect_like_cpu(c, true);
  }
}

TEST(GpuEncodeEmulated, MixedBatchOfManyTensors) {
  for (bool shared : {false, true}) {
    co3::golden::Case c;
    c.config =
        co3::golden::config(co3::formats::fp4, co3::Rounding::stochastic, co3::ScalePolicy::gennorm,
                            shared ? co3::CodeSource::gennorm : co3::CodeSource::histogram);
    c.config.shared_code = shared;
    c.config.chunk_symbols = 1000;
    for (int k = 0; k < 40; ++k) {
      const uint64_t n = k % 7 == 0 ? 0 : (uint64_t{37} * k * k + 13 * k) % 30011;
      const co3::DType d =
          k % 3 == 0 ? co3::DType::f32 : (k % 3 == 1 ? co3::DType::f16 : co3::DType::bf16);
      co3::golden::Tensor t = co3::golden::synthetic(n, 1000 + k, d);
      if (k % 4) {
        t.gamma = 0.7f;
        t.memory.resize(n);
        for (uint64_t i = 0; i < n; ++i) t.memory[i] = co3::golden::synthetic_value(2000 + k, i);
      }
      c.tensors.push_back(std::move(t));
    }
    c.steps = 2;
    SCOPED_TRACE(shared ? "shared gennorm code" : "histogram codes");
    expect_like_cpu(c, false);
  }
}

// The rate policy's scale (finish_segment) over a batch with shapes and error feedback, from
// below the all-zero packet's cost to beyond the format's: the CPU's packets and memories.
TEST(GpuEncodeEmulated, RatePolicyAcrossTargets) {
  for (float bits : {0.01f, 0.6f, 1.0f, 2.5f, 40.0f}) {
    for (co3::Rounding r : {co3::Rounding::nearest_even, co3::Rounding::stochastic}) {
      co3::golden::Case c;
      c.config = co3::golden::config(bits > 2 ? co3::formats::e5m2 : co3::formats::fp4, r,
                                     co3::ScalePolicy::rate, co3::CodeSource::histogram);
      c.config.scale.bits_per_entry = bits;
      c.tensors = {co3::golden::synthetic(30000, 81), co3::golden::synthetic(0, 82),
                   co3::golden::synthetic(701, 83, co3::DType::bf16)};
      c.tensors[0].shape = std::vector<int64_t>{300, 100};
      c.tensors[2].gamma = 1.0f;
      c.tensors[2].memory.assign(701, 1e-3f);
      c.steps = 2;
      SCOPED_TRACE(std::to_string(bits) + " bits, " + co3::to_string(r));
      expect_like_cpu(c, false);
    }
  }
}

TEST(GpuEncodeEmulated, ChunksTooLargeForSharedMemoryAndSixteenBitSymbols) {
  const co3::golden::Case c = co3::testing::chunks_too_large_for_shared_memory();
  std::vector<std::vector<float>> no_memory(2);
  EXPECT_EQ(plan_params(EncodePlan(inputs_of(c.tensors, no_memory), c.config)).pack_shared_words,
            0u);
  expect_like_cpu(c, false);
}

TEST(GpuEncodeEmulated, Bf16ByRoundedBitsUnderClamp) {
  for (co3::Rounding r : {co3::Rounding::nearest_even, co3::Rounding::nearest_down}) {
    SCOPED_TRACE(static_cast<int>(r));
    expect_like_cpu(co3::testing::bf16_rounded_bits_under_clamp(r), false);
  }
}

TEST(GpuEncodeEmulated, NoTensorsAndOnlyEmptyOnes) {
  for (const co3::golden::Case& c : co3::testing::no_tensors_and_only_empty_ones()) {
    SCOPED_TRACE(c.name);
    expect_like_cpu(c, false);
  }
}

// A prior code (the tables of a first CPU encode of the case, one step) reproduces that packet,
// on a second copy of the error memory.
void expect_prior_code_gives_cpu(const co3::golden::Case& c) {
  std::vector<std::vector<float>> cpu_mem = initial_memory(c), mem = initial_memory(c);
  const std::vector<uint8_t> cpu = co3::encode(inputs_of(c.tensors, cpu_mem), c.config);
  const co3::PriorCode prior = co3::prior_code(cpu.data(), cpu.size());
  const EncodePlan plan(inputs_of(c.tensors, mem), c.config, &prior);
  EXPECT_TRUE(plan_params(plan).given_code);
  const Emulated e = emulate(plan);
  EXPECT_EQ(e.status.code, 0u);
  EXPECT_EQ(e.packet, cpu);
  for (size_t k = 0; k < mem.size(); ++k) EXPECT_EQ(mem[k], cpu_mem[k]) << "memory " << k;
}

// With given fits.
TEST(GpuEncodeEmulated, PriorCodeGivesTheCpuPacket) {
  for (bool shared : {false, true}) {
    co3::golden::Case c;
    c.config = co3::golden::config(co3::formats::e4m3, co3::Rounding::stochastic,
                                   co3::ScalePolicy::gennorm, co3::CodeSource::gennorm);
    c.config.shared_code = shared;
    c.tensors = {co3::golden::synthetic(30000, 1), co3::golden::synthetic(0, 2),
                 co3::golden::synthetic(5001, 3, co3::DType::bf16)};
    for (co3::golden::Tensor& t : c.tensors) {
      t.fit = co3::GenNormParams{0.9, 0.004};
      t.gamma = 0.7f;
      t.memory.assign(t.numel, 1e-3f);
    }
    expect_prior_code_gives_cpu(c);
  }
}

// The golden cases include version-4 packets (zero-block maps); the emulation must have run
// them, not skipped them.
TEST(GpuEncodeEmulated, GoldenCasesIncludeZeroBlockMaps) {
  int v4 = 0;
  for (const co3::golden::Case& c : co3::golden::cases())
    v4 += c.config.zero_block != 0 && !c.missing_data;
  EXPECT_GE(v4, 2);
}

// What the CPU encoder decided for a zero-block case is what the case says (so that each case
// reaches the path it names): each descriptor's zero_block, and a chunk of 0 words.
void expect_zero_block_choices(const co3::testing::ZeroBlockCase& z) {
  const std::vector<uint8_t> cpu = co3::golden::encode_cpu(z.c);
  bool empty_chunk = false;
  ASSERT_EQ(z.taken.size(), z.c.tensors.size());
  for (size_t s = 0; s < z.taken.size(); ++s) {
    const co3::detail::Descriptor d = co3::detail::load_descriptor(
        cpu.data() + co3::detail::kHeaderBytes + co3::detail::kDescriptorBytes * s);
    EXPECT_EQ(d.zero_block, z.taken[s]) << "segment " << s;
    for (uint64_t k = 0; k < d.num_chunks(); ++k)
      empty_chunk = empty_chunk ||
                    co3::detail::load_le<uint16_t>(cpu.data() + d.data_offset + 2 * k) == 0;
  }
  EXPECT_EQ(empty_chunk, z.empty_chunk);
}

// At the simulated GPU's size (test_gpu_encode's sim level) and a larger one.
TEST(GpuEncodeEmulated, ZeroBlockMapsGiveTheCpuPacketAndMemory) {
  for (uint64_t n : {4096, 20000}) {
    for (const co3::testing::ZeroBlockCase& z : co3::testing::zero_block_cases(n)) {
      SCOPED_TRACE(z.c.name + " of " + std::to_string(n));
      expect_zero_block_choices(z);
      expect_like_cpu(z.c, false);
    }
  }
}

// A given code (PriorCode) with zero-block maps: no histogram to fix up, the same maps. Only the
// model codes' tables serve as prior codes (a prior code codes every symbol).
TEST(GpuEncodeEmulated, ZeroBlockMapsUnderAPriorCode) {
  int model_cases = 0;
  for (const co3::testing::ZeroBlockCase& z : co3::testing::zero_block_cases(20000)) {
    if (z.c.config.code == co3::CodeSource::histogram) continue;
    ++model_cases;
    SCOPED_TRACE(z.c.name);
    expect_prior_code_gives_cpu(z.c);
  }
  EXPECT_EQ(model_cases, 2);
}

// The CPU's error and the error memory it leaves, from the emulated status.
void expect_cpu_error(const co3::golden::Case& c) {
  std::vector<std::vector<float>> cpu_mem = initial_memory(c), mem = initial_memory(c);
  std::string cpu_what;
  co3::Errc cpu_code{};
  try {
    co3::encode(inputs_of(c.tensors, cpu_mem), c.config);
    FAIL() << "the CPU codec accepted the case";
  } catch (const co3::Error& e) {
    cpu_what = e.what();
    cpu_code = e.code();
  }
  const Emulated e = emulate(EncodePlan(inputs_of(c.tensors, mem), c.config));
  // The buffer holds the failure record (FORMAT.md §11): the status itself, and a decoder of
  // the buffer, raise the CPU encoder's error.
  ASSERT_EQ(e.packet.size(), 32u);
  EXPECT_EQ(std::string(e.packet.begin(), e.packet.begin() + 4), "CO3e");
  EXPECT_EQ(co3::detail::load_le<uint32_t>(e.packet.data() + 4), e.status.code);
  const std::function<void()> raisers[] = {
      [&] { co3::kernels::raise_status(e.status); },
      [&] { co3::decode(e.packet.data(), e.packet.size()); }};
  for (const auto& raise : raisers) {
    try {
      raise();
      FAIL() << "no error";
    } catch (const co3::Error& err) {
      EXPECT_EQ(err.code(), cpu_code);
      EXPECT_EQ(std::string(err.what()), cpu_what);
    }
  }
  // A failed encode leaves every memory as it was, on both.
  const std::vector<std::vector<float>> before = initial_memory(c);
  for (size_t k = 0; k < mem.size(); ++k) {
    EXPECT_EQ(mem[k], before[k]) << "memory " << k;
    EXPECT_EQ(cpu_mem[k], before[k]) << "CPU memory " << k;
  }
}

TEST(GpuEncodeEmulated, NonFiniteStopsWhereTheCpuStops) {
  co3::golden::Case c;
  c.config = co3::golden::config(co3::formats::fp4, co3::Rounding::nearest_even,
                                 co3::ScalePolicy::gennorm, co3::CodeSource::histogram);
  for (int k = 0; k < 4; ++k) {
    std::vector<float> v(20000);
    for (uint64_t i = 0; i < v.size(); ++i) v[i] = co3::golden::synthetic_value(70 + k, i);
    if (k >= 2) v[1234 * k] = std::nanf("");
    co3::golden::Tensor t = co3::golden::make_tensor(v, co3::DType::f32);
    t.gamma = 0.5f;
    t.memory.assign(v.size(), 0.25f);
    c.tensors.push_back(t);
  }
  expect_cpu_error(c);
}

TEST(GpuEncodeEmulated, HistogramCodeTooShort) {
  co3::golden::Case c;
  c.config = co3::golden::config(co3::formats::e5m2, co3::Rounding::nearest_even,
                                 co3::ScalePolicy::gennorm, co3::CodeSource::histogram);
  c.config.max_code_length = 3;
  c.tensors.push_back(co3::golden::synthetic(10000, 81));
  c.tensors.push_back(co3::golden::synthetic(3000, 82));
  for (co3::golden::Tensor& t : c.tensors) {
    t.gamma = 0.7f;
    t.memory.assign(t.numel, 1e-3f);
  }
  expect_cpu_error(c);
}

// The 'propagate' policy: segments holding ±Inf/NaN (also in u only, through the memory) get
// class maps and keep their memory; the others are coded and remember as usual.
// bf16 under nearest-even takes code_shift.h's conversion in the kernels.
TEST(GpuEncodeEmulated, PropagateGivesTheCpuPacketAndMemory) {
  const std::pair<co3::FloatFormat, co3::Rounding> cases[] = {
      {co3::formats::fp4, co3::Rounding::stochastic},
      {co3::formats::e4m3, co3::Rounding::stochastic},
      {co3::formats::bf16, co3::Rounding::stochastic},
      {co3::formats::bf16, co3::Rounding::nearest_even}};
  for (const auto& [f, r] : cases) {
    co3::golden::Case c;
    c.config = co3::golden::config(f, r, co3::ScalePolicy::gennorm, co3::CodeSource::histogram);
    c.config.non_finite = co3::NonFinitePolicy::propagate;
    c.config.chunk_symbols = 500;
    const co3::DType dtypes[4] = {co3::DType::f32, co3::DType::bf16, co3::DType::f16,
                                  co3::DType::f32};
    for (int k = 0; k < 4; ++k) {
      std::vector<float> v(k == 3 ? 20000 : 9000 + 1111 * k);
      for (uint64_t i = 0; i < v.size(); ++i) v[i] = co3::golden::synthetic_value(90 + k, i);
      std::vector<float> memory(v.size(), 1e-4f);
      float gamma = 0.5f;
      if (k == 0) v[0] = INFINITY, v[8191] = -INFINITY, v[8192] = std::nanf(""), v[8999] = NAN;
      if (k == 2) v[333] = -INFINITY;
      if (k == 3) v[19999] = 3e38f, memory[19999] = 3e38f, gamma = 1.0f;  // u overflows, g not
      co3::golden::Tensor t = co3::golden::make_tensor(v, dtypes[k]);
      t.gamma = gamma;
      t.memory = memory;
      c.tensors.push_back(t);
    }
    SCOPED_TRACE(co3::to_string(f));
    expect_like_cpu(c, false);
    std::vector<std::vector<float>> cpu_mem;
    const std::vector<uint8_t> cpu = co3::golden::encode_cpu(c, &cpu_mem);
    EXPECT_EQ(co3::detail::load_le<uint16_t>(cpu.data() + 4), 3);
    EXPECT_EQ(cpu_mem[0], c.tensors[0].memory);  // kept: it holds NaN/Inf
    EXPECT_NE(cpu_mem[1], c.tensors[1].memory);  // moved: all finite
    EXPECT_EQ(cpu_mem[3], c.tensors[3].memory);  // kept: u overflows
  }
}

// A code that could fail but does not: the memory pass writes the memory pass 2 would have.
TEST(GpuEncodeEmulated, DeferredMemoryWhenTheCodeMayFail) {
  const co3::golden::Case c = co3::testing::deferred_memory_when_the_code_may_fail();
  std::vector<std::vector<float>> mem = initial_memory(c);
  EXPECT_TRUE(plan_params(EncodePlan(inputs_of(c.tensors, mem), c.config)).defer_memory);
  expect_like_cpu(c, false);
}

TEST(GpuEncodeEmulated, PlanRefusesWhatTheCpuRefuses) {
  co3::CodecConfig cfg;
  const float x[4] = {1, 2, 3, 4};
  co3::EncodeInput in({x, 4, co3::DType::f32});
  in.shape = std::vector<int64_t>{3};
  std::string cpu;
  try {
    co3::encode({in}, cfg);
  } catch (const co3::Error& e) {
    cpu = e.what();
  }
  try {
    EncodePlan plan({in}, cfg);
    FAIL() << "the plan accepted a wrong shape";
  } catch (const co3::Error& e) {
    EXPECT_EQ(std::string(e.what()), cpu);
    EXPECT_EQ(e.code(), co3::Errc::invalid_argument);
  }
}

}  // namespace
