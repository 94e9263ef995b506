#include "io/pt_loader.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "co3/error.h"

#ifdef CO3_PT_READER_BUILT
#include "io/pt_reader_abi.h"
#endif

namespace co3::io {

#ifdef CO3_PT_READER_BUILT

namespace {

constexpr const char* kLibrary = "libco3_pt_reader.so";

using ParseFn = void (*)(const char*, size_t, const char*, Co3PtResult*);
using ReleaseFn = void (*)(Co3PtResult*);

struct Reader {
  ParseFn parse = nullptr;
  ReleaseFn release = nullptr;
  std::string error;  // why there is none, when parse is null
};

bool exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string executable_folder() {
  std::vector<char> buf(4096);
  const ssize_t n = readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) return "";
  const std::string exe(buf.data(), static_cast<size_t>(n));
  const size_t slash = exe.rfind('/');
  return slash == std::string::npos ? "" : exe.substr(0, slash);
}

// The places to look, in order; the first that exists is loaded (and only it: a copy that
// exists but cannot load is reported, not skipped for an older one elsewhere). $CO3_PT_READER,
// when set, is the only place.
std::vector<std::string> candidates() {
  if (const char* env = std::getenv("CO3_PT_READER"); env && *env) return {env};
  std::vector<std::string> c;
  const std::string here = executable_folder();
  if (!here.empty()) c.push_back(here + "/" + kLibrary);
  c.push_back(CO3_PT_READER_BUILT);
  return c;
}

Reader open_reader() {
  Reader r;
  const std::vector<std::string> paths = candidates();
  for (const std::string& path : paths) {
    if (!exists(path)) continue;
    // RTLD_LOCAL: LibTorch's symbols stay out of the CLI's namespace.
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* why = dlerror();
      r.error = "cannot load the .pt reader " + path + ": " + (why ? why : "unknown error") +
                " (it needs LibTorch: the torch libraries the build linked it with)";
      return r;
    }
    r.parse = reinterpret_cast<ParseFn>(dlsym(lib, CO3_PT_PARSE_SYMBOL));
    r.release = reinterpret_cast<ReleaseFn>(dlsym(lib, CO3_PT_RELEASE_SYMBOL));
    if (!r.parse || !r.release) {
      r.parse = nullptr;
      r.error = path + " is not a co3 .pt reader of this version (no " CO3_PT_PARSE_SYMBOL ")";
    }
    return r;  // the library stays loaded for the process's life
  }
  r.error = "the .pt reader " + std::string(kLibrary) + " was not found (looked for";
  for (size_t i = 0; i < paths.size(); ++i) r.error += (i ? ", " : " ") + paths[i];
  r.error += "; build the target co3_pt_reader, or set CO3_PT_READER to its path)";
  return r;
}

const Reader& reader() {
  static std::once_flag once;
  static Reader r;
  std::call_once(once, [] { r = open_reader(); });
  return r;
}

}  // namespace

LoadedTensor parse_pt_loaded(const char* data, size_t size, const std::string& name) {
  const Reader& r = reader();
  if (!r.parse) fail(Errc::invalid_argument, name + ": .pt input: " + r.error);
  // The library's buffers are released on every way out, a throw included.
  struct Result : Co3PtResult {
    ReleaseFn release;
    explicit Result(ReleaseFn f) : Co3PtResult{}, release(f) {}
    ~Result() { release(this); }
  } res(r.release);
  r.parse(data, size, name.c_str(), &res);
  if (!res.ok)
    fail(static_cast<Errc>(res.errc), res.message ? res.message : name + ": .pt reader failed");
  LoadedTensor t;
  t.dtype = static_cast<DType>(res.dtype);
  t.numel = res.numel;
  t.bytes.assign(res.bytes, res.bytes + res.nbytes);
  return t;
}

#else  // built without LibTorch: no reader library exists

LoadedTensor parse_pt_loaded(const char*, size_t, const std::string& name) {
  fail(Errc::invalid_argument, name +
                                   ": .pt input needs LibTorch, but co3 was built without LibTorch "
                                   "(CO3_WITH_TORCH=OFF); convert the tensor to .npy or .f32");
}

#endif

}  // namespace co3::io
