// Fashion-MNIST as tensors, read through LibTorch's MNIST-format reader.
//
// The Debian package dataset-fashion-mnist ships the four idx files gzip'd under
// /usr/share/datasets/fashion-mnist/; LibTorch's reader wants them plain, under the names
// MNIST uses. They are inflated once into a per-user cache (concurrent processes are safe: each
// writes a private temporary file and renames it into place).
#pragma once

#include <ATen/Tensor.h>

#include <string>

namespace co3::apps {

struct Split {
  at::Tensor images;  // float32 [N, 1, 28, 28], pixel / 255, in [0, 1]
  at::Tensor labels;  // int64 [N], classes 0 … 9
};

// Mean and standard deviation of the training images' pixels (after / 255), for normalizing.
constexpr double kFashionMnistMean = 0.2860;
constexpr double kFashionMnistStd = 0.3530;

// $CO3_FASHION_MNIST_DIR if set, else /usr/share/datasets/fashion-mnist.
std::string fashion_mnist_source_dir();

// Loads the training (60000) or test (10000) split. Throws co3::Error(io) naming the missing or
// malformed file.
Split load_fashion_mnist(bool train, const std::string& source_dir = fashion_mnist_source_dir());

}  // namespace co3::apps
