// co3 reports every failure as a co3::Error carrying a category; messages name the field or
// tensor at fault and the bad value.
#pragma once

#include <stdexcept>
#include <string>
#include <type_traits>

namespace co3 {

enum class Errc {
  invalid_argument = 1,  // a bad option, format or input (the caller's mistake)
  non_finite = 2,        // NaN/Inf in a gradient under the `error` policy
  corrupt_packet = 3,    // a packet that violates docs/FORMAT.md (truncated, CRC, ranges, data)
  io = 4,                // a file could not be read or written
};

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& what) : std::runtime_error(what), code_(code) {}
  Errc code() const noexcept { return code_; }

 private:
  Errc code_;
};

[[noreturn]] inline void fail(Errc code, const std::string& what) { throw Error(code, what); }
inline void check(bool ok, Errc code, const std::string& what) {
  if (!ok) fail(code, what);
}
// A literal message: no std::string is made unless the check fails.
inline void check(bool ok, Errc code, const char* what) {
  if (!ok) fail(code, what);
}
// A message built only on failure: check(ok, code, [&] { return "…" + std::to_string(x); }).
// Checks on every call of the codec take this form: building their messages eagerly cost more
// than a small tensor's encode in places (a prior code's check per symbol).
template <class Message, std::enable_if_t<std::is_invocable_v<Message&>, int> = 0>
inline void check(bool ok, Errc code, Message&& message) {
  if (!ok) fail(code, std::string(message()));
}

}  // namespace co3
