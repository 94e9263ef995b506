#include "packet.h"

#include <cmath>
#include <string>

#include "co3/crc32c.h"
#include "co3/detail/trace.h"
#include "co3/detail/encode_checks.h"
#include "co3/detail/failure_record.h"
#include "co3/detail/validate_packet.h"
#include "co3/error.h"
#include "co3/huffman.h"
#include "co3/kernels/status.h"

namespace co3::detail {
namespace {

[[noreturn]] void corrupt(const std::string& what) {
  fail(Errc::corrupt_packet, what);
}
void need(bool ok, const std::string& what) {
  if (!ok) corrupt(what);
}
bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i]) return false;
  return true;
}

// Descriptor fields that can be checked alone (FORMAT.md §3).
void check_descriptor(const Descriptor& d, const uint8_t* raw, bool maps_allowed,
                      const std::string& at) {
  need(d.numel <= kMaxElements, at + "num_elements " + std::to_string(d.numel) + " exceeds 2^48");
  need(std::isfinite(d.scale) && d.scale > 0, at + "scale is not finite and > 0");
  need(std::isfinite(d.beta) && d.beta >= 0, at + "beta is not finite and >= 0");
  need(std::isfinite(d.alpha) && d.alpha >= 0, at + "alpha is not finite and >= 0");
  need(d.chunk_symbols >= 32 && d.chunk_symbols <= 65536,
       at + "chunk_symbols " + std::to_string(d.chunk_symbols) + " outside 32..65536");
  need(d.dtype <= 2, at + "dtype " + std::to_string(d.dtype) + " unknown");
  need(d.exp_bits >= 1 && d.exp_bits <= 8, at + "exp_bits outside 1..8");
  need(d.man_bits <= 10, at + "man_bits outside 0..10");
  need(1 + d.exp_bits + d.man_bits <= 16, at + "format wider than 16 bits");
  need(d.layout <= 2, at + "layout " + std::to_string(d.layout) + " unknown");
  try {
    validate(d.format());
  } catch (const Error& e) {
    corrupt(at + e.what());
  }
  need(d.rounding <= 2, at + "rounding " + std::to_string(d.rounding) + " unknown");
  const int w = 1 + d.exp_bits + d.man_bits;
  need(d.entries_per_symbol >= 1 && d.entries_per_symbol <= 4 && d.entries_per_symbol * w <= 16,
       at + "entries_per_symbol " + std::to_string(d.entries_per_symbol) + " invalid for width " +
           std::to_string(w));
  need(d.code_source <= 3, at + "code_source " + std::to_string(d.code_source) + " unknown");
  need(all_zero(raw + 52, 12), at + "reserved bytes are not zero");
  need((d.numel == 0) == (d.code_table == kNoTable),
       at + "code_table must be 0xFFFF exactly when num_elements is 0");
  need(class_map_flag_valid(d, maps_allowed),
       at + "class_map " + std::to_string(d.class_map) +
           " invalid (0, or 1 in a version-3 packet for a segment with entries)");
}

}  // namespace

ParsedPacket parse_packet(const uint8_t* data, size_t size, int threads) {
  CO3_TRACE("parse");
  // 1. Header.
  need(data != nullptr || size == 0, "packet: null buffer");
  // A sender's failure record (FORMAT.md §11) raises the sender's own error.
  if (data != nullptr) kernels::raise_status(detail::load_failure_record(data, size));
  need(size >= kHeaderBytes + 4,
       "packet: " + std::to_string(size) + " bytes is shorter than a header");
  need(std::equal(kMagic, kMagic + 4, data), "packet: bad magic (not a co3 packet)");
  const uint16_t version = load_le<uint16_t>(data + 4);
  need(version == kVersionPlain || version == kVersionShapes || version == kVersionNonFinite,
       "packet: version " + std::to_string(version) + " unsupported (this co3 reads 1 to 3)");
  const uint16_t flags = load_le<uint16_t>(data + 6);
  need(flags_valid(version, flags),
       "packet: flags " + std::to_string(flags) + " invalid for version " +
           std::to_string(version));
  const bool maps_allowed = version == kVersionNonFinite;
  const uint64_t total = load_le<uint64_t>(data + 8);
  need(total == size, "packet: total_bytes " + std::to_string(total) + " but " +
                          std::to_string(size) + " bytes given (truncated or padded)");
  need(all_zero(data + 24, 8), "packet: reserved header bytes are not zero");
  // 2. CRC before anything else is trusted.
  const uint32_t stored = load_le<uint32_t>(data + size - 4);
  const uint32_t actual = crc32c_parallel(data, size - 4, threads);
  need(stored == actual, "packet: CRC32C mismatch (corrupted in transit or storage)");
  // 3. Counts and directory bounds.
  const uint64_t end = size - 4;
  const uint32_t num_tables = load_le<uint32_t>(data + 16);
  const uint32_t num_segments = load_le<uint32_t>(data + 20);
  need(num_tables <= 65535, "packet: num_tables " + std::to_string(num_tables) + " exceeds 65535");
  need(num_segments <= kMaxSegments, "packet: num_segments exceeds 2^24");
  uint64_t cursor = kHeaderBytes + kDescriptorBytes * uint64_t{num_segments};
  need(cursor <= end, "packet: segment descriptors run past the end");

  ParsedPacket out;
  // 3a. Shapes (version 2): ranges here, each product against num_elements in step 5.
  out.has_shapes = flags & kFlagShapes;
  if (out.has_shapes) {
    out.shapes.resize(num_segments);
    for (uint32_t s = 0; s < num_segments; ++s) {
      const std::string at = "shape of segment " + std::to_string(s) + ": ";
      need(cursor + 8 <= end, at + "runs past the end");
      const uint64_t ndim = load_le<uint64_t>(data + cursor);
      need(ndim <= kMaxDims, at + "ndim " + std::to_string(ndim) + " exceeds 64");
      need(cursor + 8 + 8 * ndim <= end, at + "runs past the end");
      for (uint64_t k = 0; k < ndim; ++k) {
        const uint64_t size_k = load_le<uint64_t>(data + cursor + 8 + 8 * k);
        need(size_k <= kMaxElements, at + "size " + std::to_string(size_k) + " exceeds 2^48");
        out.shapes[s].push_back(static_cast<int64_t>(size_k));
      }
      cursor += 8 + 8 * ndim;
    }
  }
  // 4. Code tables.
  out.tables.resize(num_tables);
  for (uint32_t t = 0; t < num_tables; ++t) {
    const std::string at = "code table " + std::to_string(t) + ": ";
    need(cursor + kTableHeaderBytes <= end, at + "header runs past the end");
    const uint8_t* h = data + cursor;
    ParsedTable& tab = out.tables[t];
    tab.symbol_bits = h[0];
    tab.max_length = h[1];
    const uint32_t body = load_le<uint32_t>(h + 4);
    need(tab.symbol_bits >= 1 && tab.symbol_bits <= 16, at + "symbol_bits outside 1..16");
    need(tab.max_length >= 1 && tab.max_length <= kMaxCodeLength, at + "max_length outside 1..24");
    need(all_zero(h + 2, 2) && all_zero(h + 8, 8), at + "reserved bytes are not zero");
    need(body >= 1 && body <= 65536, at + "body_bytes outside 1..65536");
    const uint64_t next = cursor + align8(kTableHeaderBytes + body);
    need(next <= end, at + "body runs past the end");
    need(all_zero(h + kTableHeaderBytes + body, next - cursor - kTableHeaderBytes - body),
         at + "padding is not zero");
    tab.lengths.resize(size_t{1} << tab.symbol_bits);
    read_code_lengths(h + kTableHeaderBytes, body, static_cast<uint32_t>(tab.lengths.size()),
                      tab.max_length, tab.lengths.data());
    cursor = next;
  }
  // 5. Segments.
  out.segments.resize(num_segments);
  for (uint32_t s = 0; s < num_segments; ++s) {
    const std::string at = "segment " + std::to_string(s) + ": ";
    const uint8_t* raw = data + kHeaderBytes + kDescriptorBytes * s;
    Descriptor d = load_descriptor(raw);
    check_descriptor(d, raw, maps_allowed, at);
    if (out.has_shapes) {
      // The product, saturated just past 2^48 so that it cannot wrap; a zero size makes it 0.
      uint64_t product = 1;
      bool zero = false;
      for (int64_t size_k : out.shapes[s]) {
        const uint64_t k = static_cast<uint64_t>(size_k);
        zero = zero || k == 0;
        if (k) product = product > kMaxElements / k ? kMaxElements + 1 : product * k;
      }
      if (zero) product = 0;
      need(product == d.numel, at + "shape holds " + std::to_string(product) +
                                   " elements, num_elements says " + std::to_string(d.numel));
    }
    const int symbol_bits = d.entries_per_symbol * (1 + d.exp_bits + d.man_bits);
    int max_length = 0;
    if (d.numel) {
      need(d.code_table < num_tables, at + "code_table " + std::to_string(d.code_table) +
                                          " but the packet has " + std::to_string(num_tables));
      need(out.tables[d.code_table].symbol_bits == symbol_bits,
           at + "code table's symbol_bits does not match entries_per_symbol·width");
      max_length = out.tables[d.code_table].max_length;
    }
    need(d.data_offset == cursor, at + "data_offset " + std::to_string(d.data_offset) +
                                      " differs from the layout's " + std::to_string(cursor));
    const uint64_t chunks = d.num_chunks();
    // Every chunk has at least one word and every symbol at least one bit: a count that the
    // payload cannot hold is refused here, before anything is allocated for it.
    need(d.payload_words <= end / 4 && chunks <= d.payload_words &&
             d.num_symbols() <= 32 * d.payload_words,
         at + "num_elements " + std::to_string(d.numel) + " needs more payload than " +
             std::to_string(d.payload_words) + " words");
    const uint64_t map_bytes = class_map_bytes(d.numel, d.class_map != 0);
    need(map_bytes <= end && cursor + segment_data_bytes(chunks, d.payload_words, map_bytes) <= end,
         at + "data runs past the end");
    const uint64_t next = cursor + segment_data_bytes(chunks, d.payload_words, map_bytes);
    const uint8_t* table = data + cursor;
    const uint64_t max_words = (uint64_t{d.chunk_symbols} * max_length + 31) / 32;
    uint64_t sum = 0;
    for (uint64_t k = 0; k < chunks; ++k) {
      const uint16_t words = load_le<uint16_t>(table + 2 * k);
      need(words >= 1 && words <= max_words,
           at + "chunk " + std::to_string(k) + " size " + std::to_string(words) + " words invalid");
      sum += words;
    }
    need(sum == d.payload_words, at + "chunk table sums to " + std::to_string(sum) +
                                     " words, payload_words says " +
                                     std::to_string(d.payload_words));
    need(all_zero(table + 2 * chunks, align8(2 * chunks) - 2 * chunks),
         at + "chunk table padding is not zero");
    const uint64_t payload_end = cursor + align8(2 * chunks) + 4 * d.payload_words;
    need(all_zero(data + payload_end, next - map_bytes - payload_end),
         at + "payload padding is not zero");
    need(!d.class_map || class_map_padding_zero(data + d.map_offset(), d.numel, map_bytes),
         at + "class map bits past the last entry or its padding are not zero");
    out.segments[s] = d;
    cursor = next;
  }
  need(cursor == end,
       "packet: " + std::to_string(end - cursor) + " unexplained bytes before the CRC");
  return out;
}

}  // namespace co3::detail

namespace co3 {

PacketInfo inspect(const uint8_t* data, size_t size) {
  const detail::ParsedPacket p = detail::parse_packet(data, size, 0);
  PacketInfo info;
  info.total_bytes = size;
  info.num_tables = static_cast<uint32_t>(p.tables.size());
  for (size_t i = 0; i < p.segments.size(); ++i) {
    const detail::Descriptor& d = p.segments[i];
    SegmentInfo s;
    if (p.has_shapes) s.shape = p.shapes[i];
    s.numel = d.numel;
    s.dtype = static_cast<DType>(d.dtype);
    s.format = d.format();
    s.rounding = static_cast<Rounding>(d.rounding);
    s.code = static_cast<CodeSource>(d.code_source);
    s.entries_per_symbol = d.entries_per_symbol;
    s.scale = d.scale;
    s.beta = d.beta;
    s.alpha = d.alpha;
    s.chunk_symbols = d.chunk_symbols;
    s.payload_words = d.payload_words;
    s.code_table = d.code_table;
    info.segments.push_back(s);
  }
  return info;
}

}  // namespace co3

namespace co3::kernels {

// The CPU parser's wording for each status, so that a GPU failure reads like a CPU one.
Error status_error(const DeviceStatus& st) {
  const std::string n = std::to_string(st.detail);
  const std::string pkt = "packet: ";
  const std::string seg = "segment " + std::to_string(st.segment) + ": ";
  const std::string shape = "shape of segment " + std::to_string(st.segment) + ": ";
  const std::string tab = "code table " + std::to_string(st.segment) + ": ";
  const std::string chunk = "segment " + std::to_string(st.segment) + ", chunk " + n + ": ";
  const auto corrupt = [](const std::string& m) { return Error(Errc::corrupt_packet, m); };
  switch (static_cast<Status>(st.code)) {
    case Status::ok: return Error(Errc::invalid_argument, "status_error: the status is ok");
    case Status::short_packet: return corrupt(pkt + n + " bytes is shorter than a header");
    case Status::bad_magic: return corrupt(pkt + "bad magic (not a co3 packet)");
    case Status::bad_version:
      return corrupt(pkt + "version " + n + " unsupported (this co3 reads 1 to 3)");
    case Status::bad_flags: return corrupt(pkt + "flags " + n + " invalid for the version");
    case Status::size_mismatch:
      return corrupt(pkt + "total_bytes " + n + " differs from the buffer (truncated or padded)");
    case Status::header_reserved: return corrupt(pkt + "reserved header bytes are not zero");
    case Status::crc_mismatch:
      return corrupt(pkt + "CRC32C mismatch (corrupted in transit or storage)");
    case Status::too_many_tables: return corrupt(pkt + "num_tables " + n + " exceeds 65535");
    case Status::too_many_segments: return corrupt(pkt + "num_segments exceeds 2^24");
    case Status::descriptors_past_end: return corrupt(pkt + "segment descriptors run past the end");
    case Status::shape_past_end: return corrupt(shape + "runs past the end");
    case Status::shape_ndim: return corrupt(shape + "ndim " + n + " exceeds 64");
    case Status::shape_size: return corrupt(shape + "size " + n + " exceeds 2^48");
    case Status::table_header_past_end: return corrupt(tab + "header runs past the end");
    case Status::table_symbol_bits: return corrupt(tab + "symbol_bits outside 1..16");
    case Status::table_max_length: return corrupt(tab + "max_length outside 1..24");
    case Status::table_reserved: return corrupt(tab + "reserved bytes are not zero");
    case Status::table_body_bytes: return corrupt(tab + "body_bytes outside 1..65536");
    case Status::table_body_past_end: return corrupt(tab + "body runs past the end");
    case Status::table_padding: return corrupt(tab + "padding is not zero");
    case Status::table_body_ends: return corrupt(tab + "body ends at symbol " + n);
    case Status::table_run_past_alphabet:
      return corrupt(tab + "zero run at symbol " + n + " passes the alphabet");
    case Status::table_invalid_token: return corrupt(tab + "invalid token " + n);
    case Status::table_length_exceeds_max:
      return corrupt(tab + "length " + n + " exceeds max_length");
    case Status::table_bits_after_last:
      return corrupt(tab + "" + n + " bits after the last symbol");
    case Status::table_nonzero_padding: return corrupt(tab + "nonzero padding bits");
    case Status::table_no_code: return corrupt(tab + "no symbol has a code");
    case Status::table_kraft: return corrupt(tab + "the lengths violate the Kraft inequality");
    case Status::numel_range: return corrupt(seg + "num_elements " + n + " exceeds 2^48");
    case Status::scale_range: return corrupt(seg + "scale is not finite and > 0");
    case Status::beta_range: return corrupt(seg + "beta is not finite and >= 0");
    case Status::alpha_range: return corrupt(seg + "alpha is not finite and >= 0");
    case Status::chunk_symbols_range:
      return corrupt(seg + "chunk_symbols " + n + " outside 32..65536");
    case Status::dtype_range: return corrupt(seg + "dtype " + n + " unknown");
    case Status::exp_bits_range: return corrupt(seg + "exp_bits outside 1..8");
    case Status::man_bits_range: return corrupt(seg + "man_bits outside 0..10");
    case Status::width_range: return corrupt(seg + "format wider than 16 bits");
    case Status::layout_range: return corrupt(seg + "layout " + n + " unknown");
    case Status::format_no_value: return corrupt(seg + "format has no nonzero finite value");
    case Status::format_bias_low:
      return corrupt(seg + "format: bias " + std::to_string(static_cast<int64_t>(st.detail)) +
                     " puts the smallest subnormal below float32's 2^-149");
    case Status::format_bias_high:
      return corrupt(seg + "format: bias " + std::to_string(static_cast<int64_t>(st.detail)) +
                     " puts the largest value beyond float32's range");
    case Status::rounding_range: return corrupt(seg + "rounding " + n + " unknown");
    case Status::group_range:
      return corrupt(seg + "entries_per_symbol " + n + " invalid for the width");
    case Status::code_source_range: return corrupt(seg + "code_source " + n + " unknown");
    case Status::descriptor_reserved: return corrupt(seg + "reserved bytes are not zero");
    case Status::table_presence:
      return corrupt(seg + "code_table must be 0xFFFF exactly when num_elements is 0");
    case Status::class_map_flag:
      return corrupt(seg + "class_map " + n +
                     " invalid (0, or 1 in a version-3 packet for a segment with entries)");
    case Status::shape_product:
      return corrupt(seg + "shape holds " + n + " elements, unlike num_elements");
    case Status::code_table_index:
      return corrupt(seg + "code_table " + n + " but the packet has fewer tables");
    case Status::code_table_width:
      return corrupt(seg + "code table's symbol_bits does not match entries_per_symbol·width");
    case Status::data_offset:
      return corrupt(seg + "data_offset " + n + " differs from the layout's");
    case Status::payload_too_small:
      return corrupt(seg + "num_elements needs more payload than " + n + " words");
    case Status::data_past_end: return corrupt(seg + "data runs past the end");
    case Status::chunk_size: return corrupt(seg + "chunk " + n + " size invalid");
    case Status::chunk_sum:
      return corrupt(seg + "chunk table sums to " + n + " words, unlike payload_words");
    case Status::chunk_table_padding: return corrupt(seg + "chunk table padding is not zero");
    case Status::class_map_padding:
      return corrupt(seg + "class map bits past the last entry or its padding are not zero");
    case Status::payload_padding: return corrupt(seg + "payload padding is not zero");
    case Status::unexplained_bytes: return corrupt(pkt + n + " unexplained bytes before the CRC");
    case Status::invalid_codeword: return corrupt(chunk + "invalid codeword");
    case Status::run_past_words: return corrupt(chunk + "symbols run past the chunk's words");
    case Status::extra_words: return corrupt(chunk + "chunk has more words than its symbols use");
    case Status::padding_bits: return corrupt(chunk + "padding bits are not zero");
    case Status::padding_entries:
      return corrupt(chunk + "padding entries of the last symbol are not zero");
    case Status::output_count:
      return Error(Errc::invalid_argument, "decode: packet " + std::to_string(st.segment) +
                                               " has " + n +
                                               " segments, a different number of outputs given");
    case Status::output_numel:
      return Error(Errc::invalid_argument, "decode: output " + std::to_string(st.segment) +
                                               " does not hold the segment's " + n + " elements");
    case Status::output_null:
      return Error(Errc::invalid_argument,
                   "decode: output " + std::to_string(st.segment) + " is null");
    case Status::packet_capacity:
      return Error(Errc::invalid_argument, "decode: packet " + std::to_string(st.segment) +
                                               " declares " + n + " bytes, more than its buffer");
    case Status::non_finite:
      return Error(Errc::non_finite, detail::non_finite_message(st.segment, st.detail));
    case Status::code_too_many_symbols:
      return Error(Errc::invalid_argument,
                   detail::too_many_symbols_message(st.detail & 0xffffffffu,
                                                    static_cast<int>(st.detail >> 32 & 0xff)));
    case Status::code_weights_too_large:
      return Error(Errc::invalid_argument, detail::weights_too_large_message());
  }
  return corrupt("decode: unknown device status " + std::to_string(st.code));
}

}  // namespace co3::kernels
