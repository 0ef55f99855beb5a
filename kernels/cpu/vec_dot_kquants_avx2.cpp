// AVX2 instantiation of the K-quant and IQ4_XS vec_dot kernels (vec_dot_kquants_simd.hpp).
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
    k.dot[(size_t)DType::Q3_K] = {dot_q3_k<AccAvx2>, ActType::Q8_K};
    k.dot[(size_t)DType::Q4_K] = {dot_q45_k<AccAvx2, false, BlockQ4_K>, ActType::Q8_K};
    k.dot[(size_t)DType::Q5_K] = {dot_q45_k<AccAvx2, true, BlockQ5_K>, ActType::Q8_K};
    k.dot[(size_t)DType::Q6_K] = {dot_q6_k<AccAvx2>, ActType::Q8_K};
    k.dot[(size_t)DType::IQ4_XS] = {dot_iq4_xs<AccAvx2>, ActType::Q8_K};
}

}  // namespace llm::cpu
