// The AVX-VNNI GEMM entry: gemm_avx2.hpp's kernel with the integer sums of every type on vpdpbusd (VEX, ymm),
// 1 instruction per 32 MACs and no int16 saturation to plan around; the float epilogue, the packers and the
// pass shape (16 rows x 4 tokens) are the AVX2 ones, so results are bit-identical to the scalar kernel too.
// For CPUs with AVX-VNNI but no AVX-512 VNNI (Intel Alder Lake and later client cores, Sierra Forest).
#include "kernels/cpu/gemm_avx2.hpp"

namespace llm::cpu {
namespace gemm_detail {
namespace {

template <>
struct Dot<true> {
    static __m256i dpbusd(__m256i acc, __m256i u, __m256i a) { return _mm256_dpbusd_avx_epi32(acc, u, a); }
};

}  // namespace
}  // namespace gemm_detail

bool gemm_ops_avxvnni(DType type, GemmOps& o) { return gemm_detail::gemm_ops_avx2_family<true>(type, o); }

}  // namespace llm::cpu
