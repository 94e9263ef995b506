// The gradient-file readers of the co3 tool (host/io): .f32 and crafted, often hostile, .npy
// files. A reader must reject every malformed file with a co3::Error and never allocate
// memory because a header claims it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "co3/error.h"
#include "io/readers.h"

// The largest single allocation, so that tests can show a lying header allocates nothing big.
// (noinline keeps GCC from pairing an inlined delete's free() with operator new and warning.)
static std::atomic<size_t> g_largest_allocation{0};

void* operator new(std::size_t size) {
  size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
  while (size > seen && !g_largest_allocation.compare_exchange_weak(seen, size)) {
  }
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

using co3::DType;
using co3::Errc;
using co3::io::load_tensor_file;

class Readers : public ::testing::Test {
 protected:
  // POSIX rather than std::filesystem: libtorch.so (loaded with the .pt reader) exports its own
  // std::filesystem symbols, and remove_all resolved to them crashed.
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "co3_readers_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl + "/";
  }
  void TearDown() override {
    ::rmdir((dir_ + "dir.npy").c_str());
    for (const std::string& path : made_) std::remove(path.c_str());
    ::rmdir(dir_.c_str());
  }

  std::string write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ + name;
    made_.push_back(path);
    std::FILE* f = std::fopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    return path;
  }

  // The error code load_tensor_file throws for `path`; fails the test if it succeeds.
  static Errc load_error(const std::string& path) {
    try {
      load_tensor_file(path);
    } catch (const co3::Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      return e.code();
    }
    ADD_FAILURE() << path << " loaded";
    return Errc::corrupt_packet;
  }

  std::string dir_;                 // ends with '/'
  std::vector<std::string> made_;  // files to remove
};

std::string floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// A .npy file as numpy writes it: magic, version, header length, the dict padded with spaces
// to a multiple of 64 bytes and ended by a newline, then the data.
std::string npy(const std::string& dict, const std::string& data, int version = 1) {
  const size_t prefix = version == 1 ? 10 : 12;
  std::string header = dict;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(version);
  out += '\0';
  for (size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>(header.size() >> (8 * i));
  return out + header + data;
}

std::string dict(const std::string& descr, const std::string& shape, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + shape + ", }";
}

const std::vector<float> kSix = {1.5f, -2.0f, 0.25f, 3.0f, -0.125f, 7.0f};

TEST_F(Readers, F32) {
  const auto t = load_tensor_file(write("g.f32", floats(kSix)));
  EXPECT_EQ(t.dtype, DType::f32);
  EXPECT_EQ(t.numel, 6u);
  EXPECT_EQ(std::string(t.bytes.begin(), t.bytes.end()), floats(kSix));
  EXPECT_EQ(load_tensor_file(write("empty.f32", "")).numel, 0u);
  EXPECT_EQ(load_tensor_file(write("upper.F32", floats(kSix))).numel, 6u);
}

TEST_F(Readers, F32SizeNotMultipleOfFour) {
  EXPECT_EQ(load_error(write("g.f32", floats(kSix).substr(0, 10))), Errc::invalid_argument);
}

TEST_F(Readers, FileSystemErrors) {
  EXPECT_EQ(load_error(dir_ + "missing.f32"), Errc::io);
  ASSERT_EQ(::mkdir((dir_ + "dir.npy").c_str(), 0700), 0);
  EXPECT_EQ(load_error(dir_ + "dir.npy"), Errc::io);
  EXPECT_EQ(load_error(write("g.txt", floats(kSix))), Errc::invalid_argument);
  EXPECT_EQ(load_error(write("noext", floats(kSix))), Errc::invalid_argument);
}

TEST_F(Readers, NpyVersion1Float32) {
  const auto t = load_tensor_file(write("g.npy", npy(dict("<f4", "(2, 3)"), floats(kSix))));
  EXPECT_EQ(t.dtype, DType::f32);
  EXPECT_EQ(t.numel, 6u);
  EXPECT_EQ(std::string(t.bytes.begin(), t.bytes.end()), floats(kSix));
}

TEST_F(Readers, NpyVersion2And3Float16) {
  const std::string half = std::string("\x00\x3c\x00\xc0\x00\x34", 6);  // 1, -2, 0.25
  for (int version : {2, 3}) {
    const auto t = load_tensor_file(
        write("g" + std::to_string(version) + ".npy", npy(dict("<f2", "(3,)"), half, version)));
    EXPECT_EQ(t.dtype, DType::f16);
    EXPECT_EQ(t.numel, 3u);
    EXPECT_EQ(std::string(t.bytes.begin(), t.bytes.end()), half);
  }
}

TEST_F(Readers, NpyHeaderSpellings) {
  const std::string data = floats(kSix);
  // Native and not-applicable byte orders, double quotes, another key order, no trailing
  // comma, a Fortran-order array with one non-unit dimension, upper-case extension.
  for (const std::string& d :
       {dict("=f4", "(6,)"), dict("|f4", "(1, 6, 1)"), dict("<f4", "(1, 6)", true),
        std::string("{\"shape\": (6,), \"fortran_order\": False, \"descr\": \"<f4\"}"),
        std::string("{'descr':'<f4','fortran_order':False,'shape':(2,3)}")}) {
    const auto t = load_tensor_file(write("g.NPY", npy(d, data)));
    EXPECT_EQ(t.numel, 6u) << d;
  }
  const auto scalar = load_tensor_file(write("s.npy", npy(dict("<f4", "()"), floats({2.0f}))));
  EXPECT_EQ(scalar.numel, 1u);
  const auto empty = load_tensor_file(write("e.npy", npy(dict("<f4", "(1099511627776, 0)"), "")));
  EXPECT_EQ(empty.numel, 0u);
}

TEST_F(Readers, NpyLyingShape) {
  const std::string data = floats(kSix);
  EXPECT_EQ(load_error(write("more.npy", npy(dict("<f4", "(7,)"), data))), Errc::invalid_argument);
  EXPECT_EQ(load_error(write("less.npy", npy(dict("<f4", "(5,)"), data))), Errc::invalid_argument);
  EXPECT_EQ(load_error(write("half.npy", npy(dict("<f2", "(13,)"), data))),
            Errc::invalid_argument);
  const std::string overflow = dict("<f4", "(4294967296, 4294967296, 2)");
  EXPECT_EQ(load_error(write("overflow.npy", npy(overflow, data))), Errc::invalid_argument);
  EXPECT_EQ(load_error(write("digits.npy", npy(dict("<f4", "(99999999999999999999999,)"), data))),
            Errc::invalid_argument);
}

TEST_F(Readers, NpyHugeClaimedShapeAllocatesNothing) {
  // 4 TiB would fail to allocate anyway; 1 GiB would succeed, so only the count catches it.
  for (const char* shape : {"(1099511627776,)", "(268435456,)"}) {
    const std::string path = write("huge.npy", npy(dict("<f4", shape), floats(kSix)));
    g_largest_allocation = 0;
    EXPECT_EQ(load_error(path), Errc::invalid_argument);
    EXPECT_LT(g_largest_allocation.load(), size_t{1} << 20) << shape;
  }
}

TEST_F(Readers, NpyTruncated) {
  const std::string good = npy(dict("<f4", "(6,)"), floats(kSix));
  for (size_t size : {size_t{0}, size_t{5}, size_t{9}, size_t{11}, size_t{40}, good.size() - 1}) {
    EXPECT_EQ(load_error(write("t" + std::to_string(size) + ".npy", good.substr(0, size))),
              Errc::invalid_argument)
        << size;
  }
  std::string v2 = npy(dict("<f4", "(6,)"), floats(kSix), 2);
  v2[11] = '\x7f';  // a header length of ~2 GiB
  EXPECT_EQ(load_error(write("v2len.npy", v2)), Errc::invalid_argument);
}

TEST_F(Readers, NpyBadMagicOrVersion) {
  std::string good = npy(dict("<f4", "(6,)"), floats(kSix));
  std::string magic = good;
  magic[1] = 'M';
  EXPECT_EQ(load_error(write("magic.npy", magic)), Errc::invalid_argument);
  std::string v4 = good;
  v4[6] = 4;
  EXPECT_EQ(load_error(write("v4.npy", v4)), Errc::invalid_argument);
  std::string v11 = good;
  v11[7] = 1;
  EXPECT_EQ(load_error(write("v11.npy", v11)), Errc::invalid_argument);
}

TEST_F(Readers, NpyUnsupportedDtypeOrOrder) {
  const std::string data = floats(kSix);
  for (const std::string& d :
       {dict("<f8", "(3,)"), dict(">f4", "(6,)"), dict(">f2", "(12,)"), dict("<i4", "(6,)"),
        dict("f4", "(6,)"), dict("<f4", "(2, 3)", true),
        std::string("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }")}) {
    EXPECT_EQ(load_error(write("d.npy", npy(d, data))), Errc::invalid_argument) << d;
  }
}

TEST_F(Readers, NpyMalformedHeaders) {
  const std::string data = floats(kSix);
  for (const std::string& d : {
           std::string("{'descr': '<f4', 'shape': (6,), }"),                          // no order
           std::string("{'descr': '<f4', 'fortran_order': False, }"),                 // no shape
           dict("<f4", "(6,)") + " x",                                                // trailing
           std::string("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                       "'shape': (6,), }"),                                           // duplicate
           std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), "
                       "'extra': 1}"),                                                // unknown
           std::string("{'descr': '<f4, 'fortran_order': False, 'shape': (6,), }"),  // quote
           dict("<f4", "(-6,)"), dict("<f4", "(6.0,)"), dict("<f4", "[6]"),
           dict("<f4", "(6,"), std::string("{'descr': '<f4', 'fortran_order': 0, "
                                           "'shape': (6,), }"),
           std::string("'descr': '<f4'"), std::string(""),
       }) {
    EXPECT_EQ(load_error(write("h.npy", npy(d, data))), Errc::invalid_argument) << d;
  }
}

TEST_F(Readers, NotATorchFile) {
  // With LibTorch the content is rejected, without it the build is: both are the input's fault.
  EXPECT_EQ(load_error(write("g.pt", floats(kSix))), Errc::invalid_argument);
}

TEST_F(Readers, WriteF32RoundTrip) {
  const std::string path = dir_ + "out.f32";
  made_.push_back(path);
  co3::io::write_f32_file(path, kSix.data(), kSix.size());
  const auto t = load_tensor_file(path);
  EXPECT_EQ(std::string(t.bytes.begin(), t.bytes.end()), floats(kSix));
  try {
    co3::io::write_f32_file(dir_ + "no/dir.f32", kSix.data(), kSix.size());
    ADD_FAILURE() << "wrote into a missing directory";
  } catch (const co3::Error& e) {
    EXPECT_EQ(e.code(), Errc::io);
  }
}

}  // namespace
