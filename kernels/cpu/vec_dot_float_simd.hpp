// ggml's float vec_dot (ggml_vec_dot_f32, ggml_vec_dot_f16 of vec.cpp) written once over a vector policy, for
// one output (dot_ggml_float) and for tiles of rows x tokens (tile_ggml_float, a VecDotTile) that compute every
// output with exactly the same operations, so batches run several outputs per weight load at the per-output
// kernel's bits (tests/cpu/vec_dot_tile_test.cpp). The policies live in the ISA's file (vec_dot_avx2.cpp,
// vec_dot_avx512.cpp); include only from a file compiled with that ISA's flags.
//
// ggml's arithmetic: 4 accumulators of W lanes, 4W elements per step (accumulator j takes elements
// i + W j .. i + W j + W - 1 of step i), FMA; then the ISA's fixed reduction of the 4 accumulators and the
// leftover elements (P::finish: in float with FMAs for F32, in double for F16).
// Policy P:
//   P::WElem, P::AElem               the stored weight and activation elements (float, or uint16_t fp16 bits)
//   P::Vec, P::kW                    the vector type and its lanes
//   P::zero(), P::load(const WElem*), P::load(const AElem*), P::fma(a, b, c) = a * b + c rounded once
//   P::finish(Vec s[4], x, y, i, n)  the reduction of s, then elements [i, n) of row x and activations y
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace llm::cpu {
namespace {

template <class P>
float dot_ggml_float(int64_t n, const void* w, const void* a) {
    constexpr int W = P::kW;
    const auto* x = static_cast<const typename P::WElem*>(w);
    const auto* y = static_cast<const typename P::AElem*>(a);
    typename P::Vec s[4] = {P::zero(), P::zero(), P::zero(), P::zero()};
    const int64_t np = n - n % (4 * W);
    for (int64_t i = 0; i < np; i += 4 * W)
        for (int j = 0; j < 4; ++j) s[j] = P::fma(P::load(x + i + W * j), P::load(y + i + W * j), s[j]);
    return P::finish(s, x, y, np, n);
}

// R rows x T tokens. Each accumulator j is a chain of its own, so the tile runs the 4 chains one after the other
// (R x T accumulators in registers, each weight vector used T times and each activation vector R times) over
// blocks of 64 W elements (the block's rows and tokens stay in L1 for the 4 chains; without the blocks each chain
// streamed them from L2 again: measured slower), keeps each output's 4 chain sums between blocks and finishes each
// output as dot_ggml_float does.
template <class P, int R, int T>
void tile_ggml_float(int64_t n, const uint8_t* w, size_t ws, const uint8_t* act, size_t as, float* y, int64_t ldy) {
    using V = typename P::Vec;
    constexpr int W = P::kW;
    constexpr int64_t kBlock = 64 * W;
    static_assert(kBlock % (4 * W) == 0, "a block holds whole steps");
    const int64_t np = n - n % (4 * W);
    const typename P::WElem* x[R];
    const typename P::AElem* a[T];
    for (int r = 0; r < R; ++r) x[r] = reinterpret_cast<const typename P::WElem*>(w + (size_t)r * ws);
    for (int t = 0; t < T; ++t) a[t] = reinterpret_cast<const typename P::AElem*>(act + (size_t)t * as);
    V part[R][T][4];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t)
            for (int j = 0; j < 4; ++j) part[r][t][j] = P::zero();
    for (int64_t k0 = 0; k0 < np; k0 += kBlock) {
        const int64_t k1 = std::min(np, k0 + kBlock);
        for (int j = 0; j < 4; ++j) {
            V acc[R][T];
            for (int r = 0; r < R; ++r)
                for (int t = 0; t < T; ++t) acc[r][t] = part[r][t][j];
            for (int64_t i = k0 + W * j; i < k1; i += 4 * W) {
                V wv[R];
                for (int r = 0; r < R; ++r) wv[r] = P::load(x[r] + i);
                for (int t = 0; t < T; ++t) {
                    const V av = P::load(a[t] + i);
                    for (int r = 0; r < R; ++r) acc[r][t] = P::fma(wv[r], av, acc[r][t]);
                }
            }
            for (int r = 0; r < R; ++r)
                for (int t = 0; t < T; ++t) part[r][t][j] = acc[r][t];
        }
    }
    for (int t = 0; t < T; ++t)
        for (int r = 0; r < R; ++r) y[t * ldy + r] = P::finish(part[r][t], x[r], a[t], np, n);
}

}  // namespace
}  // namespace llm::cpu
