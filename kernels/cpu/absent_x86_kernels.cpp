// The x86 kernels' entry points in a build for another architecture (aarch64): the dispatch never reaches
// them (isa_supported(Isa::Avx2 / Avx512) is false there), so generic code and tests link without a single
// x86 file or #ifdef. Each aborts with a message if an invariant breaks.
#include <cstdio>
#include <cstdlib>

#include "kernels/cpu/attention_ggml.hpp"
#include "kernels/cpu/attention_impl.hpp"
#include "kernels/cpu/blas_gemm.hpp"
#include "kernels/cpu/float_chain.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/gemv.hpp"
#include "kernels/cpu/kquant_x8.hpp"
#include "kernels/cpu/ops_rows.hpp"
#include "kernels/cpu/vec_dot.hpp"

namespace llm::cpu {
namespace {

[[noreturn]] void absent(const char* fn) {
    std::fprintf(stderr, "llm: %s called in a build without x86 kernels\n", fn);
    std::abort();
}

}  // namespace

void register_avx2_float(IsaKernels&) { absent(__func__); }
void register_avx2_legacy(IsaKernels&) { absent(__func__); }
void register_avx2_kquants(IsaKernels&) { absent(__func__); }
void register_avx512_float(IsaKernels&, bool) { absent(__func__); }
void register_avx512_legacy(IsaKernels&) { absent(__func__); }
void register_avx512_kquants(IsaKernels&) { absent(__func__); }
bool gemm_ops_avx2(DType, GemmOps&) { absent(__func__); }
bool gemm_ops_avxvnni(DType, GemmOps&) { absent(__func__); }
bool gemm_ops_avx512(DType, GemmOps&) { absent(__func__); }
GemvKernel gemv_avx2(DType) { absent(__func__); }
GemvKernel gemv_avx512(DType) { absent(__func__); }
GemvKernel gemv_gemm_order_avx512(DType) { absent(__func__); }
GemvKernel gemv_gemm_order_avx2(DType) { absent(__func__); }
GemvMultiKernel gemv_multi_avx512(DType) { absent(__func__); }
GemvMultiKernel gemv_multi_avx2(DType) { absent(__func__); }
void blas_to_f32_avx2(DType, const void*, float*, int64_t) { absent(__func__); }
void float_chain_matmul_avx2(const TensorView&, const float*, int64_t, float*, int) { absent(__func__); }
void float_panels_pack_avx2(const TensorView&, void*, int) { absent(__func__); }
void gemv_kquant_x8_avx2(DType, int64_t, const uint8_t*, const uint8_t*, size_t, int, float*, int64_t) {
    absent(__func__);
}
void silu_mul_avx2(const float*, const float*, float*, int64_t) { absent(__func__); }
void silu_mul_avx512(const float*, const float*, float*, int64_t) { absent(__func__); }
void rms_norm_row_avx2(const float*, const float*, float*, int64_t, float) { absent(__func__); }
void rms_norm_row_avx512(const float*, const float*, float*, int64_t, float) { absent(__func__); }
void attention_tile_avx2(LLM_ATTN_TILE_ARGS) { absent(__func__); }
void attention_tile_avx512(LLM_ATTN_TILE_ARGS) { absent(__func__); }
void attention_tile_avx512_8(LLM_ATTN_TILE_ARGS) { absent(__func__); }
void ggml_attention_group_avx512(const float*, int64_t, const GgmlKv&, int64_t, int32_t, bool, const AttentionParams&,
                                 int, float*, float*, bool) {
    absent(__func__);
}
void ggml_attention_group_avx2(const float*, int64_t, const GgmlKv&, int64_t, int32_t, bool, const AttentionParams&,
                               int, float*, float*, bool) {
    absent(__func__);
}

}  // namespace llm::cpu
