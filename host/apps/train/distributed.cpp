#include "train/distributed.h"

#include <ATen/ops/empty.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "co3/error.h"
#include "train/experiment.h"
#include "train/simulation.h"

namespace co3::train {
namespace {

constexpr int kServer = 0;
constexpr int kMetaTag = 0, kPayloadTag = 1;

c10::intrusive_ptr<c10d::ProcessGroupGloo> connect(const TrainOptions& opts) {
  const auto timeout = std::chrono::milliseconds(1000LL * opts.timeout_s);
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(opts.master_port);
  so.isServer = opts.rank == kServer;
  so.numWorkers = static_cast<size_t>(opts.world_size);
  so.timeout = timeout;
  auto store = c10::make_intrusive<c10d::TCPStore>(opts.master_addr, so);
  auto go = c10d::ProcessGroupGloo::Options::create(timeout);
  go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(opts.master_addr));
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, opts.rank, opts.world_size, go);
}

void broadcast(c10d::ProcessGroupGloo& pg, at::Tensor& t) {
  std::vector<at::Tensor> v{t};
  c10d::BroadcastOptions bo;
  bo.rootRank = kServer;
  pg.broadcast(v, bo)->wait();
}

void run_user(const TrainOptions& opts, c10d::ProcessGroupGloo& pg) {
  Experiment exp(opts, /*need_train=*/true, /*need_test=*/false);
  const int user = opts.rank - 1;
  BatchSampler sampler = exp.make_sampler(user);
  auto compressor = make_compressor(opts.method, exp.shapes(), opts.threads, exp.device(), opts.seed);
  at::Tensor flat = at::empty({exp.entries()});
  for (int64_t r = 0;; ++r) {
    broadcast(pg, flat);
    if (r == exp.rounds()) break;  // the last broadcast carries the final parameters
    exp.set_flat_params(flat);
    UserUpdate up = UserStep::run(exp, sampler, *compressor);
    // Sizes first (with the loss and the encoding time), then the payload of exactly that size.
    at::Tensor meta = at::empty({3}, at::kDouble);
    meta[0] = static_cast<double>(up.packet.size());
    meta[1] = up.loss;
    meta[2] = up.encode_s;
    std::vector<at::Tensor> mv{meta};
    pg.send(mv, kServer, kMetaTag)->wait();
    at::Tensor payload = at::empty({static_cast<int64_t>(up.packet.size())}, at::kByte);
    std::memcpy(payload.data_ptr<uint8_t>(), up.packet.data(), up.packet.size());
    std::vector<at::Tensor> pv{payload};
    pg.send(pv, kServer, kPayloadTag)->wait();
  }
}

RunResult run_server(const TrainOptions& opts, c10d::ProcessGroupGloo& pg) {
  Experiment exp(opts, /*need_train=*/false, /*need_test=*/true);
  auto decoder = make_decoder(opts.method, exp.shapes(), opts.threads, exp.device());
  RunLog log(opts, exp.entries(), exp.rounds(), exp.rounds_per_epoch());
  for (int64_t r = 0;; ++r) {
    at::Tensor flat = exp.flat_params();
    broadcast(pg, flat);
    if (r == exp.rounds()) break;
    RoundRecord rec;
    std::vector<std::vector<uint8_t>> packets;
    for (int u = 1; u <= opts.users; ++u) {
      at::Tensor meta = at::empty({3}, at::kDouble);
      std::vector<at::Tensor> mv{meta};
      pg.recv(mv, u, kMetaTag)->wait();
      const auto bytes = static_cast<int64_t>(meta[0].item<double>());
      at::Tensor payload = at::empty({bytes}, at::kByte);
      std::vector<at::Tensor> pv{payload};
      pg.recv(pv, u, kPayloadTag)->wait();
      const uint8_t* p = payload.data_ptr<uint8_t>();
      packets.emplace_back(p, p + bytes);
      rec.loss += meta[1].item<double>() / opts.users;
      rec.encode_s += meta[2].item<double>();
      rec.packet_bytes.push_back(static_cast<uint64_t>(bytes));
    }
    rec.decode_s = server_step(exp, *decoder, packets);
    log.add_round(std::move(rec));
    if (exp.is_eval_round(r)) log.add_eval(exp.evaluate());
  }
  log.finish();
  if (!opts.save_params.empty()) {
    at::Tensor flat = exp.flat_params();
    save_params(opts.save_params,
                std::vector<float>(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel()));
  }
  return log.result();
}

// A port the kernel just handed out; free again when the store binds it (a small race, fine on
// a loopback test machine).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  check(fd >= 0, Errc::io, std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  check(ok, Errc::io, std::string("cannot find a free port: ") + std::strerror(errno));
  return ntohs(a.sin_port);
}

}  // namespace

RunResult run_dist_rank(const TrainOptions& opts) {
  auto pg = connect(opts);
  if (opts.rank == kServer) return run_server(opts, *pg);
  run_user(opts, *pg);
  return {};
}

int spawn_ranks(const TrainOptions& opts, const std::vector<std::string>& args) {
  const int world = opts.users + 1;
  const int port = opts.master_port > 0 ? opts.master_port : free_port();
  std::vector<pid_t> pids;
  for (int rank = 0; rank < world; ++rank) {
    std::vector<std::string> a = dist_rank_args(args, rank, world, port);
    a.insert(a.begin(), "co3-train");
    if (rank != kServer) a.push_back("--quiet");
    pid_t pid = ::fork();
    check(pid >= 0, Errc::io, std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      std::vector<char*> argv;
      for (std::string& s : a) argv.push_back(s.data());
      argv.push_back(nullptr);
      ::execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "co3-train: exec of rank %d failed: %s\n", rank, std::strerror(errno));
      ::_exit(127);
    }
    pids.push_back(pid);
  }
  // Wait for all; the first failure or the deadline ends the others (by their pids).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(opts.timeout_s);
  int status = 0;
  size_t running = pids.size();
  std::vector<bool> done(pids.size(), false);
  while (running > 0) {
    bool progressed = false;
    for (size_t i = 0; i < pids.size(); ++i) {
      if (done[i]) continue;
      int ws = 0;
      if (::waitpid(pids[i], &ws, WNOHANG) == pids[i]) {
        done[i] = true;
        --running;
        progressed = true;
        if (!(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) && status == 0) {
          std::fprintf(stderr, "co3-train: rank %zu failed (%s %d)\n", i,
                       WIFEXITED(ws) ? "exit" : "signal",
                       WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
          status = 1;
        }
      }
    }
    const bool late = std::chrono::steady_clock::now() > deadline;
    if ((status != 0 || late) && running > 0) {
      if (late && status == 0)
        std::fprintf(stderr, "co3-train: --timeout %d s reached\n", opts.timeout_s);
      for (size_t i = 0; i < pids.size(); ++i)
        if (!done[i]) ::kill(pids[i], SIGTERM);
      for (size_t i = 0; i < pids.size(); ++i)
        if (!done[i]) ::waitpid(pids[i], nullptr, 0);
      return 1;
    }
    if (!progressed) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status;
}

}  // namespace co3::train
