// FORMAT.md §11: the failure record a device encoder leaves in the packet buffer instead of a
// packet when it finds an error it cannot throw (magic "CO3e"). Every decoder refuses it as a
// packet, and every decoder (CPU parser, GPU header check, packet_size) reads it back as the
// encoder's own status, so the receiver raises the sender's error instead of "bad magic".
#pragma once

#include <cstdint>

#include "co3/detail/hd.h"
#include "co3/detail/packet_layout.h"
#include "co3/kernels/status.h"

namespace co3::detail {

inline constexpr uint64_t kFailureRecordBytes = 32;

// The record's length sits where a packet's total_bytes does (offset 8), so whoever finds a
// buffer's length in its header (a DDP hook sizing its all-gather on the device) finds the
// record's 32 bytes too, and sends the record on for every receiver to raise.
CO3_HD void store_failure_record(uint8_t* p, uint32_t code, uint32_t segment, uint64_t detail) {
  for (uint64_t i = 0; i < kFailureRecordBytes; ++i) p[i] = 0;
  p[0] = 0x43;
  p[1] = 0x4F;
  p[2] = 0x33;
  p[3] = 0x65;
  store_le(p + 4, code);
  store_le(p + 8, kFailureRecordBytes);
  store_le(p + 16, detail);
  store_le(p + 24, segment);
}

// The encoder status a well-formed record holds, or ok when the bytes are not one. Only the
// encoder's own codes are believed: a hostile "record" naming a packet check (or ok) is not a
// record, and the caller reports its bad magic as for any other foreign bytes.
CO3_HD kernels::DeviceStatus load_failure_record(const uint8_t* p, uint64_t size) {
  const kernels::DeviceStatus none{0, 0, 0};
  if (size < kFailureRecordBytes || p[0] != 0x43 || p[1] != 0x4F || p[2] != 0x33 || p[3] != 0x65)
    return none;
  const uint32_t code = load_le<uint32_t>(p + 4);
  const bool encoder_code = code == static_cast<uint32_t>(kernels::Status::non_finite) ||
                            code == static_cast<uint32_t>(kernels::Status::code_too_many_symbols) ||
                            code == static_cast<uint32_t>(kernels::Status::code_weights_too_large);
  if (!encoder_code || load_le<uint64_t>(p + 8) != kFailureRecordBytes ||
      load_le<uint32_t>(p + 28) != 0)
    return none;
  return kernels::DeviceStatus{code, load_le<uint32_t>(p + 24), load_le<uint64_t>(p + 16)};
}

}  // namespace co3::detail
