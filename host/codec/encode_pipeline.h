// The encoder's stages, shared by encode() and stats(). Internal to host/.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "co3/codec.h"
#include "co3/detail/encode_layout.h"
#include "scratch.h"

namespace co3::detail {

// A segment's symbols, uninitialized (the conversion writes every one), in pooled scratch memory
// (scratch.h). One byte a symbol where the alphabet has at most 256 symbols and g ≤ 2 (fp4 and
// its pairs, e4m3, e5m2), two bytes otherwise: the 8-bit formats' symbols were half of the
// encoder's memory traffic at 16 bits (issue 25).
class SymbolBuffer {
 public:
  void resize(uint64_t n, bool bytes) {
    n_ = n;
    bytes_ = bytes;
    mem_ = Scratch(static_cast<size_t>(n) * (bytes ? 1 : 2));
  }
  uint64_t size() const { return n_; }
  bool bytes() const { return bytes_; }
  template <class Sym>
  Sym* data() const {
    return reinterpret_cast<Sym*>(mem_.data());
  }
  // fn(const Sym*) with the buffer's symbol type.
  template <class Fn>
  decltype(auto) visit(Fn&& fn) const {
    return bytes_ ? fn(static_cast<const uint8_t*>(data<uint8_t>())) : fn(static_cast<const uint16_t*>(data<uint16_t>()));
  }

 private:
  Scratch mem_;
  uint64_t n_ = 0;
  bool bytes_ = false;
};

// Whether a segment's symbols take one byte (SymbolBuffer).
inline bool byte_symbols(int entries_per_symbol, int width) {
  return entries_per_symbol <= 2 && entries_per_symbol * width <= 8;
}

// A segment after the first passes: its symbols and the statistics that choose its code.
struct Quantized {
  uint64_t numel = 0;
  int width = 0;               // bits per entry code
  int entries_per_symbol = 1;  // g
  SymbolBuffer symbols;
  std::vector<uint64_t> symbol_hist;  // 2^(g·width) bins
  std::vector<uint64_t> entry_hist;   // 2^width bins
  Moments moments;
  double beta = 0, alpha = 0;
  float scale = 1;
  double err_sq = 0, ref_sq = 0;  // Σ(u − q)², Σ u² over finite entries
  bool class_map = false;           // FORMAT.md §6a: the 'propagate' policy met NaN/Inf
  std::vector<uint32_t> map_words;  // the map, when class_map
  // FORMAT.md §6b, when the segment takes a zero-block map (zero_block = b ≥ 1): the map
  // (padded to 8 bytes), the coded symbols alone, in order, and where each chunk's start
  // among them (chunks + 1 offsets). symbol_hist then counts the coded symbols only.
  uint8_t zero_block = 0;
  std::vector<uint8_t> zero_map;
  SymbolBuffer coded;
  std::vector<uint64_t> chunk_starts;
};

// FORMAT.md §6b: gives q a zero-block map of blocks of 2^b symbols when it saves bits (more
// symbols in blocks of zeros than the map has bits), its coded symbols and its histogram
// without the symbols left out; otherwise leaves q as it is.
void apply_zero_blocks(Quantized& q, int b, uint32_t chunk_symbols, int threads);

// Error feedback, moments, fit, scale: everything up to the conversion. Throws on NaN/Inf
// under the 'error' policy; writes nothing, so an encoder can check every segment before it
// changes any error memory. `segment` only names the tensor in error messages. rate_payload is
// the rate policy's payload bits per entry (rate_target.h's rate_payload_bits for the packet).
// pc is cfg resolved once (packet_coding): the stages read g and the class-map policy from it.
Quantized segment_stats(const EncodeInput& in, const CodecConfig& cfg, const PacketCoding& pc,
                        size_t segment, int threads, double rate_payload);
// Conversion, symbols, histograms (and the class map) of a segment after segment_stats; writes
// the error memory unless the segment has a class map. err_sq and ref_sq (a report's NMSE) are
// summed only when `sums` is set.
void quantize_symbols(const EncodeInput& in, const CodecConfig& cfg, const PacketCoding& pc,
                      Quantized& q, int threads, bool sums);
// Both, for one segment (a packet of its own under the rate policy).
Quantized quantize(const EncodeInput& in, const CodecConfig& cfg, const PacketCoding& pc,
                   size_t segment, int threads, bool sums);

// The GenNorm (β, α) behind a model code source, in unscaled units.
void model_parameters(const Quantized& q, CodeSource src, double* beta, double* alpha);

// Code lengths of every symbol for a code source (histogram or a model) under the packet's
// resolved coding: for one segment, or one code shared by several (their summed histograms, or
// the entry-weighted mixture of models).
std::vector<uint8_t> code_lengths_for(const Quantized& q, CodeSource src, const PacketCoding& pc);
std::vector<uint8_t> code_lengths_for(const std::vector<const Quantized*>& qs, CodeSource src,
                                      const PacketCoding& pc);

// 32-bit words each chunk takes under `lengths`.
std::vector<uint16_t> chunk_words(const SymbolBuffer& symbols, const uint8_t* lengths,
                                  uint32_t chunk_symbols, int threads);

// A segment's payload packed before the packet is laid out (so its size is known without a
// pass that only counts bits): the words of each chunk, and the chunks' words in order, in
// pieces of contiguous chunks (one per worker).
struct PackedChunks {
  std::vector<uint16_t> words;
  uint64_t payload_words = 0;
  struct Part {
    Scratch bytes;  // uninitialized on purpose: see pack_segment
    size_t size;
  };
  std::vector<Part> parts;
};
PackedChunks pack_segment(const SymbolBuffer& symbols, const std::vector<uint8_t>& lengths,
                          uint32_t chunk_symbols, int threads);
// The same for a segment with a zero-block map: chunk k packs q.coded[chunk_starts[k] …
// chunk_starts[k + 1]).
PackedChunks pack_segment(const Quantized& q, const std::vector<uint8_t>& lengths,
                          uint32_t chunk_symbols, int threads);
void write_payload(const PackedChunks& p, uint8_t* payload, int threads);  // the parts, one after another

double entropy_bits(const std::vector<uint64_t>& hist);  // bits per counted item

}  // namespace co3::detail
