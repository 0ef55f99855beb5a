// Portable vec_dot kernels for every weight type and the scalar activation quantizers: the fallback
// on CPUs without AVX2 and the readable statement of what each SIMD kernel computes.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.hpp"
#include "kernels/cpu/vec_dot.hpp"

namespace llm::cpu {
namespace {

// ---- activation preparation (the SIMD versions must produce identical bytes) -------------------

// q = round-to-nearest-even(x * 127/amax): the same float ops as the vectorized versions and ggml's.
void prepare_q8_32(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<ActQ8*>(dst);
    for (int64_t b = 0; b < n / 32; ++b, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
        const float id = act_q8_inverse_scale(amax);
        int sum = 0;
        for (int j = 0; j < 32; ++j) {
            const int q = (int)std::nearbyint(x[j] * id);
            y[b].qs[j] = (int8_t)q;
            sum += q;
        }
        set_act_q8_scales(y[b], amax, sum);
    }
}

void prepare_q8_k(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<ActQ8K*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b, x += QK_K) {
        const float iscale = act_q8k_iscale(x);
        for (int k = 0; k < QK_K / 16; ++k) {
            int sum = 0;
            for (int j = 16 * k; j < 16 * k + 16; ++j) {
                const int q = std::min(127, (int)std::nearbyint(x[j] * iscale));
                y[b].qs[j] = (int8_t)q;
                sum += q;
            }
            y[b].bsums[k] = (int16_t)sum;
        }
        y[b].d = iscale != 0.0f ? 1.0f / iscale : 0.0f;
    }
}

void prepare_bf16(const float* x, void* dst, int64_t n) {
    auto* y = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_bf16(x[i]);
}

// ---- float weights -------------------------------------------------------------------------------

float dot_f32(int64_t n, const void* w, const void* a) {
    const float* x = static_cast<const float*>(w);
    const float* y = static_cast<const float*>(a);
    float s[4] = {0, 0, 0, 0};
    for (int64_t i = 0; i < n; i += 4)
        for (int k = 0; k < 4 && i + k < n; ++k) s[k] += x[i + k] * y[i + k];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

float dot_f16(int64_t n, const void* w, const void* a) {
    const uint16_t* x = static_cast<const uint16_t*>(w);
    const float* y = static_cast<const float*>(a);
    float s = 0;
    for (int64_t i = 0; i < n; ++i) s += fp16_to_fp32(x[i]) * y[i];
    return s;
}

float dot_bf16(int64_t n, const void* w, const void* a) {
    const uint16_t* x = static_cast<const uint16_t*>(w);
    const float* y = static_cast<const float*>(a);
    float s = 0;
    for (int64_t i = 0; i < n; ++i) s += bf16_to_fp32(x[i]) * y[i];
    return s;
}

// ---- 32-element blocks x ActQ8 ------------------------------------------------------------------

// Q4_0: d*(q-8) = d*q - 8d: sum over blocks of dw*(da*sum(q*a) - 8*sa).
float dot_q4_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ4_0*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    float sum = 0;
    for (int64_t b = 0; b < n / 32; ++b) {
        int isum = 0;
        for (int j = 0; j < 16; ++j) isum += (x[b].qs[j] & 0xF) * y[b].qs[j] + (x[b].qs[j] >> 4) * y[b].qs[j + 16];
        sum += fp16_to_fp32(x[b].d) * (y[b].d * (float)isum - 8.0f * y[b].s);
    }
    return sum;
}

float dot_q4_1(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ4_1*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    float sum = 0;
    for (int64_t b = 0; b < n / 32; ++b) {
        int isum = 0;
        for (int j = 0; j < 16; ++j) isum += (x[b].qs[j] & 0xF) * y[b].qs[j] + (x[b].qs[j] >> 4) * y[b].qs[j + 16];
        sum += fp16_to_fp32(x[b].d) * y[b].d * (float)isum + fp16_to_fp32(x[b].m) * y[b].sm;
    }
    return sum;
}

// The 5-bit types as unsigned 0..31: bit j of qh is the high bit of element j.
inline int q5_sum(const uint8_t* qs, const uint8_t* qh4, const int8_t* yq) {
    uint32_t qh;
    std::memcpy(&qh, qh4, 4);
    int isum = 0;
    for (int j = 0; j < 16; ++j) {
        const int lo = (qs[j] & 0xF) | (((qh >> j) & 1) << 4);
        const int hi = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
        isum += lo * yq[j] + hi * yq[j + 16];
    }
    return isum;
}

float dot_q5_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ5_0*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    float sum = 0;
    for (int64_t b = 0; b < n / 32; ++b) {
        const int isum = q5_sum(x[b].qs, x[b].qh, y[b].qs);
        sum += fp16_to_fp32(x[b].d) * (y[b].d * (float)isum - 16.0f * y[b].s);
    }
    return sum;
}

float dot_q5_1(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ5_1*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    float sum = 0;
    for (int64_t b = 0; b < n / 32; ++b) {
        const int isum = q5_sum(x[b].qs, x[b].qh, y[b].qs);
        sum += fp16_to_fp32(x[b].d) * y[b].d * (float)isum + fp16_to_fp32(x[b].m) * y[b].sm;
    }
    return sum;
}

float dot_q8_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ8_0*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    float sum = 0;
    for (int64_t b = 0; b < n / 32; ++b) {
        int isum = 0;
        for (int j = 0; j < 32; ++j) isum += x[b].qs[j] * y[b].qs[j];
        sum += fp16_to_fp32(x[b].d) * y[b].d * (float)isum;
    }
    return sum;
}

float dot_iq4_nl(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockIQ4_NL*>(w);
    const auto* y = static_cast<const ActQ8*>(a);
    float sum = 0;
    for (int64_t b = 0; b < n / 32; ++b) {
        int isum = 0;
        for (int j = 0; j < 16; ++j)
            isum += kvalues_iq4nl[x[b].qs[j] & 0xF] * y[b].qs[j] + kvalues_iq4nl[x[b].qs[j] >> 4] * y[b].qs[j + 16];
        sum += fp16_to_fp32(x[b].d) * y[b].d * (float)isum;
    }
    return sum;
}

// ---- K-quants x ActQ8K ----------------------------------------------------------------------------

// Sum of q[e]*y[e] over 16 elements.
inline int dot16(const uint8_t* q, const int8_t* y) {
    int s = 0;
    for (int l = 0; l < 16; ++l) s += q[l] * y[l];
    return s;
}

// Q2_K: element e = 128h + 32j + l has bits 2j of qs[32h + l]; scales[e/16] = sc | min << 4.
float dot_q2_k(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ2_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(a);
    float sum = 0;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        uint8_t q[QK_K];
        for (int e = 0; e < QK_K; ++e) q[e] = (x[b].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
        int sumi = 0, summ = 0;
        for (int k = 0; k < 16; ++k) {
            sumi += (x[b].scales[k] & 0xF) * dot16(q + 16 * k, y[b].qs + 16 * k);
            summ += (x[b].scales[k] >> 4) * y[b].bsums[k];
        }
        sum += y[b].d * (fp16_to_fp32(x[b].d) * (float)sumi - fp16_to_fp32(x[b].dmin) * (float)summ);
    }
    return sum;
}

// Q3_K: as Q2_K plus hmask bit (4h + j) of hmask[l]; value (q | hbit << 2) - 4 with signed scales.
float dot_q3_k(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ3_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(a);
    float sum = 0;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        uint8_t q[QK_K];
        for (int e = 0; e < QK_K; ++e) {
            const int h = e / 128, j = (e % 128) / 32, l = e % 32;
            const int lo = (x[b].qs[32 * h + l] >> (2 * j)) & 3;
            const int hi = (x[b].hmask[l] >> (4 * h + j)) & 1;
            q[e] = (uint8_t)(lo | (hi << 2));
        }
        int8_t sc[16];
        unpack_scales_q3k(x[b].scales, sc);
        int sumi = 0;
        for (int k = 0; k < 16; ++k) sumi += sc[k] * (dot16(q + 16 * k, y[b].qs + 16 * k) - 4 * y[b].bsums[k]);
        sum += fp16_to_fp32(x[b].d) * y[b].d * (float)sumi;
    }
    return sum;
}

// Q4_K / Q5_K: 64-element chunk j holds sub-block 2j in the low nibbles of qs[32j..], 2j+1 in the high.
float dot_q4_k(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ4_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(a);
    float sum = 0;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        uint8_t sc[8], m[8];
        unpack_scales_k4(x[b].scales, sc, m);
        int sumi = 0, summ = 0;
        for (int j = 0; j < 4; ++j) {
            int s0 = 0, s1 = 0;
            for (int l = 0; l < 32; ++l) {
                s0 += (x[b].qs[32 * j + l] & 0xF) * y[b].qs[64 * j + l];
                s1 += (x[b].qs[32 * j + l] >> 4) * y[b].qs[64 * j + 32 + l];
            }
            sumi += sc[2 * j] * s0 + sc[2 * j + 1] * s1;
        }
        for (int s = 0; s < 8; ++s) summ += m[s] * (y[b].bsums[2 * s] + y[b].bsums[2 * s + 1]);
        sum += y[b].d * (fp16_to_fp32(x[b].d) * (float)sumi - fp16_to_fp32(x[b].dmin) * (float)summ);
    }
    return sum;
}

float dot_q5_k(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ5_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(a);
    float sum = 0;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        uint8_t sc[8], m[8];
        unpack_scales_k4(x[b].scales, sc, m);
        int sumi = 0, summ = 0;
        for (int j = 0; j < 4; ++j) {
            int s0 = 0, s1 = 0;
            for (int l = 0; l < 32; ++l) {
                const int h0 = (x[b].qh[l] >> (2 * j)) & 1, h1 = (x[b].qh[l] >> (2 * j + 1)) & 1;
                s0 += ((x[b].qs[32 * j + l] & 0xF) | (h0 << 4)) * y[b].qs[64 * j + l];
                s1 += ((x[b].qs[32 * j + l] >> 4) | (h1 << 4)) * y[b].qs[64 * j + 32 + l];
            }
            sumi += sc[2 * j] * s0 + sc[2 * j + 1] * s1;
        }
        for (int s = 0; s < 8; ++s) summ += m[s] * (y[b].bsums[2 * s] + y[b].bsums[2 * s + 1]);
        sum += y[b].d * (fp16_to_fp32(x[b].d) * (float)sumi - fp16_to_fp32(x[b].dmin) * (float)summ);
    }
    return sum;
}

// Q6_K: element e = 128h + 32k + l: low 4 bits from ql[64h + l + 32(k&1)] (nibble k/2), high 2 bits
// from qh[32h + l] >> 2k; value sc[e/16]*(q - 32).
float dot_q6_k(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ6_K*>(w);
    const auto* y = static_cast<const ActQ8K*>(a);
    float sum = 0;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        uint8_t q[QK_K];
        for (int e = 0; e < QK_K; ++e) {
            const int h = e / 128, k = (e % 128) / 32, l = e % 32;
            const int lo = (x[b].ql[64 * h + l + 32 * (k & 1)] >> (4 * (k >> 1))) & 0xF;
            const int hi = (x[b].qh[32 * h + l] >> (2 * k)) & 3;
            q[e] = (uint8_t)(lo | (hi << 4));
        }
        int sumi = 0;
        for (int k = 0; k < 16; ++k)
            sumi += x[b].scales[k] * (dot16(q + 16 * k, y[b].qs + 16 * k) - 32 * y[b].bsums[k]);
        sum += fp16_to_fp32(x[b].d) * y[b].d * (float)sumi;
    }
    return sum;
}

float dot_iq4_xs(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockIQ4_XS*>(w);
    const auto* y = static_cast<const ActQ8K*>(a);
    float sum = 0;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        int sumi = 0;
        for (int ib = 0; ib < 8; ++ib) {
            const uint8_t* qs = x[b].qs + 16 * ib;
            const int8_t* yq = y[b].qs + 32 * ib;
            int s = 0;
            for (int j = 0; j < 16; ++j) s += kvalues_iq4nl[qs[j] & 0xF] * yq[j] + kvalues_iq4nl[qs[j] >> 4] * yq[j + 16];
            sumi += iq4xs_scale(x[b], ib) * s;
        }
        sum += fp16_to_fp32(x[b].d) * y[b].d * (float)sumi;
    }
    return sum;
}

IsaKernels make_scalar() {
    IsaKernels k;
    auto set = [&](DType t, VecDotFn fn, ActType act) { k.dot[(size_t)t] = {fn, act}; };
    set(DType::F32, dot_f32, ActType::F32);
    set(DType::F16, dot_f16, ActType::F32);
    set(DType::BF16, dot_bf16, ActType::F32);
    set(DType::Q4_0, dot_q4_0, ActType::Q8_32);
    set(DType::Q4_1, dot_q4_1, ActType::Q8_32);
    set(DType::Q5_0, dot_q5_0, ActType::Q8_32);
    set(DType::Q5_1, dot_q5_1, ActType::Q8_32);
    set(DType::Q8_0, dot_q8_0, ActType::Q8_32);
    set(DType::IQ4_NL, dot_iq4_nl, ActType::Q8_32);
    set(DType::Q2_K, dot_q2_k, ActType::Q8_K);
    set(DType::Q3_K, dot_q3_k, ActType::Q8_K);
    set(DType::Q4_K, dot_q4_k, ActType::Q8_K);
    set(DType::Q5_K, dot_q5_k, ActType::Q8_K);
    set(DType::Q6_K, dot_q6_k, ActType::Q8_K);
    set(DType::IQ4_XS, dot_iq4_xs, ActType::Q8_K);
    k.prepare[(size_t)ActType::BF16] = prepare_bf16;
    k.prepare[(size_t)ActType::Q8_32] = prepare_q8_32;
    k.prepare[(size_t)ActType::Q8_K] = prepare_q8_k;
    return k;
}

}  // namespace

const IsaKernels& kernels_scalar() {
    static const IsaKernels k = make_scalar();
    return k;
}

}  // namespace llm::cpu
