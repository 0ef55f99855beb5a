// F16 / BF16 weight panels to float for the OpenBLAS path (blas_gemm.hpp) with NEON: fcvtl for F16, a 16-bit
// shift for BF16. Both conversions are exact.
#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/blas_gemm.hpp"

namespace llm::cpu {

void blas_to_f32_neon(DType type, const void* src, float* dst, int64_t n) {
    const uint16_t* s = static_cast<const uint16_t*>(src);
    int64_t i = 0;
    if (type == DType::F16) {
        for (; i + 8 <= n; i += 8) {
            const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(s + i));
            vst1q_f32(dst + i, vcvt_f32_f16(vget_low_f16(h)));
            vst1q_f32(dst + i + 4, vcvt_high_f32_f16(h));
        }
        for (; i < n; ++i) {
            __fp16 h;
            std::memcpy(&h, s + i, 2);
            dst[i] = (float)h;
        }
    } else {  // BF16
        for (; i + 8 <= n; i += 8) {
            const uint16x8_t h = vld1q_u16(s + i);
            vst1q_f32(dst + i, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16)));
            vst1q_f32(dst + i + 4, vreinterpretq_f32_u32(vshll_high_n_u16(h, 16)));
        }
        for (; i < n; ++i) {
            const uint32_t u = (uint32_t)s[i] << 16;
            std::memcpy(dst + i, &u, 4);
        }
    }
}

}  // namespace llm::cpu
