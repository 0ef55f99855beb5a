// The aarch64 kernels' entry points in a build for another architecture (x86-64): the dispatch never reaches
// them (isa_supported(Isa::Neon / Dotprod) is false there), so generic code and tests link without a single
// ARM file or #ifdef. Each aborts with a message if an invariant breaks.
#include <cstdio>
#include <cstdlib>

#include "kernels/cpu/attention_impl.hpp"
#include "kernels/cpu/blas_gemm.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/ops_rows.hpp"
#include "kernels/cpu/vec_dot.hpp"

namespace llm::cpu {
namespace {

[[noreturn]] void absent(const char* fn) {
    std::fprintf(stderr, "llm: %s called in a build without ARM kernels\n", fn);
    std::abort();
}

}  // namespace

void register_neon(IsaKernels&, bool) { absent(__func__); }
bool gemm_ops_i8mm(DType, GemmOps&) { absent(__func__); }
void blas_to_f32_neon(DType, const void*, float*, int64_t) { absent(__func__); }
void silu_mul_neon(const float*, const float*, float*, int64_t) { absent(__func__); }
void rms_norm_row_neon(const float*, const float*, float*, int64_t, float) { absent(__func__); }
void attention_tile_neon(LLM_ATTN_TILE_ARGS) { absent(__func__); }

}  // namespace llm::cpu
