// Q4_K and Q5_K matrices interleaved 8 rows at a time at load (TensorView::panels; runtime/repack_weights.hpp) for the
// AVX2 decode kernel: the layout llama.cpp's AVX2 build repacks Q4_K into (its block_q4_Kx8), in our own arrangement.
//
// Why: the row-major K-quant GEMVs (gemv_avx2.cpp gemv_q4_k, gemv_q45_k_gemm_order) unpack every row's 12-byte scales
// in scalar code and broadcast each sub-block's scale across a vector, ~96 instructions per row and super-block; on
// AVX2 that makes them compute-bound at ~15 GB/s per core, below what two cores can stream (measured 19 GB/s for both
// where the memory gives 27). Interleaved, one vector instruction serves 8 rows' scales and 4 rows' weights, about half
// the work per byte, and each group of 8 rows is one sequential stream: the same two cores then stream ~27 GB/s.
//
// Layout: rows are taken in groups of 8 (rows past n_out: zeros); group g starts at g * 8 * row_bytes (so the panels
// have the rows' size, padded to whole groups) and holds its super-blocks in order, 8 x sizeof(block) bytes each
// (Q4_K 1152, Q5_K 1408):
//     [0, 16)     d of rows 0..7 (fp16)          [16, 32)  dmin of rows 0..7 (fp16)
//     [32, 128)   the scales' 12 bytes as three 32-bit words: word k of row r at 32 + (k * 8 + r) * 4
//     Q5_K only, [128, 384): qh: for half h and piece p (bytes 8p..8p+7 of a row's qh), 32 bytes at 128 + (h * 4 + p) * 32
//     then qs:    for half h (rows {0,1,4,5} for h = 0, {2,3,6,7} for h = 1), quarter q (qs bytes 32q..32q+31 of a row:
//                 sub-blocks 2q (low nibbles) and 2q + 1 (high)), piece p (bytes 8p..8p+7 of the quarter), 32 bytes at
//                 base + ((h * 4 + q) * 4 + p) * 32 (base 128 for Q4_K, 384 for Q5_K): the four rows' pieces in that
//                 row order (qh's pieces likewise).
// The kernel computes, for every row, the exact integers isum = sum_j s_j * dot(u_j, a_j) and imin = sum_j m_j * bsum_j
// per super-block, then acc = fma(isum, d * d_a, acc), acc_m = fma(imin, dmin * d_a, acc_m), y = acc - acc_m: the GEMM's
// kint arithmetic (gemm.hpp), which for Q4_K is also its AVX2 vec_dot's (llama.cpp's). Outputs are bit-identical to
// the rows' kernels of the mode (tests/cpu/kquant_x8_test.cpp); Q5_K's `exact` decode keeps ggml's vec_dot on the rows.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/tensor.hpp"
#include "kernels/cpu/matmul.hpp"

namespace llm::cpu {

constexpr int kKquantX8Rows = 8;
// From this many tokens matmul runs the GEMM (packed from the panels) instead of gemv_kquant_x8_avx2. Measured
// (bench/matmul_small_m, LLM_CPU=avx2 on Zen 4, one thread, ms per TinyLlama layer, Q4_K kernel / GEMM): 10 tokens
// 7.3-8.7 / 9.5-10.0, 12: 8.6 / 9.7-10.3, 14: 9.6-10.2 / -, 16: 11.2-12.2 / 11.8-13.8.
constexpr int64_t kKquantX8GemmFrom = 14;

// Byte offsets within a group's super-block (layout above).
template <bool Five>
constexpr size_t kquant_x8_qs_at(int h, int q, int p) { return (Five ? 384 : 128) + (size_t)((h * 4 + q) * 4 + p) * 32; }
constexpr size_t kquant_x8_qh_at(int h, int p) { return 128 + (size_t)(h * 4 + p) * 32; }

// Whether matmul reads the panels of this type on this ISA (Q4_K and Q5_K on AVX2; AVX-512 has its own row-major
// kernels, which stream at the memory's rate). Other ISAs read the rows of a matrix that has panels.
bool kquant_x8_supported(Isa isa, DType type);

// Bytes of w's panels: its rows' bytes, padded to whole groups of 8.
size_t kquant_x8_bytes(const TensorView& w);
// Writes w's (Q4_K or Q5_K) panels from its rows to dst; threads over groups.
void kquant_x8_pack(const TensorView& w, void* dst, int n_threads);
// Rows [r0, r0 + n_rows) of a matrix of that type with n_in columns back in the row-major format, from its panels (one
// row after another in dst, row_bytes apart): what the GEMM's packers read.
void kquant_x8_rows(DType type, const void* panels, int64_t n_in, int64_t r0, int64_t n_rows, void* dst);

// The 8 outputs of one group for n_tok prepared Q8_K activation rows (act_stride bytes apart): y[t * ldy + r] = row r
// times token t in the arithmetic above. group: the group's first super-block (panels + g * 8 * row_bytes). Tokens in
// passes of up to 4 (the weights unpacked once per pass). type: Q4_K or Q5_K.
void gemv_kquant_x8_avx2(DType type, int64_t n_in, const uint8_t* group, const uint8_t* act, size_t act_stride,
                         int n_tok, float* y, int64_t ldy);

}  // namespace llm::cpu
