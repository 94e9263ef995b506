// The GPU bench's transfer model (bench/transfer_model.h): compressing wins exactly below the
// break-even link rate.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "bench/transfer_model.h"

namespace {

using co3::bench::CodecCost;

TEST(TransferModel, BreakEvenSeparatesWinsFromLosses) {
  // 100M float32 entries at 2 bits each; 1.5 ms encode, 0.5 ms decode.
  const CodecCost c{1.5e-3, 0.5e-3, 25'000'000, 400'000'000};
  const double b = co3::bench::break_even_bytes_per_second(c);
  EXPECT_DOUBLE_EQ(b, 375e6 / 2e-3);  // (400M − 25M) bytes over 2 ms of coding
  EXPECT_NEAR(co3::bench::compressed_seconds(c, b), co3::bench::raw_seconds(c, b), 1e-15);
  EXPECT_LT(co3::bench::compressed_seconds(c, b / 2), co3::bench::raw_seconds(c, b / 2));
  EXPECT_GT(co3::bench::compressed_seconds(c, b * 2), co3::bench::raw_seconds(c, b * 2));
}

TEST(TransferModel, TimesAddUp) {
  const CodecCost c{1e-3, 2e-3, 1000, 4000};
  EXPECT_DOUBLE_EQ(co3::bench::raw_seconds(c, 1e6), 4e-3);
  EXPECT_DOUBLE_EQ(co3::bench::compressed_seconds(c, 1e6), 1e-3 + 1e-3 + 2e-3);
}

TEST(TransferModel, NoGainWithoutCompressionOrCost) {
  EXPECT_EQ(co3::bench::break_even_bytes_per_second({1e-3, 1e-3, 4000, 4000}), 0.0);
  EXPECT_EQ(co3::bench::break_even_bytes_per_second({1e-3, 1e-3, 5000, 4000}), 0.0);
  EXPECT_EQ(co3::bench::break_even_bytes_per_second({0, 0, 1000, 4000}),
            std::numeric_limits<double>::infinity());
}

TEST(TransferModel, LinksAreTheStatedRates) {
  ASSERT_EQ(std::size(co3::bench::kLinks), 6u);
  EXPECT_DOUBLE_EQ(co3::bench::kLinks[0].bytes_per_second, 1.25e9);  // 10 Gb/s
  EXPECT_DOUBLE_EQ(co3::bench::kLinks[3].bytes_per_second, 50e9);    // 400 Gb/s
  for (size_t i = 1; i < std::size(co3::bench::kLinks); ++i) {
    EXPECT_GT(co3::bench::kLinks[i].bytes_per_second, co3::bench::kLinks[i - 1].bytes_per_second);
  }
}

}  // namespace
