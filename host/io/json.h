// JSON string quoting for the tools that write JSON reports (the CLI's stats, the GPU bench).
#pragma once

#include <cstdio>
#include <string>

namespace co3::io {

// s as a JSON string literal: quotes and backslashes escaped, control characters as \uXXXX.
inline std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace co3::io
