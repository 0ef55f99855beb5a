// AVX2 instantiation of the K-quant and IQ4_XS vec_dot kernels (vec_dot_kquants_simd.hpp), with llama.cpp's
// arithmetic on an AVX2 CPU: its repacked gemv for Q4_K, ggml's x86 vec_dot (AVX2 branch) for the others
// (Q2_K included: llama.cpp repacks Q2_K only on AVX-512).
#include "kernels/cpu/vec_dot_kquants_simd.hpp"

namespace llm::cpu {
namespace {

struct AccAvx2 {
    static __m256i add(__m256i acc, __m256i u, __m256i s, __m256i scales16) {
        return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scales16));
    }
};

}  // namespace

void register_avx2_kquants(IsaKernels& k) {
    k.dot[(size_t)DType::Q2_K] = {dot_q2_k<AccAvx2>, ActType::Q8_K};
    k.dot[(size_t)DType::Q3_K] = {dot_q3_k_ggml<AccAvx2>, ActType::Q8_K};
    k.dot[(size_t)DType::Q4_K] = {dot_q4_k_repacked<AccAvx2>, ActType::Q8_K, dot_q4_k_repacked_gemm<AccAvx2>};
    k.dot[(size_t)DType::Q4_K].tile_gemm4 = {tile_q4_k_repacked_gemm<AccAvx2>, 4, 2};
    k.dot[(size_t)DType::Q5_K] = {dot_q5_k_ggml<AccAvx2>, ActType::Q8_K, nullptr, dot_q5_k_tiled<AccAvx2>};
    k.dot[(size_t)DType::Q6_K] = {dot_q6_k<AccAvx2>, ActType::Q8_K, nullptr, dot_q6_k_tiled<AccAvx2>};
    k.dot[(size_t)DType::IQ4_XS] = {dot_iq4_xs<AccAvx2>, ActType::Q8_K};
}

}  // namespace llm::cpu
