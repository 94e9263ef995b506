// The output of `co3 stats`: an aligned table for people, one JSON object for scripts.
#pragma once

#include <cstdio>

#include "co3/codec.h"

namespace co3::cli {

void print_stats_table(std::FILE* out, const TensorStats& s, const CodecConfig& config);

// Keys: n, mean, std, beta, alpha, scale, format, code, entropy_bits, bits_per_entry (an object
// keyed by code source), packet_bits_per_entry, nmse. Non-finite numbers are written as null.
void print_stats_json(std::FILE* out, const TensorStats& s, const CodecConfig& config);

}  // namespace co3::cli
