// The matmul driver: picks the (type x ISA) vec_dot once, prepares the activations once per call and
// runs OpenMP threads over balanced chunks of output rows, tiled so weight rows are reused across tokens.
#include "kernels/cpu/matmul.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/cpu_features.hpp"
#include "core/openmp.hpp"
#include "kernels/cpu/blas_gemm.hpp"
#include "kernels/cpu/float_chain.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/gemv.hpp"
#include "kernels/cpu/kquant_x8.hpp"
#include "kernels/cpu/vec_dot.hpp"
#include "kernels/quant/quant.hpp"

namespace llm {
namespace {

using cpu::ActType;
using cpu::IsaKernels;

[[noreturn]] void die(const char* what, const char* detail) {
    std::fprintf(stderr, "llm matmul: %s%s\n", what, detail);
    std::abort();
}

// One table per ISA with the lower ISAs' entries filled in where an ISA has no kernel of its own.
IsaKernels build_table(Isa isa) {
    IsaKernels k = cpu::kernels_scalar();
    const CpuFeatures& f = cpu_features();
    if (isa_is_arm(isa)) {
        IsaKernels v;
        cpu::register_neon(v, isa == Isa::Dotprod);
        for (size_t t = 0; t < cpu::kNumDTypes; ++t)
            if (v.dot[t].fn) k.dot[t] = v.dot[t];
        for (size_t a = 0; a < cpu::kNumActTypes; ++a)
            if (v.prepare[a]) k.prepare[a] = v.prepare[a];
    }
    if (isa_is_x86(isa)) {
        IsaKernels v;
        cpu::register_avx2_float(v);
        cpu::register_avx2_legacy(v);
        cpu::register_avx2_kquants(v);
        if (isa >= Isa::Avx512) {
            cpu::register_avx512_float(v, f.avx512_bf16);
            cpu::register_avx512_legacy(v);
            cpu::register_avx512_kquants(v);
        }
        for (size_t t = 0; t < cpu::kNumDTypes; ++t)
            if (v.dot[t].fn) k.dot[t] = v.dot[t];
        for (size_t a = 0; a < cpu::kNumActTypes; ++a)
            if (v.prepare[a]) k.prepare[a] = v.prepare[a];
    }
    return k;
}

// Each level's table is built on its first use only: building another architecture's would call its stand-ins
// (absent_<arch>_kernels.cpp), which abort.
template <Isa kIsa>
const IsaKernels& table_of() {
    static const IsaKernels t = build_table(kIsa);
    return t;
}

const IsaKernels& table(Isa isa) {
    if (!isa_supported(isa)) die("this CPU lacks the ISA ", isa_name(isa));
    switch (isa) {
        case Isa::Scalar: return table_of<Isa::Scalar>();
        case Isa::Avx2: return table_of<Isa::Avx2>();
        case Isa::Avx512: return table_of<Isa::Avx512>();
        case Isa::Neon: return table_of<Isa::Neon>();
        case Isa::Dotprod: return table_of<Isa::Dotprod>();
    }
    die("unknown ISA level", "");
}

// A tile of weight rows (~128 KiB) stays in L2 while every token's activation row passes over it; the
// token's row (a few KiB) stays in L1 across the tile's rows. Per dot product the L2 traffic is then one
// weight row (8-bit activations are larger than 4-bit weight rows, so this order beats the reverse).
constexpr size_t kWeightTileBytes = 128 << 10;

struct Job {
    cpu::VecDotFn dot;
    const TensorView* w;
    const uint8_t* act;  // prepared activation rows, act_stride bytes apart
    size_t act_stride;
    int64_t n_in, n_out, n_tokens;
    float* y;
    cpu::GemvKernel gemv;  // multi-row kernel (bit-identical to dot per row), or none
    cpu::VecDotFn dot_gemm4 = nullptr;  // tokens [0, n_gemm4): llama.cpp's batch arithmetic (exact mode)
    int64_t n_gemm4 = 0;
    cpu::VecDotTile tile = {};  // tile_dot over rows x tokens at a time (bit-identical), or none
    cpu::VecDotFn tile_dot = nullptr;  // what the tile computes: dot, or dot_gemm4 for tokens [0, n_gemm4)
    int64_t tile_end = 0;              // tokens [0, tile_end) go through the tile where they fill one
};

// Rows [r0, r1) for tokens [t0, t0 + tile.tokens): whole tiles, then the rows left over one output at a time.
void run_tile(const Job& j, int64_t r0, int64_t r1, int64_t t0) {
    const size_t w_row = j.w->row_size();
    const uint8_t* at = j.act + (size_t)t0 * j.act_stride;
    float* yt = j.y + t0 * j.n_out;
    int64_t r = r0;
    for (; r + j.tile.rows <= r1; r += j.tile.rows) j.tile.fn(j.n_in, j.w->row(r), w_row, at, j.act_stride, yt + r, j.n_out);
    for (; r < r1; ++r)
        for (int t = 0; t < j.tile.tokens; ++t) yt[t * j.n_out + r] = j.tile_dot(j.n_in, j.w->row(r), at + (size_t)t * j.act_stride);
}

void run_rows(const Job& j, int64_t r_begin, int64_t r_end) {
    const size_t w_row = j.w->row_size();
    int64_t rows_tile = std::max<int64_t>(1, (int64_t)(kWeightTileBytes / std::max<size_t>(w_row, 1)));
    const int64_t g = j.gemv.fn ? j.gemv.rows : 1;
    if (g > 1) rows_tile = std::max<int64_t>(g, rows_tile / g * g);
    // Whole token groups through the tile kernel when there is one.
    const int64_t tiled_tokens = j.tile.fn ? j.tile_end - j.tile_end % j.tile.tokens : 0;
    if (j.tile.fn) rows_tile = std::max<int64_t>(j.tile.rows, rows_tile / j.tile.rows * j.tile.rows);
    for (int64_t r0 = r_begin; r0 < r_end; r0 += rows_tile) {
        const int64_t r1 = std::min(r_end, r0 + rows_tile);
        for (int64_t t = 0; t < tiled_tokens; t += j.tile.tokens) run_tile(j, r0, r1, t);
        for (int64_t t = tiled_tokens; t < j.n_tokens; ++t) {
            const uint8_t* at = j.act + (size_t)t * j.act_stride;
            float* yt = j.y + t * j.n_out;
            int64_t r = r0;
            if (t < j.n_gemm4) {
                for (; r < r1; ++r) yt[r] = j.dot_gemm4(j.n_in, j.w->row(r), at);
                continue;
            }
            if (g > 1)  // groups of g rows through gemv (gemv.hpp), the rest row by row: same results
                for (; r + g <= r1; r += g) j.gemv.fn(j.n_in, j.w->row(r), w_row, at, yt + r);
            for (; r < r1; ++r) yt[r] = j.dot(j.n_in, j.w->row(r), at);
        }
    }
}

// Scratch for prepared activations, reused across calls by the calling thread (decode calls matmul
// hundreds of times per token; no allocation after the first few).
std::vector<uint8_t>& act_scratch(size_t bytes) {
    thread_local std::vector<uint8_t> buf;
    if (buf.size() < bytes) buf.resize(bytes);
    return buf;
}

}  // namespace

bool vec_dot_tile_enabled() {
    static const bool on = [] {
        const char* e = std::getenv("LLM_VEC_DOT_TILE");
        return !(e && e[0] == '0');
    }();
    return on;
}

bool isa_supported(Isa isa) {
    const CpuFeatures& f = cpu_features();
    switch (isa) {
        case Isa::Scalar: return true;
        case Isa::Avx2: return f.avx2;
        case Isa::Avx512: return f.avx512 && f.avx512_vnni;
        case Isa::Neon: return f.neon;
        case Isa::Dotprod: return f.dotprod;
    }
    return false;
}

bool isa_is_x86(Isa isa) { return isa == Isa::Avx2 || isa == Isa::Avx512; }
bool isa_is_arm(Isa isa) { return isa == Isa::Neon || isa == Isa::Dotprod; }

Isa best_isa() {
    static const Isa best = isa_supported(Isa::Avx512)    ? Isa::Avx512
                            : isa_supported(Isa::Avx2)    ? Isa::Avx2
                            : isa_supported(Isa::Dotprod) ? Isa::Dotprod
                            : isa_supported(Isa::Neon)    ? Isa::Neon
                                                          : Isa::Scalar;
    return best;
}

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::Scalar: return "scalar";
        case Isa::Avx2: return "avx2";
        case Isa::Avx512: return "avx512";
        case Isa::Neon: return "neon";
        case Isa::Dotprod: return "dotprod";
    }
    return "?";
}

bool matmul_supports(DType type) {
    return (size_t)type < cpu::kNumDTypes && cpu::kernels_scalar().dot[(size_t)type].fn != nullptr;
}

void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, int n_threads, Numerics mode) {
    matmul_isa(best_isa(), w, x, n_tokens, y, n_threads, mode);
}

namespace {

enum class Path { VecDot, Gemm, Blas, FloatGemm, GemmOrderGemv, GemvMulti, KquantX8 };

// The GEMM of an ISA level: Scalar for Isa::Scalar and for NEON without I8MM (the invariant mode's only GEMM
// there; the other modes keep those levels on vec_dot).
cpu::GemmImpl gemm_impl(Isa isa) {
    if (isa == Isa::Avx512) return cpu::GemmImpl::Avx512;
    if (isa == Isa::Avx2) return cpu_features().avx_vnni ? cpu::GemmImpl::AvxVnni : cpu::GemmImpl::Avx2;
    if (isa == Isa::Dotprod && cpu_features().i8mm) return cpu::GemmImpl::I8mm;
    return cpu::GemmImpl::Scalar;
}

// Types whose AVX2 / AVX-512 vec_dot (and gemv; not the NEON ones, which sum ggml's aarch64 lanes) computes each
// output with exactly the GEMM's operations (llama.cpp's order for the types it repacks): Q4_0 and IQ4_NL one
// integer sum per 32-element block, then acc = fma((float)sum, d_w * d_a, acc) in block order; Q4_K per super-block
// the exact isum and imin and one FMA each (gemm.hpp gemm_kint). Invariant may then pick either per shape, as exact
// does: the GEMV for decode. Held by tests/cpu/matmul_invariance_test.cpp (rows of 1..200-token calls memcmp-equal).
bool vec_dot_is_gemm_order(Isa isa, DType type) {
    return isa_is_x86(isa) && (type == DType::Q4_0 || type == DType::IQ4_NL || type == DType::Q4_K);
}

cpu::GemvKernel gemm_order_gemv_kernel(Isa isa, DType type) {
    if (isa == Isa::Avx512) return cpu::gemv_gemm_order_avx512(type);
    if (isa == Isa::Avx2) return cpu::gemv_gemm_order_avx2(type);
    return {};
}

// LLM_GEMV_MULTI=0 in the environment turns the several-token GEMV off (A/B timing against the GEMM).
cpu::GemvMultiKernel gemv_multi_kernel(Isa isa, DType type) {
    static const bool off = [] {
        const char* e = std::getenv("LLM_GEMV_MULTI");
        return e && e[0] == '0';
    }();
    if (off) return {};
    if (isa == Isa::Avx512) return cpu::gemv_multi_avx512(type);
    if (isa == Isa::Avx2) return cpu::gemv_multi_avx2(type);
    return {};
}

// The one place that maps (mode, ISA, type, token count) to a kernel family (see matmul.hpp).
Path choose_path(Isa isa, DType type, int64_t n_tokens, Numerics mode, bool panels) {
    // Float weights interleaved at load: one FMA chain per output from the panels at every token count in invariant
    // (so batch invariant) and fast; exact's batches below the float GEMM's threshold keep llama.cpp's vec_dot over
    // the rows (LLM_FLOAT_GEMM=0, the threshold's off switch, sends exact and fast there at every count).
    if (panels && cpu::float_chain_supports(isa, type)) {
        const int64_t from = cpu::float_chain_min_tokens(isa, type);
        if (mode == Numerics::Invariant || (mode == Numerics::Fast && from != INT64_MAX) || n_tokens >= from)
            return Path::FloatGemm;
    }
    // Q4_K / Q5_K interleaved at load (kquant_x8.hpp, AVX2): the kernel computes the GEMM's arithmetic, so invariant
    // and fast run it for a few tokens and the GEMM, packed from the panels, for more. For Q4_K that is also the vec_dot's
    // (llama.cpp's gemv): exact takes it up to 3 tokens (from 4 its batches take llama.cpp's gemm arithmetic, over the
    // rows); Q5_K's exact keeps ggml's vec_dot on the rows.
    if (panels && cpu::kquant_x8_supported(isa, type)) {
        if (mode != Numerics::Exact) return n_tokens < cpu::kKquantX8GemmFrom ? Path::KquantX8 : Path::Gemm;
        if (type == DType::Q4_K && n_tokens <= 3) return Path::KquantX8;
    }
    if (mode == Numerics::Invariant) {
        if (!cpu::gemm_supports(type)) return Path::VecDot;
        const bool few = n_tokens < cpu::gemm_min_tokens(type, gemm_impl(isa));
        if (vec_dot_is_gemm_order(isa, type)) {
            // From 2 tokens up to the kernel's gemm_from: the several-token GEMV (a serving step decoding 8-16
            // sequences), whose weights are read once per 4-16 tokens with no per-call packing.
            const cpu::GemvMultiKernel gm = gemv_multi_kernel(isa, type);
            if (gm.fn && n_tokens > 1 && n_tokens < gm.gemm_from) return Path::GemvMulti;
            return few ? Path::VecDot : Path::Gemm;
        }
        // Q4_1: the several-token GEMV in the GEMM's order (as Q4_0 above).
        const cpu::GemvMultiKernel gm = gemv_multi_kernel(isa, type);
        if (gm.fn && n_tokens > 1 && n_tokens < gm.gemm_from) return Path::GemvMulti;
        // The GEMM-order GEMVs re-read the weights per token: measured (bench/matmul_small_m, one thread,
        // TinyLlama layer) 5x faster than the GEMM's per-call packing for one token, equal at ~8 (Q4_K),
        // 1.3x slower at 8 (Q6_K).
        if (n_tokens < 4 && gemm_order_gemv_kernel(isa, type).fn) return Path::GemmOrderGemv;
        return Path::Gemm;
    }
    // Exact: the batch arithmetic of llama.cpp lives on the vec_dot path for the types it repacks (Q4_K: its gemm
    // for groups of 4 tokens, gemv for the rest), those of its tiled K-quant matmul (Q5_K, Q6_K) and those its
    // tinyBLAS runs with the vec_dot's per-block order (Q8_0, Q5_0; bit-identical over Gemma 3 270M's prompts).
    if (mode == Numerics::Exact && (type == DType::Q8_0 || type == DType::Q5_0 ||
                                    table(isa).dot[(size_t)type].fn_gemm4 || table(isa).dot[(size_t)type].fn_tiled8))
        return Path::VecDot;
    // Many tokens with F32/F16/BF16 weights: on x86 our float GEMM (float_chain.hpp), elsewhere OpenBLAS sgemm on
    // converted weight panels (blas_gemm.hpp).
    if (cpu::float_chain_supports(isa, type) && cpu::float_chain_min_tokens(isa, type) != INT64_MAX)
        return n_tokens >= cpu::float_chain_min_tokens(isa, type) ? Path::FloatGemm : Path::VecDot;
    if (n_tokens >= cpu::blas_min_tokens(isa, type)) return Path::Blas;
    // Many tokens (prompt processing): the register-blocked int8 GEMM on packed weight panels.
    if (gemm_impl(isa) != cpu::GemmImpl::Scalar && cpu::gemm_supports(type)) {
        int64_t min = cpu::gemm_min_tokens(type, gemm_impl(isa));
        if (mode == Numerics::Fast && min == INT64_MAX) min = cpu::gemm_min_tokens(DType::Q4_0, gemm_impl(isa));
        if (n_tokens >= min) return Path::Gemm;
    }
    return Path::VecDot;
}

// Path::GemmOrderGemv: groups of rows through a kernel computing the GEMM's operations per output
// (gemv.hpp), weight tiles of ~128 KiB reused across the tokens; the rows past the last full group through
// the GEMM itself. Each output is one kernel's (or the GEMM's) whatever the threads: results do not depend
// on n_threads.
void gemm_order_gemv(Isa isa, const IsaKernels& k, const cpu::VecDotEntry& e, const TensorView& w, const float* x,
                     int64_t n_tokens, float* y, int n_threads) {
    const cpu::GemvKernel gk = gemm_order_gemv_kernel(isa, w.type);
    const int64_t n_in = w.ne[0], n_out = w.ne[1], g = gk.rows, n_groups = n_out / g;
    const size_t w_row = w.row_size();
    if (n_groups * g < n_out) {
        TensorView tail = w;
        tail.data = w.row(n_groups * g), tail.panels = nullptr, tail.ne[1] = n_out - n_groups * g, tail.nbytes = tail.ne[1] * w_row;
        std::vector<float> yt((size_t)(n_tokens * tail.ne[1]));
        cpu::gemm(gemm_impl(isa), tail, x, n_tokens, yt.data(), n_threads);
        for (int64_t t = 0; t < n_tokens; ++t)
            std::memcpy(y + t * n_out + n_groups * g, yt.data() + t * tail.ne[1], tail.ne[1] * sizeof(float));
    }
    if (n_groups == 0) return;
    const size_t stride = cpu::act_row_bytes(e.act, n_in);
    const cpu::PrepareActFn prepare = k.prepare[(size_t)e.act];
    uint8_t* act = act_scratch(stride * (size_t)n_tokens).data();
    const int64_t tile = std::max<int64_t>(1, (int64_t)(kWeightTileBytes / (w_row * g)));  // groups per tile
    auto run = [&](int64_t g0, int64_t g1) {
        for (int64_t a0 = g0; a0 < g1; a0 += tile)
            for (int64_t t = 0; t < n_tokens; ++t)
                for (int64_t grp = a0; grp < std::min(g1, a0 + tile); ++grp)
                    gk.fn(n_in, w.row(grp * g), w_row, act + (size_t)t * stride, y + t * n_out + grp * g);
    };
    parallel_prep_then_split(n_threads, n_tokens, n_groups,
                             [&](int64_t t) { prepare(x + t * n_in, act + (size_t)t * stride, n_in); }, run);
}

// Path::GemvMulti: groups of rows x passes of several tokens through GemvMultiKernel (gemv.hpp), weight tiles of
// ~128 KiB reused across the passes; rows past the last full group through vec_dot where it computes the same
// operations (Q4_0), else through the GEMM (Q4_1). Threads split the groups: results do not depend on n_threads.
void gemv_multi(Isa isa, const IsaKernels& k, const cpu::VecDotEntry& e, const TensorView& w, const float* x,
                int64_t n_tokens, float* y, int n_threads) {
    const cpu::GemvMultiKernel gk = gemv_multi_kernel(isa, w.type);
    const int64_t n_in = w.ne[0], n_out = w.ne[1], g = gk.rows, n_groups = n_out / g, nb = n_in / 32;
    const size_t w_row = w.row_size(), stride = cpu::act_row_bytes(e.act, n_in);
    const size_t off_at = (stride * (size_t)n_tokens + 63) / 64 * 64;
    uint8_t* act = act_scratch(off_at + sizeof(int32_t) * (size_t)(n_tokens * nb)).data();
    auto* off = reinterpret_cast<int32_t*>(act + off_at);
    const cpu::PrepareActFn prepare = k.prepare[(size_t)e.act];
    const int64_t tile = std::max<int64_t>(1, (int64_t)(kWeightTileBytes / (w_row * g)));  // groups per tile
    auto run = [&](int64_t g0, int64_t g1) {
        for (int64_t a0 = g0; a0 < g1; a0 += tile)
            for (int64_t t = 0; t < n_tokens; t += gk.tokens) {
                const int nt = (int)std::min<int64_t>(gk.tokens, n_tokens - t);
                for (int64_t grp = a0; grp < std::min(g1, a0 + tile); ++grp)
                    gk.fn(n_in, w.row(grp * g), w_row, act + (size_t)t * stride, stride, off + t * nb, nt,
                          y + t * n_out + grp * g, n_out);
            }
    };
    auto tail = [&](int64_t r0, int64_t r1) {
        if (r0 >= r1) return;
        if (vec_dot_is_gemm_order(isa, w.type)) {
            for (int64_t t = 0; t < n_tokens; ++t)
                for (int64_t r = r0; r < r1; ++r) y[t * n_out + r] = e.fn(n_in, w.row(r), act + (size_t)t * stride);
            return;
        }
        TensorView tv = w;
        tv.data = w.row(r0), tv.panels = nullptr, tv.ne[1] = r1 - r0, tv.nbytes = tv.ne[1] * w_row;
        std::vector<float> yt((size_t)(n_tokens * tv.ne[1]));
        cpu::gemm(gemm_impl(isa), tv, x, n_tokens, yt.data(), 1);
        for (int64_t t = 0; t < n_tokens; ++t)
            std::memcpy(y + t * n_out + r0, yt.data() + t * tv.ne[1], tv.ne[1] * sizeof(float));
    };
    auto prep = [&](int64_t t) {
        prepare(x + t * n_in, act + (size_t)t * stride, n_in);
        if (gk.offset != 0)  // only kernels over offset-coded weights (Q4_0) read them
            cpu::gemv_multi_offsets(n_in, act + (size_t)t * stride, stride, 1, gk.offset, off + t * nb);
    };
    parallel_prep_then_split(n_threads, n_tokens, n_groups, prep, run);
    tail(n_groups * g, n_out);  // the rows past the last full group (fewer than g), on this thread
}

// Path::KquantX8: a Q4_K / Q5_K matrix interleaved 8 rows at a time at load (kquant_x8.hpp): groups of 8 rows x passes
// of up to 4 tokens, weight tiles of ~128 KiB reused across the passes; the last group's padding rows computed and
// dropped. Threads split the groups: every output is one kernel lane's whatever the split.
void kquant_x8(const IsaKernels& k, const cpu::VecDotEntry& e, const TensorView& w, const float* x, int64_t n_tokens,
               float* y, int n_threads) {
    constexpr int64_t g = cpu::kKquantX8Rows;
    const int64_t n_in = w.ne[0], n_out = w.ne[1], n_groups = (n_out + g - 1) / g;
    const size_t w_row = w.row_size(), stride = cpu::act_row_bytes(e.act, n_in);
    uint8_t* act = act_scratch(stride * (size_t)n_tokens).data();
    const cpu::PrepareActFn prepare = k.prepare[(size_t)e.act];
    const auto* panels = static_cast<const uint8_t*>(w.panels);
    const int64_t tile = std::max<int64_t>(1, (int64_t)(kWeightTileBytes / (w_row * g)));  // groups per tile
    auto run = [&](int64_t g0, int64_t g1) {
        for (int64_t a0 = g0; a0 < g1; a0 += tile)
            for (int64_t t = 0; t < n_tokens; t += 4) {
                const int nt = (int)std::min<int64_t>(4, n_tokens - t);
                for (int64_t grp = a0; grp < std::min(g1, a0 + tile); ++grp) {
                    const uint8_t* wg = panels + (size_t)(grp * g) * w_row;
                    const uint8_t* at = act + (size_t)t * stride;
                    if ((grp + 1) * g <= n_out) {
                        cpu::gemv_kquant_x8_avx2(w.type, n_in, wg, at, stride, nt, y + t * n_out + grp * g, n_out);
                        continue;
                    }
                    float part[4 * g];
                    cpu::gemv_kquant_x8_avx2(w.type, n_in, wg, at, stride, nt, part, g);
                    for (int u = 0; u < nt; ++u)
                        std::memcpy(y + (t + u) * n_out + grp * g, part + u * g, (size_t)(n_out - grp * g) * sizeof(float));
                }
            }
    };
    parallel_prep_then_split(n_threads, n_tokens, n_groups,
                             [&](int64_t t) { prepare(x + t * n_in, act + (size_t)t * stride, n_in); }, run);
}

}  // namespace

const char* matmul_kernel_name(Isa isa, DType type, int64_t n_tokens, Numerics mode, bool panels) {
    switch (choose_path(isa, type, n_tokens, mode, panels)) {
        case Path::Blas: return "openblas";
        case Path::FloatGemm: return panels && n_tokens <= cpu::kFloatPanelsDirectMaxTokens ? "gemv-float" : "gemm-float";
        case Path::GemmOrderGemv: return "gemv-gemm-order";
        case Path::GemvMulti: return "gemv-multi";
        case Path::KquantX8: return "gemv-x8";
        case Path::Gemm:
            switch (gemm_impl(isa)) {
                case cpu::GemmImpl::Avx512: return "gemm-avx512vnni";
                case cpu::GemmImpl::AvxVnni: return "gemm-avxvnni";
                case cpu::GemmImpl::Avx2: return "gemm-avx2";
                case cpu::GemmImpl::I8mm: return "gemm-i8mm";
                case cpu::GemmImpl::Scalar: return "gemm-scalar";
            }
            return "gemm";
        case Path::VecDot: break;
    }
    if (!matmul_supports(type)) return "none";
    return cpu::gemv_kernel(isa, type, 1).fn ? "gemv" : "vec_dot";
}

void matmul_isa(Isa isa, const TensorView& w, const float* x, int64_t n_tokens, float* y, int n_threads,
                Numerics mode) {
    if (!matmul_supports(w.type)) die("no kernel for weight type ", std::string(dtype_name(w.type)).c_str());
    const IsaKernels& k = table(isa);
    const cpu::VecDotEntry e = k.dot[(size_t)w.type];
    const int64_t n_in = w.ne[0], n_out = w.ne[1];
    if (n_in % block_size(w.type) != 0) die("row length is not a multiple of the block size: ", w.name.c_str());
    if (n_tokens <= 0 || n_out <= 0) return;
    switch (choose_path(isa, w.type, n_tokens, mode, w.panels != nullptr)) {
        case Path::Blas: cpu::blas_matmul(w, x, n_tokens, y, n_threads); return;
        case Path::FloatGemm: cpu::float_chain_matmul(w, x, n_tokens, y, n_threads); return;
        case Path::Gemm: cpu::gemm(gemm_impl(isa), w, x, n_tokens, y, n_threads); return;
        case Path::GemmOrderGemv: gemm_order_gemv(isa, k, e, w, x, n_tokens, y, n_threads); return;
        case Path::GemvMulti: gemv_multi(isa, k, e, w, x, n_tokens, y, n_threads); return;
        case Path::KquantX8: kquant_x8(k, e, w, x, n_tokens, y, n_threads); return;
        case Path::VecDot: break;
    }

    const size_t stride = cpu::act_row_bytes(e.act, n_in);
    const cpu::PrepareActFn prepare = (size_t)e.act < cpu::kNumActTypes ? k.prepare[(size_t)e.act] : nullptr;
    if (e.act != ActType::F32 && !prepare) die("no activation preparation for ", w.name.c_str());
    const uint8_t* act = reinterpret_cast<const uint8_t*>(x);
    uint8_t* scratch = nullptr;
    if (e.act != ActType::F32) scratch = act_scratch(stride * (size_t)n_tokens).data(), act = scratch;

    Job job{e.fn, &w, act, stride, n_in, n_out, n_tokens, y, cpu::gemv_kernel(isa, w.type, w.row_size())};
    // llama.cpp repacks such matrices when their row count is a multiple of 8 (ggml-cpu/repack.cpp).
    if (mode == Numerics::Exact && e.fn_gemm4 && n_out % 8 == 0 && n_tokens > 3)
        job.dot_gemm4 = e.fn_gemm4, job.n_gemm4 = n_tokens - n_tokens % 4;
    // Its tiled K-quant matmul (ggml-cpu/tiled) takes batches of 8 tokens or more, every token.
    if (mode == Numerics::Exact && e.fn_tiled8 && n_tokens >= 8) job.dot_gemm4 = e.fn_tiled8, job.n_gemm4 = n_tokens;
    // Batches go through the type's tile kernel for what they run of fn or fn_gemm4 (LLM_VEC_DOT_TILE=0: off).
    if (vec_dot_tile_enabled()) {
        if (!job.dot_gemm4 && e.tile.fn) job.tile = e.tile, job.tile_dot = e.fn, job.tile_end = n_tokens;
        if (job.dot_gemm4 && job.dot_gemm4 == e.fn_gemm4 && e.tile_gemm4.fn)
            job.tile = e.tile_gemm4, job.tile_dot = e.fn_gemm4, job.tile_end = job.n_gemm4;
    }
    if (n_threads <= 1) {
        if (scratch)
            for (int64_t t = 0; t < n_tokens; ++t) prepare(x + t * n_in, scratch + (size_t)t * stride, n_in);
        run_rows(job, 0, n_out);
        return;
    }
#pragma omp parallel num_threads(n_threads)
    {
        if (scratch) {
#pragma omp for schedule(static)
            for (int64_t t = 0; t < n_tokens; ++t) prepare(x + t * n_in, scratch + (size_t)t * stride, n_in);
        }
        // Balanced contiguous row chunks; every output is computed by one vec_dot call whatever the
        // chunking, so results are identical for any thread count.
        const int64_t nt = omp_get_num_threads(), it = omp_get_thread_num();
        run_rows(job, n_out * it / nt, n_out * (it + 1) / nt);
    }
}

void matmul_reference(const TensorView& w, const float* x, int64_t n_tokens, float* y) {
    const int64_t n_in = w.ne[0], n_out = w.ne[1];
    std::vector<float> row(n_in);
    for (int64_t r = 0; r < n_out; ++r) {
        dequantize_row(w.type, w.row(r), row.data(), n_in);
        for (int64_t t = 0; t < n_tokens; ++t) {
            double s = 0;
            const float* xt = x + t * n_in;
            for (int64_t i = 0; i < n_in; ++i) s += (double)row[i] * (double)xt[i];
            y[t * n_out + r] = (float)s;
        }
    }
}

}  // namespace llm
