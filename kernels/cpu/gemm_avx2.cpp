// The AVX2 GEMM entry (the kernel and packers: gemm_avx2.hpp).
#include "kernels/cpu/gemm_avx2.hpp"

namespace llm::cpu {

bool gemm_ops_avx2(DType type, GemmOps& o) { return gemm_detail::gemm_ops_avx2_family<false>(type, o); }

}  // namespace llm::cpu
