// Command-line parsing for the co3 tool, by hand: "--name VALUE", "--name=VALUE", flags, "--"
// ending the options, and strict integers. Every mistake throws co3::Error(invalid_argument).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace co3::cli {

struct OptionSpec {
  const char* name;  // without the leading "--"
  bool takes_value;
};

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // the last value given; "" for a flag
  bool help = false;                           // --help or -h

  bool has(const std::string& name) const { return options.count(name) != 0; }
  const std::string* value(const std::string& name) const;
};

// `command` names the subcommand in messages.
Args parse_args(const std::string& command, const std::vector<std::string>& argv,
                const std::vector<OptionSpec>& specs);

// Decimal digits only (no sign, no spaces), at most `max`; `option` names the field in messages.
uint64_t parse_uint(const std::string& option, const std::string& s, uint64_t max);

}  // namespace co3::cli
