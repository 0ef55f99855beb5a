// Small value types of the public API: weight/KV element types (DType), the CPU numerics modes, the LongRoPE
// factor choice, with their names as the tools spell them on the command line.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

#include "llm/export.hpp"

namespace llm {

// Element types of weights and activations. Numeric values equal GGML's type ids (as stored in GGUF).
enum class DType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ4_NL = 20,
    IQ4_XS = 23,
    BF16 = 30,
};

// "Q4_K", "F16", ... as ggml names them ("?" for a value that is not a known type).
LLM_API std::string_view dtype_name(DType t);
// Parses "q4_0", "Q4_K", "f16", ... (case-insensitive).
LLM_API std::optional<DType> dtype_from_name(std::string_view name);

// The CPU numerics modes: which kernel arithmetic a forward pass uses. Every mode computes the same maths;
// they differ in rounding order, hence in the last bits of the logits.
//   exact      llama.cpp's arithmetic on this ISA (its vec_dot / GEMM choice, its attention): greedy tokens
//              equal llama.cpp's; what the llama.cpp-equality tests run.
//   fast       our fastest kernels for each shape (GEMV for one token, GEMM for prompts, flash attention).
//   invariant  a token's logits do not depend on what else shares its pass: one kernel order whether the pass
//              has 1 or 512 tokens, attention per sequence with splits fixed by position. The serving
//              engine's default (reproducible output under load).
enum class Numerics : uint8_t { Exact, Fast, Invariant };

constexpr std::string_view numerics_name(Numerics m) {
    switch (m) {
        case Numerics::Exact: return "exact";
        case Numerics::Fast: return "fast";
        case Numerics::Invariant: return "invariant";
    }
    return "?";
}

// "exact" | "fast" | "invariant" (lower case), else nullopt.
constexpr std::optional<Numerics> parse_numerics(std::string_view s) {
    for (Numerics m : {Numerics::Exact, Numerics::Fast, Numerics::Invariant})
        if (s == numerics_name(m)) return m;
    return std::nullopt;
}

// Which LongRoPE factors (Phi-3 128k) a forward pass uses.
enum class LongRopeMode {
    Auto,   // as Hugging Face: long factors once the sequence is longer than the original context
    Short,  // always the short factors
    Long,   // always the long factors (llama.cpp's choice when n_ctx > original context)
};

}  // namespace llm
