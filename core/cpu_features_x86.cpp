// x86-64 feature detection: cpuid leaves 1 and 7, and xgetbv for the OS's saving of ymm / zmm state.
#include <cpuid.h>

#include <cstdint>

#include "core/cpu_features.hpp"

namespace llm {
namespace {

uint64_t xgetbv0() {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

}  // namespace

CpuFeatures detect_cpu_features() {
    CpuFeatures f;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const bool osxsave = c & (1u << 27), fma = c & (1u << 12), f16c = c & (1u << 29);
    if (!osxsave) return f;
    const uint64_t xcr0 = xgetbv0();
    const bool ymm_os = (xcr0 & 0x6) == 0x6, zmm_os = (xcr0 & 0xe6) == 0xe6;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
    const bool avx2 = b & (1u << 5);
    const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30),
               avx512vl = b & (1u << 31), vnni = c & (1u << 11);
    unsigned a1 = 0, b1, c1, d1;
    __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
    const bool bf16 = a1 & (1u << 5), avx_vnni = a1 & (1u << 4);
    f.avx2 = ymm_os && avx2 && fma && f16c;
    f.avx_vnni = f.avx2 && avx_vnni;
    f.avx512 = f.avx2 && zmm_os && avx512f && avx512dq && avx512bw && avx512vl;
    f.avx512_vnni = f.avx512 && vnni;
    f.avx512_bf16 = f.avx512 && bf16;
    return f;
}

}  // namespace llm
