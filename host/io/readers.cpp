#include "io/readers.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "co3/error.h"
#include "io/pt_loader.h"

// LoadedTensor holds little-endian values and the codec reads them in place.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "co3 I/O assumes a little-endian host");

namespace co3::io {
namespace {

using FilePtr = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

[[noreturn]] void fail_io(const std::string& path, const std::string& what, int err) {
  fail(Errc::io, path + ": " + what + ": " + std::strerror(err));
}

template <class Byte>
void read_into(const std::string& path, std::vector<Byte>& out) {
  FilePtr f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) fail_io(path, "cannot open", errno);
  // The size comes from the file system, so a hostile file cannot ask for more memory than
  // it occupies; fopen succeeds on directories, which fstat tells apart.
  struct stat st {};
  if (fstat(fileno(f.get()), &st) != 0) fail_io(path, "cannot stat", errno);
  if (!S_ISREG(st.st_mode)) fail(Errc::io, path + ": not a regular file");
  const size_t size = static_cast<size_t>(st.st_size);
  out.resize(size);
  if (size != 0 && std::fread(out.data(), 1, size, f.get()) != size) {
    fail_io(path, "read failed", std::ferror(f.get()) ? errno : EIO);
  }
}

[[noreturn]] void bad_npy(const std::string& path, const std::string& what) {
  fail(Errc::invalid_argument, path + ": bad .npy file: " + what);
}

// The fields of a .npy header, a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<uint64_t> shape;
};

std::string shape_string(const std::vector<uint64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// A recursive-descent parser for exactly the literals numpy writes: quoted strings without
// escapes, True/False and tuples of non-negative integers.
class HeaderParser {
 public:
  HeaderParser(const std::string& path, const char* begin, const char* end)
      : path_(path), begin_(begin), p_(begin), end_(end) {}

  NpyHeader parse() {
    NpyHeader h;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (skip_space() != '}') {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        once(seen_descr, key);
        const char quote = skip_space();
        if (quote != '\'' && quote != '"') {
          error("structured dtypes are not supported (descr is not a string)");
        }
        h.descr = string_literal();
      } else if (key == "fortran_order") {
        once(seen_order, key);
        h.fortran_order = boolean();
      } else if (key == "shape") {
        once(seen_shape, key);
        h.shape = tuple();
      } else {
        error("unexpected key '" + key + "'");
      }
      if (skip_space() != ',') break;
      ++p_;
    }
    expect('}');
    if (!seen_descr || !seen_order || !seen_shape) {
      error("header lacks one of 'descr', 'fortran_order', 'shape'");
    }
    skip_space();
    if (p_ != end_) error("unexpected text after the header dict");
    return h;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    bad_npy(path_, "header at byte " + std::to_string(p_ - begin_) + ": " + what);
  }
  // The next non-space character, '\0' at the end.
  char skip_space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
    return p_ < end_ ? *p_ : '\0';
  }
  void expect(char c) {
    if (skip_space() != c) error(std::string("expected '") + c + "'");
    ++p_;
  }
  void once(bool& seen, const std::string& key) {
    if (seen) error("duplicate key '" + key + "'");
    seen = true;
  }
  std::string string_literal() {
    const char quote = skip_space();
    if (quote != '\'' && quote != '"') error("expected a quoted string");
    const char* start = ++p_;
    while (p_ < end_ && *p_ != quote) {
      if (*p_ == '\\' || *p_ == '\n') error("unsupported character in a string");
      ++p_;
    }
    if (p_ == end_) error("unterminated string");
    return std::string(start, p_++);
  }
  bool word(const char* w) {
    const size_t n = std::strlen(w);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, w, n) != 0) return false;
    p_ += n;
    return true;
  }
  bool boolean() {
    skip_space();
    if (word("True")) return true;
    if (word("False")) return false;
    error("expected True or False");
  }
  uint64_t integer() {
    if (!std::isdigit(static_cast<unsigned char>(skip_space()))) error("expected a dimension");
    uint64_t v = 0;
    for (; p_ < end_ && std::isdigit(static_cast<unsigned char>(*p_)); ++p_) {
      if (v > (UINT64_MAX - 9) / 10) error("dimension too large");
      v = v * 10 + static_cast<uint64_t>(*p_ - '0');
    }
    return v;
  }
  std::vector<uint64_t> tuple() {
    constexpr size_t kMaxDims = 64;  // numpy's own limit
    std::vector<uint64_t> dims;
    expect('(');
    while (skip_space() != ')') {
      if (dims.size() == kMaxDims) error("more than 64 dimensions");
      dims.push_back(integer());
      if (skip_space() != ',') break;
      ++p_;
    }
    expect(')');
    return dims;
  }

  const std::string& path_;
  const char* begin_;
  const char* p_;
  const char* end_;
};

DType npy_dtype(const std::string& path, const std::string& descr) {
  // '|' (not applicable) and '=' (native) both mean little-endian here (see the static_assert).
  const bool little = !descr.empty() && (descr[0] == '<' || descr[0] == '|' || descr[0] == '=');
  const std::string kind = descr.empty() ? "" : descr.substr(1);
  if (little && kind == "f4") return DType::f32;
  if (little && kind == "f2") return DType::f16;
  if (!descr.empty() && descr[0] == '>' && (kind == "f4" || kind == "f2")) {
    bad_npy(path, "big-endian dtype '" + descr + "' is not supported (use '<" + kind + "')");
  }
  bad_npy(path, "unsupported dtype '" + descr + "' (co3 reads float32 '<f4' and float16 '<f2')");
}

uint32_t load_le(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Where a .npy file's values are, after checking its header against its size.
struct NpyLayout {
  DType dtype;
  uint64_t numel;
  size_t data_offset;
};

NpyLayout npy_layout(const std::string& path, const uint8_t* file, size_t size) {
  static const uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (size < 10) bad_npy(path, "truncated (" + std::to_string(size) + " bytes)");
  if (std::memcmp(file, kMagic, sizeof kMagic) != 0) bad_npy(path, "bad magic");
  const int major = file[6], minor = file[7];
  if (major < 1 || major > 3 || minor != 0) {
    bad_npy(path, "unsupported version " + std::to_string(major) + "." + std::to_string(minor));
  }
  // Version 1.0 stores the header length in 2 bytes, 2.0 and 3.0 (UTF-8 header) in 4.
  const size_t prefix = major == 1 ? 10 : 12;
  if (size < prefix) bad_npy(path, "truncated header");
  const uint64_t header_len = load_le(file + 8, major == 1 ? 2 : 4);
  if (header_len > size - prefix) {
    bad_npy(path, "header of " + std::to_string(header_len) + " bytes exceeds the file (" +
                      std::to_string(size) + " bytes)");
  }
  const char* text = reinterpret_cast<const char*>(file + prefix);
  const NpyHeader h = HeaderParser(path, text, text + header_len).parse();
  const DType dtype = npy_dtype(path, h.descr);

  // The element count, without trusting it: it is only compared with the bytes present.
  uint64_t numel = 1;
  bool overflow = false, empty = false;
  size_t non_unit_dims = 0;
  for (uint64_t d : h.shape) {
    empty = empty || d == 0;
    non_unit_dims += d != 1;
    overflow = overflow || __builtin_mul_overflow(numel, d, &numel);
  }
  if (empty) numel = 0;
  const std::string shape = shape_string(h.shape);
  if (overflow && !empty) bad_npy(path, "shape " + shape + " is too large");
  // Fortran order lays the values out differently unless at most one dimension exceeds 1.
  if (h.fortran_order && non_unit_dims > 1 && !empty) {
    bad_npy(path, "Fortran-order array of shape " + shape +
                      " is not supported (save it with np.ascontiguousarray)");
  }
  const size_t offset = prefix + static_cast<size_t>(header_len);
  const uint64_t data_bytes = size - offset;
  const uint64_t item = dtype_size(dtype);
  if (data_bytes % item != 0 || data_bytes / item != numel) {
    bad_npy(path, "shape " + shape + " of " + h.descr + " does not match the " +
                      std::to_string(data_bytes) + " data bytes present");
  }
  return NpyLayout{dtype, numel, offset};
}

LoadedTensor load_f32(const std::string& path) {
  LoadedTensor t;
  read_file(path, t.bytes);
  if (t.bytes.size() % 4 != 0) {
    fail(Errc::invalid_argument, path + ": size of " + std::to_string(t.bytes.size()) +
                                     " bytes is not a multiple of 4 (raw float32 expected)");
  }
  t.numel = t.bytes.size() / 4;
  return t;
}

std::string extension(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

}  // namespace

void read_file(const std::string& path, std::vector<uint8_t>& out) { read_into(path, out); }
void read_file(const std::string& path, std::vector<char>& out) { read_into(path, out); }

LoadedTensor parse_npy(const uint8_t* data, size_t size, const std::string& name) {
  const NpyLayout l = npy_layout(name, data, size);
  return LoadedTensor{l.dtype, l.numel, std::vector<uint8_t>(data + l.data_offset, data + size)};
}

LoadedTensor load_tensor_file(const std::string& path) {
  const std::string ext = extension(path);
  if (ext == ".f32") return load_f32(path);
  if (ext == ".pt") {
    std::vector<char> file;
    read_file(path, file);
    return parse_pt_loaded(file.data(), file.size(), path);
  }
  if (ext == ".npy") {
    // Parsed in place: the values stay in the buffer they were read into.
    std::vector<uint8_t> file;
    read_file(path, file);
    const NpyLayout l = npy_layout(path, file.data(), file.size());
    file.erase(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(l.data_offset));
    return LoadedTensor{l.dtype, l.numel, std::move(file)};
  }
  const std::string what = ext.empty() ? "no file extension" : "unknown file type '" + ext + "'";
  fail(Errc::invalid_argument, path + ": " + what + " (expected .f32, .npy or .pt)");
}

void write_file(const std::string& path, const void* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) fail_io(path, "cannot create", errno);
  bool ok = size == 0 || std::fwrite(data, 1, size, f) == size;
  int err = ok ? 0 : errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    std::remove(path.c_str());
    fail_io(path, "write failed", err ? err : EIO);
  }
}

void write_f32_file(const std::string& path, const float* values, size_t n) {
  write_file(path, values, n * sizeof(float));
}

}  // namespace co3::io
