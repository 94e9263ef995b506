#include "common/fashion_mnist.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <torch/data/datasets/mnist.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "co3/error.h"

namespace co3::apps {
namespace {

// std::filesystem is avoided on purpose: libtorch exports its own copies of its symbols.
bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

void make_dirs(const std::string& path) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos == path.size() || path[pos] == '/') {
      std::string prefix = path.substr(0, pos);
      if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
        throw Error(Errc::io, "cannot create directory " + prefix + ": " + std::strerror(errno));
    }
  }
}

std::string cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  std::string root = xdg && *xdg ? xdg : std::string(home && *home ? home : "/tmp") + "/.cache";
  return root + "/co3/fashion-mnist";
}

// Inflates `gz` into `out` unless `out` exists; a private temporary name and rename(2) make
// concurrent callers (one process per rank) safe.
void inflate_once(const std::string& gz, const std::string& out) {
  if (exists(out)) return;
  gzFile in = gzopen(gz.c_str(), "rb");
  if (!in) throw Error(Errc::io, "cannot open " + gz + " (is dataset-fashion-mnist installed?)");
  std::string tmp = out + ".tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    gzclose(in);
    throw Error(Errc::io, "cannot write " + tmp + ": " + std::strerror(errno));
  }
  std::vector<char> buf(1 << 20);
  int n = 0;
  bool ok = true;
  while ((n = gzread(in, buf.data(), static_cast<unsigned>(buf.size()))) > 0)
    ok = ok && std::fwrite(buf.data(), 1, static_cast<size_t>(n), f) == static_cast<size_t>(n);
  ok = ok && n == 0;
  gzclose(in);
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), out.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(Errc::io, "cannot inflate " + gz + " into " + out);
  }
}

}  // namespace

std::string fashion_mnist_source_dir() {
  const char* env = std::getenv("CO3_FASHION_MNIST_DIR");
  return env && *env ? env : "/usr/share/datasets/fashion-mnist";
}

Split load_fashion_mnist(bool train, const std::string& source_dir) {
  std::string dir = cache_dir();
  make_dirs(dir);
  const char* prefix = train ? "train" : "t10k";
  for (const char* kind : {"images-idx3-ubyte", "labels-idx1-ubyte"}) {
    std::string name = std::string(prefix) + "-" + kind;
    inflate_once(source_dir + "/" + name + ".gz", dir + "/" + name);
  }
  try {
    torch::data::datasets::MNIST mnist(
        dir, train ? torch::data::datasets::MNIST::Mode::kTrain
                   : torch::data::datasets::MNIST::Mode::kTest);
    return Split{mnist.images(), mnist.targets()};
  } catch (const c10::Error& e) {
    throw Error(Errc::io, "cannot read Fashion-MNIST from " + dir + ": " + e.what_without_backtrace());
  }
}

}  // namespace co3::apps
