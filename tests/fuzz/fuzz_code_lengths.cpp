// libFuzzer target: co3::read_code_lengths on hostile code-table bodies (docs/FORMAT.md §4).
//
// Input: byte 0 chooses the alphabet size n = max(1, 2^(b0 mod 17) − b0 div 17), which reaches
// every power of two 1 … 65536 and the sizes just below; byte 1 chooses max_len = 1 + b1 mod 24;
// the rest is the body. A body is refused with Error(corrupt_packet) or gives lengths from which
// build_decode_table must build a decoder that maps every codeword back to its symbol and never
// returns a length above max_len.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "co3/error.h"
#include "co3/huffman.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const auto n = static_cast<uint32_t>(std::max(1, (1 << data[0] % 17) - data[0] / 17));
  const int max_len = 1 + data[1] % 24;
  std::vector<uint8_t> lengths(n);
  try {
    co3::read_code_lengths(data + 2, size - 2, n, max_len, lengths.data());
  } catch (const co3::Error& e) {
    if (e.code() != co3::Errc::corrupt_packet || std::strchr(e.what(), '\n')) std::abort();
    return 0;
  }
  // Lengths the parser accepted are valid: an exception here escapes and is reported.
  const co3::DecodeTable table = co3::build_decode_table(lengths.data(), n, max_len);
  const co3::DecodeTableView view = table.view();

  // Every codeword (the first 256 symbols with one) decodes to its symbol whatever follows it.
  std::vector<uint32_t> rev_codes(n);
  co3::encode_table(lengths.data(), n, rev_codes.data());
  uint64_t filler = size;
  for (uint32_t s = 0, checked = 0; s < n && checked < 256; ++s) {
    if (!lengths[s]) continue;
    ++checked;
    filler = filler * 6364136223846793005u + 1442695040888963407u;  // any bits will do
    uint32_t symbol = ~0u;
    const int len = co3::decode_symbol(view, rev_codes[s] | filler << lengths[s], &symbol);
    if (len != lengths[s] || symbol != s) std::abort();
  }
  // Arbitrary windows (the body's own bytes, all zeros, all ones): a codeword or nothing.
  std::vector<uint64_t> windows = {0, ~uint64_t{0}};
  for (size_t i = 2; i + 8 <= size && windows.size() < 18; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    windows.push_back(w);
  }
  for (uint64_t w : windows) {
    uint32_t symbol = 0;
    const int len = co3::decode_symbol(view, w, &symbol);
    if (len < 0 || len > max_len) std::abort();
    if (len > 0 && (symbol >= n || lengths[symbol] != len)) std::abort();
  }
  return 0;
}
