#include "train/options.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "co3/config.h"
#include "co3/error.h"
#include "train/compressor.h"

namespace co3::train {
namespace {

const char* kUsage = R"(usage: co3-train [flags]
Federated training on Fashion-MNIST with compressed gradients (docs/TRAINING.md).
  --model lenet|resnet8|resnet18  --users N (10)    --split iid|dirichlet  --alpha A (0.5)
  --batch B (64)              --lr LR (0.05)        --epochs E (8)         --rounds R (overrides)
  --seed S (0)                --threads T (1)       --device cpu|cuda
  --method fp32|bf16|co3|topk|powersgd
     co3:  --format fp4|e3m2|e4m3|e5m2|E,M[,bias[,layout]]  --code histogram|gennorm|normal|laplace
           --scale gennorm|absmax|none|rate:B|V  --bits B (= --scale rate:B: B bits per entry
           per packet)  --gamma G (0.7)  --shared-code on|off (on)  --entries-per-symbol G (auto)
           --zero-block B (0: none; 2..64 symbols a block of a zero-block map, FORMAT.md §6b)
           --flat on|off (off: one segment a tensor; on: the whole gradient as one, as a DDP bucket)
     topk: --topk-ratio R (0.01)  --flat on|off (on: the largest of the whole gradient, not of each tensor)
     powersgd: --powersgd-rank R (1; 1..1024: rank-R factors of each matrix, error feedback)
  --mode sim|dist  --spawn  --rank R  --world-size W  --master-addr A  --master-port P  --timeout S
  --out DIR  --name NAME  --summary FILE.md  --save-params FILE  --code-stats-every K
  --packet-log FILE.csv (sim: every packet's size; the rate target's per-step check)
  --train-limit N  --test-limit N  --quiet  --print-name
)";

std::string fmt_number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

[[noreturn]] void bad(const std::string& flag, const std::string& value, const std::string& why) {
  fail(Errc::invalid_argument, flag + " '" + value + "': " + why);
}

long long to_int(const std::string& flag, const std::string& v, long long lo, long long hi) {
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0) bad(flag, v, "expected an integer");
  if (x < lo || x > hi) bad(flag, v, "outside " + std::to_string(lo) + ".." + std::to_string(hi));
  return x;
}

double to_double(const std::string& flag, const std::string& v, double lo, double hi) {
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0') bad(flag, v, "expected a number");
  if (!(x >= lo && x <= hi)) bad(flag, v, "outside " + fmt_number(lo) + ".." + fmt_number(hi));
  return x;
}

std::string one_of(const std::string& flag, const std::string& v,
                   std::initializer_list<const char*> ok) {
  std::string list;
  for (const char* o : ok) {
    if (v == o) return v;
    list += (list.empty() ? "" : "|") + std::string(o);
  }
  bad(flag, v, "expected " + list);
}

}  // namespace

std::string MethodSpec::label() const {
  if (kind == "topk") return "topk-" + fmt_number(topk_ratio) + (flat ? "-flat" : "");
  if (kind == "powersgd") return "powersgd-r" + std::to_string(powersgd_rank);
  if (kind != "co3") return kind;
  std::string s = "co3-" + format + "-" + code + "-g" + fmt_number(gamma);
  if (scale.rfind("rate:", 0) == 0)
    s += "-b" + scale.substr(5);
  else if (scale != "gennorm")
    s += "-scale" + scale;
  if (entries_per_symbol) s += "-x" + std::to_string(entries_per_symbol);
  if (!shared_code) s += "-pertensor";
  if (zero_block) s += "-zb" + std::to_string(zero_block);
  if (flat) s += "-flat";
  return s;
}

std::string TrainOptions::run_name() const {
  if (!name.empty()) return name;
  std::string s = model + "-" + method.label();
  if (split != "iid") s += "-dir" + fmt_number(alpha);
  return s + "-s" + std::to_string(seed);
}

bool parse_args(const std::vector<std::string>& args, TrainOptions* o, std::string* help) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i], value;
    bool has_inline = false;
    if (auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_inline = true;
    }
    if (flag == "--help" || flag == "-h") {
      *help = kUsage;
      return false;
    }
    if (flag == "--spawn") {
      o->spawn = true;
      continue;
    }
    if (flag == "--quiet") {
      o->progress = false;
      continue;
    }
    if (flag == "--print-name") {
      o->print_name = true;
      continue;
    }
    if (flag.rfind("--", 0) != 0) bad("argument", flag, "not a flag (try --help)");
    if (!has_inline) {
      if (i + 1 >= args.size()) bad(flag, "", "missing value");
      value = args[++i];
    }
    MethodSpec& m = o->method;
    if (flag == "--model")
      o->model = one_of(flag, value, {"lenet", "resnet8", "resnet18"});
    else if (flag == "--users")
      o->users = static_cast<int>(to_int(flag, value, 1, 1024));
    else if (flag == "--split")
      o->split = one_of(flag, value, {"iid", "dirichlet"});
    else if (flag == "--alpha")
      o->alpha = to_double(flag, value, 1e-3, 1e6);
    else if (flag == "--batch")
      o->batch = static_cast<int>(to_int(flag, value, 1, 65536));
    else if (flag == "--lr")
      o->lr = to_double(flag, value, 0, 100);
    else if (flag == "--epochs")
      o->epochs = to_double(flag, value, 1e-6, 1e4);
    else if (flag == "--rounds")
      o->rounds = to_int(flag, value, 1, 1LL << 40);
    else if (flag == "--train-limit")
      o->train_limit = to_int(flag, value, 1, 1LL << 40);
    else if (flag == "--test-limit")
      o->test_limit = to_int(flag, value, 1, 1LL << 40);
    else if (flag == "--seed")
      o->seed = static_cast<uint64_t>(to_int(flag, value, 0, 1LL << 62));
    else if (flag == "--threads")
      o->threads = static_cast<int>(to_int(flag, value, 1, 256));
    else if (flag == "--device")
      o->device = one_of(flag, value, {"cpu", "cuda"});
    else if (flag == "--method")
      m.kind = one_of(flag, value, {"fp32", "bf16", "co3", "topk", "powersgd"});
    else if (flag == "--format") {
      try {
        parse_train_format(value);
      } catch (const Error& e) {
        bad(flag, value, e.what());
      }
      m.format = value;
    } else if (flag == "--code")
      m.code = one_of(flag, value, {"histogram", "gennorm", "normal", "laplace"});
    else if (flag == "--scale") {
      try {
        parse_scale(value);
      } catch (const Error& e) {
        bad(flag, value, e.what());
      }
      m.scale = value;
    } else if (flag == "--bits") {
      to_double(flag, value, 1e-6, 64);
      m.scale = "rate:" + value;
    } else if (flag == "--entries-per-symbol")
      m.entries_per_symbol = static_cast<int>(to_int(flag, value, 0, 4));
    else if (flag == "--gamma")
      m.gamma = static_cast<float>(to_double(flag, value, 0, 1));
    else if (flag == "--shared-code")
      m.shared_code = one_of(flag, value, {"on", "off"}) == "on";
    else if (flag == "--zero-block")
      m.zero_block = static_cast<int>(to_int(flag, value, 0, 64));
    else if (flag == "--flat")
      m.flat = one_of(flag, value, {"on", "off"}) == "on";
    else if (flag == "--topk-ratio")
      m.topk_ratio = to_double(flag, value, 1e-9, 1);
    else if (flag == "--powersgd-rank")  // not --rank: that is the process rank of --mode dist
      m.powersgd_rank = static_cast<int>(to_int(flag, value, 1, 1024));
    else if (flag == "--mode")
      o->mode = one_of(flag, value, {"sim", "dist"});
    else if (flag == "--rank")
      o->rank = static_cast<int>(to_int(flag, value, 0, 1024));
    else if (flag == "--world-size")
      o->world_size = static_cast<int>(to_int(flag, value, 2, 1025));
    else if (flag == "--master-addr")
      o->master_addr = value;
    else if (flag == "--master-port")
      o->master_port = static_cast<int>(to_int(flag, value, 0, 65535));
    else if (flag == "--timeout")
      o->timeout_s = static_cast<int>(to_int(flag, value, 1, 86400));
    else if (flag == "--out")
      o->out_dir = value;
    else if (flag == "--name")
      o->name = value;
    else if (flag == "--summary")
      o->summary = value;
    else if (flag == "--save-params")
      o->save_params = value;
    else if (flag == "--packet-log")
      o->packet_log = value;
    else if (flag == "--code-stats-every")
      o->code_stats_every = static_cast<int>(to_int(flag, value, 0, 1 << 30));
    else
      bad("flag", flag, "unknown (try --help)");
  }
  if (o->mode == "dist" && !o->spawn) {
    check(o->rank >= 0, Errc::invalid_argument, "--mode dist needs --rank (or --spawn)");
    if (o->world_size == 0) o->world_size = o->users + 1;
    check(o->world_size == o->users + 1, Errc::invalid_argument,
          "--world-size " + std::to_string(o->world_size) + ": must be --users + 1 (" +
              std::to_string(o->users + 1) + "), rank 0 being the server");
    check(
        o->rank < o->world_size, Errc::invalid_argument,
        "--rank " + std::to_string(o->rank) + ": outside 0.." + std::to_string(o->world_size - 1));
    check(o->master_port > 0, Errc::invalid_argument,
          "--mode dist needs --master-port (or --spawn)");
  }
  check(!o->spawn || o->mode == "dist", Errc::invalid_argument, "--spawn needs --mode dist");
  check(o->packet_log.empty() || o->mode == "sim", Errc::invalid_argument,
        "--packet-log needs --mode sim");
  // The codec's own checks of the combination (a rate target needs a format of ≤ 8 bits, the
  // entries per symbol must fit 16 bits) before any data is read.
  if (o->method.kind == "co3") co3_config(o->method, 1);
  return true;
}

std::vector<std::string> dist_rank_args(const std::vector<std::string>& args, int rank,
                                        int world_size, int port) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i].substr(0, args[i].find('='));
    bool inline_value = args[i].find('=') != std::string::npos;
    if (flag == "--spawn") continue;
    if (flag == "--mode" || flag == "--rank" || flag == "--world-size" || flag == "--master-port") {
      if (!inline_value) ++i;
      continue;
    }
    out.push_back(args[i]);
  }
  for (const std::string& s :
       {std::string("--mode"), std::string("dist"), std::string("--rank"), std::to_string(rank),
        std::string("--world-size"), std::to_string(world_size), std::string("--master-port"),
        std::to_string(port)})
    out.push_back(s);
  return out;
}

}  // namespace co3::train
