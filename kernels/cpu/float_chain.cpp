// The float-chain matmul's dispatch and its scalar specification (float_chain.hpp).
#include "kernels/cpu/float_chain.hpp"

#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/cpu_features.hpp"
#include "kernels/quant/quant.hpp"

namespace llm::cpu {
namespace {

bool float_type(DType type) { return type == DType::F32 || type == DType::F16 || type == DType::BF16; }

}  // namespace

bool float_chain_supports(Isa isa, DType type) { return isa_is_x86(isa) && float_type(type); }

int64_t float_chain_min_tokens(Isa isa, DType type) {
    static const bool off = [] {
        const char* e = std::getenv("LLM_FLOAT_GEMM");
        return e && e[0] == '0';
    }();
    if (off || !float_chain_supports(isa, type)) return INT64_MAX;
    // Crossovers against the vec_dot tiles (vec_dot_float_simd.hpp), F16 2048 x 2048, 1 and 2 threads, Zen 4: the
    // per-call transposes cost ~0.25 ns per weight, so the GEMM wins from ~40 tokens against AVX2's 3 x 4 tiles and
    // from ~24-32 against AVX-512's 6 x 4; BF16 with AVX512-BF16's vdpbf16ps (bf16-rounded activations) later.
    if (isa == Isa::Avx2) return 48;
    if (type == DType::BF16 && cpu_features().avx512_bf16) return 64;
    return 32;
}

void float_chain_matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, int n_threads) {
    if (!float_type(w.type)) {
        std::fprintf(stderr, "llm float_chain: weight type %s is not a float type\n", std::string(dtype_name(w.type)).c_str());
        std::abort();
    }
    float_chain_matmul_avx2(w, x, n_tokens, y, n_threads);
}

size_t float_panels_bytes(const TensorView& w) {
    const size_t elem = w.type == DType::F32 ? 4 : 2;
    return (size_t)((w.ne[1] + 15) / 16) * (size_t)w.ne[0] * 16 * elem;
}

void float_panels_pack(const TensorView& w, void* dst, int n_threads) {
    if (!float_type(w.type)) {
        std::fprintf(stderr, "llm float_panels_pack: weight type %s is not a float type\n", std::string(dtype_name(w.type)).c_str());
        std::abort();
    }
    float_panels_pack_avx2(w, dst, n_threads);
}

void float_chain_reference(const TensorView& w, const float* x, int64_t n_tokens, float* y) {
    const int64_t n_in = w.ne[0], n_out = w.ne[1];
    std::vector<float> row((size_t)n_in);
    for (int64_t r = 0; r < n_out; ++r) {
        dequantize_row(w.type, w.row(r), row.data(), n_in);  // exact for float types
        for (int64_t t = 0; t < n_tokens; ++t) {
            float acc = 0.0f;
            for (int64_t i = 0; i < n_in; ++i) acc = std::fma(row[(size_t)i], x[t * n_in + i], acc);
            y[t * n_out + r] = acc;
        }
    }
}

}  // namespace llm::cpu
