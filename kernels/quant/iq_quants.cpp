// Non-linear 4-bit formats IQ4_NL (32-element blocks) and IQ4_XS (256-element super-blocks with 6-bit
// sub-block scales): ggml's dequantizers and quantize_row_iq4_nl_impl without an importance matrix
// (weights x^2, 7 scale trials), which is what ggml_quantize_chunk runs for these types.
#include <cmath>
#include <cstring>

#include "core/fp16.hpp"
#include "kernels/quant/blocks.hpp"
#include "kernels/quant/quant.hpp"
#include "kernels/quant/quant_util.hpp"

namespace llm {

using quant_detail::kGroupMaxEps;
using quant_detail::max_of;
using quant_detail::min_of;
using quant_detail::nearest_int;

namespace {

constexpr int kNValues = 16;
constexpr int kNTry = 7;

// Index of the codebook entry nearest to x (val sorted ascending, n a power of two); ties go up.
// Compares 2x with val[j-1] + val[j], both exact, as ggml's branch-free best_index_int8.
inline int best_index_int8(int n, const int8_t* val, float x) {
    const float x2 = x + x;
    int idx = 0;
    for (int step = n >> 1; step > 0; step >>= 1) {
        const int j = idx + step;
        idx = (x2 >= (float)(val[j - 1] + val[j])) ? j : idx;
    }
    return idx;
}

// One IQ4 super-block of `super_block_size` values in sub-blocks of 32 (ggml's quantize_row_iq4_nl_impl
// with quant_weights == NULL, nvalues == 16, ntry == 7). For a single sub-block (IQ4_NL) the sub-block
// scale goes to *dh directly; otherwise it is coded as a 6-bit multiple of d = -max_scale/32.
void quantize_iq4_superblock(int super_block_size, const float* x, uint16_t* dh, uint8_t* q4, uint16_t* scales_h,
                             uint8_t* scales_l) {
    constexpr int block_size = 32;
    const int8_t* values = kvalues_iq4nl;
    float scales[QK_K / 32];
    float weight[32];
    uint8_t L[QK_K];

    std::memset(q4, 0, super_block_size / 2);
    *dh = fp32_to_fp16(0.f);

    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < super_block_size / block_size; ++ib) {
        const float* xb = x + ib * block_size;
        uint8_t* Lb = L + ib * block_size;
        for (int j = 0; j < block_size; ++j) weight[j] = xb[j] * xb[j];
        float amax = 0, max = 0;
        for (int j = 0; j < block_size; ++j) {
            float ax = std::fabs(xb[j]);
            if (ax > amax) {
                amax = ax;
                max = xb[j];
            }
        }
        if (amax < kGroupMaxEps) {
            scales[ib] = 0;
            std::memset(Lb, 0, block_size);
            continue;
        }
        float d = -max / values[0];
        float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int j = 0; j < block_size; ++j) {
            float al = id * xb[j];
            int l = best_index_int8(kNValues, values, al);
            Lb[j] = (uint8_t)l;
            float q = values[l];
            float w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
        float best = d * sumqx;
        for (int itry = -kNTry; itry <= kNTry; ++itry) {
            id = (itry + values[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < block_size; ++j) {
                float al = id * xb[j];
                int l = best_index_int8(kNValues, values, al);
                float q = values[l];
                float w = weight[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        scales[ib] = d;
        float abs_d = std::fabs(d);
        if (abs_d > amax_scale) {
            amax_scale = abs_d;
            max_scale = d;
        }
    }

    if (super_block_size / block_size > 1) {
        const int nb = super_block_size / block_size;
        std::memset(scales_h, 0, ((nb + 7) / 8) * sizeof(uint16_t));
        float d = -max_scale / 32;
        *dh = fp32_to_fp16(d);
        float id = d ? 1 / d : 0.f;
        for (int ib = 0; ib < nb; ++ib) {
            int l = nearest_int(id * scales[ib]);
            l = max_of(-32, min_of(31, l));
            float dl = d * l;
            float idl = dl ? 1 / dl : 0.f;
            uint8_t* Lb = L + ib * block_size;
            const float* xb = x + ib * block_size;
            for (int j = 0; j < block_size; ++j) Lb[j] = (uint8_t)best_index_int8(kNValues, values, idl * xb[j]);
            l += 32;
            uint8_t l_l = (uint8_t)(l & 0xf);
            uint8_t l_h = (uint8_t)(l >> 4);
            if (ib % 2 == 0) scales_l[ib / 2] = l_l;
            else scales_l[ib / 2] |= (uint8_t)(l_l << 4);
            scales_h[ib / 8] |= (uint16_t)(l_h << 2 * (ib % 8));
        }
    } else {
        *dh = fp32_to_fp16(scales[0]);
        float id = scales[0] ? 1 / scales[0] : 0;
        for (int j = 0; j < super_block_size; ++j) L[j] = (uint8_t)best_index_int8(kNValues, values, id * x[j]);
    }

    for (int i = 0; i < super_block_size / 32; ++i) {
        for (int j = 0; j < 16; ++j) q4[16 * i + j] = (uint8_t)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
    }
}

}  // namespace

// ---- IQ4_NL: d*T[q], nibbles as Q4_0 ---------------------------------------------------------------

void dequantize_row_iq4_nl(const void* src, float* y, int64_t n) {
    const BlockIQ4_NL* x = static_cast<const BlockIQ4_NL*>(src);
    const int64_t nb = n / QK4_NL;
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t* qs = x[i].qs;
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK4_NL / 2; ++j) {
            y[j + 0] = d * kvalues_iq4nl[qs[j] & 0xf];
            y[j + QK4_NL / 2] = d * kvalues_iq4nl[qs[j] >> 4];
        }
        y += QK4_NL;
    }
}

void quantize_row_iq4_nl(const float* x, void* dst, int64_t n) {
    BlockIQ4_NL* y = static_cast<BlockIQ4_NL*>(dst);
    const int64_t nb = n / QK4_NL;
    for (int64_t i = 0; i < nb; ++i) quantize_iq4_superblock(QK4_NL, x + QK4_NL * i, &y[i].d, y[i].qs, nullptr, nullptr);
}

// ---- IQ4_XS: sub-block ib uses ls = scales_l nibble ib | (2 bits ib of scales_h) << 4, d*(ls-32)*T[q]

void dequantize_row_iq4_xs(const void* src, float* y, int64_t n) {
    const BlockIQ4_XS* x = static_cast<const BlockIQ4_XS*>(src);
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t* qs = x[i].qs;
        const float d = fp16_to_fp32(x[i].d);
        for (int ib = 0; ib < QK_K / 32; ++ib) {
            const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
            const float dl = d * (ls - 32);
            for (int j = 0; j < 16; ++j) {
                y[j + 0] = dl * kvalues_iq4nl[qs[j] & 0xf];
                y[j + 16] = dl * kvalues_iq4nl[qs[j] >> 4];
            }
            y += 32;
            qs += 16;
        }
    }
}

void quantize_row_iq4_xs(const float* x, void* dst, int64_t n) {
    BlockIQ4_XS* y = static_cast<BlockIQ4_XS*>(dst);
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; ++i)
        quantize_iq4_superblock(QK_K, x + QK_K * i, &y[i].d, y[i].qs, &y[i].scales_h, y[i].scales_l);
}

}  // namespace llm
