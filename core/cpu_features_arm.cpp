// aarch64 feature detection: the kernel's hwcaps on Linux (getauxval), sysctl on macOS. NEON is part of every
// aarch64 CPU; dotprod (sdot) and i8mm (smmla) are optional extensions.
#include "core/cpu_features.hpp"

#if defined(__APPLE__)
#include <sys/sysctl.h>
#else
#include <sys/auxv.h>
#endif

namespace llm {
namespace {

#if defined(__APPLE__)
bool sysctl_flag(const char* name) {
    int v = 0;
    size_t size = sizeof(v);
    return sysctlbyname(name, &v, &size, nullptr, 0) == 0 && v != 0;
}
#endif

}  // namespace

CpuFeatures detect_cpu_features() {
    CpuFeatures f;
    f.neon = true;
#if defined(__APPLE__)
    f.dotprod = sysctl_flag("hw.optional.arm.FEAT_DotProd");
    f.i8mm = f.dotprod && sysctl_flag("hw.optional.arm.FEAT_I8MM");
#else
    constexpr unsigned long kHwcapAsimdDp = 1ul << 20;  // HWCAP_ASIMDDP (asm/hwcap.h)
    constexpr unsigned long kHwcap2I8mm = 1ul << 13;    // HWCAP2_I8MM
    f.dotprod = (getauxval(AT_HWCAP) & kHwcapAsimdDp) != 0;
    f.i8mm = f.dotprod && (getauxval(AT_HWCAP2) & kHwcap2I8mm) != 0;
#endif
    return f;
}

}  // namespace llm
