// CRC32C (Castagnoli), the packet checksum of docs/FORMAT.md §8.
#pragma once

#include <cstddef>
#include <cstdint>

namespace co3 {

// CRC of `size` bytes, continuing from `crc` (the CRC of the bytes before; 0 to start).
uint32_t crc32c(const uint8_t* data, size_t size, uint32_t crc = 0);

// CRC of A‖B from crc(A), crc(B) and |B|: lets pieces be checksummed in parallel.
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t size_b);

// Multi-threaded CRC of a large buffer (pieces combined with crc32c_combine).
uint32_t crc32c_parallel(const uint8_t* data, size_t size, int threads);

}  // namespace co3
