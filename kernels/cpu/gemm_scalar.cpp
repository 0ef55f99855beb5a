// Portable GEMM micro-kernel and packers: the statement of what the AVX-512 kernel computes (the same float
// operations in the same order, so the two agree bit for bit) and the test oracle for the packing.
#include <cmath>
#include <cstring>

#include "kernels/cpu/gemm_pack.hpp"

namespace llm::cpu {
namespace {

using namespace gemm_detail;

// P sub-blocks share one activation scale (P = 1: 32-element types; P = 256/SB: the K-quants' Q8_K
// activations): their terms are summed unscaled, then multiplied by the activation scale once.
template <int SB, bool HasBias, int P>
void kernel_scalar(const uint8_t* panel, const uint8_t* act, int64_t n_sub, float* y, int64_t ldy, int n_rows,
                   int n_tok) {
    constexpr int T = kGemmTokens, R = kGemmRows;
    constexpr size_t wsb = gemm_sub_block_bytes(SB), asb = gemm_act_sub_block_bytes(SB);
    float acc[T][R] = {};
    for (int64_t g = 0; g < n_sub; g += P) {
        float part[T][R] = {};
        float d[T];
        for (int j = 0; j < P; ++j, panel += wsb, act += asb) {
            float s[T], sc[R], bi[R];
            int32_t c[T];
            std::memcpy(d, act + T * SB, sizeof d);
            std::memcpy(c, act + T * SB + 4 * T, sizeof c);
            std::memcpy(s, act + T * SB + 8 * T, sizeof s);
            std::memcpy(sc, panel + R * SB, sizeof sc);
            std::memcpy(bi, panel + R * SB + 64, sizeof bi);
            for (int t = 0; t < T; ++t)
                for (int r = 0; r < R; ++r) {
                    int32_t sum = c[t];
                    for (int q = 0; q < SB / 4; ++q)
                        for (int b = 0; b < 4; ++b)
                            sum += (int32_t)panel[64 * q + 4 * r + b] * (int32_t)(int8_t)act[4 * T * q + 4 * t + b];
                    if constexpr (P == 1) {
                        acc[t][r] = std::fma((float)sum, sc[r] * d[t], acc[t][r]);
                        if constexpr (HasBias) acc[t][r] = std::fma(bi[r], s[t], acc[t][r]);
                    } else {
                        part[t][r] = std::fma((float)sum, sc[r], part[t][r]);
                        if constexpr (HasBias) part[t][r] = std::fma(bi[r], s[t], part[t][r]);
                    }
                }
        }
        if constexpr (P > 1)
            for (int t = 0; t < T; ++t)
                for (int r = 0; r < R; ++r) acc[t][r] = std::fma(part[t][r], d[t], acc[t][r]);
    }
    for (int t = 0; t < n_tok; ++t)
        for (int r = 0; r < n_rows; ++r) y[t * ldy + r] = acc[t][r];
}

// The kint panels (gemm.hpp gemm_kint): per super-block the exact isum = sum_j s_j * (c + sum(u*a)) and
// imin = sum_j m_j * bsum_j (pairs of int16 products, as vpmaddwd), then one FMA each per super-block.
template <int SB, bool HasMin>
void kernel_scalar_kint(const uint8_t* panel, const uint8_t* act, int64_t n_sub, float* y, int64_t ldy, int n_rows,
                        int n_tok) {
    constexpr int T = kGemmTokens, R = kGemmRows, P = QK_K / SB;
    constexpr size_t wsb = gemm_sub_block_bytes(SB), asb = gemm_act_sub_block_bytes(SB);
    float acc[T][R] = {}, acc_m[T][R] = {};
    auto ints = [](const uint8_t* p, int32_t* v, int n) { std::memcpy(v, p, sizeof(int32_t) * (size_t)n); };
    for (int64_t g = 0; g < n_sub; g += P, panel += P * wsb, act += P * asb) {
        int32_t isum[T][R] = {}, imin[T][R] = {};
        for (int j = 0; j < P; ++j) {
            const uint8_t* wp = panel + j * wsb;
            const uint8_t* ap = act + j * asb;
            int32_t s[R], c[T];
            ints(wp + R * SB, s, R);
            ints(ap + T * SB + 4 * T, c, T);
            for (int t = 0; t < T; ++t)
                for (int r = 0; r < R; ++r) {
                    int32_t sum = c[t];
                    for (int q = 0; q < SB / 4; ++q)
                        for (int b = 0; b < 4; ++b)
                            sum += (int32_t)wp[64 * q + 4 * r + b] * (int32_t)(int8_t)ap[4 * T * q + 4 * t + b];
                    isum[t][r] += s[r] * sum;
                }
        }
        if constexpr (HasMin)
            for (int i = 0; i < 4; ++i) {
                int32_t mp[R], bp[T];
                ints(panel + (kKintSlotMins + i) * wsb + R * SB + 64, mp, R);
                ints(act + 2 * i * asb + T * SB + 8 * T, bp, T);
                for (int t = 0; t < T; ++t)
                    for (int r = 0; r < R; ++r)
                        imin[t][r] += (int32_t)(int16_t)(mp[r] & 0xFFFF) * (int32_t)(int16_t)(bp[t] & 0xFFFF) +
                                      (mp[r] >> 16) * (bp[t] >> 16);
            }
        float d[R], dmin[R], da[T];
        std::memcpy(d, panel + kKintSlotD * wsb + R * SB + 64, sizeof d);
        std::memcpy(dmin, panel + kKintSlotDmin * wsb + R * SB + 64, sizeof dmin);
        std::memcpy(da, act + T * SB, sizeof da);
        for (int t = 0; t < T; ++t)
            for (int r = 0; r < R; ++r) {
                acc[t][r] = std::fma((float)isum[t][r], d[r] * da[t], acc[t][r]);
                if constexpr (HasMin) acc_m[t][r] = std::fma((float)imin[t][r], dmin[r] * da[t], acc_m[t][r]);
            }
    }
    for (int t = 0; t < n_tok; ++t)
        for (int r = 0; r < n_rows; ++r) y[t * ldy + r] = acc[t][r] - acc_m[t][r];
}

template <int BS, int SB, size_t BlockBytes, void (*Unpack)(const void*, uint8_t*, float*, float*), bool HasBias>
GemmOps ops() {
    return {pack_panel<BS, SB, BlockBytes, Unpack>, kernel_scalar<SB, HasBias, BS == 32 ? 1 : BS / SB>};
}

}  // namespace

bool gemm_ops_scalar(DType type, GemmOps& o) {
    if (type == DType::Q4_K) return o = {pack_panel_kint<false>, kernel_scalar_kint<32, true>}, true;
    if (type == DType::Q5_K) return o = {pack_panel_kint<true>, kernel_scalar_kint<32, true>}, true;
    if (type == DType::Q6_K) return o = {pack_panel_kint_q6_k, kernel_scalar_kint<16, false>}, true;
    switch (type) {
#define LLM_GEMM_CASE(T, BS, SB, Block, Unpack, HasBias, Offset, UseSm) \
    case DType::T: o = ops<BS, SB, sizeof(Block), Unpack, HasBias>(); return true;
        LLM_GEMM_TYPES(LLM_GEMM_CASE)
#undef LLM_GEMM_CASE
        default: return false;
    }
}

}  // namespace llm::cpu
