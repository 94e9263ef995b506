// The inputs checked into the test tree: tests/fuzz/corpus/* (the fuzz seeds) and tests/golden
// (the encoder's golden packets), read from the source directory.
#pragma once

#include <dirent.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace co3::testing {

struct PacketFile {
  std::string name;
  std::vector<uint8_t> bytes;
};

// Every file of tests/<subdir> whose name ends in `ext`, by name; empty when the directory does
// not exist.
inline std::vector<PacketFile> packet_files(const std::string& subdir,
                                            const std::string& ext = ".co3") {
  // The checkout, from tests/CMakeLists.txt (__FILE__ is build-relative under ccache).
  const std::string dir = std::string(CO3_SOURCE_DIR) + "/tests/" + subdir;
  std::vector<PacketFile> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() < ext.size() || name.compare(name.size() - ext.size(), ext.size(), ext) != 0)
      continue;
    std::ifstream f(dir + "/" + name, std::ios::binary);
    out.push_back({name, std::vector<uint8_t>(std::istreambuf_iterator<char>(f),
                                              std::istreambuf_iterator<char>())});
  }
  closedir(d);
  std::sort(out.begin(), out.end(),
            [](const PacketFile& a, const PacketFile& b) { return a.name < b.name; });
  return out;
}

}  // namespace co3::testing
