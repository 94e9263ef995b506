// The CPU decoder's validation stage (twin of kernels/decode_validate.cu): FORMAT.md §9's checks,
// all of them include/co3/detail/validate_packet.h's, in one pass over the packet, and the one
// table that turns their statuses into messages (for the CPU parser and the GPU decoder alike).
#include "packet.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "co3/crc32c.h"
#include "co3/detail/trace.h"
#include "co3/detail/encode_checks.h"
#include "co3/detail/encode_layout.h"
#include "co3/detail/failure_record.h"
#include "co3/detail/validate_packet.h"
#include "co3/error.h"
#include "co3/huffman.h"
#include "co3/kernels/status.h"

namespace co3::detail {

ParsedPacket parse_packet(const uint8_t* data, size_t size, int threads) {
  CO3_TRACE("parse");
  if (data == nullptr && size != 0) fail(Errc::corrupt_packet, "packet: null buffer");
  // A sender's failure record (FORMAT.md §11) raises the sender's own error.
  if (data != nullptr) kernels::raise_status(detail::load_failure_record(data, size));
  // Every check is validate_packet.h's; a refusal's message is status_error's, with the values
  // it names read from these bytes.
  const auto refuse_unless_ok = [&](const DeviceStatus& st) {
    if (st.code) throw packet_error(st, data, size);
  };
  // §9.1 the header, §9.2 the CRC before anything else is trusted.
  refuse_unless_ok(check_header(data, size));
  if (load_le<uint32_t>(data + size - 4) != crc32c_parallel(data, size - 4, threads))
    refuse_unless_ok(make_status(Status::crc_mismatch));
  // §9.3–§9.5: the directory walk, each code table's token stream read (§9.4, huffman.cpp's
  // messages) as soon as its header passed, each segment's chunk table as soon as it lies
  // inside the packet.
  ParsedPacket out;
  std::vector<uint64_t> table_offsets(std::min<uint64_t>(max_tables_in(size), 65535));
  const auto read_table = [&](uint32_t, uint64_t offset) {
    const uint8_t* h = data + offset;
    ParsedTable& tab = out.tables.emplace_back();
    tab.symbol_bits = h[0];
    tab.max_length = h[1];
    tab.lengths.resize(size_t{1} << tab.symbol_bits);
    read_code_lengths(h + kTableHeaderBytes, load_le<uint32_t>(h + 4),
                      static_cast<uint32_t>(tab.lengths.size()), tab.max_length,
                      tab.lengths.data());
  };
  const auto chunk_table = [&](uint32_t s, const SegmentLayout& L) {
    return check_chunk_table(data, s, L);
  };
  const auto take_segment = [&](uint32_t, const SegmentLayout& L) { out.segments.push_back(L.d); };
  refuse_unless_ok(walk_directory(data, size, table_offsets.data(),
                                  static_cast<uint32_t>(table_offsets.size()), 0, read_table,
                                  chunk_table, take_segment));
  // Shapes (version 2 and 3 with SHAPES), which the walk checked.
  out.has_shapes = load_le<uint16_t>(data + 6) & kFlagShapes;
  if (out.has_shapes) {
    uint64_t cursor = kHeaderBytes + kDescriptorBytes * uint64_t{out.segments.size()};
    out.shapes.resize(out.segments.size());
    for (std::vector<int64_t>& shape : out.shapes) {
      const uint64_t ndim = load_le<uint64_t>(data + cursor);
      for (uint64_t k = 0; k < ndim; ++k)
        shape.push_back(static_cast<int64_t>(load_le<uint64_t>(data + cursor + 8 + 8 * k)));
      cursor += 8 + 8 * ndim;
    }
  }
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

namespace co3::detail {
namespace {

// The packet a status was found in, read again for the values its message names: the CPU
// parser has the bytes, the GPU decoder's host side does not (bytes() is then empty and the
// messages say less). A status may come from any hostile packet, so every read is checked
// against the buffer and an absent value is simply left out of the message.
class PacketBytes {
 public:
  PacketBytes(const uint8_t* data, size_t size) : data_(data), size_(data ? size : 0) {}

  bool has(uint64_t at, uint64_t n) const { return data_ && at <= size_ && n <= size_ - at; }
  size_t size() const { return size_; }
  std::optional<uint64_t> u16(uint64_t at) const {
    return has(at, 2) ? std::optional<uint64_t>(load_le<uint16_t>(data_ + at)) : std::nullopt;
  }
  std::optional<uint64_t> u32(uint64_t at) const {
    return has(at, 4) ? std::optional<uint64_t>(load_le<uint32_t>(data_ + at)) : std::nullopt;
  }
  std::optional<Descriptor> descriptor(uint32_t s) const {
    const uint64_t at = kHeaderBytes + kDescriptorBytes * uint64_t{s};
    return has(at, kDescriptorBytes) ? std::optional<Descriptor>(load_descriptor(data_ + at))
                                     : std::nullopt;
  }
  // Where the layout (encode_layout.h's cursor, the encoder's) puts segment s's data, from the
  // packet's shapes, table headers and earlier descriptors: all of them passed the walk before
  // it compares segment s's data_offset.
  std::optional<uint64_t> layout_data_offset(uint32_t s) const {
    const std::optional<uint64_t> flags = u16(6), tables = u32(16), segments = u32(20);
    if (!flags || !tables || !segments || s >= *segments) return std::nullopt;
    uint64_t shape_bytes = 0;
    if (*flags & kFlagShapes) {
      for (uint32_t k = 0; k < *segments; ++k) {
        const uint64_t at = kHeaderBytes + kDescriptorBytes * *segments + shape_bytes;
        if (!has(at, 8)) return std::nullopt;
        const uint64_t ndim = load_le<uint64_t>(data_ + at);
        if (ndim > kMaxDims) return std::nullopt;
        shape_bytes += 8 + 8 * ndim;
      }
    }
    LayoutCursor layout(*segments, shape_bytes);
    for (uint32_t t = 0; t < *tables; ++t) {
      const std::optional<uint64_t> body = u32(layout.at + 4);
      if (!body || *body > kMaxTableBody) return std::nullopt;
      layout.table(*body);
    }
    for (uint32_t k = 0; k < s; ++k) {
      const std::optional<Descriptor> d = descriptor(k);
      if (!d || d->numel > kMaxElements || d->chunk_symbols < 32) return std::nullopt;
      if (d->zero_block > kMaxZeroBlockLog2) return std::nullopt;
      layout.segment(d->num_chunks(), d->payload_words,
                     class_map_bytes(d->numel, d->class_map != 0), d->zero_map_bytes());
    }
    return layout.at;
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

std::string str(uint64_t v) { return std::to_string(v); }

}  // namespace

// The one table of messages: each status (code, index, detail) in the CPU parser's words,
// with what the packet's bytes add when they are at hand.
Error packet_error(const DeviceStatus& st, const uint8_t* data, size_t size) {
  const PacketBytes bytes(data, size);
  const std::string n = str(st.detail);
  const std::string pkt = "packet: ";
  const std::string seg = "segment " + str(st.segment) + ": ";
  const std::string shape = "shape of segment " + str(st.segment) + ": ";
  const std::string tab = "code table " + str(st.segment) + ": ";
  const std::string chunk = "segment " + str(st.segment) + ", chunk " + n + ": ";
  const auto corrupt = [](const std::string& m) { return Error(Errc::corrupt_packet, m); };
  // The faulty segment's descriptor, where the message names one of its other fields.
  const auto desc = [&] { return bytes.descriptor(st.segment); };
  switch (static_cast<Status>(st.code)) {
    case Status::ok: return Error(Errc::invalid_argument, "status_error: the status is ok");
    case Status::short_packet: return corrupt(pkt + n + " bytes is shorter than a header");
    case Status::bad_magic: return corrupt(pkt + "bad magic (not a co3 packet)");
    case Status::bad_version:
      return corrupt(pkt + "version " + n + " unsupported (this co3 reads 1 to 4)");
    case Status::bad_flags: {
      const std::optional<uint64_t> version = bytes.u16(4);
      return corrupt(pkt + "flags " + n + " invalid for " +
                     (version ? "version " + str(*version) : "the version"));
    }
    case Status::size_mismatch:
      return corrupt(
          pkt + "total_bytes " + n +
          (data ? " but " + str(bytes.size()) + " bytes given" : " differs from the buffer") +
          " (truncated or padded)");
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
    case Status::format_no_value: {
      const std::optional<Descriptor> d = desc();
      return corrupt(seg + "format" + (d ? " " + to_string(d->format()) : "") +
                     " has no nonzero finite value");
    }
    case Status::format_bias_low:
      return corrupt(seg + "format: bias " + std::to_string(static_cast<int64_t>(st.detail)) +
                     " puts the smallest subnormal below float32's 2^-149");
    case Status::format_bias_high:
      return corrupt(seg + "format: bias " + std::to_string(static_cast<int64_t>(st.detail)) +
                     " puts the largest value beyond float32's range");
    case Status::rounding_range: return corrupt(seg + "rounding " + n + " unknown");
    case Status::group_range: {
      const std::optional<Descriptor> d = desc();
      return corrupt(seg + "entries_per_symbol " + n + " invalid for " +
                     (d ? "width " + str(1 + d->exp_bits + d->man_bits) : "the width"));
    }
    case Status::code_source_range: return corrupt(seg + "code_source " + n + " unknown");
    case Status::descriptor_reserved: return corrupt(seg + "reserved bytes are not zero");
    case Status::table_presence:
      return corrupt(seg + "code_table must be 0xFFFF exactly when num_elements is 0");
    case Status::class_map_flag:
      return corrupt(seg + "class_map " + n +
                     " invalid (0, or 1 in a version-3 packet for a segment with entries)");
    case Status::shape_product: {
      const std::optional<Descriptor> d = desc();
      return corrupt(seg + "shape holds " + n + " elements, " +
                     (d ? "num_elements says " + str(d->numel) : "unlike num_elements"));
    }
    case Status::code_table_index: {
      const std::optional<uint64_t> tables = bytes.u32(16);
      return corrupt(seg + "code_table " + n + " but the packet has " +
                     (tables ? str(*tables) : "fewer tables"));
    }
    case Status::code_table_width:
      return corrupt(seg + "code table's symbol_bits does not match entries_per_symbol·width");
    case Status::data_offset: {
      const std::optional<uint64_t> layout = bytes.layout_data_offset(st.segment);
      return corrupt(seg + "data_offset " + n + " differs from the layout's" +
                     (layout ? " " + str(*layout) : ""));
    }
    case Status::payload_too_small: {
      const std::optional<Descriptor> d = desc();
      return corrupt(seg + "num_elements" + (d ? " " + str(d->numel) : "") +
                     " needs more payload than " + n + " words");
    }
    case Status::data_past_end: return corrupt(seg + "data runs past the end");
    case Status::chunk_size: {
      // The entry itself: its segment passed the walk, so its chunk table lies in the packet.
      const std::optional<Descriptor> d = desc();
      const std::optional<uint64_t> words =
          d && d->chunk_symbols >= 32 && st.detail < d->num_chunks()
              ? bytes.u16(d->data_offset + 2 * st.detail)
              : std::nullopt;
      return corrupt(seg + "chunk " + n + " size" + (words ? " " + str(*words) + " words" : "") +
                     " invalid");
    }
    case Status::chunk_sum: {
      const std::optional<Descriptor> d = desc();
      return corrupt(seg + "chunk table sums to " + n + " words, " +
                     (d ? "payload_words says " + str(d->payload_words) : "unlike payload_words"));
    }
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
      return Error(Errc::invalid_argument, "decode: packet " + str(st.segment) + " has " + n +
                                               " segments, a different number of outputs given");
    case Status::output_numel:
      return Error(Errc::invalid_argument, "decode: output " + str(st.segment) +
                                               " does not hold the segment's " + n + " elements");
    case Status::output_null:
      return Error(Errc::invalid_argument, "decode: output " + str(st.segment) + " is null");
    case Status::zero_block_range:
      return corrupt(seg + "zero_block " + n +
                     " invalid (0, or 1..6 in a version-4 packet for a segment with entries whose "
                     "chunk_symbols its blocks divide)");
    case Status::zero_map_padding:
      return corrupt(seg + "zero-block map bits past the last block or its padding are not zero");
    case Status::packet_capacity:
      return Error(Errc::invalid_argument, "decode: packet " + str(st.segment) + " declares " + n +
                                               " bytes, more than its buffer");
    case Status::non_finite:
      return Error(Errc::non_finite, non_finite_message(st.segment, st.detail));
    case Status::code_too_many_symbols:
      return Error(Errc::invalid_argument,
                   too_many_symbols_message(st.detail & 0xffffffffu,
                                            static_cast<int>(st.detail >> 32 & 0xff)));
    case Status::code_weights_too_large:
      return Error(Errc::invalid_argument, weights_too_large_message());
  }
  return corrupt("decode: unknown device status " + str(st.code));
}

}  // namespace co3::detail

namespace co3::kernels {

// The GPU decoder's statuses in the CPU parser's words (without the packet's bytes, which are
// in device memory).
Error status_error(const DeviceStatus& st) { return detail::packet_error(st, nullptr, 0); }

}  // namespace co3::kernels
