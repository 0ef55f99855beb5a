// Legacy 32-element block formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1: ggml's dequantizers and
// reference quantizers (quantize_row_<type>_ref), same float evaluation order, bit-exact.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/fp16.hpp"
#include "kernels/quant/blocks.hpp"
#include "kernels/quant/quant.hpp"
#include "kernels/quant/quant_util.hpp"

namespace llm {

using quant_detail::min_of;

namespace {

// Absolute maximum of a block and the signed value that attains it (first one wins on ties).
inline void signed_absmax(const float* x, int n, float& amax, float& max) {
    amax = 0.0f;
    max = 0.0f;
    for (int j = 0; j < n; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
}

inline void min_max(const float* x, int n, float& min, float& max) {
    min = FLT_MAX;
    max = -FLT_MAX;
    for (int j = 0; j < n; ++j) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
}

}  // namespace

// ---- Q4_0: d*(q-8); nibble j = element j (low), element j+16 (high) -----------------------------

void dequantize_row_q4_0(const void* src, float* y, int64_t n) {
    const BlockQ4_0* x = static_cast<const BlockQ4_0*>(src);
    const int64_t nb = n / QK4_0;
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK4_0 / 2; ++j) {
            const int x0 = (x[i].qs[j] & 0x0F) - 8;
            const int x1 = (x[i].qs[j] >> 4) - 8;
            y[i * QK4_0 + j] = x0 * d;
            y[i * QK4_0 + j + QK4_0 / 2] = x1 * d;
        }
    }
}

void quantize_row_q4_0(const float* x, void* dst, int64_t n) {
    BlockQ4_0* y = static_cast<BlockQ4_0*>(dst);
    const int64_t nb = n / QK4_0;
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * QK4_0;
        float amax, max;
        signed_absmax(xb, QK4_0, amax, max);
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        for (int j = 0; j < QK4_0 / 2; ++j) {
            const float x0 = xb[j] * id;
            const float x1 = xb[QK4_0 / 2 + j] * id;
            const uint8_t xi0 = (uint8_t)min_of<int>(15, (int8_t)(x0 + 8.5f));
            const uint8_t xi1 = (uint8_t)min_of<int>(15, (int8_t)(x1 + 8.5f));
            y[i].qs[j] = (uint8_t)(xi0 | (xi1 << 4));
        }
    }
}

// ---- Q4_1: d*q + m --------------------------------------------------------------------------------

void dequantize_row_q4_1(const void* src, float* y, int64_t n) {
    const BlockQ4_1* x = static_cast<const BlockQ4_1*>(src);
    const int64_t nb = n / QK4_1;
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        const float m = fp16_to_fp32(x[i].m);
        for (int j = 0; j < QK4_1 / 2; ++j) {
            const int x0 = x[i].qs[j] & 0x0F;
            const int x1 = x[i].qs[j] >> 4;
            y[i * QK4_1 + j] = x0 * d + m;
            y[i * QK4_1 + j + QK4_1 / 2] = x1 * d + m;
        }
    }
}

void quantize_row_q4_1(const float* x, void* dst, int64_t n) {
    BlockQ4_1* y = static_cast<BlockQ4_1*>(dst);
    const int64_t nb = n / QK4_1;
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * QK4_1;
        float min, max;
        min_max(xb, QK4_1, min, max);
        const float d = (max - min) / ((1 << 4) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        y[i].m = fp32_to_fp16(min);
        for (int j = 0; j < QK4_1 / 2; ++j) {
            const float x0 = (xb[j] - min) * id;
            const float x1 = (xb[QK4_1 / 2 + j] - min) * id;
            const uint8_t xi0 = (uint8_t)min_of<int>(15, (int8_t)(x0 + 0.5f));
            const uint8_t xi1 = (uint8_t)min_of<int>(15, (int8_t)(x1 + 0.5f));
            y[i].qs[j] = (uint8_t)(xi0 | (xi1 << 4));
        }
    }
}

// ---- Q5_0 / Q5_1: the 5th bit of element j is bit j of the little-endian u32 qh --------------------

void dequantize_row_q5_0(const void* src, float* y, int64_t n) {
    const BlockQ5_0* x = static_cast<const BlockQ5_0*>(src);
    const int64_t nb = n / QK5_0;
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        uint32_t qh;
        std::memcpy(&qh, x[i].qh, sizeof(qh));
        for (int j = 0; j < QK5_0 / 2; ++j) {
            const uint8_t xh_0 = ((qh >> (j + 0)) << 4) & 0x10;
            const uint8_t xh_1 = ((qh >> (j + 12))) & 0x10;
            const int32_t x0 = ((x[i].qs[j] & 0x0F) | xh_0) - 16;
            const int32_t x1 = ((x[i].qs[j] >> 4) | xh_1) - 16;
            y[i * QK5_0 + j] = x0 * d;
            y[i * QK5_0 + j + QK5_0 / 2] = x1 * d;
        }
    }
}

void quantize_row_q5_0(const float* x, void* dst, int64_t n) {
    BlockQ5_0* y = static_cast<BlockQ5_0*>(dst);
    const int64_t nb = n / QK5_0;
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * QK5_0;
        float amax, max;
        signed_absmax(xb, QK5_0, amax, max);
        const float d = max / -16;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_0 / 2; ++j) {
            const float x0 = xb[j] * id;
            const float x1 = xb[QK5_0 / 2 + j] * id;
            const uint8_t xi0 = (uint8_t)min_of<int>(31, (int8_t)(x0 + 16.5f));
            const uint8_t xi1 = (uint8_t)min_of<int>(31, (int8_t)(x1 + 16.5f));
            y[i].qs[j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
            qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
            qh |= ((xi1 & 0x10u) >> 4) << (j + QK5_0 / 2);
        }
        std::memcpy(y[i].qh, &qh, sizeof(qh));
    }
}

void dequantize_row_q5_1(const void* src, float* y, int64_t n) {
    const BlockQ5_1* x = static_cast<const BlockQ5_1*>(src);
    const int64_t nb = n / QK5_1;
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        const float m = fp16_to_fp32(x[i].m);
        uint32_t qh;
        std::memcpy(&qh, x[i].qh, sizeof(qh));
        for (int j = 0; j < QK5_1 / 2; ++j) {
            const uint8_t xh_0 = ((qh >> (j + 0)) << 4) & 0x10;
            const uint8_t xh_1 = ((qh >> (j + 12))) & 0x10;
            const int x0 = (x[i].qs[j] & 0x0F) | xh_0;
            const int x1 = (x[i].qs[j] >> 4) | xh_1;
            y[i * QK5_1 + j] = x0 * d + m;
            y[i * QK5_1 + j + QK5_1 / 2] = x1 * d + m;
        }
    }
}

void quantize_row_q5_1(const float* x, void* dst, int64_t n) {
    BlockQ5_1* y = static_cast<BlockQ5_1*>(dst);
    const int64_t nb = n / QK5_1;
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * QK5_1;
        float min, max;
        min_max(xb, QK5_1, min, max);
        const float d = (max - min) / ((1 << 5) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        y[i].m = fp32_to_fp16(min);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_1 / 2; ++j) {
            const float x0 = (xb[j] - min) * id;
            const float x1 = (xb[QK5_1 / 2 + j] - min) * id;
            const uint8_t xi0 = (uint8_t)(x0 + 0.5f);
            const uint8_t xi1 = (uint8_t)(x1 + 0.5f);
            y[i].qs[j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
            qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
            qh |= ((xi1 & 0x10u) >> 4) << (j + QK5_1 / 2);
        }
        std::memcpy(y[i].qh, &qh, sizeof(qh));
    }
}

// ---- Q8_0 / Q8_1: d*q with q = round(x/d), d = amax/127; Q8_1 also stores s = d*sum(q) ----------

void dequantize_row_q8_0(const void* src, float* y, int64_t n) {
    const BlockQ8_0* x = static_cast<const BlockQ8_0*>(src);
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK8_0; ++j) y[i * QK8_0 + j] = x[i].qs[j] * d;
    }
}

void quantize_row_q8_0(const float* x, void* dst, int64_t n) {
    BlockQ8_0* y = static_cast<BlockQ8_0*>(dst);
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; ++j) amax = quant_detail::max_of(amax, std::fabs(xb[j]));
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; ++j) y[i].qs[j] = (int8_t)std::roundf(xb[j] * id);
    }
}

// ggml has no Q8_1 dequantizer (it is an activation format); d*q is its meaning.
void dequantize_row_q8_1(const void* src, float* y, int64_t n) {
    const BlockQ8_1* x = static_cast<const BlockQ8_1*>(src);
    const int64_t nb = n / QK8_1;
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK8_1; ++j) y[i * QK8_1 + j] = x[i].qs[j] * d;
    }
}

void quantize_row_q8_1(const float* x, void* dst, int64_t n) {
    BlockQ8_1* y = static_cast<BlockQ8_1*>(dst);
    const int64_t nb = n / QK8_1;
    for (int64_t i = 0; i < nb; ++i) {
        const float* xb = x + i * QK8_1;
        float amax = 0.0f;
        for (int j = 0; j < QK8_1; ++j) amax = quant_detail::max_of(amax, std::fabs(xb[j]));
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        int sum = 0;
        for (int j = 0; j < QK8_1 / 2; ++j) {
            y[i].qs[j] = (int8_t)std::roundf(xb[j] * id);
            y[i].qs[QK8_1 / 2 + j] = (int8_t)std::roundf(xb[QK8_1 / 2 + j] * id);
            sum += y[i].qs[j];
            sum += y[i].qs[QK8_1 / 2 + j];
        }
        y[i].s = fp32_to_fp16(sum * d);
    }
}

}  // namespace llm
