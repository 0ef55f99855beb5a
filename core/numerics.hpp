// The CPU numerics modes: which kernel arithmetic a forward pass uses. Every mode computes the same maths;
// they differ in rounding order, hence in the last bits of the logits.
//   exact      llama.cpp's arithmetic on this ISA (its vec_dot / GEMM choice, its attention): greedy tokens
//              equal llama.cpp's; what the llama.cpp-equality tests run.
//   fast       our fastest kernels for each shape (GEMV for one token, GEMM for prompts, flash attention).
//   invariant  a token's logits do not depend on what else shares its pass: one kernel order whether the pass
//              has 1 or 512 tokens, attention per sequence with splits fixed by position. The serving
//              engine's default (reproducible output under load).
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace llm {

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

}  // namespace llm
