// The GEMM driver: activation quantization and tiling, OpenMP partition over (row blocks x token chunks),
// per-thread packing of weight panels. See gemm.hpp for the format and the arithmetic.
#include "kernels/cpu/gemm.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <new>
#include <string>

#include "core/cpu_features.hpp"
#include "core/openmp.hpp"
#include "kernels/cpu/gemm_pack.hpp"
#include "kernels/cpu/kquant_x8.hpp"

namespace llm::cpu {
namespace {

// Panels packed together (64 rows): a token tile's activations are reused from L1/L2 across them, and the
// packed block (at most ~450 KiB for a 5632-element row, ~810 KiB in AVX2's wide format) stays in L2
// across the tiles of a chunk.
constexpr int kPanelsPerBlock = 4;
static const bool kPrefetchNextBlock = [] {
    const char* e = std::getenv("LLM_GEMM_PREFETCH");
    return !(e && e[0] == '0');
}();
// Token tiles per work unit (128 tokens): units are (row block, token chunk) pairs, so that small matrices
// still split evenly over threads while each thread packs a row block only once per contiguous run.
constexpr int kTilesPerChunk = 16;

struct Desc {
    ActType act;
    int bs, sb, offset;
    bool has_bias, use_sm;
    bool kint = false;  // gemm.hpp gemm_kint: with mins (has_bias), the tile's s holds bsum pairs
};

bool desc_of(DType type, Desc& d) {
    switch (type) {
#define LLM_GEMM_CASE(T, BS, SB, Block, Unpack, HasBias, Offset, UseSm) \
    case DType::T: d = {BS == 32 ? ActType::Q8_32 : ActType::Q8_K, BS, SB, Offset, HasBias, UseSm, gemm_kint(type)}; return true;
        LLM_GEMM_TYPES(LLM_GEMM_CASE)
#undef LLM_GEMM_CASE
        default: return false;
    }
}

[[noreturn]] void die(const char* what, const std::string& detail) {
    std::fprintf(stderr, "llm gemm: %s%s\n", what, detail.c_str());
    std::abort();
}

// A 64-byte aligned growable buffer (thread-local instances are reused across calls).
struct AlignedBuf {
    uint8_t* p = nullptr;
    size_t n = 0;
    uint8_t* get(size_t bytes) {
        if (bytes > n) {
            ::operator delete[](p, std::align_val_t(64));
            n = std::max(bytes, n + n / 2);
            p = static_cast<uint8_t*>(::operator new[](n, std::align_val_t(64)));
        }
        return p;
    }
    ~AlignedBuf() { ::operator delete[](p, std::align_val_t(64)); }
};

// Quantizes tokens [t0, t0 + n) (n <= 8) with prepare and writes them as one tile (int16 activations when
// wide); missing tokens are zero.
void layout_tile(const Desc& ds, bool wide, PrepareActFn prepare, const float* x, int64_t n_in, int64_t t0, int n,
                 uint8_t* tile, uint8_t* row) {
    constexpr int T = kGemmTokens;
    const int sb = ds.sb, ab = wide ? 2 : 1;  // bytes per activation
    const int64_t n_sub = n_in / sb;
    const size_t asb = wide ? gemm_wide_act_sub_block_bytes(sb) : gemm_act_sub_block_bytes(sb);
    if (n < T) std::memset(tile, 0, (size_t)n_sub * asb);
    for (int t = 0; t < n; ++t) {
        prepare(x + (t0 + t) * n_in, row, n_in);
        for (int64_t k = 0; k < n_sub; ++k) {
            uint8_t* dst = tile + (size_t)k * asb;
            const int8_t* qs;
            float d, s;
            int sum = 0;
            if (ds.act == ActType::Q8_32) {
                const ActQ8& a = reinterpret_cast<const ActQ8*>(row)[k];
                qs = a.qs;
                for (int i = 0; i < 32; ++i) sum += qs[i];
                d = a.d;
                s = ds.use_sm ? a.sm : a.d * (float)sum;
            } else {
                const int64_t per = QK_K / sb;
                const ActQ8K& a = reinterpret_cast<const ActQ8K*>(row)[k / per];
                const int j = (int)(k % per);
                qs = a.qs + j * sb;
                if (sb == 16) sum = a.bsums[j];
                else sum = a.bsums[2 * j] + a.bsums[2 * j + 1];
                d = a.d;
                s = (float)sum;  // one d per super-block: the kernel applies it once per super-block
            }
            if (wide) {
                for (int q = 0; q < sb / 4; ++q)
                    for (int b = 0; b < 4; ++b) {
                        const int16_t v = qs[4 * q + b];
                        std::memcpy(dst + 8 * T * q + 8 * t + 2 * b, &v, 2);
                    }
            } else {
                for (int q = 0; q < sb / 4; ++q) std::memcpy(dst + 4 * T * q + 4 * t, qs + 4 * q, 4);
            }
            const int32_t c = -ds.offset * sum;
            uint8_t* meta = dst + T * sb * ab;
            std::memcpy(meta + 4 * t, &d, 4);
            std::memcpy(meta + 4 * T + 4 * t, &c, 4);
            if (ds.kint && ds.has_bias) {  // the bsums of sub-blocks 2i, 2i + 1 (i = k / 2 in the super-block), int16 halves
                const ActQ8K& a = reinterpret_cast<const ActQ8K*>(row)[k / (QK_K / sb)];
                const int i = (int)(k % (QK_K / sb)) / 2;
                const int lo = a.bsums[4 * i] + a.bsums[4 * i + 1], hi = a.bsums[4 * i + 2] + a.bsums[4 * i + 3];
                const uint32_t pair = (uint32_t)(uint16_t)lo | (uint32_t)(uint16_t)hi << 16;
                std::memcpy(meta + 8 * T + 4 * t, &pair, 4);
            } else {
                std::memcpy(meta + 8 * T + 4 * t, &s, 4);
            }
        }
    }
}

struct Impl {
    GemmOps ops[kNumDTypes];
    PrepareActFn prepare[kNumActTypes] = {};
};

const Impl& impl(GemmImpl which) {
    auto build = [](GemmImpl w) {
        Impl im;
        for (size_t t = 0; t < kNumDTypes; ++t) {
            if (w == GemmImpl::Avx512) gemm_ops_avx512((DType)t, im.ops[t]);
            else if (w == GemmImpl::AvxVnni) gemm_ops_avxvnni((DType)t, im.ops[t]);
            else if (w == GemmImpl::Avx2) gemm_ops_avx2((DType)t, im.ops[t]);
            else if (w == GemmImpl::I8mm) gemm_ops_i8mm((DType)t, im.ops[t]);
            else gemm_ops_scalar((DType)t, im.ops[t]);
        }
        const IsaKernels& s = kernels_scalar();
        for (size_t a = 0; a < kNumActTypes; ++a) im.prepare[a] = s.prepare[a];
        // The x86 ISAs' activation quantizers (same bytes as the scalar ones, faster). I8mm keeps the scalar ones:
        // the NEON quantizer rounds as ggml's aarch64 build, and every GEMM must give the scalar GEMM's results.
        if (w != GemmImpl::Scalar && w != GemmImpl::I8mm) {
            IsaKernels k;
            if (w == GemmImpl::Avx512) register_avx512_float(k, false);
            else register_avx2_float(k);
            for (size_t a = 0; a < kNumActTypes; ++a)
                if (k.prepare[a]) im.prepare[a] = k.prepare[a];
        }
        return im;
    };
    if (which == GemmImpl::Scalar) {
        static const Impl s = build(GemmImpl::Scalar);
        return s;
    }
    const CpuFeatures& f = cpu_features();
    if (which == GemmImpl::Avx2) {
        if (!f.avx2) die("this CPU lacks AVX2", "");
        static const Impl a = build(GemmImpl::Avx2);
        return a;
    }
    if (which == GemmImpl::AvxVnni) {
        if (!f.avx_vnni) die("this CPU lacks AVX-VNNI", "");
        static const Impl a = build(GemmImpl::AvxVnni);
        return a;
    }
    if (which == GemmImpl::I8mm) {
        if (!f.i8mm) die("this CPU lacks I8MM", "");
        static const Impl a = build(GemmImpl::I8mm);
        return a;
    }
    if (!(f.avx512 && f.avx512_vnni)) die("this CPU lacks AVX-512 VNNI", "");
    static const Impl v = build(GemmImpl::Avx512);
    return v;
}

}  // namespace

bool gemm_supports(DType type) {
    Desc d;
    return (size_t)type < kNumDTypes && desc_of(type, d);
}

int64_t gemm_min_tokens(DType type, GemmImpl which) {
    // Tuning / A-B knob: LLM_GEMM_MIN_TOKENS=1000000 keeps every call on the vec_dot path.
    static const int64_t forced = [] {
        const char* e = std::getenv("LLM_GEMM_MIN_TOKENS");
        const long v = e ? std::atol(e) : 0;
        return v > 0 ? (int64_t)v : (int64_t)0;
    }();
    if (forced) return forced;
    // Q4_1 / Q5_1: llama.cpp runs batches of these through the same lane-split vec_dot as single tokens
    // (no repacked or tinyBLAS path), an order of float sums a blocked GEMM cannot reproduce. Keeping them
    // on the per-row vec_dot keeps prompts bit-identical to llama.cpp, which greedy
    // decoding of SmolLM2 (Q4_1) depends on (tests/models/smollm2_greedy_test.cpp).
    if (type == DType::Q4_1 || type == DType::Q5_1) return INT64_MAX;
    Desc d;
    if (!desc_of(type, d)) return INT64_MAX;
    // Packing costs ~0.5 cycle per weight per call. Measured (Zen 4, one thread, 2048 x 2048, against the
    // vec_dot path with its multi-row gemv kernels) the AVX-512 GEMM overtakes it at ~6-7 tokens for the
    // 32-element types and ~8-10 for the K-quants (their vec_dot kernels are faster).
    // I8mm: not measured (no ARM machine here): the AVX-512 thresholds, another kernel of 16 rows x 8 tokens.
    if (which == GemmImpl::Avx512 || which == GemmImpl::Scalar || which == GemmImpl::I8mm) return d.bs == 32 ? 7 : 10;
    // AVX2: the vec_dot kernels are slower relative to the GEMM than on AVX-512, so it pays from fewer
    // tokens. Measured (Zen 4 with LLM_CPU=avx2, one thread, 2048 x 2048, GEMM vs the vec_dot path per token,
    // the first count from which the GEMM stays faster): IQ4_NL, Q5_K 3; Q4_0, Q8_0, Q4_K, IQ4_XS 4; Q5_0 5;
    // Q3_K 6; Q6_K 7 (its vec_dot is fast, its packing slower); Q2_K 12 (its vec_dot is the fastest). The
    // GEMM's cost per token falls in steps of 4 tokens (its passes are 4 tokens wide). AVX-VNNI (not measured:
    // no such CPU here) takes the same: its kernel is faster, its vec_dot kernels the AVX2 ones.
    switch (type) {
        case DType::IQ4_NL: case DType::Q5_K: return 3;
        case DType::Q5_0: return 5;
        case DType::Q3_K: return 6;
        case DType::Q6_K: return 7;
        case DType::Q2_K: return 12;
        default: return 4;
    }
}

void gemm(GemmImpl which, const TensorView& w, const float* x, int64_t n_tokens, float* y, int n_threads) {
    Desc ds;
    if (!gemm_supports(w.type) || !desc_of(w.type, ds)) die("no GEMM for weight type ", std::string(dtype_name(w.type)));
    const Impl& im = impl(which);
    const GemmOps ops = im.ops[(size_t)w.type];
    const PrepareActFn prepare = im.prepare[(size_t)ds.act];
    const int64_t n_in = w.ne[0], n_out = w.ne[1];
    if (n_in % ds.bs != 0) die("row length is not a multiple of the block size: ", w.name);
    if (n_tokens <= 0 || n_out <= 0) return;

    constexpr int T = kGemmTokens, R = kGemmRows;
    const int64_t n_sub = n_in / ds.sb;
    const size_t tile_bytes =
        (size_t)n_sub * (ops.wide ? gemm_wide_act_sub_block_bytes(ds.sb) : gemm_act_sub_block_bytes(ds.sb));
    const size_t panel_bytes =
        (size_t)n_sub * (ops.wide ? gemm_wide_sub_block_bytes(ds.sb) : gemm_sub_block_bytes(ds.sb));
    const size_t row_bytes = act_row_bytes(ds.act, n_in);
    const int64_t n_tiles = (n_tokens + T - 1) / T;
    const int64_t n_panels = (n_out + R - 1) / R;
    const int64_t n_blocks = (n_panels + kPanelsPerBlock - 1) / kPanelsPerBlock;
    const int64_t n_chunks = (n_tiles + kTilesPerChunk - 1) / kTilesPerChunk;
    const int64_t n_units = n_blocks * n_chunks;

    thread_local AlignedBuf act_buf;
    uint8_t* act = act_buf.get((size_t)n_tiles * tile_bytes);

    auto prep_tile = [&](int64_t i) {
        thread_local AlignedBuf row;
        const int n = (int)std::min<int64_t>(T, n_tokens - i * T);
        layout_tile(ds, ops.wide, prepare, x, n_in, i * T, n, act + (size_t)i * tile_bytes, row.get(row_bytes));
    };
    // A Q4_K / Q5_K matrix interleaved at load (kquant_x8.hpp) has no rows resident: each panel's rows are first
    // written back in the row-major format (a few KiB per row, next to the packing's own work) for the packers to read.
    const bool from_x8 = (w.type == DType::Q4_K || w.type == DType::Q5_K) && w.panels;
    const uint8_t* w_rows = from_x8 ? static_cast<const uint8_t*>(w.panels) : w.row(0);  // same offsets per row
    auto pack = [&](int64_t r0, int n, uint8_t* dst) {
        if (!from_x8) return ops.pack(w, r0, n, dst);
        thread_local AlignedBuf rows;
        TensorView v = w;
        v.panels = nullptr, v.ne[1] = n, v.nbytes = (size_t)n * w.row_size();
        uint8_t* buf = rows.get(v.nbytes);
        kquant_x8_rows(w.type, w.panels, n_in, r0, n, buf);
        v.data = buf;
        ops.pack(v, 0, n, dst);
    };
    auto work = [&](int64_t u0, int64_t u1) {
        thread_local AlignedBuf pack_buf;
        uint8_t* packed = pack_buf.get(kPanelsPerBlock * panel_bytes);
        int64_t have = -1;
        for (int64_t u = u0; u < u1; ++u) {
            const int64_t blk = u / n_chunks, chunk = u % n_chunks;
            const int64_t p0 = blk * kPanelsPerBlock, p1 = std::min(n_panels, p0 + kPanelsPerBlock);
            if (blk != have) {
                for (int64_t p = p0; p < p1; ++p)
                    pack(p * R, (int)std::min<int64_t>(R, n_out - p * R), packed + (size_t)(p - p0) * panel_bytes);
                have = blk;
                // The next block's weight rows towards L2 while this one's kernels run (compute only): packing
                // then finds them there instead of stalling on DRAM, most of its cost at a few tokens per call.
                if (kPrefetchNextBlock && blk + 1 < n_blocks) {
                    const int64_t r0 = p1 * R, r1 = std::min(n_out, r0 + (int64_t)kPanelsPerBlock * R);
                    const uint8_t* b0 = w_rows + (size_t)r0 * w.row_size();
                    const size_t span = (size_t)(r1 - r0) * w.row_size();
                    for (size_t off = 0; off < span; off += 64) __builtin_prefetch(b0 + off, 0, 2);
                }
            }
            const int64_t i1 = std::min(n_tiles, (chunk + 1) * kTilesPerChunk);
            for (int64_t i = chunk * kTilesPerChunk; i < i1; ++i) {
                const uint8_t* a = act + (size_t)i * tile_bytes;
                const int nt = (int)std::min<int64_t>(T, n_tokens - i * T);
                for (int64_t p = p0; p < p1; ++p)
                    ops.kernel(packed + (size_t)(p - p0) * panel_bytes, a, n_sub, y + i * T * n_out + p * R, n_out,
                               (int)std::min<int64_t>(R, n_out - p * R), nt);
            }
        }
    };

    // Balanced contiguous ranges of units; every output is computed by one kernel call over the whole row whatever the
    // partition, so results are identical for any thread count.
    parallel_prep_then_split(n_threads, n_tiles, n_units, prep_tile, work);
}

}  // namespace llm::cpu
