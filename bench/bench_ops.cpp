// One codec operation repeated, for instruction counts (valgrind --tool=callgrind), which stay
// repeatable on a machine shared with other work where times do not: run it with --repeats 1
// and 2 and take the difference, so that loading the data and the first encode cancel.
//
//   co3_bench_ops --data FILE.f32|.npy|.pt --format fp4|e4m3|e5m2|bf16|... --op encode|decode
//                 [--entries N] [--repeats R]          (one thread, histogram code, GenNorm scale)
//                 [--split lenet]   (the first 61,706 entries as a LeNet-5's ten tensors in one
//                                    packet: the small-model case's fixed costs)
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "co3/codec.h"
#include "co3/dtype.h"
#include "co3/error.h"
#include "io/readers.h"
#include "small_model.h"

int main(int argc, char** argv) {
  std::string data = "../shared/data/resnet18_step120.f32", format = "e4m3", op = "encode", split;
  size_t entries = 1000000;
  int repeats = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--data") data = v;
    else if (k == "--format") format = v;
    else if (k == "--op") op = v;
    else if (k == "--entries") entries = std::stoull(v);
    else if (k == "--repeats") repeats = std::stoi(v);
    else if (k == "--split") split = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (op != "encode" && op != "decode") {
    std::fprintf(stderr, "--op is encode or decode\n");
    return 2;
  }
  if (!split.empty() && split != "lenet") {
    std::fprintf(stderr, "--split is lenet\n");
    return 2;
  }
  try {
    const co3::io::LoadedTensor t = co3::io::load_tensor_file(data);
    std::vector<float> x(std::min<uint64_t>(entries, t.numel));
    for (size_t i = 0; i < x.size(); ++i) x[i] = co3::load_as_float(t.bytes.data(), t.dtype, i);
    co3::CodecConfig cfg;
    cfg.format = co3::parse_format(format);
    cfg.threads = 1;
    if (split == "lenet" && x.size() < co3::bench::lenet_entries()) {
      std::fprintf(stderr, "--split lenet needs %zu entries\n", co3::bench::lenet_entries());
      return 2;
    }
    std::vector<co3::EncodeInput> in;
    if (split == "lenet") {
      in = co3::bench::lenet_inputs(x.data());
    } else {
      in.resize(1);
      in[0].grad = {x.data(), x.size(), co3::DType::f32};
    }
    std::vector<uint8_t> pkt = co3::encode(in, cfg);
    std::vector<float> y(x.size());
    std::vector<void*> outs;
    size_t at = 0;
    for (const auto& e : in) {
      outs.push_back(y.data() + at);
      at += e.grad.numel;
    }
    for (int r = 0; r < repeats; ++r) {
      if (op == "encode") pkt = co3::encode(in, cfg);
      else co3::decode_into(pkt.data(), pkt.size(), outs, true, 1);
    }
    std::printf("%s %s: %zu tensors, %zu entries, %zu packet bytes, %d repeats\n", format.c_str(),
                op.c_str(), in.size(), at, pkt.size(), repeats);
  } catch (const co3::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
