// Facts about the host for defaults, limits and reports (--list-devices, benchmarks), and where the tools look
// for a model when none is named.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "llm/export.hpp"

namespace llm {

// Physical cores (not SMT siblings) available to this process; at least 1.
LLM_API int physical_core_count();
// Peak resident set size of this process in bytes (0 if unknown).
LLM_API size_t peak_rss_bytes();
// Bytes this process could still allocate without swapping or being OOM-killed: the smallest of the kernel's
// MemAvailable, the cgroup's limit minus its usage (v2 memory.max / v1 memory.limit_in_bytes) and the
// address-space rlimit minus what is mapped. 0 when none of them can be read (callers then skip the check).
LLM_API int64_t available_memory_bytes();

// The CPU kernels' level: "avx512-vnni", "avx2", "dotprod", "neon" or "scalar" (the level whose kernels matmul
// runs: an AVX-512 CPU without VNNI runs the AVX2 ones, an I8MM CPU the dotprod ones plus its smmla GEMM). The
// LLM_CPU environment variable caps it ("avx2", "scalar", ...).
LLM_API const char* cpu_isa_name();

// ${LLM_CACHE:-~/.cache/llm}: where scripts/fetch-smollm2.sh puts the default model.
LLM_API std::string model_cache_dir();
// $LLM_MODEL, else the SmolLM2-135M-Instruct GGUF under model_cache_dir()/smollm2, else nullopt.
LLM_API std::optional<std::string> find_default_model();

}  // namespace llm
