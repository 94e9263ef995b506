// The Fashion-MNIST reader the experiments share: the Debian package's files, whole and sane.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <string>

#include "co3/error.h"
#include "common/fashion_mnist.h"

namespace {

void check_split(const co3::apps::Split& s, int64_t n) {
  ASSERT_EQ(s.images.sizes(), (std::vector<int64_t>{n, 1, 28, 28}));
  ASSERT_EQ(s.labels.sizes(), (std::vector<int64_t>{n}));
  EXPECT_EQ(s.images.scalar_type(), torch::kFloat32);
  EXPECT_EQ(s.labels.scalar_type(), torch::kInt64);
  EXPECT_GE(s.images.min().item<float>(), 0.0f);
  EXPECT_LE(s.images.max().item<float>(), 1.0f);
  // Ten balanced classes in both splits.
  auto counts = torch::bincount(s.labels, {}, 10);
  ASSERT_EQ(counts.numel(), 10);
  EXPECT_EQ(counts.min().item<int64_t>(), n / 10);
  EXPECT_EQ(counts.max().item<int64_t>(), n / 10);
}

TEST(FashionMnist, TrainAndTestSplits) {
  auto train = co3::apps::load_fashion_mnist(true);
  check_split(train, 60000);
  // The published pixel statistics the apps normalize with.
  EXPECT_NEAR(train.images.mean().item<double>(), co3::apps::kFashionMnistMean, 5e-4);
  EXPECT_NEAR(train.images.std().item<double>(), co3::apps::kFashionMnistStd, 5e-4);
  check_split(co3::apps::load_fashion_mnist(false), 10000);
}

TEST(FashionMnist, MissingSourceIsAnIoErrorNamingTheFile) {
  // An empty private cache, so that the source really is read.
  char tmpl[] = "/tmp/co3_fmnist_cache_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const char* old = std::getenv("XDG_CACHE_HOME");
  std::string saved = old ? old : "";
  setenv("XDG_CACHE_HOME", tmpl, 1);
  try {
    co3::apps::load_fashion_mnist(false, "/nonexistent/fmnist");
    ADD_FAILURE() << "no error for a missing source directory";
  } catch (const co3::Error& e) {
    EXPECT_EQ(e.code(), co3::Errc::io);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/fmnist/t10k-"), std::string::npos) << e.what();
  }
  if (old) setenv("XDG_CACHE_HOME", saved.c_str(), 1); else unsetenv("XDG_CACHE_HOME");
}

}  // namespace
