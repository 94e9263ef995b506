// The largest packet a set of tensors can make (FORMAT.md's layout at its worst): what a caller
// allocates before encoding, on the CPU or the GPU, without knowing the packet's size. The GPU
// encoder's plan sizes its packet with this same function, so that one bound serves both.
#include "co3/codec.h"
#include "co3/detail/encode_code.h"
#include "co3/detail/encode_layout.h"
#include "co3/detail/packet_layout.h"
#include "co3/detail/zero_blocks.h"

namespace co3 {

uint64_t max_packet_bytes(const std::vector<EncodeInput>& inputs, const CodecConfig& config) {
  using namespace detail;
  const PacketCoding pc = packet_coding(config);
  const uint64_t C = pc.chunk_symbols;
  const uint64_t L = static_cast<uint64_t>(pc.max_code_length);
  bool with_shapes = false;
  for (const EncodeInput& in : inputs) with_shapes = with_shapes || in.shape.has_value();
  uint64_t header = kHeaderBytes + kDescriptorBytes * inputs.size();
  uint64_t data = 0, non_empty = 0;
  for (const EncodeInput& in : inputs) {
    const uint64_t numel = in.grad.numel;
    non_empty += numel != 0;
    // A tensor without a shape of its own is recorded as 1-D when another one has a shape.
    if (with_shapes) header += shape_record_bytes(in.shape ? in.shape->size() : 1);
    // Every chunk's words at the length limit: full chunks, then the last one; under
    // 'propagate' any segment may need a class map (FORMAT.md §6a).
    const uint64_t symbols = pc.num_symbols(numel), full = symbols / C, rest = symbols % C;
    // A zero-block map (§6b) is counted as if every block were coded as well.
    data += segment_data_bytes(pc.num_chunks(numel), full * ((C * L + 31) / 32) + (rest * L + 31) / 32,
                               class_map_bytes(numel, pc.propagate && numel),
                               zero_map_bytes(pc, numel, pc.zero_block_log2));
  }
  const uint64_t tables = config.shared_code ? (non_empty ? 1 : 0) : non_empty;
  return header + tables * table_bytes(code_table_body_bound(1u << pc.symbol_bits())) + data +
         kCrcBytes;
}

}  // namespace co3
