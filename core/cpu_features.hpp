// CPU features read once from cpuid; kernels pick their ISA variant from these.
#pragma once

namespace llm {

struct CpuFeatures {
    bool avx2 = false;      // with FMA and F16C
    bool avx_vnni = false;  // AVX-VNNI (VEX vpdpbusd on ymm), with avx2
    bool avx512 = false;    // F, BW, VL, DQ
    bool avx512_vnni = false;
    bool avx512_bf16 = false;
};

// Detected features, masked by the LLM_CPU environment variable ("scalar", "avx2", "avx512")
// so tests and benchmarks can force a lower ISA level ("avx2" is plain AVX2: no AVX-VNNI either).
const CpuFeatures& cpu_features();
const char* cpu_isa_name();  // the kernels' level: "avx512-vnni", "avx2" or "scalar"

}  // namespace llm
