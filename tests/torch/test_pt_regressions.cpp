// .pt files that crashed co3's reader under fuzz_pt (tests/fuzz/regressions/pt/): each must now
// be refused with one invalid_argument error naming the file.
#include <dirent.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "co3/error.h"
#include "io/readers.h"

namespace {

TEST(PtRegressions, FuzzCrashesAreRefusedCleanly) {
  const std::string dir = std::string(CO3_SOURCE_DIR) + "/tests/fuzz/regressions/pt";
  std::vector<std::string> files;
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr) << dir;
  while (dirent* e = readdir(d))
    if (std::string(e->d_name).size() > 3 && std::string(e->d_name).rfind(".pt") != std::string::npos)
      files.push_back(dir + "/" + e->d_name);
  closedir(d);
  ASSERT_GE(files.size(), 2u);
  for (const std::string& f : files) {
    try {
      co3::io::load_tensor_file(f);
      ADD_FAILURE() << f << " was accepted";
    } catch (const co3::Error& e) {
      EXPECT_EQ(e.code(), co3::Errc::invalid_argument) << e.what();
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
}

}  // namespace
