#include "co3/codec.h"
#include "co3/huffman.h"
#include "co3/detail/encode_code.h"
#include "co3/detail/encode_layout.h"
#include "encode_pipeline.h"
#include "packet.h"
#include "thread_pool.h"

namespace co3 {

TensorStats stats(const TensorView& tensor, const CodecConfig& cfg) {
  using namespace detail;
  validate(cfg);
  const PacketCoding pc = packet_coding(cfg);  // resolved once, as encode() does
  const int threads = resolve_threads(cfg.threads);
  EncodeInput in;
  in.grad = tensor;
  Quantized q = quantize(in, cfg, pc, 0, threads, true);
  apply_zero_blocks(q, pc.zero_block_log2, pc.chunk_symbols, threads);
  TensorStats s;
  s.n = q.numel;
  s.moments = q.moments;
  s.beta = q.beta;
  s.alpha = q.alpha;
  s.scale = q.scale;
  s.entropy_bits = entropy_bits(q.entry_hist);
  s.nmse = q.ref_sq > 0 ? q.err_sq / q.ref_sq : 0.0;
  // The packet as encode() would lay it out, sized without writing it.
  uint64_t packet = kHeaderBytes + kDescriptorBytes + 4;
  if (q.numel) {
    for (int src = 0; src < 4; ++src) {
      const std::vector<uint8_t> lengths = code_lengths_for(q, static_cast<CodeSource>(src), pc);
      // With a zero-block map (FORMAT.md §6b) the chunks hold the coded symbols only.
      const std::vector<uint16_t> words =
          q.zero_block ? pack_segment(q, lengths, pc.chunk_symbols, threads).words
                       : chunk_words(q.symbols, lengths.data(), pc.chunk_symbols, threads);
      uint64_t total = 0;
      for (uint16_t w : words) total += w;
      const uint64_t data_bytes = segment_data_bytes(words.size(), total, 0, q.zero_map.size());
      s.bits_per_entry[src] = 8.0 * static_cast<double>(data_bytes) / static_cast<double>(q.numel);
      if (src == static_cast<int>(pc.code)) {
        packet += table_bytes(code_table_body_bytes(lengths.data(),
                                                    static_cast<uint32_t>(lengths.size()))) +
                  data_bytes;
      }
    }
  }
  s.target_bits_per_entry = cfg.scale.policy == ScalePolicy::rate ? cfg.scale.bits_per_entry : 0.0;
  s.packet_bits_per_entry = q.numel ? 8.0 * static_cast<double>(packet) / static_cast<double>(q.numel) : 0.0;
  return s;
}

}  // namespace co3
