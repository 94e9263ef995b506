// NVTX ranges (domain "co3") around the codec's stages, so that an Nsight Systems timeline shows
// quantize, codebook, pack, parse and decode by name. NVTX v3 is header-only and costs a branch
// when no tool is attached; builds without the CUDA toolkit's nvtx3 headers get no-ops.
#pragma once

#if defined(CO3_HAVE_NVTX)
#include <nvtx3/nvToolsExt.h>
#endif

namespace co3::detail {

#if defined(CO3_HAVE_NVTX)
class TraceRange {
 public:
  explicit TraceRange(const char* name) {
    nvtxEventAttributes_t a{};
    a.version = NVTX_VERSION;
    a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
    a.messageType = NVTX_MESSAGE_TYPE_ASCII;
    a.message.ascii = name;
    nvtxDomainRangePushEx(domain(), &a);
  }
  ~TraceRange() { nvtxDomainRangePop(domain()); }
  TraceRange(const TraceRange&) = delete;
  TraceRange& operator=(const TraceRange&) = delete;

 private:
  static nvtxDomainHandle_t domain() {
    static const nvtxDomainHandle_t d = nvtxDomainCreateA("co3");
    return d;
  }
};
#else
class TraceRange {
 public:
  explicit TraceRange(const char*) {}
};
#endif

}  // namespace co3::detail

#define CO3_TRACE_CAT2(a, b) a##b
#define CO3_TRACE_CAT(a, b) CO3_TRACE_CAT2(a, b)
// A range from here to the end of the enclosing scope.
#define CO3_TRACE(name) ::co3::detail::TraceRange CO3_TRACE_CAT(co3_trace_, __LINE__)(name)
