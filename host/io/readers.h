// Gradient files for the co3 command-line tool: whole files in and out, and the tensor formats
// it reads (.f32 raw float32, .npy float32/float16, .pt through LibTorch).
//
// Every byte read is treated as hostile: sizes come from the file system, never from a header,
// so a lying header cannot make the reader allocate more than the file holds. Failures throw
// co3::Error(Errc::io) for the file system and Errc::invalid_argument for content, with the
// message "<path>: <what>".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "co3/config.h"
#include "io/loaded_tensor.h"

namespace co3::io {

// Chooses the reader by the file's extension (.f32, .npy, .pt; case-insensitive).
LoadedTensor load_tensor_file(const std::string& path);

// The .npy reader on a file already in memory; `name` prefixes error messages as the path
// does for load_tensor_file.
LoadedTensor parse_npy(const uint8_t* data, size_t size, const std::string& name);

// The whole content of a regular file.
void read_file(const std::string& path, std::vector<uint8_t>& out);
void read_file(const std::string& path, std::vector<char>& out);

// Creates or truncates `path`; a file that could not be written completely is removed.
void write_file(const std::string& path, const void* data, size_t size);
void write_f32_file(const std::string& path, const float* values, size_t n);

}  // namespace co3::io
