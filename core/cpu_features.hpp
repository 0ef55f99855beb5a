// CPU features read once at start-up (cpuid on x86-64, the kernel's hwcaps on aarch64); kernels pick their ISA
// variant from these.
#pragma once
#include "llm/system.hpp"

namespace llm {

struct CpuFeatures {
    // x86-64
    bool avx2 = false;      // with FMA and F16C
    bool avx_vnni = false;  // AVX-VNNI (VEX vpdpbusd on ymm), with avx2
    bool avx512 = false;    // F, BW, VL, DQ
    bool avx512_vnni = false;
    bool avx512_bf16 = false;
    // aarch64
    bool neon = false;     // Advanced SIMD (every aarch64 CPU)
    bool dotprod = false;  // sdot / udot (Armv8.2 DotProd: HWCAP_ASIMDDP), with neon
    bool i8mm = false;     // smmla / ummla (Armv8.6 I8MM: HWCAP2_I8MM), with dotprod
};

// Detected features, masked by the LLM_CPU environment variable so tests and benchmarks can force a lower ISA
// level: "scalar" anywhere; "avx2" (plain AVX2: no AVX-VNNI either) or "avx512" on x86-64; "neon", "dotprod" or
// "i8mm" on aarch64. A level the CPU lacks caps nothing above what it has.
const CpuFeatures& cpu_features();
// cpu_isa_name(), the kernels' level: include/llm/system.hpp.

// The architecture's detection without LLM_CPU (core/cpu_features_x86.cpp, core/cpu_features_arm.cpp).
CpuFeatures detect_cpu_features();

}  // namespace llm
