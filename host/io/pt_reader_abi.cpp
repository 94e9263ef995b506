// libco3_pt_reader.so's entry points (pt_reader_abi.h): parse_pt with every outcome, a tensor
// or a refusal, turned into plain C data for the CLI that loaded the library.
#include "io/pt_reader_abi.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "co3/error.h"
#include "io/pt_reader.h"

namespace {

char* copy_string(const std::string& s) {
  char* c = static_cast<char*>(std::malloc(s.size() + 1));
  if (c) std::memcpy(c, s.c_str(), s.size() + 1);
  return c;
}

void refuse(Co3PtResult* out, co3::Errc code, const std::string& what) {
  out->ok = 0;
  out->errc = static_cast<int>(code);
  out->message = copy_string(what);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) void co3_pt_parse_v1(const char* data,
                                                                       size_t size,
                                                                       const char* name,
                                                                       Co3PtResult* out) {
  std::memset(out, 0, sizeof *out);
  try {
    co3::io::LoadedTensor t = co3::io::parse_pt(data, size, name);
    out->bytes = static_cast<uint8_t*>(std::malloc(t.bytes.size() ? t.bytes.size() : 1));
    if (!out->bytes) throw std::bad_alloc();
    if (!t.bytes.empty()) std::memcpy(out->bytes, t.bytes.data(), t.bytes.size());
    out->nbytes = t.bytes.size();
    out->numel = t.numel;
    out->dtype = static_cast<int>(t.dtype);
    out->ok = 1;
  } catch (const co3::Error& e) {
    refuse(out, e.code(), e.what());
  } catch (const std::bad_alloc&) {
    refuse(out, co3::Errc::invalid_argument,
           std::string(name) + ": out of memory reading the tensor");
  } catch (const std::exception& e) {
    refuse(out, co3::Errc::invalid_argument, std::string(name) + ": " + e.what());
  }
}

extern "C" __attribute__((visibility("default"))) void co3_pt_release_v1(Co3PtResult* r) {
  std::free(r->bytes);
  std::free(r->message);
  r->bytes = nullptr;
  r->message = nullptr;
}
