#include "co3/config.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <vector>

#include "co3/error.h"
#include "co3/gennorm_rate.h"
#include "co3/huffman.h"

namespace co3 {
namespace {

std::string str(int v) { return std::to_string(v); }

long parse_long(const std::string& field, const std::string& s) {
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  check(!s.empty() && end && *end == '\0' && errno == 0, Errc::invalid_argument,
        [&] { return "format: " + field + " '" + s + "' is not an integer"; });
  return v;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(item);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

}  // namespace

void validate(const FloatFormat& f) {
  check(f.exp_bits >= 1 && f.exp_bits <= 8, Errc::invalid_argument,
        [&] { return "format: exponent bits " + str(f.exp_bits) + " outside 1..8"; });
  check(f.man_bits <= 10, Errc::invalid_argument,
        [&] { return "format: mantissa bits " + str(f.man_bits) + " outside 0..10"; });
  check(f.width() <= 16, Errc::invalid_argument,
        [&] { return "format: 1 + E + M = " + str(f.width()) + " exceeds 16 bits"; });
  check(f.layout == Layout::ieee || f.layout == Layout::finite || f.layout == Layout::fn,
        Errc::invalid_argument,
        [&] { return "format: unknown layout " + str(static_cast<int>(f.layout)); });
  check(f.max_code() >= 1, Errc::invalid_argument,
        [&] { return "format " + to_string(f) + " has no nonzero finite value"; });
  // Every finite value must be exactly a float32 (FORMAT.md §5's range rule).
  check(f.emin() - f.man_bits >= -149, Errc::invalid_argument, [&] {
    return "format: bias " + str(f.bias) + " puts the smallest subnormal below float32's 2^-149";
  });
  const uint32_t top = f.max_code() >> f.man_bits;
  const int top_exp = (top == 0 ? f.emin() - 1 : static_cast<int>(top) - 1 + f.emin());
  check(top_exp <= 127, Errc::invalid_argument, [&] {
    return "format: bias " + str(f.bias) + " puts the largest value beyond float32's range";
  });
}

int resolved_entries_per_symbol(const CodecConfig& c) {
  if (c.entries_per_symbol != 0) return c.entries_per_symbol;
  return c.format.width() <= 4 ? 2 : 1;
}

int resolved_max_code_length(const CodecConfig& c) {
  if (c.max_code_length != 0) return c.max_code_length;
  const int symbol_bits = resolved_entries_per_symbol(c) * c.format.width();
  return symbol_bits <= 12 ? 12 : 20;
}

void validate(const CodecConfig& c) {
  validate(c.format);
  check(c.rounding == Rounding::nearest_even || c.rounding == Rounding::nearest_down ||
            c.rounding == Rounding::stochastic,
        Errc::invalid_argument,
        [&] { return "rounding: unknown mode " + str(static_cast<int>(c.rounding)); });
  check(static_cast<int>(c.scale.policy) <= 4, Errc::invalid_argument,
        [&] { return "scale: unknown policy " + str(static_cast<int>(c.scale.policy)); });
  if (c.scale.policy == ScalePolicy::value)
    check(std::isfinite(c.scale.value) && c.scale.value >= std::numeric_limits<float>::min(),
          Errc::invalid_argument, [&] {
            return "scale: value " + std::to_string(c.scale.value) +
                   " is not a finite normal number > 0";
          });
  if (c.scale.policy == ScalePolicy::rate) {
    check(std::isfinite(c.scale.bits_per_entry) && c.scale.bits_per_entry > 0,
          Errc::invalid_argument, [&] {
            return "scale: rate of " + std::to_string(c.scale.bits_per_entry) +
                   " bits per entry is not a finite number > 0";
          });
    check(c.format.width() <= kRateMaxWidth, Errc::invalid_argument, [&] {
      return "scale: the rate policy needs a format of at most " + str(kRateMaxWidth) +
             " bits; " + to_string(c.format) + " has " + str(c.format.width());
    });
  }
  check(static_cast<int>(c.code) <= 3, Errc::invalid_argument,
        [&] { return "code: unknown source " + str(static_cast<int>(c.code)); });
  check(c.chunk_symbols >= 32 && c.chunk_symbols <= 65536, Errc::invalid_argument,
        [&] { return "chunk: " + std::to_string(c.chunk_symbols) + " symbols outside 32..65536"; });
  const int g = resolved_entries_per_symbol(c);
  check(g >= 1 && g <= 4 && g * c.format.width() <= 16, Errc::invalid_argument, [&] {
    return "entries per symbol " + str(g) + " with a " + str(c.format.width()) +
           "-bit format exceeds the 16-bit symbol limit (or is outside 1..4)";
  });
  const int L = resolved_max_code_length(c);
  check(L >= 1 && L <= kMaxCodeLength, Errc::invalid_argument,
        [&] { return "max code length " + str(L) + " outside 1..24"; });
  // A model code gives every symbol a codeword, which needs 2^L >= alphabet size.
  check(c.code == CodeSource::histogram || L >= g * c.format.width(), Errc::invalid_argument, [&] {
    return "max code length " + str(L) + " cannot give all 2^" + str(g * c.format.width()) +
           " symbols a code (model codes need at least the symbol width)";
  });
  check(c.non_finite == NonFinitePolicy::error || c.non_finite == NonFinitePolicy::clamp ||
            c.non_finite == NonFinitePolicy::propagate,
        Errc::invalid_argument, "non-finite: unknown policy");
  check(c.zero_block == 0 || (c.zero_block >= 2 && c.zero_block <= 64 &&
                               (c.zero_block & (c.zero_block - 1)) == 0 &&
                               c.chunk_symbols % static_cast<uint32_t>(c.zero_block) == 0),
        Errc::invalid_argument, [&] {
          return "zero block: " + str(c.zero_block) +
                 " symbols is not 0 or a power of two 2..64 dividing chunk_symbols (" +
                 std::to_string(c.chunk_symbols) + ")";
        });
  check(c.threads >= 0, Errc::invalid_argument,
        [&] { return "threads: " + str(c.threads) + " is negative"; });
}

const char* to_string(Layout l) {
  switch (l) {
    case Layout::ieee: return "ieee";
    case Layout::finite: return "finite";
    case Layout::fn: return "fn";
  }
  return "?";
}
const char* to_string(Rounding r) {
  switch (r) {
    case Rounding::nearest_even: return "nearest";
    case Rounding::nearest_down: return "nearest-down";
    case Rounding::stochastic: return "stochastic";
  }
  return "?";
}
const char* to_string(ScalePolicy p) {
  switch (p) {
    case ScalePolicy::none: return "none";
    case ScalePolicy::absmax: return "absmax";
    case ScalePolicy::gennorm: return "gennorm";
    case ScalePolicy::value: return "value";
    case ScalePolicy::rate: return "rate";
  }
  return "?";
}
const char* to_string(CodeSource c) {
  switch (c) {
    case CodeSource::histogram: return "histogram";
    case CodeSource::gennorm: return "gennorm";
    case CodeSource::normal: return "normal";
    case CodeSource::laplace: return "laplace";
  }
  return "?";
}
const char* to_string(DType d) {
  switch (d) {
    case DType::f32: return "float32";
    case DType::f16: return "float16";
    case DType::bf16: return "bfloat16";
  }
  return "?";
}
std::string to_string(const FloatFormat& f) {
  return "E" + str(f.exp_bits) + "M" + str(f.man_bits) + " bias " + str(f.bias) + " " +
         to_string(f.layout);
}

FloatFormat parse_format(const std::string& s) {
  if (s == "fp4") return formats::fp4;
  if (s == "e5m2") return formats::e5m2;
  if (s == "e4m3") return formats::e4m3;
  if (s == "fp16") return formats::fp16;
  if (s == "bf16") return formats::bf16;
  const auto parts = split(s, ',');
  check(parts.size() >= 2 && parts.size() <= 4, Errc::invalid_argument, [&] {
    return "format '" + s + "': expected fp4|e5m2|e4m3|fp16|bf16 or E,M[,bias[,ieee|finite|fn]]";
  });
  const long e = parse_long("exponent bits", parts[0]);
  const long m = parse_long("mantissa bits", parts[1]);
  check(e >= 1 && e <= 8, Errc::invalid_argument,
        [&] { return "format '" + s + "': exponent bits outside 1..8"; });
  check(m >= 0 && m <= 10, Errc::invalid_argument,
        [&] { return "format '" + s + "': mantissa bits outside 0..10"; });
  FloatFormat f;
  f.exp_bits = static_cast<uint8_t>(e);
  f.man_bits = static_cast<uint8_t>(m);
  f.bias = static_cast<int16_t>((1 << (e - 1)) - 1);  // the IEEE bias by default
  f.layout = Layout::ieee;
  if (parts.size() >= 3) {
    const long b = parse_long("bias", parts[2]);
    check(b >= -32768 && b <= 32767, Errc::invalid_argument,
          [&] { return "format '" + s + "': bias out of range"; });
    f.bias = static_cast<int16_t>(b);
  }
  if (parts.size() == 4) {
    if (parts[3] == "ieee") f.layout = Layout::ieee;
    else if (parts[3] == "finite") f.layout = Layout::finite;
    else if (parts[3] == "fn") f.layout = Layout::fn;
    else fail(Errc::invalid_argument, "format '" + s + "': layout must be ieee, finite or fn");
  }
  validate(f);
  return f;
}

Rounding parse_rounding(const std::string& s) {
  if (s == "nearest" || s == "nearest-even") return Rounding::nearest_even;
  if (s == "nearest-down") return Rounding::nearest_down;
  if (s == "stochastic") return Rounding::stochastic;
  fail(Errc::invalid_argument, "rounding '" + s + "': expected nearest, nearest-down or stochastic");
}

Scale parse_scale(const std::string& s) {
  if (s == "none") return {ScalePolicy::none, 1.0f};
  if (s == "absmax") return {ScalePolicy::absmax, 1.0f};
  if (s == "gennorm") return {ScalePolicy::gennorm, 1.0f};
  if (s.rfind("rate:", 0) == 0) {
    const std::string b = s.substr(5);
    errno = 0;
    char* end = nullptr;
    const float v = std::strtof(b.c_str(), &end);
    check(!b.empty() && end && *end == '\0' && errno == 0 && std::isfinite(v) && v > 0,
          Errc::invalid_argument,
          [&] { return "scale '" + s + "': expected rate:BITS with BITS a finite number > 0 (bits per entry)"; });
    return {ScalePolicy::rate, 1.0f, v};
  }
  errno = 0;
  char* end = nullptr;
  const float v = std::strtof(s.c_str(), &end);
  check(!s.empty() && end && *end == '\0' && errno == 0 && std::isfinite(v) &&
            v >= std::numeric_limits<float>::min(),
        Errc::invalid_argument,
        [&] { return "scale '" + s + "': expected none, absmax, gennorm, rate:BITS or a finite number > 0"; });
  return {ScalePolicy::value, v};
}

CodeSource parse_code_source(const std::string& s) {
  if (s == "histogram") return CodeSource::histogram;
  if (s == "gennorm") return CodeSource::gennorm;
  if (s == "normal") return CodeSource::normal;
  if (s == "laplace") return CodeSource::laplace;
  fail(Errc::invalid_argument, "code '" + s + "': expected histogram, gennorm, normal or laplace");
}

const char* to_string(NonFinitePolicy p) {
  switch (p) {
    case NonFinitePolicy::error: return "error";
    case NonFinitePolicy::clamp: return "clamp";
    case NonFinitePolicy::propagate: return "propagate";
  }
  return "?";
}

NonFinitePolicy parse_non_finite(const std::string& s) {
  for (NonFinitePolicy p :
       {NonFinitePolicy::error, NonFinitePolicy::clamp, NonFinitePolicy::propagate})
    if (s == to_string(p)) return p;
  fail(Errc::invalid_argument, "non-finite '" + s + "': expected error, clamp or propagate");
}

}  // namespace co3
