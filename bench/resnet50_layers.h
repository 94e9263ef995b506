// The parameter tensors of torchvision's ResNet-50 (resnet50(), 1000 classes), in
// named_parameters() order: conv1, bn1, then per bottleneck conv1, bn1, conv2, bn2, conv3, bn3
// and, in each stage's first block, downsample conv and bn; fc weight and bias last. Each
// batch-norm layer is two tensors (weight, bias). 161 tensors, 25,557,032 entries: the one
// place the GPU bench takes its "a whole model's gradient in one batch" case from.
#pragma once

#include <cstdint>

namespace co3::bench {

inline constexpr uint32_t kResNet50TensorSizes[] = {
    9408,    64,   64,   4096,    64,   64,   36864,   64,   64,   16384,   256,  256,
    16384,   256,  256,  16384,   64,   64,   36864,   64,   64,   16384,   256,  256,
    16384,   64,   64,   36864,   64,   64,   16384,   256,  256,  32768,   128,  128,
    147456,  128,  128,  65536,   512,  512,  131072,  512,  512,  65536,   128,  128,
    147456,  128,  128,  65536,   512,  512,  65536,   128,  128,  147456,  128,  128,
    65536,   512,  512,  65536,   128,  128,  147456,  128,  128,  65536,   512,  512,
    131072,  256,  256,  589824,  256,  256,  262144,  1024, 1024, 524288,  1024, 1024,
    262144,  256,  256,  589824,  256,  256,  262144,  1024, 1024, 262144,  256,  256,
    589824,  256,  256,  262144,  1024, 1024, 262144,  256,  256,  589824,  256,  256,
    262144,  1024, 1024, 262144,  256,  256,  589824,  256,  256,  262144,  1024, 1024,
    262144,  256,  256,  589824,  256,  256,  262144,  1024, 1024, 524288,  512,  512,
    2359296, 512,  512,  1048576, 2048, 2048, 2097152, 2048, 2048, 1048576, 512,  512,
    2359296, 512,  512,  1048576, 2048, 2048, 1048576, 512,  512,  2359296, 512,  512,
    1048576, 2048, 2048, 2048000, 1000,
};

inline constexpr uint64_t kResNet50Tensors = sizeof kResNet50TensorSizes / sizeof(uint32_t);

constexpr uint64_t resnet50_entries() {
  uint64_t total = 0;
  for (uint32_t n : kResNet50TensorSizes) total += n;
  return total;
}

static_assert(kResNet50Tensors == 161 && resnet50_entries() == 25557032,
              "torchvision's ResNet-50 has 161 parameter tensors, 25,557,032 entries");

}  // namespace co3::bench
