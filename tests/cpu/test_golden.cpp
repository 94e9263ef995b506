// Fresh CPU encodes equal the checked-in golden packets byte for byte (tests/golden/). With
// CO3_REGENERATE_GOLDEN=1 the test writes the files instead (after a deliberate format or encoder
// change; review the diff). Real-data cases skip, saying so, where ../shared/data is absent.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "../golden/golden_cases.h"

namespace {

bool regenerate() {
  const char* v = std::getenv("CO3_REGENERATE_GOLDEN");
  return v && std::string(v) == "1";
}

TEST(Golden, CpuEncodesMatchTheCheckedInPackets) {
  int compared = 0;
  uint64_t total_bytes = 0;
  for (const co3::golden::Case& c : co3::golden::cases()) {
    SCOPED_TRACE(c.name);
    const std::string path = co3::golden::golden_dir() + "/" + c.name + ".co3";
    if (c.missing_data) {
      std::printf("[ SKIPPED  ] golden case %s: ../shared/data absent\n", c.name.c_str());
      continue;
    }
    const std::vector<uint8_t> packet = co3::golden::encode_cpu(c);
    total_bytes += packet.size();
    if (regenerate()) {
      ASSERT_TRUE(co3::golden::write_file(path, packet)) << path;
      continue;
    }
    const std::vector<uint8_t> want = co3::golden::read_file(path);
    ASSERT_FALSE(want.empty()) << path << " missing (CO3_REGENERATE_GOLDEN=1 writes it)";
    ASSERT_EQ(packet.size(), want.size());
    size_t first = 0;
    while (first < want.size() && packet[first] == want[first]) ++first;
    EXPECT_EQ(first, want.size()) << "first differing byte at offset " << first;
    // Every golden packet decodes (the decoder validates every field).
    EXPECT_NO_THROW(co3::decode(packet.data(), packet.size()));
    ++compared;
  }
  if (regenerate())
    std::printf("wrote golden packets: %llu bytes\n", static_cast<unsigned long long>(total_bytes));
  else
    EXPECT_GE(compared, 17);
}

}  // namespace
