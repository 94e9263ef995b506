// The small value types that configure co3: what a tensor is, how it is quantized and coded.
#pragma once

#include <cstdint>
#include <string>

#include "co3/float_format.h"

namespace co3 {

enum class DType : uint8_t { f32 = 0, f16 = 1, bf16 = 2 };

enum class ScalePolicy : uint8_t {
  none = 0,     // scale 1
  absmax = 1,   // the largest finite |u| maps to the format's largest finite value
  gennorm = 2,  // the scale minimising the expected MSE of the fitted GenNorm(β, α)
  value = 3,    // a given number
  // The GenNorm fit's scale that meets Scale::bits_per_entry for the whole packet (gennorm_rate.h,
  // detail/rate_target.h); never beyond the gennorm policy's scale. Formats of at most 8 bits.
  rate = 4,
};

struct Scale {
  ScalePolicy policy = ScalePolicy::gennorm;
  float value = 1.0f;  // used by ScalePolicy::value
  float bits_per_entry = 0.0f;  // used by ScalePolicy::rate: packet bits per entry, finite > 0
};

enum class CodeSource : uint8_t { histogram = 0, gennorm = 1, normal = 2, laplace = 3 };

enum class NonFinitePolicy : uint8_t {
  error = 0,  // refuse a gradient holding NaN or Inf
  clamp = 1,  // NaN -> 0, ±Inf -> ± the largest finite value; their error memory is zeroed
  // Code the tensor and record where it held +Inf, -Inf or NaN (a version-3 packet, FORMAT.md
  // §6a): those entries decode to the same non-finite values (NaN as a quiet NaN), so that a
  // sum of decoded gradients is non-finite wherever any was, as with a plain all-reduce, and a
  // loss scaler skips the step. The error memory of such a tensor is left as it was.
  propagate = 2,
};

struct CodecConfig {
  FloatFormat format = formats::e5m2;
  Rounding rounding = Rounding::nearest_even;
  uint64_t seed = 0;  // stochastic rounding key
  Scale scale{};
  CodeSource code = CodeSource::histogram;
  uint32_t chunk_symbols = 4096;  // 32 … 65536
  int max_code_length = 0;        // 0: automatic (12 for alphabets up to 4096 symbols, else 20)
  int entries_per_symbol = 0;     // 0: automatic (2 for formats of 4 bits or fewer, else 1)
  NonFinitePolicy non_finite = NonFinitePolicy::error;
  // One code table for every tensor of a packet instead of one each: saves the table bytes
  // (up to ~170 B per tensor for 8-bit symbols) that dominate for many small tensors.
  bool shared_code = false;
  // Zero-block maps (FORMAT.md §6b, a version-4 packet): symbols a block, a power of two 2 … 64
  // dividing chunk_symbols, or 0 for none. A segment then codes only the blocks that hold a
  // nonzero symbol, one map bit a block, when that saves bits (more symbols left out than the
  // map has bits): below about one bit a symbol, where Huffman's one-bit floor of the zero symbol
  // would otherwise set the rate. Both encoders write it (the GPU's the CPU's bytes); every
  // decoder reads it.
  int zero_block = 0;
  int threads = 0;  // CPU worker threads; 0: hardware concurrency
};

// log2 of a valid CodecConfig::zero_block (0 for 0).
inline int zero_block_log2(int zero_block) {
  int b = 0;
  while (zero_block > 1) {
    zero_block >>= 1;
    ++b;
  }
  return b;
}

// Validation and the automatic choices, in one place.
void validate(const FloatFormat& f);  // throws Error(invalid_argument) naming the field
void validate(const CodecConfig& c);
int resolved_entries_per_symbol(const CodecConfig& c);
int resolved_max_code_length(const CodecConfig& c);

const char* to_string(Layout);
const char* to_string(Rounding);
const char* to_string(ScalePolicy);
const char* to_string(CodeSource);
const char* to_string(DType);
const char* to_string(NonFinitePolicy);
std::string to_string(const FloatFormat&);

// Parsers for the CLI and the Python keywords; they throw Error(invalid_argument).
FloatFormat parse_format(const std::string& s);  // fp4|e5m2|e4m3|fp16|bf16|E,M[,bias[,layout]]
Rounding parse_rounding(const std::string& s);   // nearest|nearest-down|stochastic
Scale parse_scale(const std::string& s);         // none|absmax|gennorm|rate:BITS|VALUE
CodeSource parse_code_source(const std::string& s);
NonFinitePolicy parse_non_finite(const std::string& s);  // error|clamp|propagate

inline size_t dtype_size(DType d) { return d == DType::f32 ? 4 : 2; }

}  // namespace co3
