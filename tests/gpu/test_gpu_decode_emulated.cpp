// The GPU decoder's stages run on the CPU: every per-thread function of kernels/decode_stages.h
// called in loops in the kernels' order, over the plan's workspace and job table in host memory,
// with the warp and block cooperation (scans, reductions, the staged write-out) spelled out as
// the kernels do it. It checks the stages' bookkeeping (plan bounds, records, slots, tile
// numbering, prefixes, payload addressing, the staged runs) against the CPU decoder without a
// device; test_gpu_decode checks the kernels themselves where one exists.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../../kernels/decode_stages.h"
#include "../cpu/hostile_packets.h"
#include "../cpu/packet_files.h"
#include "../cpu/test_data.h"
#include "zero_block_packets.h"
#include "co3/codec.h"
#include "co3/crc32c.h"
#include "co3/error.h"

namespace {

using namespace co3;
using namespace co3::kernels::decode_detail;
using kernels::DecodeOutput;
using kernels::DecodePacket;
using kernels::DecodePlan;
using kernels::DeviceStatus;
using kernels::Status;

// scripts/gpu_check.sh sets it for its sanitizer runs, which find no kernel here: stay short.
const bool kSmall = std::getenv("CO3_GPU_TEST_SMALL") != nullptr;

// decode()'s launch sequence, one item at a time (a stage after a fault is skipped, as the
// kernels skip it).
DeviceStatus emulate(const DecodePlan& plan, const PacketJob* jobs, const OutputJob* outputs,
                     void* workspace) {
  size_t bytes;
  const Workspace ws = carve(plan, workspace, &bytes);
  DeviceStatus status{};
  const auto post = [&](DeviceStatus s) {
    if (s.code && !status.code) status = s;
  };
  const uint32_t packets = plan.num_packets();
  // crc_kernel: a block per piece, its tree step by step.
  uint32_t table[256];
  for (uint32_t i = 0; i < 256; ++i) table[i] = detail::crc32c_table_entry(i);
  for (uint32_t p = 0; p < packets; ++p)
    for (uint64_t local = 0; local < jobs[p].span.crc_pieces; ++local) {
      uint32_t crc[kCrcThreads];
      uint64_t size[kCrcThreads];
      for (uint32_t t = 0; t < kCrcThreads; ++t)
        crc_thread_range(jobs[p], local, t, table, &crc[t], &size[t]);
      for (uint32_t w = 1; w < kCrcThreads; w *= 2)
        for (uint32_t t = 0; t < kCrcThreads; ++t) crc_tree_step(crc, size, t, w);
      ws.crc[jobs[p].span.crc_first + local] = crc[0];
    }
  for (uint32_t p = 0; p < packets; ++p) post(directory_stage(p, jobs, outputs, ws));
  prefix_stage(packets, ws);
  for (uint64_t i = 0; i < ws.totals->tables && !status.code; ++i)
    post(table_stage(i, jobs, packets, ws));
  for (uint64_t i = 0; i < ws.totals->slots && !status.code; ++i) {
    SlotJob& k = slot_at(i, jobs, packets, ws);
    const detail::CanonicalView view = canonical_view(k, ws);
    for (uint32_t e = 0; e < detail::kLutSize; ++e) k.lut[e] = detail::lut_entry(view, e);
  }
  for (uint64_t i = 0; i < ws.totals->tiles && !status.code; ++i) {
    const TileView v = tile_at(i, jobs, packets, ws);
    uint32_t sum = 0;
    for (uint32_t lane = 0; lane < kTileChunks; ++lane) {
      DeviceStatus fault;
      sum += chunk_entry(v, ws, lane, &fault);
      post(fault);
    }
    ws.tile_words[v.array] = sum;
  }
  if (status.code) return status;
  for (uint32_t p = 0; p < packets; ++p) {
    const uint64_t first = jobs[p].span.tile_first;
    uint64_t carry = 0;
    for (uint64_t t = 0; t <= ws.packets[p].tiles; ++t) {
      ws.tile_prefix[first + t] = carry;
      if (t < ws.packets[p].tiles) carry += ws.tile_words[first + t];
    }
    for (uint32_t s = 0; s < ws.packets[p].num_segments; ++s)
      post(segment_sum_stage(p, s, jobs, ws));
  }
  if (status.code) return status;
  // payload_kernel: a tile's 32 lanes round by round, then the warp's write-out of each run.
  for (uint64_t i = 0; i < ws.totals->tiles; ++i) {
    const TileView v = tile_at(i, jobs, packets, ws);
    const SegmentJob seg = ws.segments[v.output];
    const OutputJob& out = outputs[v.output];
    const int w = 1 + seg.exp_bits + seg.man_bits;
    const uint32_t g = seg.group, inv = group_inverse(g);
    const SlotJob& k = ws.slots[seg.slot];
    const detail::ChunkTables tables = chunk_tables(k.lut, k.limit, k.offset, seg, ws);
    uint32_t words[kTileChunks], count[kTileChunks], take[kTileChunks];
    const uint8_t* payload[kTileChunks];
    detail::ChunkStream cs[kTileChunks];
    Status st[kTileChunks];
    uint32_t before = 0;
    for (uint32_t lane = 0; lane < kTileChunks; ++lane) {
      DeviceStatus fault;
      words[lane] = chunk_entry(v, ws, lane, &fault);
      payload[lane] = chunk_words_at(v, ws, before);
      before += words[lane];
      count[lane] = chunk_symbol_count(v, seg, lane);
      cs[lane] = chunk_stream(v, seg, lane, words[lane]);
      st[lane] = Status::ok;
    }
    uint32_t stage[kTileChunks][kRoundSymbols + 1];
    for (uint32_t done = 0;; done += kRoundSymbols) {
      bool any = false;
      for (uint32_t lane = 0; lane < kTileChunks; ++lane) {
        take[lane] = st[lane] == Status::ok && count[lane] > done
                         ? std::min(count[lane] - done, kRoundSymbols)
                         : 0;
        any = any || take[lane];
      }
      if (!any) break;
      for (uint32_t lane = 0; lane < kTileChunks; ++lane) {
        if (!take[lane]) continue;
        st[lane] = decode_lane_run(
            cs[lane], tables, v, seg, lane, done, take[lane],
            [&](uint32_t j) { return detail::load_le<uint32_t>(payload[lane] + 4 * uint64_t{j}); },
            [&](uint32_t j, uint32_t sym) { stage[lane][j] = sym; });
        if (st[lane] != Status::ok) {
          post(detail::make_status(st[lane], v.output, v.first_chunk + lane));
          take[lane] = 0;
        }
      }
      for (uint32_t t = 0; t < kTileChunks; ++t) {
        const uint32_t n = take[t] * g;
        const uint64_t first = run_first_entry(v, seg, t, done);
        for (uint32_t lane = 0; lane < kTileChunks; ++lane)
          for (uint32_t e = lane; e < n && first + e < seg.numel; e += kTileChunks)
            put_entry(out, first + e, value_bits(seg, out, run_entry_code(stage[t], e, g, inv, w)));
      }
    }
    for (uint32_t lane = 0; lane < kTileChunks; ++lane)
      if (count[lane] && st[lane] == Status::ok) {
        st[lane] = detail::finish_chunk(cs[lane]);
        post(detail::make_status(st[lane], v.output, v.first_chunk + lane));
      }
  }
  // class_map_kernel: after the payload, skipped after a fault; words in reverse order.
  if (status.code) return status;
  for (uint32_t o = 0; o < plan.num_outputs(); ++o)
    for (uint64_t w = class_map_word_count(ws.segments[o]); w-- > 0;)
      class_map_word_stage(jobs, outputs, ws, o, w);
  return status;
}

struct Want {
  DType dtype = DType::f32;
  bool accumulate = false;
  std::vector<uint8_t> initial;  // accumulating: the output's contents before
};

// A batch in host memory through the emulated stages; throws what raise_status_sync would.
struct Batch {
  std::vector<std::vector<uint8_t>> packets;  // each 8-aligned (vector storage)
  std::vector<uint64_t> lengths;              // if set: the length in a device scalar
  std::vector<std::vector<uint64_t>> numels;
  std::vector<std::vector<Want>> wants;
  std::vector<std::vector<uint8_t>> results;

  void run() {
    std::vector<uint64_t> caps;
    std::vector<uint32_t> counts;
    std::vector<DecodePacket> ps;
    std::vector<DecodeOutput> outs;
    results.clear();
    for (size_t p = 0; p < packets.size(); ++p) {
      caps.push_back(packets[p].size());
      counts.push_back(static_cast<uint32_t>(numels[p].size()));
      ps.push_back({packets[p].data(), packets[p].size(), lengths.empty() ? nullptr : &lengths[p]});
      for (size_t s = 0; s < numels[p].size(); ++s) {
        const Want& w = wants[p][s];
        results.emplace_back(numels[p][s] * dtype_size(w.dtype), 0xA5);
        if (w.accumulate) results.back() = w.initial;
      }
    }
    size_t o = 0;
    for (size_t p = 0; p < packets.size(); ++p)
      for (size_t s = 0; s < numels[p].size(); ++s, ++o) {
        DecodeOutput d;
        d.numel = numels[p][s];
        d.dtype = wants[p][s].dtype;
        d.accumulate = wants[p][s].accumulate;
        d.data = d.numel ? results[o].data() : nullptr;
        outs.push_back(d);
      }
    const DecodePlan plan(caps, counts);
    std::vector<uint64_t> jobs((plan.jobs_bytes() + 7) / 8);
    plan.write_jobs(ps, outs, jobs.data());
    // Garbage, as a device workspace holds: every byte a stage reads must be written first.
    std::vector<uint64_t> workspace((plan.workspace_bytes() + 7) / 8, 0xA5A5A5A5A5A5A5A5ull);
    const auto* pj = reinterpret_cast<const PacketJob*>(jobs.data());
    const DeviceStatus s = emulate(
        plan, pj, reinterpret_cast<const OutputJob*>(pj + plan.num_packets()), workspace.data());
    if (s.code) throw kernels::status_error(s);
  }
};

std::vector<uint8_t> expected(const DecodedTensor& f32, const Want& w) {
  std::vector<uint8_t> out(f32.numel * dtype_size(w.dtype));
  for (uint64_t i = 0; i < f32.numel; ++i) {
    float v;
    std::memcpy(&v, f32.bytes.data() + 4 * i, 4);
    uint32_t bits;
    if (w.accumulate) {
      uint32_t old = 0;
      std::memcpy(&old, w.initial.data() + i * dtype_size(w.dtype), dtype_size(w.dtype));
      bits = detail::accumulate_bits(old, v, w.dtype);
    } else {
      bits = store_bits(v, w.dtype);
    }
    std::memcpy(out.data() + i * dtype_size(w.dtype), &bits, dtype_size(w.dtype));
  }
  return out;
}

std::vector<uint8_t> random_initial(uint64_t n, DType d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.01f);
  std::vector<uint8_t> out(n * dtype_size(d));
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t bits = store_bits(normal(rng), d);
    std::memcpy(out.data() + i * dtype_size(d), &bits, dtype_size(d));
  }
  return out;
}

void expect_emulated_equals_cpu(const std::vector<uint8_t>& packet, const std::string& what,
                                bool every_dtype = true) {
  const std::vector<DecodedTensor> cpu = decode(packet.data(), packet.size(), true);
  for (DType d : {DType::f32, DType::f16, DType::bf16}) {
    for (bool acc : {false, true}) {
      Batch b;
      b.packets = {packet};
      b.numels.emplace_back();
      b.wants.emplace_back();
      for (size_t s = 0; s < cpu.size(); ++s) {
        b.numels[0].push_back(cpu[s].numel);
        Want w;
        w.dtype = d;
        w.accumulate = acc;
        if (acc) w.initial = random_initial(cpu[s].numel, d, s + 1);
        b.wants[0].push_back(w);
      }
      b.run();
      for (size_t s = 0; s < cpu.size(); ++s)
        ASSERT_TRUE(b.results[s] == expected(cpu[s], b.wants[0][s]))
            << what << ": segment " << s << " into " << to_string(d)
            << (acc ? " accumulating" : "");
      if (!every_dtype) return;
    }
  }
}

const FloatFormat kFormats[] = {formats::fp4, formats::e5m2, formats::e4m3, formats::fp16,
                                formats::bf16};

TEST(GpuDecodeEmulated, RunEntryCodeSplitsSymbolsExactly) {
  for (uint32_t g = 1; g <= 4; ++g)
    for (uint32_t e = 0; e < (1u << 14); ++e)
      ASSERT_EQ((e * group_inverse(g)) >> 16, e / g) << "g " << g << " e " << e;
  // Symbol j holds entries 3j, 3j + 1, 3j + 2 (w = 4), each the entry's index mod 16.
  uint32_t staged[kRoundSymbols];
  for (uint32_t j = 0; j < kRoundSymbols; ++j)
    staged[j] = ((3 * j + 2) & 15) << 8 | ((3 * j + 1) & 15) << 4 | ((3 * j) & 15);
  for (uint32_t e = 0; e < 3 * kRoundSymbols; ++e)
    EXPECT_EQ(run_entry_code(staged, e, 3, group_inverse(3), 4), e & 15);
}

TEST(GpuDecodeEmulated, EveryFormatCodeAndDtype) {
  const size_t n = kSmall ? 20000 : 200000;
  auto x = co3::testing::real_gradient("resnet18_step120.f32", n);
  if (x.empty()) x = co3::testing::gennorm_samples(n, 0.3, 1e-3, 5);
  for (FloatFormat f : kFormats)
    for (CodeSource c : {CodeSource::histogram, CodeSource::gennorm}) {
      CodecConfig cfg;
      cfg.format = f;
      cfg.code = c;
      const auto packet = encode(TensorView{x.data(), x.size(), DType::f32}, cfg);
      expect_emulated_equals_cpu(packet, to_string(f) + " " + to_string(c));
    }
}

TEST(GpuDecodeEmulated, MixedSegmentsChunkSizesGroupsAndSharedTables) {
  const auto x = co3::testing::gennorm_samples(200000, 0.6, 2e-3, 9);
  // Sizes around chunk and tile boundaries, an empty tensor and a single entry.
  const uint64_t sizes[] = {0, 1, 31, 4097, 32 * 64 + 5, 30000, 77};
  for (FloatFormat f : kFormats)
    for (uint32_t chunk : {32u, 100u, 4096u})
      for (int group : {0, 3})
        for (bool shared : {false, true}) {
          if (group && f.width() * group > 16) continue;
          CodecConfig cfg;
          cfg.format = f;
          cfg.chunk_symbols = chunk;
          cfg.shared_code = shared;
          cfg.scale.policy = ScalePolicy::absmax;  // the GenNorm scale's fit is slow on the CPU
          cfg.entries_per_symbol = group;
          std::vector<EncodeInput> in;
          uint64_t at = 0;
          for (uint64_t n : sizes) {
            in.emplace_back(TensorView{x.data() + at, n, DType::f32});
            at += n;
          }
          const auto packet = encode(in, cfg);
          expect_emulated_equals_cpu(packet,
                                     to_string(f) + " chunk " + std::to_string(chunk) + " g " +
                                         std::to_string(cfg.entries_per_symbol) +
                                         (shared ? " shared" : ""),
                                     false);
        }
}

TEST(GpuDecodeEmulated, SeveralPacketsLengthsFromDeviceScalars) {
  Batch b;
  std::vector<std::vector<DecodedTensor>> cpu;
  for (int p = 0; p < 5; ++p) {
    const auto x = co3::testing::gennorm_samples(20000 + 7919 * p, 0.5, 1e-3, 40 + p);
    CodecConfig cfg;
    cfg.format = kFormats[p % 5];
    const std::vector<EncodeInput> in = {
        EncodeInput(TensorView{x.data(), 10000, DType::f32}),
        EncodeInput(TensorView{x.data() + 10000, x.size() - 10000, DType::f32})};
    auto packet = encode(in, cfg);
    cpu.push_back(decode(packet.data(), packet.size(), true));
    // The packet in a larger buffer: its length comes from the scalar.
    b.lengths.push_back(packet.size());
    packet.resize(packet.size() + 1000 * p, 0xEE);
    b.packets.push_back(packet);
    b.numels.push_back({cpu.back()[0].numel, cpu.back()[1].numel});
    b.wants.push_back({Want{}, Want{}});
  }
  b.run();
  size_t o = 0;
  for (size_t p = 0; p < cpu.size(); ++p)
    for (size_t s = 0; s < cpu[p].size(); ++s, ++o)
      EXPECT_TRUE(b.results[o] == cpu[p][s].bytes) << "packet " << p << " segment " << s;
  b.lengths[2] = b.packets[2].size() + 1;  // longer than its buffer
  try {
    b.run();
    ADD_FAILURE() << "a length past the buffer was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
  }
}

// The CPU's verdict and the emulated stages' on the same bytes.
void expect_same_verdict(const std::vector<uint8_t>& packet, const std::string& what) {
  bool cpu_ok = true;
  std::vector<DecodedTensor> cpu;
  try {
    cpu = decode(packet.data(), packet.size(), true);
  } catch (const Error&) {
    cpu_ok = false;
  }
  Batch b;
  b.packets = {packet};
  b.numels.emplace_back();
  b.wants.emplace_back();
  if (cpu_ok) {
    for (const auto& t : cpu) {
      b.numels[0].push_back(t.numel);
      b.wants[0].push_back(Want{});
    }
  } else if (packet.size() >= 32) {  // outputs as the descriptors claim (bounded)
    uint32_t n;
    std::memcpy(&n, packet.data() + 20, 4);
    n = std::min<uint32_t>({n, static_cast<uint32_t>((packet.size() - 32) / 64), 64u});
    for (uint32_t s = 0; s < n; ++s) {
      uint64_t numel;
      std::memcpy(&numel, packet.data() + 32 + 64 * uint64_t{s}, 8);
      b.numels[0].push_back(std::min<uint64_t>(numel, 1 << 20));
      b.wants[0].push_back(Want{});
    }
  }
  bool emulated_ok = true;
  try {
    b.run();
  } catch (const Error& e) {
    emulated_ok = false;
    EXPECT_TRUE(e.code() == Errc::corrupt_packet || !cpu_ok) << what << ": " << e.what();
  }
  ASSERT_EQ(cpu_ok, emulated_ok) << what;
  if (cpu_ok) {
    for (size_t s = 0; s < cpu.size(); ++s) ASSERT_TRUE(b.results[s] == cpu[s].bytes) << what;
  }
}

// The hand-built packets of test_packet: the valid ones decode alike, each hostile one is refused.
TEST(GpuDecodeEmulated, HandBuiltAndHostilePackets) {
  co3::testing::Spec v2;
  v2.with_shape = true;
  expect_same_verdict(co3::testing::build(co3::testing::Spec{}), "hand-built");
  expect_same_verdict(co3::testing::build(v2), "hand-built, version 2");
  expect_same_verdict(co3::testing::build(co3::testing::grouped_spec()), "hand-built, g = 2");
  expect_same_verdict(co3::testing::build(co3::testing::class_map_spec()), "hand-built, version 3");
  for (const auto& c : co3::testing::hostile_cases()) expect_same_verdict(c.packet, c.what);
}

TEST(GpuDecodeEmulated, SameVerdictOnTheFuzzCorpusAndCorruptions) {
  const auto packets = co3::testing::packet_files("fuzz/corpus/packet");
  ASSERT_GE(packets.size(), 10u) << "tests/fuzz/corpus/packet not found";
  std::mt19937_64 rng(2024);
  for (const auto& file : packets) {
    const std::vector<uint8_t>& p = file.bytes;
    expect_same_verdict(p, file.name);
    for (size_t n = 0; n < p.size(); n += 1 + p.size() / 29)
      expect_same_verdict(std::vector<uint8_t>(p.begin(), p.begin() + n), "truncated");
    for (int trial = 0; trial < (kSmall ? 10 : 150); ++trial) {
      auto m = p;
      m[rng() % (m.size() - 4)] ^= static_cast<uint8_t>(1 + rng() % 255);
      expect_same_verdict(m, file.name + ": flipped byte");
      const uint32_t crc = crc32c(m.data(), m.size() - 4);
      std::memcpy(m.data() + m.size() - 4, &crc, 4);
      expect_same_verdict(m, file.name + ": flipped byte, CRC recomputed");
    }
  }
}

// Zero-block maps (FORMAT.md §6b): the packets of zero_block_packets.h decode alike; then every
// map bit of one packet flipped, and bytes of its chunk table and map flipped at random, each
// with its CRC recomputed, get the same verdict from both decoders.
TEST(GpuDecodeEmulated, ZeroBlockMapsAndTheirCorruptions) {
  const auto packets = co3::testing::zero_block_packets(20011);
  for (size_t i = 0; i < packets.size(); ++i) {
    ASSERT_EQ(detail::load_le<uint16_t>(packets[i].data() + 4), detail::kVersionZeroBlocks) << i;
    expect_emulated_equals_cpu(packets[i], "zero-block packet " + std::to_string(i), i < 2);
  }
  // Blocks of 16, chunks of 64: several chunks without a coded block.
  for (const auto& [m, what] :
       co3::testing::zero_block_corruptions(packets[4], kSmall ? 17 : 1, kSmall ? 20 : 300))
    expect_same_verdict(m, what);
}

// A sender's failure record (FORMAT.md §11) is refused by both decoders with the sender's own
// error, the one its encoder would have thrown; a forged record naming no encoder error is
// refused as foreign bytes.
TEST(GpuDecodeEmulated, FailureRecordRaisesTheSendersError) {
  std::vector<float> x(300, 1.0f);
  x[7] = std::numeric_limits<float>::infinity();
  std::string sender;
  try {
    encode(TensorView{x.data(), x.size(), DType::f32}, CodecConfig{});
  } catch (const Error& e) {
    sender = e.what();
  }
  ASSERT_FALSE(sender.empty());
  std::vector<uint8_t> record(detail::kFailureRecordBytes + 64, 0xAB);  // worst-case buffer
  detail::store_failure_record(record.data(), static_cast<uint32_t>(Status::non_finite), 0, 1);
  const auto expect_sender = [&](const std::function<void()>& run, const std::string& who) {
    try {
      run();
      ADD_FAILURE() << who << " accepted a failure record";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::non_finite) << who;
      EXPECT_EQ(std::string(e.what()), sender) << who;
    }
  };
  for (const size_t n : {detail::kFailureRecordBytes, record.size()}) {
    const std::vector<uint8_t> bytes(record.begin(), record.begin() + n);
    expect_sender([&] { decode(bytes.data(), bytes.size()); }, "the CPU decoder");
    Batch b;
    b.packets = {bytes};
    b.numels = {{300}};
    b.wants = {{Want{}}};
    expect_sender([&] { b.run(); }, "the emulated GPU decoder");
  }
  for (const uint32_t forged : {0u, static_cast<uint32_t>(Status::crc_mismatch), 999u}) {
    auto bad = record;
    detail::store_le(bad.data() + 4, forged);
    try {
      decode(bad.data(), bad.size());
      ADD_FAILURE() << "a forged record was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::corrupt_packet) << e.what();
    }
    expect_same_verdict(bad, "forged record " + std::to_string(forged));
  }
}

TEST(GpuDecodeEmulated, CallerMistakesAreInvalidArguments) {
  const auto x = co3::testing::gennorm_samples(5000, 0.5, 1e-3, 3);
  const auto packet = encode(TensorView{x.data(), x.size(), DType::f32}, CodecConfig{});
  Batch b;
  b.packets = {packet};
  b.numels = {{4999}};  // one short: must not be written past
  b.wants = {{Want{}}};
  try {
    b.run();
    ADD_FAILURE() << "a wrong numel was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
  }
  b.numels = {{5000, 0}};  // an output too many
  b.wants = {{Want{}, Want{}}};
  try {
    b.run();
    ADD_FAILURE() << "a wrong output count was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
  }
}

// The checked-in packets: the fuzz seeds and the encoder's golden packets (tests/golden, where
// present). No GTEST_SKIP in this file: ctest would report the whole executable as skipped.
TEST(GpuDecodeEmulated, CheckedInPackets) {
  auto files = co3::testing::packet_files("fuzz/corpus/packet");
  ASSERT_GE(files.size(), 10u) << "tests/fuzz/corpus/packet not found";
  const auto golden = co3::testing::packet_files("golden");
  std::printf("%zu golden packets in tests/golden\n", golden.size());
  files.insert(files.end(), golden.begin(), golden.end());
  for (const auto& f : files) expect_emulated_equals_cpu(f.bytes, f.name);
}

}  // namespace
