// Mem-AOP-GD on the GPU: the time of the approximate weight-gradient step (rows and norms, keys,
// selection, gathers, the K-deep GEMM, the memory update) against the exact D-deep GEMM δᵀ·x, for
// a large layer. CUDA events on the current stream, medians after warm-up; a table on stdout and
// JSON with --json. Where no GPU exists it says so and exits 0 (nothing is measured).
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "co3/torch/aop.h"

#if defined(CO3_HAVE_KERNELS)
#include <ATen/cuda/CUDAContext.h>
#include <cuda_runtime_api.h>
#endif

namespace {

const char kUsage[] =
    "usage: co3_bench_aop [--in 4096] [--out 4096] [--batches 1024,2048,4096,8192]\n"
    "                     [--divisors 2,4,8,16,32] [--warmup 3] [--repeats 15] [--tf32]\n"
    "                     [--json FILE]\n"
    "  K = D / divisor for each batch D; memory on, alpha 0.9, lr 0.01. --tf32 lets cuBLAS use\n"
    "  TF32 for both GEMMs (off by default: float32 as PyTorch does).\n";

std::vector<int64_t> parse_list(const std::string& s) {
  std::vector<int64_t> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t comma = s.find(',', pos);
    out.push_back(std::stoll(s.substr(pos, comma - pos)));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t in = 4096, out = 4096;
  std::vector<int64_t> batches = {1024, 2048, 4096, 8192}, divisors = {2, 4, 8, 16, 32};
  int warmup = 3, repeats = 15;
  bool tf32 = false;
  std::string json;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    try {
      if (a == "--tf32")
        tf32 = true;
      else if (a == "--in" && has_value)
        in = std::stoll(argv[++i]);
      else if (a == "--out" && has_value)
        out = std::stoll(argv[++i]);
      else if (a == "--batches" && has_value)
        batches = parse_list(argv[++i]);
      else if (a == "--divisors" && has_value)
        divisors = parse_list(argv[++i]);
      else if (a == "--warmup" && has_value)
        warmup = std::stoi(argv[++i]);
      else if (a == "--repeats" && has_value)
        repeats = std::stoi(argv[++i]);
      else if (a == "--json" && has_value)
        json = argv[++i];
      else {
        std::fprintf(stderr, "co3_bench_aop: bad option '%s'\n%s", a.c_str(), kUsage);
        return 2;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "co3_bench_aop: bad value for '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (in < 1 || out < 1 || warmup < 0 || repeats < 1) {
    std::fprintf(stderr, "co3_bench_aop: sizes and repeats must be positive\n");
    return 2;
  }
#if !defined(CO3_HAVE_KERNELS)
  std::printf("co3_bench_aop: co3 was built without its CUDA kernels; nothing measured.\n");
  return 0;
#else
  if (!torch::cuda::is_available()) {
    std::printf("co3_bench_aop: no CUDA device; nothing measured.\n");
    return 0;
  }
  at::globalContext().setAllowTF32CuBLAS(tf32);
  const auto dev = torch::Device(torch::kCUDA, 0);
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  // Median milliseconds of `f` on the current stream, after `warmup` untimed calls.
  const auto time_ms = [&](const std::function<void()>& f) {
    for (int w = 0; w < warmup; ++w) f();
    std::vector<float> ms;
    const cudaStream_t s = at::cuda::getCurrentCUDAStream().stream();
    for (int r = 0; r < repeats; ++r) {
      cudaEventRecord(start, s);
      f();
      cudaEventRecord(stop, s);
      cudaEventSynchronize(stop);
      float t = 0;
      cudaEventElapsedTime(&t, start, stop);
      ms.push_back(t);
    }
    std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
    return static_cast<double>(ms[ms.size() / 2]);
  };

  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf(
      "co3_bench_aop: %s, layer %lld x %lld (in x out), float32%s, median of %d after %d "
      "warm-up\n\n",
      prop.name, static_cast<long long>(in), static_cast<long long>(out),
      tf32 ? " (TF32 GEMMs)" : "", repeats, warmup);
  std::printf("%6s %6s %10s | %10s %8s | %10s %8s | %10s %8s | %10s\n", "D", "K", "exact ms",
              "topk ms", "speedup", "weighted", "speedup", "random", "speedup", "GEMM-K ms");
  std::string rows;
  torch::manual_seed(0);
  for (int64_t d : batches) {
    const at::Tensor x = torch::randn({d, in}, dev), delta = torch::randn({d, out}, dev);
    const double exact = time_ms([&] { (void)delta.t().matmul(x); });
    for (int64_t div : divisors) {
      const int64_t k = d / div;
      if (k < 1) continue;
      double t[3];
      for (co3::AopPolicy p :
           {co3::AopPolicy::topk, co3::AopPolicy::weighted, co3::AopPolicy::random}) {
        co3::AopConfig c;
        c.k = k;
        c.policy = p;
        c.alpha = 0.9;
        at::Tensor ma = torch::zeros({d, in}, dev), mb = torch::zeros({d, out}, dev);
        uint64_t step = 0;
        t[static_cast<int>(p)] =
            time_ms([&] { (void)co3::aop_weight_grad(x, delta, ma, mb, c, step++); });
      }
      // The K-deep GEMM alone: the floor the other stages add to.
      const at::Tensor xa = x.slice(0, 0, k), da = delta.slice(0, 0, k);
      const double gemm = time_ms([&] { (void)da.t().matmul(xa); });
      std::printf("%6lld %6lld %10.3f | %10.3f %7.2fx | %10.3f %7.2fx | %10.3f %7.2fx | %10.3f\n",
                  static_cast<long long>(d), static_cast<long long>(k), exact, t[0], exact / t[0],
                  t[1], exact / t[1], t[2], exact / t[2], gemm);
      char buf[512];
      std::snprintf(buf, sizeof buf,
                    "%s    {\"D\": %lld, \"K\": %lld, \"exact_ms\": %.4f, \"topk_ms\": %.4f, "
                    "\"weighted_ms\": %.4f, \"random_ms\": %.4f, \"gemm_k_ms\": %.4f}",
                    rows.empty() ? "" : ",\n", static_cast<long long>(d), static_cast<long long>(k),
                    exact, t[0], t[1], t[2], gemm);
      rows += buf;
    }
  }
  if (!json.empty()) {
    std::ofstream f(json);
    f << "{\n  \"device\": \"" << prop.name << "\",\n  \"in\": " << in << ",\n  \"out\": " << out
      << ",\n  \"tf32\": " << (tf32 ? "true" : "false") << ",\n  \"repeats\": " << repeats
      << ",\n  \"warmup\": " << warmup << ",\n  \"rows\": [\n"
      << rows << "\n  ]\n}\n";
    if (!f.good()) {
      std::fprintf(stderr, "co3_bench_aop: cannot write '%s'\n", json.c_str());
      return 1;
    }
    std::printf("\nwrote %s\n", json.c_str());
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return 0;
#endif
}
