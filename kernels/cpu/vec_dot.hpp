// Internal interface of the matmul kernels: activation block formats, the per-ISA vec_dot tables
// (one weight row x one prepared activation row) and small decode helpers shared by every ISA file.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.hpp"
#include "core/fp16.hpp"
#include "kernels/quant/blocks.hpp"

namespace llm::cpu {

// How a row of activations is prepared once per matmul call for a weight type's vec_dot.
enum class ActType : uint8_t {
    F32,    // the float row as given (F32/F16/BF16 weights)
    BF16,   // the row rounded to bfloat16 (BF16 weights on AVX-512 BF16: vdpbf16ps)
    Q8_32,  // ActQ8 blocks of 32 (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL)
    Q8_K,   // BlockQ8_K super-blocks of 256 with per-16 sums (Q2_K..Q6_K, IQ4_XS)
    F16,    // the row rounded to fp16 (F16 weights on AVX-512: ggml's vec_dot_type for F16 is F16)
};
constexpr size_t kNumActTypes = 5;

// 8-bit activations for the 32-element weight types, quantized exactly as ggml's x86 quantize_row_q8_0/q8_1
// (so integer sums equal llama.cpp's): q = round-half-even(x * 127/amax), d = fp16(amax/127).
// s = d*sum(qs) lets the offset terms (Q4_0's -8, Q5_0's -16, IQ4_NL's +128 bias) cost one FMA per block;
// sm = fp16(amax/127 * sum(qs)) is Q8_1's stored sum, used for the +m term of Q4_1/Q5_1 as ggml does.
struct ActQ8 {
    float d;
    float s;
    float sm;
    int8_t qs[32];
};
static_assert(sizeof(ActQ8) == 44);

// Fills the scale fields of one ActQ8 block from its absolute maximum and the sum of its quants.
static inline void set_act_q8_scales(ActQ8& y, float amax, int sum) {
    const float d_raw = amax / 127.0f;
    y.d = fp16_to_fp32(fp32_to_fp16(d_raw));
    y.s = y.d * (float)sum;
    y.sm = fp16_to_fp32(fp32_to_fp16(d_raw * (float)sum));
}
// ggml's multiplier: 127/amax (not 1/d), 0 for an all-zero block.
static inline float act_q8_inverse_scale(float amax) { return amax != 0.0f ? 127.0f / amax : 0.0f; }

// ggml's Q8_K activations: the element of largest magnitude (first one on ties) fixes the sign of the
// scale: iscale = -127/max, q = round-half-even(iscale * x), d = 1/iscale.
static inline float act_q8k_iscale(const float* x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK_K; ++j) {
        const float ax = x[j] < 0 ? -x[j] : x[j];
        if (ax > amax) amax = ax, max = x[j];
    }
    return amax != 0.0f ? -127.0f / max : 0.0f;
}

// Activations for the K-quants: value = d*qs[i], bsums[k] = sum(qs[16k .. 16k+15]). |qs| <= 127 so
// that two u8*s8 products never saturate an int16 (pmaddubsw).
using ActQ8K = BlockQ8_K;

// Dot product of one weight row (n elements, packed blocks) with one prepared activation row.
using VecDotFn = float (*)(int64_t n, const void* w_row, const void* act_row);
// Prepares n activations (n a multiple of the block size) into the ActType's layout.
using PrepareActFn = void (*)(const float* x, void* dst, int64_t n);

constexpr size_t kNumDTypes = 31;  // DType values are < 31

// Batches through the vec_dot arithmetic: outputs of `rows` consecutive weight rows (w_stride bytes apart) for
// `tokens` prepared activation rows (act_stride bytes apart), y[t * ldy + r] BIT-IDENTICAL to the entry's fn on
// row r and token t (tests/cpu/vec_dot_tile_test.cpp), so a matmul may group outputs any way it likes.
using VecDotTileFn = void (*)(int64_t n, const uint8_t* w, size_t w_stride, const uint8_t* act, size_t act_stride,
                              float* y, int64_t ldy);
struct VecDotTile {
    VecDotTileFn fn = nullptr;  // null: none; the matmul calls fn per output
    int rows = 0, tokens = 0;
};

struct VecDotEntry {
    VecDotFn fn = nullptr;  // null: this ISA has no kernel for the type (a lower ISA's is used)
    ActType act = ActType::F32;
    // Exact mode, batches: llama.cpp's arithmetic for the tokens it runs in whole groups of 4 through a
    // repacked gemm whose rounding differs from its gemv (Q4_K); null: fn for every token.
    VecDotFn fn_gemm4 = nullptr;
    // Exact mode, batches of 8 or more tokens: llama.cpp's tiled K-quant matmul arithmetic (Q5_K, Q6_K); null: fn.
    VecDotFn fn_tiled8 = nullptr;
    // Outputs of fn computed several rows x tokens at a time (the weights unpacked once per tile).
    VecDotTile tile = {};
    // The same for fn_gemm4 (its tokens come in groups of 4: tile_gemm4.tokens divides 4).
    VecDotTile tile_gemm4 = {};
};

// One table per ISA; the entries for types an ISA lacks are null.
struct IsaKernels {
    VecDotEntry dot[kNumDTypes];
    PrepareActFn prepare[kNumActTypes] = {};  // indexed by ActType; F32 is a plain copy and stays null
};

const IsaKernels& kernels_scalar();

// Fill in the entries an ISA has (each defined in that ISA's files; call only on a CPU that has it).
// matmul.cpp builds one table per ISA from these, falling back to the lower ISA's entries.
void register_avx2_float(IsaKernels& k);
void register_avx2_legacy(IsaKernels& k);
void register_avx2_kquants(IsaKernels& k);
void register_avx512_float(IsaKernels& k, bool bf16);
void register_avx512_legacy(IsaKernels& k);
void register_avx512_kquants(IsaKernels& k);
// aarch64: every NEON kernel (vec_dot_neon.cpp), with sdot where dotprod (vec_dot_dotprod.cpp).
void register_neon(IsaKernels& k, bool dotprod);

// Bytes of one prepared activation row of n elements.
static inline size_t act_row_bytes(ActType a, int64_t n) {
    switch (a) {
        case ActType::F32: return (size_t)n * sizeof(float);
        case ActType::BF16: case ActType::F16: return (size_t)n * sizeof(uint16_t);
        case ActType::Q8_32: return (size_t)(n / 32) * sizeof(ActQ8);
        case ActType::Q8_K: return (size_t)(n / QK_K) * sizeof(ActQ8K);
    }
    return 0;
}

// ---- decode helpers (static: each ISA file gets its own copy, compiled with its own flags; an
// inline function with external linkage could be merged with an AVX-512 copy and run on any CPU) ----

// Q4_K / Q5_K: 8 six-bit scales and 8 six-bit mins packed in 12 bytes (ggml's get_scale_min_k4).
static inline void unpack_scales_k4(const uint8_t* q, uint8_t sc[8], uint8_t m[8]) {
    for (int j = 0; j < 4; ++j) {
        sc[j] = q[j] & 63;
        m[j] = q[j + 4] & 63;
    }
    for (int j = 4; j < 8; ++j) {
        sc[j] = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        m[j] = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

// Q3_K: 16 six-bit scales packed in 12 bytes, returned minus 32 (signed, -32..31).
static inline void unpack_scales_q3k(const uint8_t* q, int8_t sc[16]) {
    for (int j = 0; j < 16; ++j) {
        const int lo = j < 8 ? (q[j] & 0xF) : (q[j - 8] >> 4);
        const int hi = (q[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
        sc[j] = (int8_t)((lo | (hi << 4)) - 32);
    }
}

// IQ4_XS: the 6-bit scale of 32-element sub-block ib, minus 32.
static inline int iq4xs_scale(const BlockIQ4_XS& b, int ib) {
    const int ls = ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b.scales_h >> (2 * ib)) & 3) << 4);
    return ls - 32;
}

}  // namespace llm::cpu
