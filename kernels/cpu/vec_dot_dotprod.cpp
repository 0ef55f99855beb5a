// The quantized vec_dot kernels of vec_dot_neon_impl.hpp with sdot (Armv8.2 DotProd), as llama.cpp built with
// dotprod computes them.
#include <arm_neon.h>

#include "kernels/cpu/vec_dot_neon_impl.hpp"

namespace llm::cpu {
namespace {

struct SdotDot {
    static int32x4_t dot(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }
};

}  // namespace

void register_dotprod_quants(IsaKernels& k) { register_quant_kernels<SdotDot>(k); }

}  // namespace llm::cpu
