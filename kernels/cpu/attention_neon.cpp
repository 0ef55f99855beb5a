// NEON instantiation of the flash-attention tile kernel: 8 query rows per pair of 4-lane vectors (the tile
// width of the AVX2 and portable kernels), exp by ggml's NEON expf.
#include <arm_neon.h>

#include <limits>

#include "kernels/cpu/attention_impl.hpp"
#include "kernels/cpu/neon_util.hpp"

namespace llm::cpu {
namespace {

struct VecNeon {
    static constexpr int W = kAttnLanesNeon;
    struct vec {
        float32x4_t lo, hi;
    };
    static vec zero() { return set1(0.0f); }
    static vec set1(float x) { return {vdupq_n_f32(x), vdupq_n_f32(x)}; }
    static vec load(const float* p) { return {vld1q_f32(p), vld1q_f32(p + 4)}; }
    static void store(float* p, vec a) { vst1q_f32(p, a.lo), vst1q_f32(p + 4, a.hi); }
    static vec fma(vec a, vec b, vec c) { return {vfmaq_f32(c.lo, a.lo, b.lo), vfmaq_f32(c.hi, a.hi, b.hi)}; }
    static vec mul(vec a, vec b) { return {vmulq_f32(a.lo, b.lo), vmulq_f32(a.hi, b.hi)}; }
    static vec add(vec a, vec b) { return {vaddq_f32(a.lo, b.lo), vaddq_f32(a.hi, b.hi)}; }
    static vec sub(vec a, vec b) { return {vsubq_f32(a.lo, b.lo), vsubq_f32(a.hi, b.hi)}; }
    static vec max(vec a, vec b) { return {vmaxq_f32(a.lo, b.lo), vmaxq_f32(a.hi, b.hi)}; }
    static vec exp(vec a) { return {ggml_expf_neon(a.lo), ggml_expf_neon(a.hi)}; }
    static float32x4_t round_f16(float32x4_t a) { return vcvt_f32_f16(vcvt_f16_f32(a)); }
    static vec round_f16(vec a) { return {round_f16(a.lo), round_f16(a.hi)}; }
    static float32x4_t mask_range(float32x4_t s, float32x4_t jv, float32x4_t lo, float32x4_t hi) {
        const uint32x4_t in = vandq_u32(vcgeq_f32(jv, lo), vcleq_f32(jv, hi));
        return vbslq_f32(in, s, vdupq_n_f32(-std::numeric_limits<float>::infinity()));
    }
    static vec mask_range(vec s, float j, vec lo, vec hi) {
        const float32x4_t jv = vdupq_n_f32(j);
        return {mask_range(s.lo, jv, lo.lo, hi.lo), mask_range(s.hi, jv, lo.hi, hi.hi)};
    }
    static float32x4_t finite_or_zero(float32x4_t a) {
        const uint32x4_t ninf = vceqq_f32(a, vdupq_n_f32(-std::numeric_limits<float>::infinity()));
        return vbslq_f32(ninf, vdupq_n_f32(0.0f), a);
    }
    static vec finite_or_zero(vec a) { return {finite_or_zero(a.lo), finite_or_zero(a.hi)}; }
    static void cvt_f16(const uint16_t* src, float* dst, int n) {
        int i = 0;
        for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(src + i))));
        for (; i < n; ++i) dst[i] = fp16_to_fp32(src[i]);
    }
};

}  // namespace

void attention_tile_neon(LLM_ATTN_TILE_ARGS) {
    attention_tile<VecNeon>(a, kvh, f0, k_begin, k_end, partial, s);
}

}  // namespace llm::cpu
