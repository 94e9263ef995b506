// The C interface between the co3 CLI (host/io/pt_loader.cpp) and the .pt reader library
// libco3_pt_reader.so (host/io/pt_reader_abi.cpp over pt_reader.cpp, linked with LibTorch).
// Plain C types, so that nothing of C++ (exceptions, std::string, std::vector) crosses the
// dlopen boundary; the symbol's name carries the interface version.
#pragma once

#include <stddef.h>
#include <stdint.h>

extern "C" {

// What one call returns. Everything it points to was allocated by the library and is released
// with co3_pt_release_v1.
struct Co3PtResult {
  int ok;          // 1: a tensor; 0: refused, `message` says why and `errc` is its co3::Errc
  int errc;        // co3::Errc, when !ok
  int dtype;       // co3::DType, when ok
  uint64_t numel;  // when ok
  uint8_t* bytes;  // numel values of dtype, little-endian (nbytes of them), when ok
  size_t nbytes;
  char* message;  // one line, NUL-terminated, when !ok
};

// Parses a torch.save file's bytes as co3::io::parse_pt does; `name` labels the messages.
void co3_pt_parse_v1(const char* data, size_t size, const char* name, Co3PtResult* out);
void co3_pt_release_v1(Co3PtResult* r);

}  // extern "C"

#define CO3_PT_PARSE_SYMBOL "co3_pt_parse_v1"
#define CO3_PT_RELEASE_SYMBOL "co3_pt_release_v1"
