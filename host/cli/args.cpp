#include "args.h"

#include "co3/error.h"

namespace co3::cli {

const std::string* Args::value(const std::string& name) const {
  const auto it = options.find(name);
  return it == options.end() ? nullptr : &it->second;
}

Args parse_args(const std::string& command, const std::vector<std::string>& argv,
                const std::vector<OptionSpec>& specs) {
  Args out;
  bool options_ended = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (options_ended || arg.size() < 2 || arg[0] != '-') {
      out.positional.push_back(arg);  // "-" alone is a name too
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      continue;
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : specs) {
      if (arg.compare(0, 2, "--") == 0 && name == s.name) spec = &s;
    }
    if (!spec) {
      fail(Errc::invalid_argument, "unknown option '" + arg.substr(0, eq) + "' for co3 " +
                                       command + " (see co3 " + command + " --help)");
    }
    if (!spec->takes_value) {
      if (eq != std::string::npos) fail(Errc::invalid_argument, "--" + name + " takes no value");
      out.options[name] = "";
    } else if (eq != std::string::npos) {
      out.options[name] = arg.substr(eq + 1);
    } else if (i + 1 < argv.size()) {
      out.options[name] = argv[++i];
    } else {
      fail(Errc::invalid_argument, "--" + name + " needs a value");
    }
  }
  return out;
}

uint64_t parse_uint(const std::string& option, const std::string& s, uint64_t max) {
  const auto bad = [&](const std::string& why) {
    fail(Errc::invalid_argument, "--" + option + " '" + s + "': " + why);
  };
  if (s.empty()) bad("expected a non-negative integer");
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') bad("expected a non-negative integer");
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (digit > max || v > (max - digit) / 10) bad("larger than " + std::to_string(max));
    v = v * 10 + digit;
  }
  return v;
}

}  // namespace co3::cli
