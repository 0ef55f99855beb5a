// The detected CPU features, cached once and capped by LLM_CPU; the detection itself is per architecture
// (cpu_features_x86.cpp, cpu_features_arm.cpp: only the target's file is compiled).
#include "core/cpu_features.hpp"

#include <cstdlib>
#include <cstring>

namespace llm {
namespace {

CpuFeatures capped(CpuFeatures f) {
    const char* force = std::getenv("LLM_CPU");
    if (!force) return f;
    if (!std::strcmp(force, "scalar")) return CpuFeatures{};
    if (!std::strcmp(force, "avx2")) f.avx_vnni = f.avx512 = f.avx512_vnni = f.avx512_bf16 = false;
    if (!std::strcmp(force, "neon")) f.dotprod = f.i8mm = false;
    if (!std::strcmp(force, "dotprod")) f.i8mm = false;
    return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
    static const CpuFeatures f = capped(detect_cpu_features());
    return f;
}

const char* cpu_isa_name() {
    // The level the kernels run at: the AVX-512 kernels need VNNI, so an AVX-512 CPU without it runs the
    // AVX2 ones (kernels/cpu/matmul.cpp best_isa()).
    const CpuFeatures& f = cpu_features();
    if (f.avx512_vnni) return "avx512-vnni";
    if (f.avx2) return "avx2";
    if (f.dotprod) return "dotprod";
    if (f.neon) return "neon";
    return "scalar";
}

}  // namespace llm
