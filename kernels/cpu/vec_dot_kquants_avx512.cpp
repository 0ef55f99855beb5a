// AVX-512 VNNI instantiation of the K-quant and IQ4_XS vec_dot kernels (vec_dot_kquants_simd.hpp), with
// llama.cpp's arithmetic on an AVX-512 CPU: its repacked gemv for Q4_K and Q2_K (Q2_K is repacked only
// with AVX-512), ggml's x86 vec_dot for the others.
// GCC 12 flags the self-initialized variable inside _mm512_undefined_*() (a false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#ifndef __clang__  // clang has no -Wmaybe-uninitialized (and would warn about the unknown group)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "kernels/cpu/vec_dot_kquants_simd.hpp"

namespace llm::cpu {
namespace {

struct AccVnni {
    static __m256i add(__m256i acc, __m256i u, __m256i s, __m256i scales16) {
        return _mm256_dpwssd_epi32(acc, _mm256_maddubs_epi16(u, s), scales16);
    }
};

}  // namespace

void register_avx512_kquants(IsaKernels& k) {
    k.dot[(size_t)DType::Q2_K] = {dot_q2_k_repacked<AccVnni>, ActType::Q8_K};
    k.dot[(size_t)DType::Q3_K] = {dot_q3_k_ggml<AccVnni>, ActType::Q8_K};
    k.dot[(size_t)DType::Q4_K] = {dot_q4_k_repacked<AccVnni>, ActType::Q8_K, dot_q4_k_repacked_gemm<AccVnni>};
    k.dot[(size_t)DType::Q4_K].tile_gemm4 = {tile_q4_k_repacked_gemm<AccVnni>, 4, 2};
    k.dot[(size_t)DType::Q5_K] = {dot_q5_k_ggml<AccVnni>, ActType::Q8_K, nullptr, dot_q5_k_tiled<AccVnni>};
    k.dot[(size_t)DType::Q6_K] = {dot_q6_k<AccVnni>, ActType::Q8_K, nullptr, dot_q6_k_tiled<AccVnni>};
    k.dot[(size_t)DType::IQ4_XS] = {dot_iq4_xs<AccVnni>, ActType::Q8_K};
}

}  // namespace llm::cpu
