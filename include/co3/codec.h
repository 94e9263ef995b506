// The CPU reference codec: gradients in, docs/FORMAT.md packets out, and back.
//
// Everything here runs on the host with worker threads; the GPU kernels (kernels/) produce the
// same bytes. Errors are co3::Error (error.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "co3/config.h"
#include "co3/moments.h"

namespace co3 {

struct GenNormFit;

// A GenNorm shape β > 0 and scale α ≥ 0 (unscaled units), as the encoder uses them.
struct GenNormParams {
  double beta = 0, alpha = 0;
};

// A read-only view of a contiguous tensor.
struct TensorView {
  const void* data = nullptr;
  uint64_t numel = 0;
  DType dtype = DType::f32;
};

// One tensor to encode, with optional error feedback: u = g + gamma·e is quantized and
// e <- u - Q(u) is written back into `memory` (numel float32 values, updated in place).
struct EncodeInput {
  EncodeInput() = default;
  EncodeInput(TensorView g, float* m = nullptr, float decay = 0.0f) : grad(g), memory(m), gamma(decay) {}

  TensorView grad;
  float* memory = nullptr;
  float gamma = 0.0f;
  // The tensor's shape, stored in the packet (a version-2 packet, FORMAT.md §3a) so that a
  // decoder can restore it; its product must equal grad.numel. Absent: no shape is stored.
  std::optional<std::vector<int64_t>> shape;
  // The GenNorm (β, α) behind the scale and the model codes, when the caller keeps them across
  // steps (a compressor's refit policy); absent: fitted to this tensor's moments.
  std::optional<GenNormParams> fit;
};

// What the encoder measured for one segment.
struct SegmentReport {
  Moments moments;       // of u (after error feedback)
  double beta = 0;       // fitted GenNorm shape
  double alpha = 0;      // fitted GenNorm scale (unscaled units)
  float scale = 1;       // the scale written into the packet
  double entropy_bits = 0;       // empirical entropy of the entry codes, bits per entry
  double symbol_entropy_bits = 0;  // empirical entropy of the coded symbols, per entry
  uint64_t payload_bits = 0;     // chunk table + payload, in bits
  uint64_t table_bits = 0;       // its code table (0 when shared with an earlier segment)
  double nmse = 0;               // Σ(u − q)² / Σ u² over finite entries
};

struct EncodeReport {
  std::vector<SegmentReport> segments;
  uint64_t packet_bytes = 0;
  double bits_per_entry = 0;         // the packet's bits per entry achieved (8·bytes / entries)
  double target_bits_per_entry = 0;  // the rate policy's target beside it; 0 under the others
};

std::vector<uint8_t> encode(const std::vector<EncodeInput>& inputs, const CodecConfig& config,
                            EncodeReport* report = nullptr);
std::vector<uint8_t> encode(const TensorView& tensor, const CodecConfig& config,
                            EncodeReport* report = nullptr);

// The moments of u = g + γ·e over the finite entries of the inputs taken as one tensor (their
// concatenation, in order), the bits encode() computes for a tensor of those entries before its
// GenNorm fit (the same tiles and fold): for one fit shared by the packets of several pieces of
// one tensor (EncodeInput::fit), e.g. the shards of a bucket, equal to the whole tensor's.
Moments moments(const std::vector<EncodeInput>& inputs, int threads = 0);

// The CPU encoder keeps its large scratch buffers (the symbols and packed payload of a tensor
// above about a million entries) between calls, so that a training loop's next encode does not
// page in fresh memory (issue 25); it keeps at most CO3_SCRATCH_MB MiB (default 1024, 0: none).
// release_scratch() frees what it keeps now; the next large encode allocates again.
void release_scratch();

// encode() into caller memory (no allocation for the packet: a training loop reuses one buffer,
// sized by max_packet_bytes below); returns the packet's size. A buffer smaller than the packet
// is refused (Errc::invalid_argument) with every error memory left as it was.
uint64_t encode_into(const std::vector<EncodeInput>& inputs, const CodecConfig& config,
                     uint8_t* out, uint64_t capacity, EncodeReport* report = nullptr);

// The largest packet encode() can make of these inputs under `config`, from their sizes, shapes
// and the configuration alone (no data is read): a buffer this long always holds the packet, on
// the CPU and on the GPU (whose encoder sizes its packet by this bound).
uint64_t max_packet_bytes(const std::vector<EncodeInput>& inputs, const CodecConfig& config);

// A code fixed before the data is seen (a training loop's prior code: the tables of an earlier
// packet, typically a model code of a kept fit): the encoder uses these code lengths instead of
// building a code from each tensor, which skips the code construction (and, on the GPU, the
// histograms). One table when config.shared_code, else one per non-empty tensor, in order; each
// has 2^(g·w) lengths, every one in 1 … the config's max code length (a prior code must code any
// data) with Kraft sum ≤ 1. The descriptors record config.code as the code source. With the
// lengths encode() would build, the packet is the one encode() gives.
struct PriorCode {
  std::vector<std::vector<uint8_t>> tables;
};
std::vector<uint8_t> encode(const std::vector<EncodeInput>& inputs, const CodecConfig& config,
                            const PriorCode& prior, EncodeReport* report = nullptr);

// The code tables of a packet (validated as inspect() validates it), as a PriorCode.
PriorCode prior_code(const uint8_t* packet, size_t size);

// A packet's segments as their descriptors state them (after full validation of the header,
// tables and layout; the payload is checked when decoded).
struct SegmentInfo {
  uint64_t numel = 0;
  DType dtype = DType::f32;
  FloatFormat format{};
  Rounding rounding = Rounding::nearest_even;
  CodeSource code = CodeSource::histogram;
  int entries_per_symbol = 1;
  float scale = 1, beta = 0, alpha = 0;
  uint32_t chunk_symbols = 0;
  uint64_t payload_words = 0;
  uint32_t code_table = 0xFFFF;
  std::optional<std::vector<int64_t>> shape;  // version-2 packets (FORMAT.md §3a)
};

struct PacketInfo {
  uint64_t total_bytes = 0;
  uint32_t num_tables = 0;
  std::vector<SegmentInfo> segments;
};

PacketInfo inspect(const uint8_t* data, size_t size);

// Decodes every segment into caller memory: outputs[i] holds segments[i].numel values of
// segments[i].dtype (as inspect() reports) unless `as_f32` asks for float32 everywhere.
void decode_into(const uint8_t* data, size_t size, const std::vector<void*>& outputs,
                 bool as_f32 = false, int threads = 0);

struct DecodedTensor {
  DType dtype = DType::f32;
  uint64_t numel = 0;
  std::vector<uint8_t> bytes;  // numel values of dtype
  std::optional<std::vector<int64_t>> shape;  // as stored in the packet, if it was
};
std::vector<DecodedTensor> decode(const uint8_t* data, size_t size, bool as_f32 = false,
                                  int threads = 0);

// The quantity `co3 stats` reports for one tensor under one configuration.
struct TensorStats {
  uint64_t n = 0;
  Moments moments;
  double beta = 0, alpha = 0;
  float scale = 1;
  double entropy_bits = 0;             // per entry, of the quantized codes
  double bits_per_entry[4] = {};       // payload (chunk tables + bits) per code source
  double packet_bits_per_entry = 0;    // whole packet with config.code
  double target_bits_per_entry = 0;    // the rate policy's target; 0 under the others
  double nmse = 0;
};
TensorStats stats(const TensorView& tensor, const CodecConfig& config);

}  // namespace co3
