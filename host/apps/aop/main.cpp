// co3-aop: exact SGD against Mem-AOP-GD (top-K, weighted-K, random-K, each with and without
// memory) on Fashion-MNIST with Linear(784, 10), every K and seed, on the CPU or a CUDA device;
// a CSV per run, a summary CSV and a Markdown table in --out. docs/AOP.md has the commands, the
// authors' set-up (--loss softmax-ce --normalize half) and the measured tables.
#include <sys/stat.h>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "co3/error.h"
#include "co3/torch/aop.h"
#include "epochs_csv.h"
#include "summary.h"
#include "train.h"

namespace {

using co3::Errc;
using co3::apps::Method;
using co3::apps::RunSpec;

const char kUsage[] =
    "usage: co3-aop --out DIR [--quick] [--epochs N] [--seeds N] [--first-seed S] [--ks 32,16,8]\n"
    "               [--policies topk,weighted,random] [--lr 0.01] [--alpha 1] [--batch 64]\n"
    "               [--threads 1] [--loss ce|softmax-ce] [--normalize mean-std|half]\n"
    "               [--device cpu|cuda]\n"
    "  Runs exact SGD and Mem-AOP-GD (every policy, with and without memory, every K) for seeds\n"
    "  S … S+N-1 (S = --first-seed, 0 by default), seed by seed, and writes DIR/runs/<run>.csv\n"
    "  (every epoch: loss, test accuracy, per-class recall), DIR/results.csv (after the last\n"
    "  epoch; rewritten after every run) and DIR/summary.md. A grid split by seeds over several\n"
    "  --out directories merges with scripts/aop_report.py.\n"
    "  --quick: 3 epochs, 2 seeds, K = 16 (a smoke test of the whole pipeline).\n"
    "  Defaults: 30 epochs, 3 seeds, K 32,16,8, lr 0.01, alpha 1, batch 64 (the last partial\n"
    "  batch of an epoch is dropped), 1 thread, loss ce, normalize mean-std, device cpu.\n"
    "  --loss softmax-ce --normalize half: the authors' set-up (a Softmax layer before\n"
    "  cross-entropy; inputs (x - 0.5) / 0.5).\n";

struct Flags {
  std::string out;
  int epochs = 30, seeds = 3, first_seed = 0, threads = 1;
  std::vector<int64_t> ks = {32, 16, 8};
  std::vector<co3::AopPolicy> policies = {co3::AopPolicy::topk, co3::AopPolicy::weighted,
                                          co3::AopPolicy::random};
  double lr = 0.01, alpha = 1.0;
  int64_t batch = 64;
  co3::apps::Loss loss = co3::apps::Loss::ce;
  co3::apps::Normalize normalize = co3::apps::Normalize::mean_std;
  std::string device = "cpu";
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

int64_t parse_int(const std::string& flag, const std::string& v, int64_t lo) {
  try {
    size_t used = 0;
    const long long x = std::stoll(v, &used);
    if (used == v.size() && x >= lo) return x;
  } catch (const std::exception&) {
  }
  co3::fail(Errc::invalid_argument,
            flag + " '" + v + "': expected an integer ≥ " + std::to_string(lo));
}

double parse_double(const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    const double x = std::stod(v, &used);
    if (used == v.size()) return x;
  } catch (const std::exception&) {
  }
  co3::fail(Errc::invalid_argument, flag + " '" + v + "': expected a number");
}

Flags parse(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (a == "--quick") {
      f.epochs = 3;
      f.seeds = 2;
      f.ks = {16};
      continue;
    }
    co3::check(i + 1 < argc, Errc::invalid_argument, a + ": missing value");
    const std::string v = argv[++i];
    if (a == "--out")
      f.out = v;
    else if (a == "--epochs")
      f.epochs = static_cast<int>(parse_int(a, v, 1));
    else if (a == "--seeds")
      f.seeds = static_cast<int>(parse_int(a, v, 1));
    else if (a == "--first-seed")
      f.first_seed = static_cast<int>(parse_int(a, v, 0));
    else if (a == "--threads")
      f.threads = static_cast<int>(parse_int(a, v, 1));
    else if (a == "--batch")
      f.batch = parse_int(a, v, 1);
    else if (a == "--lr")
      f.lr = parse_double(a, v);
    else if (a == "--alpha")
      f.alpha = parse_double(a, v);
    else if (a == "--loss")
      f.loss = co3::apps::parse_loss(v);
    else if (a == "--normalize")
      f.normalize = co3::apps::parse_normalize(v);
    else if (a == "--device") {
      co3::check(v == "cpu" || v == "cuda", Errc::invalid_argument,
                 "--device '" + v + "': expected cpu or cuda");
      f.device = v;
    } else if (a == "--ks") {
      f.ks.clear();
      for (const std::string& k : split(v)) f.ks.push_back(parse_int(a, k, 1));
    } else if (a == "--policies") {
      f.policies.clear();
      for (const std::string& p : split(v)) f.policies.push_back(co3::parse_aop_policy(p));
    } else {
      co3::fail(Errc::invalid_argument, "unknown option '" + a + "'");
    }
  }
  co3::check(!f.out.empty(), Errc::invalid_argument, "--out DIR is required");
  // Seeds name files and runs as ints: keep S + N - 1 one.
  co3::check(f.first_seed <= (1 << 30) && f.seeds <= (1 << 30), Errc::invalid_argument,
             "--first-seed / --seeds: at most 2^30 each");
  for (int64_t k : f.ks)
    co3::check(
        k <= f.batch, Errc::invalid_argument,
        "--ks: K = " + std::to_string(k) + " exceeds the batch of " + std::to_string(f.batch));
  if (f.device == "cuda") {
#if !defined(CO3_HAVE_KERNELS)
    co3::fail(Errc::invalid_argument,
              "--device cuda: co3 was built without its CUDA kernels (Mem-AOP-GD runs on the CPU)");
#endif
    co3::check(torch::cuda::is_available(), Errc::invalid_argument,
               "--device cuda: no CUDA device is available");
  }
  return f;
}

// mkdir -p (std::filesystem clashes with libtorch's exported symbols).
void make_dirs(const std::string& path) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos < path.size() && path[pos] != '/') continue;
    const std::string part = path.substr(0, pos);
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST)
      co3::fail(Errc::io, "cannot create directory '" + part + "': " + std::strerror(errno));
  }
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  co3::check(out.good(), Errc::io, "cannot write '" + path + "'");
}

bool g_tty = false;

void on_epoch(const RunSpec& spec, const co3::apps::EpochStats& e) {
  if (!g_tty) return;
  std::printf("\r  %-22s seed %llu  epoch %2d/%d  loss %.4f  test %.2f%%   ",
              spec.method.label().c_str(), static_cast<unsigned long long>(spec.seed), e.epoch,
              spec.epochs, e.train_loss, 100 * e.test_accuracy);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) try {
  const Flags f = parse(argc, argv);
  torch::set_num_threads(f.threads);
  g_tty = isatty(STDOUT_FILENO) != 0;
  make_dirs(f.out + "/runs");

  std::vector<Method> methods(1);  // exact first
  for (co3::AopPolicy p : f.policies)
    for (bool memory : {true, false})
      for (int64_t k : f.ks) methods.push_back({false, p, memory, k});

  const co3::apps::Data data =
      co3::apps::load_data(f.normalize, f.device == "cuda" ? at::kCUDA : at::kCPU);
  std::vector<co3::apps::RunOutcome> outcomes;
  std::string results = "run,policy,memory,k,seed,final_test_accuracy,dead_classes";
  for (int c = 0; c < 10; ++c) results += ",recall" + std::to_string(c);
  results += ",seconds\n";
  const size_t total = methods.size() * static_cast<size_t>(f.seeds);
  // Seeds outer, methods inner: a grid stopped early keeps every method of the seeds it
  // finished, so its runs stay paired.
  for (int seed = f.first_seed; seed < f.first_seed + f.seeds; ++seed) {
    for (const Method& m : methods) {
      RunSpec spec{m, static_cast<uint64_t>(seed), f.epochs, f.batch, f.lr, f.alpha, f.loss};
      const auto t0 = std::chrono::steady_clock::now();
      const auto epochs = co3::apps::train(spec, data, on_epoch);
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

      const std::string name = m.label() + "-seed" + std::to_string(seed);
      write_file(f.out + "/runs/" + name + ".csv", co3::apps::epochs_csv(epochs));
      const co3::apps::EpochStats& last = epochs.back();
      outcomes.push_back({m, spec.seed, last.test_accuracy, secs});
      results += m.label() + "," + (m.exact ? "exact" : co3::aop_policy_name(m.policy)) + "," +
                 (m.exact ? "" : (m.memory ? "yes" : "no")) + "," +
                 (m.exact ? std::to_string(f.batch) : std::to_string(m.k)) + "," +
                 std::to_string(seed) + "," + std::to_string(last.test_accuracy) + "," +
                 std::to_string(last.dead_classes());
      for (double r : last.class_recall) results += "," + std::to_string(r);
      results += "," + std::to_string(secs) + "\n";
      // Rewritten after every run, so that a grid stopped early keeps the runs it finished.
      write_file(f.out + "/results.csv", results);
      std::printf("%s[%zu/%zu] %-22s seed %d  test %.2f%%  dead classes %d  (%.1f s)\n",
                  g_tty ? "\r" : "", outcomes.size(), total, m.label().c_str(), seed,
                  100 * last.test_accuracy, last.dead_classes(), secs);
      std::fflush(stdout);
    }
  }
  // The inputs' measured statistics: what --normalize did, stated where the numbers are.
  const double x_mean = data.train_x.mean().item<double>();
  const double x_std = data.train_x.std().item<double>();
  char setup[512];
  std::snprintf(setup, sizeof setup,
                "Fashion-MNIST, Linear(784, 10), loss %s, inputs normalized %s (training set "
                "mean %.3f, std %.3f), batch D = %lld (drop last), SGD lr = %g, alpha = %g, "
                "%d epochs, seeds %d-%d, device %s.",
                co3::apps::loss_name(f.loss), co3::apps::normalize_name(f.normalize), x_mean, x_std,
                static_cast<long long>(f.batch), f.lr, f.alpha, f.epochs, f.first_seed,
                f.first_seed + f.seeds - 1, f.device.c_str());
  const std::string md = co3::apps::summary_markdown(outcomes, f.ks, setup);
  write_file(f.out + "/summary.md", md);
  std::cout << "\n" << md;
  return 0;
} catch (const co3::Error& e) {
  std::fprintf(stderr, "co3-aop: %s\n", e.what());
  return 2;
}
