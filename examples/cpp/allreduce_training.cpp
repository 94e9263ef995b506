// A C++ (LibTorch) data-parallel training loop that averages its gradients with co3:
// `ranks` workers (threads here; processes on real machines, with a TCPStore instead of the
// HashStore) each train a copy of a softmax classifier on their own Fashion-MNIST batches and
// call co3::compressed_allreduce after backward(). Prints the loss and the bits per entry sent.
//
//   build/examples/co3_example_allreduce [steps] [ranks]
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "co3/torch/distributed.h"
#include "common/fashion_mnist.h"

void train(int rank, int ranks, int steps, const c10::intrusive_ptr<c10d::Store>& store,
           const co3::apps::Split& data) {
  auto opts = c10d::ProcessGroupGloo::Options::create();
  opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  c10d::ProcessGroupGloo group(store, rank, ranks, opts);
  torch::manual_seed(0);  // the same initial model everywhere
  torch::nn::Linear model(784, 10);
  torch::optim::SGD sgd(model->parameters(), 0.1);
  torch::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1000 + rank);
  const at::Tensor x = (data.images.flatten(1) - co3::apps::kFashionMnistMean) / co3::apps::kFashionMnistStd;

  // [example]
  co3::CompressorOptions o;
  o.config.format = co3::formats::fp4;       // sign, 2 exponent bits, 1 mantissa bit
  o.config.code = co3::CodeSource::gennorm;  // Huffman code from the fitted GenNorm
  o.gamma = 0.7f;                            // error feedback with memory decay
  co3::Compressor compressor(o);
  for (int step = 0; step < steps; ++step) {
    const at::Tensor idx = torch::randint(x.size(0), {64}, gen);
    const at::Tensor loss = torch::nn::functional::cross_entropy(model(x.index({idx})), data.labels.index({idx}));
    sgd.zero_grad();
    loss.backward();
    std::vector<at::Tensor> grads = {model->weight.grad(), model->bias.grad()};
    co3::CommStats sent = co3::compressed_allreduce(group, compressor, {"weight", "bias"}, grads);
    sgd.step();  // every rank applies the same averaged gradient
    // [example]
    if (rank == 0 && (step % 20 == 0 || step == steps - 1))
      std::printf("step %4d  loss %.4f  sent %.3f bits/entry\n", step, loss.item<float>(),
                  8.0 * sent.contributed_bytes / sent.elements);
  }
}

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 200;
  const int ranks = argc > 2 ? std::atoi(argv[2]) : 2;
  if (steps < 1 || ranks < 1 || ranks > 16) {
    std::fprintf(stderr, "usage: %s [steps >= 1] [ranks 1..16]\n", argv[0]);
    return 2;
  }
  torch::set_num_threads(1);
  const co3::apps::Split data = co3::apps::load_fashion_mnist(true);
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<std::thread> workers;
  for (int r = 0; r < ranks; ++r)
    workers.emplace_back(train, r, ranks, steps, store, std::cref(data));
  for (auto& w : workers) w.join();
  return 0;
}
