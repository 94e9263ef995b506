// Large scratch buffers of the CPU encoder (its symbols and packed payload parts), kept between
// calls instead of freed. Why (issue 25): glibc serves allocations above 32 MiB with a fresh
// mmap, and every 4 KiB page of it costs a page fault on first touch; on a 128 MB tensor those
// faults and the unmapping took half of the encode's time (measured with perf: 27% of all cycles
// in the kernel, and e4m3 encoding twice as fast with the faults gone). Internal to host/.
//
// The pool keeps returned buffers up to a total of CO3_SCRATCH_MB MiB (default 1024; 0 keeps
// none) and hands the smallest one that fits; co3::release_scratch() frees what it keeps.
// Buffers below kPooledBytes come from the heap as before: glibc reuses those itself.
#pragma once

#include <cstddef>
#include <cstdint>

namespace co3::detail {

inline constexpr size_t kPooledBytes = size_t{1} << 20;

// At least `bytes` bytes, uninitialized, owned until destruction (then back to the pool).
class Scratch {
 public:
  Scratch() = default;
  explicit Scratch(size_t bytes);
  Scratch(Scratch&& o) noexcept : p_(o.p_), cap_(o.cap_) { o.p_ = nullptr, o.cap_ = 0; }
  Scratch& operator=(Scratch&& o) noexcept;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { release(); }

  uint8_t* data() const { return p_; }
  size_t capacity() const { return cap_; }

 private:
  void release() noexcept;
  uint8_t* p_ = nullptr;
  size_t cap_ = 0;
};

size_t scratch_pool_bytes();  // what the pool keeps now (tests and the bench report it)

}  // namespace co3::detail
