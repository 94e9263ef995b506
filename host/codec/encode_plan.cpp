// The CPU encoder's plan (twin of kernels/encode_plan.cu and encode_layout.cu): checks every
// input, runs the stages (encode_quantize.cpp, encode_code.cpp, encode_pack.cpp) segment by
// segment, lays the packet out (include/co3/detail/encode_layout.h), writes its header, tables
// and descriptors, and closes it with its CRC.
#include <algorithm>
#include <cmath>
#include <memory>
#include <functional>
#include <optional>
#include <string>

#include "co3/crc32c.h"
#include "co3/dtype.h"
#include "co3/error.h"
#include "co3/huffman.h"
#include "co3/detail/class_map.h"
#include "co3/detail/encode_checks.h"
#include "co3/detail/encode_code.h"
#include "co3/detail/encode_layout.h"
#include "co3/detail/encode_stats.h"
#include "co3/detail/rate_target.h"
#include "co3/detail/trace.h"
#include "encode_pipeline.h"
#include "packet.h"
#include "thread_pool.h"

namespace co3::detail {

double entropy_bits(const std::vector<uint64_t>& hist) {
  uint64_t total = 0;
  for (uint64_t c : hist) total += c;
  if (!total) return 0;
  double h = 0;
  for (uint64_t c : hist)
    if (c) {
      const double p = static_cast<double>(c) / static_cast<double>(total);
      h -= p * std::log2(p);
    }
  return h;
}

}  // namespace co3::detail

namespace co3 {

namespace {

// Copies of the error memories an encode may write, put back by the destructor unless the
// encode commits: a failed encode leaves every memory as it was.
class MemoryRollback {
 public:
  MemoryRollback(const std::vector<EncodeInput>& inputs, bool enabled) {
    if (!enabled) return;
    for (const EncodeInput& in : inputs)
      if (in.memory)
        saved_.push_back({in.memory, std::vector<float>(in.memory, in.memory + in.grad.numel)});
  }
  MemoryRollback(const MemoryRollback&) = delete;
  MemoryRollback& operator=(const MemoryRollback&) = delete;
  ~MemoryRollback() {
    for (auto& [memory, copy] : saved_) std::copy(copy.begin(), copy.end(), memory);
  }
  void commit() { saved_.clear(); }

 private:
  std::vector<std::pair<float*, std::vector<float>>> saved_;
};

// Where the packet goes: called once, when its exact size is known, for memory of that many
// bytes (uninitialized: the writer below stores every byte).
using PacketSink = std::function<uint8_t*(uint64_t)>;

// Zeroes what the packet's writers leave untouched (padding, reserved fields): every byte but
// the segments' payloads, which write_payload covers whole. Memory from a sink may hold
// anything; a zeroed std::vector then costs this small memset twice, not a pass over the payload.
void zero_outside_payloads(uint8_t* pkt, uint64_t size, const std::vector<uint64_t>& payload_at,
                           const std::vector<uint64_t>& payload_bytes) {
  uint64_t at = 0;
  for (size_t i = 0; i < payload_at.size(); ++i) {
    if (!payload_bytes[i]) continue;
    std::fill(pkt + at, pkt + payload_at[i], uint8_t{0});
    at = payload_at[i] + payload_bytes[i];
  }
  std::fill(pkt + at, pkt + size, uint8_t{0});
}

// encode() with a code built from the data (prior null) or given (a PriorCode), into the
// memory `sink` gives; returns the packet's size.
// sink_may_fail: the sink may throw (a buffer too small), so error memories are copied to be
// put back, as when the code may fail.
uint64_t encode_packet(const std::vector<EncodeInput>& inputs, const CodecConfig& cfg,
                       const PriorCode* prior, EncodeReport* report, const PacketSink& sink,
                       bool sink_may_fail = false) {
  using namespace detail;
  CO3_TRACE("co3::encode");
  validate(cfg);
  // The configuration resolved once (entries per symbol, max code length, ...): what every
  // stage below and the packet writer read.
  const PacketCoding pc = packet_coding(cfg);
  check(inputs.size() <= kMaxSegments, Errc::invalid_argument, "more than 2^24 tensors in one packet");
  const int threads = resolve_threads(cfg.threads);
  struct Segment {
    Quantized q;
    uint16_t table = kNoTable;
    PackedChunks packed;
  };
  // Every argument is checked before any error memory is written.
  size_t non_empty = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    check_encode_input(inputs[i], i);
    non_empty += inputs[i].grad.numel != 0;
  }
  check(cfg.shared_code || non_empty <= 65535, Errc::invalid_argument,
        "more than 65535 non-empty tensors in one packet without shared_code");
  if (prior) check_prior_code(*prior, pc, cfg.shared_code, non_empty);
  // Every segment's statistics (and the non-finite check) before any error memory is written,
  // so that a refused tensor leaves every memory as it was.
  std::vector<Segment> segs(inputs.size());
  std::vector<const Quantized*> coded;  // the non-empty segments
  const double rate_payload = rate_policy_payload(inputs, cfg);
  for (size_t i = 0; i < inputs.size(); ++i) {
    segs[i].q = segment_stats(inputs[i], cfg, pc, i, threads, rate_payload);
    if (segs[i].q.numel) coded.push_back(&segs[i].q);
  }
  // Only a code built from the data can fail after the conversion (more symbols occur than
  // codes of max_code_length bits tell apart): then the memories are copied, to be put back
  // if the encode does not complete.
  MemoryRollback rollback(inputs, (!prior && code_may_fail(pc)) || sink_may_fail);
  for (size_t i = 0; i < inputs.size(); ++i) {
    quantize_symbols(inputs[i], cfg, pc, segs[i].q, threads, report != nullptr);
    apply_zero_blocks(segs[i].q, pc.zero_block_log2, pc.chunk_symbols, threads);
  }
  // One code for all (shared_code) or one per non-empty segment.
  // Codes and chunk sizes; the range ends where the packet is written ("pack").
  std::optional<TraceRange> codebook_range(std::in_place, "codebook");
  std::vector<std::vector<uint8_t>> tables;
  const auto next_table = [&](const std::vector<const Quantized*>& qs) {
    tables.push_back(prior ? prior->tables[tables.size()] : code_lengths_for(qs, pc.code, pc));
  };
  if (cfg.shared_code && !coded.empty()) next_table(coded);
  for (Segment& s : segs) {
    if (!s.q.numel) continue;
    if (!cfg.shared_code) next_table({&s.q});
    s.table = static_cast<uint16_t>(tables.size() - 1);
    s.packed = pack_segment(s.q, tables[s.table], pc.chunk_symbols, threads);
  }
  // Shapes (a version-2 packet) as soon as one input carries one; the others get [numel].
  std::vector<std::vector<int64_t>> shapes;
  bool with_shapes = false;
  for (const EncodeInput& in : inputs) with_shapes = with_shapes || in.shape.has_value();
  if (with_shapes) {
    for (size_t i = 0; i < inputs.size(); ++i)
      shapes.push_back(inputs[i].shape ? *inputs[i].shape
                                       : std::vector<int64_t>{static_cast<int64_t>(inputs[i].grad.numel)});
  }
  std::vector<std::vector<uint8_t>> bodies;
  uint64_t shape_bytes = 0;
  for (const auto& shape : shapes) shape_bytes += shape_record_bytes(shape.size());
  LayoutCursor layout(segs.size(), shape_bytes);
  std::vector<uint64_t> table_offset;
  for (const auto& lengths : tables) {
    bodies.push_back(write_code_lengths(lengths.data(), static_cast<uint32_t>(lengths.size())));
    table_offset.push_back(layout.table(bodies.back().size()));
  }
  std::vector<uint64_t> data_offset, payload_at, payload_bytes;
  bool with_class_maps = false, with_zero_maps = false;
  for (const Segment& s : segs) {
    data_offset.push_back(layout.segment(s.packed.words.size(), s.packed.payload_words,
                                         class_map_bytes(s.q.numel, s.q.class_map),
                                         s.q.zero_map.size()));
    payload_at.push_back(data_offset.back() + align8(2 * s.packed.words.size()) + s.q.zero_map.size());
    payload_bytes.push_back(4 * s.packed.payload_words);
    with_class_maps = with_class_maps || s.q.class_map;
    with_zero_maps = with_zero_maps || s.q.zero_block;
  }
  const uint64_t size = layout.total();

  codebook_range.reset();
  CO3_TRACE("pack");
  uint8_t* const pkt = sink(size);
  zero_outside_payloads(pkt, size, payload_at, payload_bytes);
  store_header(pkt, with_shapes, with_class_maps, size, static_cast<uint32_t>(tables.size()),
               static_cast<uint32_t>(segs.size()), with_zero_maps);
  uint64_t shape_at = kHeaderBytes + kDescriptorBytes * segs.size();
  for (const auto& shape : shapes) {
    store_shape_record(pkt + shape_at, shape.data(), shape.size());
    shape_at += shape_record_bytes(shape.size());
  }
  for (size_t t = 0; t < tables.size(); ++t) {
    uint8_t* h = pkt + table_offset[t];
    store_table_header(h, pc.symbol_bits(), pc.max_code_length,
                       static_cast<uint32_t>(bodies[t].size()));
    std::copy(bodies[t].begin(), bodies[t].end(), h + kTableHeaderBytes);
  }
  if (report) report->segments.clear();
  std::vector<bool> table_reported(tables.size(), false);
  for (size_t i = 0; i < segs.size(); ++i) {
    const Segment& s = segs[i];
    const Descriptor d = segment_descriptor(pc, s.q.numel, inputs[i].grad.dtype, s.table,
                                            data_offset[i], s.packed.payload_words, s.q.scale,
                                            s.q.beta, s.q.alpha, s.q.class_map, s.q.zero_block);
    store_descriptor(pkt + kHeaderBytes + kDescriptorBytes * i, d);
    std::copy(s.q.zero_map.begin(), s.q.zero_map.end(), pkt + d.zero_map_offset());
    for (size_t w = 0; w < s.q.map_words.size(); ++w)
      store_le(pkt + d.map_offset() + 4 * w, s.q.map_words[w]);
    uint8_t* table = pkt + data_offset[i];
    const std::vector<uint16_t>& words = s.packed.words;
    for (size_t k = 0; k < words.size(); ++k) store_le(table + 2 * k, words[k]);
    write_payload(s.packed, pkt + payload_at[i], threads);
    if (report) {
      SegmentReport r;
      r.moments = s.q.moments;
      r.beta = s.q.beta;
      r.alpha = s.q.alpha;
      r.scale = s.q.scale;
      r.entropy_bits = entropy_bits(s.q.entry_hist);
      r.symbol_entropy_bits = entropy_bits(s.q.symbol_hist) / s.q.entries_per_symbol;
      r.payload_bits = 8 * segment_data_bytes(s.packed.words.size(), s.packed.payload_words,
                                              class_map_bytes(s.q.numel, s.q.class_map),
                                              s.q.zero_map.size());
      // A shared table is counted once, with the first segment that uses it.
      if (s.q.numel && !table_reported[s.table]) {
        r.table_bits = 8 * table_bytes(bodies[s.table].size());
        table_reported[s.table] = true;
      }
      r.nmse = s.q.ref_sq > 0 ? s.q.err_sq / s.q.ref_sq : 0.0;
      report->segments.push_back(r);
    }
  }
  store_le(pkt + size - 4, crc32c_parallel(pkt, size - 4, threads));
  if (report) {
    uint64_t entries = 0;
    for (const EncodeInput& in : inputs) entries += in.grad.numel;
    report->packet_bytes = size;
    report->bits_per_entry = entries ? 8.0 * static_cast<double>(size) / static_cast<double>(entries) : 0.0;
    report->target_bits_per_entry = cfg.scale.policy == ScalePolicy::rate ? cfg.scale.bits_per_entry : 0.0;
  }
  rollback.commit();
  return size;
}

std::vector<uint8_t> encode_vector(const std::vector<EncodeInput>& inputs, const CodecConfig& cfg,
                                   const PriorCode* prior, EncodeReport* report) {
  std::vector<uint8_t> pkt;
  encode_packet(inputs, cfg, prior, report, [&](uint64_t size) {
    pkt.resize(size);
    return pkt.data();
  });
  return pkt;
}

}  // namespace

std::vector<uint8_t> encode(const std::vector<EncodeInput>& inputs, const CodecConfig& cfg,
                            EncodeReport* report) {
  return encode_vector(inputs, cfg, nullptr, report);
}

std::vector<uint8_t> encode(const std::vector<EncodeInput>& inputs, const CodecConfig& cfg,
                            const PriorCode& prior, EncodeReport* report) {
  return encode_vector(inputs, cfg, &prior, report);
}

uint64_t encode_into(const std::vector<EncodeInput>& inputs, const CodecConfig& cfg, uint8_t* out,
                     uint64_t capacity, EncodeReport* report) {
  check(out != nullptr, Errc::invalid_argument, "encode_into: null output");  // before any memory moves
  return encode_packet(inputs, cfg, nullptr, report, [&](uint64_t size) {
    check(size <= capacity, Errc::invalid_argument, [&] {
      return "encode_into: the buffer holds " + std::to_string(capacity) + " bytes, the packet " +
             std::to_string(size);
    });
    return out;
  }, capacity < max_packet_bytes(inputs, cfg));
}

PriorCode prior_code(const uint8_t* packet, size_t size) {
  PriorCode p;
  for (detail::ParsedTable& t : detail::parse_packet(packet, size, 0).tables)
    p.tables.push_back(std::move(t.lengths));
  return p;
}

std::vector<uint8_t> encode(const TensorView& tensor, const CodecConfig& cfg, EncodeReport* report) {
  EncodeInput in;
  in.grad = tensor;
  return encode(std::vector<EncodeInput>{in}, cfg, report);
}

}  // namespace co3
