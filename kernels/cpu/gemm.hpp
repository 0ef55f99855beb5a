// Register-blocked int8 GEMM for many tokens (prompt processing): y = W x with W quantized.
//
// Per call, weights are packed on the fly, per panel of 16 output rows, into one uniform format for every
// supported type: weight = scale * u + bias per (row, sub-block of SB elements), u an unsigned byte; the
// 16 rows are interleaved so one 64-byte vector holds 4 consecutive k of the 16 rows (vpdpbusd layout).
// Activations are quantized exactly as the vec_dot path does (ActQ8 blocks of 32 or Q8_K super-blocks) and
// laid out per tile of 8 tokens. Then per sub-block and token:
//   sum_k w_k x_k = scale * d_a * (sum(u*a) - offset*sum(a)) + bias * d_a*sum(a)
// where the integer offset (8 for Q4_0, 128 for Q8_0, ...) of the symmetric types starts the int32
// accumulator, and the float bias (Q4_1, Q5_1, Q2_K) costs one FMA per sub-block. The K-quants'
// Q8_K activations have one d_a per 256 elements: their sub-block terms are summed first, then scaled once.
// Q4_K, Q5_K and Q6_K keep their sub-block scales as integers instead (gemm_kint below: llama.cpp's repacked
// arithmetic for Q4_K).
// A 16-row x 8-token micro-kernel (AVX-512 VNNI) keeps the accumulators in registers; the AVX2 kernel
// (vpmaddubsw + vpmaddwd, or vpdpbusd on ymm with AVX-VNNI: gemm_avx2.hpp) covers the same block in passes
// of 8-16 rows x 2-4 tokens. The scalar kernel computes exactly the same thing (the same float operations in
// the same order) and is the test oracle: every kernel agrees with it bit for bit.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.hpp"
#include "core/tensor.hpp"
#include "kernels/cpu/vec_dot.hpp"

namespace llm::cpu {

constexpr int kGemmRows = 16;   // output rows per packed panel (one zmm of floats)
constexpr int kGemmTokens = 8;  // tokens per activation tile (8 int32 + 8 float accumulators)

// Bytes of one packed weight sub-block: SB/4 vectors of [16 rows][4 bytes], then float scale[16], bias[16].
constexpr size_t gemm_sub_block_bytes(int sb) { return (size_t)kGemmRows * sb + 2 * 64; }
// Bytes of one activation sub-block of a tile: int8 [SB/4][8 tokens][4], then float d[8], int32 c[8]
// (-offset * sum(a): the accumulator's start) and float s[8] (the bias term's multiplier: d_a * sum(a),
// or ActQ8's sm for Q4_1 / Q5_1 as ggml uses; for the K-quants sum(a) alone, since their activation scale d
// is one per 256-element super-block and the kernel applies it once per super-block).
constexpr size_t gemm_act_sub_block_bytes(int sb) { return (size_t)kGemmTokens * sb + 3 * 4 * kGemmTokens; }

// The AVX2 kernel's "wide" formats, for the types whose packed bytes reach 255 (Q8_0, IQ4_NL, IQ4_XS: the
// u8 x s8 pair sums of vpmaddubsw would saturate), multiplied with vpmaddwd: weights as int16 w = u - 128,
// per 4-k group and 8-row half [8 rows][k0, k1] then [8 rows][k2, k3] (64 bytes, so a group of 16 rows is
// 128 bytes), then the same float scale[16], bias[16]; activations as int16, [SB/4][8 tokens][4], then the
// same d, c, s. The integer sums are the u8 formats' (sum(w*a) = c + sum(u*a) with c = -128*sum(a)), so
// the results are too.
constexpr size_t gemm_wide_sub_block_bytes(int sb) { return (size_t)kGemmRows * sb * 2 + 2 * 64; }
constexpr size_t gemm_wide_act_sub_block_bytes(int sb) { return (size_t)kGemmTokens * sb * 2 + 3 * 4 * kGemmTokens; }

// Q4_K, Q5_K (and Q6_K, below): integer sub-block scales (the "kint" panels). Their weight is d*s_j*u - dmin*m_j with 6-bit s_j, m_j,
// and per (row, token, super-block) the GEMM sums the EXACT integers isum = sum_j s_j * sum(u*a) and
// imin = sum_j m_j * bsum_j, then acc = fma((float)isum, d*d_a, acc), acc_m = fma((float)imin, dmin*d_a, acc_m)
// and gives acc - acc_m: the arithmetic of llama.cpp's repacked Q4_K gemv, which the x86 vec_dot of Q4_K
// already computes (vec_dot_kquants_simd.hpp dot_q4_k_repacked), so one-token calls keep that fast kernel.
// A sub-block's 128 bytes after its weights hold int32 s[16], then the super-block slot of sub-block j:
// j = 0 float d[16], j = 1 float dmin[16], j = 2..5 int32 min pairs m_2i | m_2i+1 << 16 (i = j - 2), then
// zeros. The activation tile's s[8] of sub-block j holds the pair bsum_2i | bsum_2i+1 << 16 (i = j / 2; int16
// halves: a 32-element sum of int8 fits), so that vpmaddwd of a min pair and a bsum pair is one pair's term.
// Q6_K likewise without mins: weight = d*sc_j*(u - 32) with signed 8-bit sc_j over 16 sub-blocks of 16, isum =
// sum_j sc_j * (sum(u*a) - 32*bsum_j), acc = fma((float)isum, d*d_a, acc); its slot j = 0 holds d, the others zeros.
constexpr bool gemm_kint(DType t) { return t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K; }
constexpr int kKintSlotD = 0, kKintSlotDmin = 1, kKintSlotMins = 2;

// One panel: rows [r0, r0 + n_rows) of w (n_rows <= 16; missing rows packed as zeros).
using GemmPackFn = void (*)(const TensorView& w, int64_t r0, int n_rows, uint8_t* dst);
// One panel x one tile over n_sub sub-blocks; writes y[t * ldy + r] for t < n_tok, r < n_rows.
using GemmKernelFn = void (*)(const uint8_t* panel, const uint8_t* act, int64_t n_sub, float* y, int64_t ldy,
                              int n_rows, int n_tok);

struct GemmOps {
    GemmPackFn pack = nullptr;
    GemmKernelFn kernel = nullptr;
    bool wide = false;  // panels and activation tiles in the wide formats (above)
    // The nibble panel (Q4_K on AVX-512 VNNI, gemm_avx512.cpp): per pair of 32-element sub-blocks, 8 vectors of
    // [16 rows][4 bytes] whose low nibbles are the first sub-block's u and high nibbles the second's, then the
    // first's scale[16], bias[16] and the second's (kGemmRows * 32 + 256 bytes per pair; within the byte panel's size).
    bool nibbles = false;
};

// Per-ISA entries (gemm_scalar.cpp, gemm_avx2.cpp, gemm_avxvnni.cpp, gemm_avx512.cpp, gemm_i8mm.cpp); false for a type
// without a packer.
bool gemm_ops_scalar(DType type, GemmOps& ops);
bool gemm_ops_avx2(DType type, GemmOps& ops);     // call only on a CPU with AVX2
bool gemm_ops_avxvnni(DType type, GemmOps& ops);  // call only on a CPU with AVX-VNNI (gemm_avxvnni.cpp)
bool gemm_ops_avx512(DType type, GemmOps& ops);   // call only on a CPU with AVX-512 VNNI
bool gemm_ops_i8mm(DType type, GemmOps& ops);     // aarch64 usmmla (gemm_i8mm.cpp); call only on a CPU with I8MM

// AvxVnni: the AVX2 kernel with vpdpbusd on ymm (CpuFeatures::avx_vnni); matmul's Isa::Avx2 uses it where
// the CPU has it.
// I8mm: the aarch64 kernel (CpuFeatures::i8mm); matmul's Isa::Dotprod uses it where the CPU has it.
enum class GemmImpl { Scalar, Avx2, AvxVnni, Avx512, I8mm };

// Whether the GEMM packs this weight type.
bool gemm_supports(DType type);
// Smallest token count for which matmul uses this GEMM implementation for this type (below it: the
// vec_dot path; the thresholds differ per ISA); the environment variable LLM_GEMM_MIN_TOKENS overrides it
// (for A/B measurements).
int64_t gemm_min_tokens(DType type, GemmImpl impl = GemmImpl::Avx512);

// y = W x like matmul (x: [n_tokens x n_in], y: [n_tokens x n_out]); results depend neither on n_threads nor
// on impl. Avx2 / AvxVnni / Avx512 need the CPU feature (isa_supported(Isa::Avx2), CpuFeatures::avx_vnni,
// isa_supported(Isa::Avx512)). Aborts on an unsupported type.
void gemm(GemmImpl impl, const TensorView& w, const float* x, int64_t n_tokens, float* y, int n_threads);

}  // namespace llm::cpu
