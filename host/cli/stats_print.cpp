#include "stats_print.h"

#include <cmath>
#include <string>

#include "io/json.h"

namespace co3::cli {
namespace {

using io::json_string;

constexpr CodeSource kSources[] = {CodeSource::histogram, CodeSource::gennorm, CodeSource::normal,
                                   CodeSource::laplace};

// Population standard deviation over the finite entries.
double std_dev(const Moments& m) {
  const double mean = m.mean();
  const double var = m.mean_sq() - mean * mean;
  return var > 0 ? std::sqrt(var) : 0.0;
}

// JSON has no NaN or Infinity; %.17g round-trips every finite double.
std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

void print_stats_table(std::FILE* out, const TensorStats& s, const CodecConfig& config) {
  const auto row = [out](const char* name, double v, const char* unit) {
    if (*unit) std::fprintf(out, "%-18s %-13.6g %s\n", name, v, unit);
    else std::fprintf(out, "%-18s %.6g\n", name, v);
  };
  std::fprintf(out, "%-18s %llu\n", "n", static_cast<unsigned long long>(s.n));
  row("mean", s.moments.mean(), "");
  row("std", std_dev(s.moments), "");
  row("beta", s.beta, "GenNorm shape");
  row("alpha", s.alpha, "GenNorm scale");
  row("scale", s.scale, "");
  std::fprintf(out, "%-18s %s\n", "format", to_string(config.format).c_str());
  row("entropy", s.entropy_bits, "bits/entry");
  for (CodeSource c : kSources) {
    const std::string name = std::string(to_string(c)) + " code";
    row(name.c_str(), s.bits_per_entry[static_cast<int>(c)], "bits/entry (payload)");
  }
  const std::string packet_unit = std::string("bits/entry (") + to_string(config.code) + " code)";
  row("packet", s.packet_bits_per_entry, packet_unit.c_str());
  if (config.scale.policy == ScalePolicy::rate) row("target", s.target_bits_per_entry, "bits/entry (rate scale)");
  row("nmse", s.nmse, "");
}

void print_stats_json(std::FILE* out, const TensorStats& s, const CodecConfig& config) {
  std::string bits = "{";
  for (CodeSource c : kSources) {
    if (bits.size() > 1) bits += ", ";
    bits += json_string(to_string(c)) + ": " +
            json_number(s.bits_per_entry[static_cast<int>(c)]);
  }
  bits += "}";
  std::fprintf(out,
               "{\"n\": %llu, \"mean\": %s, \"std\": %s, \"beta\": %s, \"alpha\": %s, "
               "\"scale\": %s, \"format\": %s, \"code\": %s, \"entropy_bits\": %s, "
               "\"bits_per_entry\": %s, \"packet_bits_per_entry\": %s, \"nmse\": %s}\n",
               static_cast<unsigned long long>(s.n), json_number(s.moments.mean()).c_str(),
               json_number(std_dev(s.moments)).c_str(), json_number(s.beta).c_str(),
               json_number(s.alpha).c_str(), json_number(s.scale).c_str(),
               json_string(to_string(config.format)).c_str(),
               json_string(to_string(config.code)).c_str(), json_number(s.entropy_bits).c_str(),
               bits.c_str(), json_number(s.packet_bits_per_entry).c_str(),
               json_number(s.nmse).c_str());
}

}  // namespace co3::cli
