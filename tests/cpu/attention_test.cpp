// flash_attention (reading the KV cache storage in place) vs a float64 reference of the same maths, for
// every KV cache type x every ISA on this CPU, GQA ratios 1/3/4/8, head_dim 64/80/96, one token with a
// long history (keys split in chunks), one key, prompts of 17 and 513 tokens, decode after a prompt,
// sliding window on and off.
// The scalar reference `attention` (ops.hpp) is held to the same error bound, so the bound is not tuned
// to the new kernel. 1 and 2 threads must give bit-identical results. llama.cpp's arithmetic
// (ggml_attention, F16 caches with transposed values) is checked the same way, and its tiled loops against
// its one-score-at-a-time loops (bit-identical).
#include "kernels/cpu/attention.hpp"
#include "kernels/cpu/attention_ggml.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.hpp"
#include "kernels/cpu/ops.hpp"
#include "kernels/quant/quant.hpp"

namespace llm {
namespace {

std::vector<Isa> isas() {
    std::vector<Isa> v;
    for (Isa i : kAllIsas)
        if (isa_supported(i)) v.push_back(i);
    return v;
}

struct Case {
    DType type = DType::F16;
    int n_heads = 4, n_kv_heads = 4, head_dim = 64;
    int64_t n_tokens = 1, pos0 = 0;
    int window = 0;
    bool round_f16 = false;  // default: as the decoder, type == F16
    float q_scale = 1.0f;    // larger: peakier softmax
};

struct Data {
    std::vector<float> q;
    std::vector<uint8_t> k, v;  // cache storage [n_keys x row bytes]
    std::vector<float> kd, vd;  // the same rows dequantized
    std::vector<int32_t> pos;
    size_t rb = 0;
};

Data make_data(const Case& c, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const int64_t n_keys = c.pos0 + c.n_tokens, kvd = (int64_t)c.n_kv_heads * c.head_dim;
    const int64_t qd = (int64_t)c.n_heads * c.head_dim;
    Data d;
    d.q.resize(c.n_tokens * qd);
    for (auto& x : d.q) x = c.q_scale * nd(rng);
    std::vector<float> kf(n_keys * kvd), vf(n_keys * kvd);
    for (int64_t j = 0; j < n_keys; ++j) {
        const float ks = 1.0f + (float)(j % 7) * 0.3f;  // keys of different norms
        for (int64_t i = 0; i < kvd; ++i) kf[j * kvd + i] = ks * nd(rng), vf[j * kvd + i] = nd(rng);
    }
    d.rb = row_bytes(c.type, kvd);
    d.k.resize(n_keys * d.rb), d.v.resize(n_keys * d.rb), d.kd.resize(kf.size()), d.vd.resize(vf.size());
    for (int64_t j = 0; j < n_keys; ++j) {
        quantize_row(c.type, kf.data() + j * kvd, d.k.data() + j * d.rb, kvd);
        quantize_row(c.type, vf.data() + j * kvd, d.v.data() + j * d.rb, kvd);
        dequantize_row(c.type, d.k.data() + j * d.rb, d.kd.data() + j * kvd, kvd);
        dequantize_row(c.type, d.v.data() + j * d.rb, d.vd.data() + j * kvd, kvd);
    }
    d.pos.resize(c.n_tokens);
    for (int64_t t = 0; t < c.n_tokens; ++t) d.pos[t] = (int32_t)(c.pos0 + t);
    return d;
}

AttentionParams params(const Case& c) {
    AttentionParams p;
    p.n_heads = c.n_heads, p.n_kv_heads = c.n_kv_heads, p.head_dim = c.head_dim;
    p.scale = 1.0f / std::sqrt((float)c.head_dim);
    p.sliding_window = c.window;
    p.round_to_f16 = c.round_f16;
    return p;
}

// Float64 attention on the dequantized rows (q rounded to fp16 when asked: that rounding is part of the
// definition, the rounding of the weights is not) plus a per-output error bound for float kernels:
//   |out - ref| <= B * (u16 + 2*ds + 1e-6 + n*2^-24) + n * 2^-25 * vmax * [round] + 1e-6
// with B = sum_j w_j |v_jd| (the size of the weighted sum), u16 = 2^-11 when the weights are rounded to
// fp16 (relative rounding error of each weight, in the reference on the normalized weights, in
// flash_attention on exp(s - running max)), ds = the float error bound of the scaled scores
// (hd * 2^-24 * sum_d |q_d k_d| * scale: a weight's relative error is at most ~2 ds, from it and from the
// normalizer), 1e-6 for exp, n * 2^-24 for the float sums over n keys, and the weights below fp16's normal
// range (2^-14) that carry an absolute error up to 2^-25 each.
void reference(const Case& c, const Data& d, std::vector<double>& out, std::vector<double>& tol) {
    const int hd = c.head_dim, group = c.n_heads / c.n_kv_heads;
    const int64_t n_keys = c.pos0 + c.n_tokens, kvd = (int64_t)c.n_kv_heads * hd, qd = (int64_t)c.n_heads * hd;
    const double scale = 1.0 / std::sqrt((double)(float)hd);
    const float fscale = 1.0f / std::sqrt((float)hd);
    out.assign(c.n_tokens * qd, 0.0), tol.assign(c.n_tokens * qd, 1e-6);
    double vmax = 0;
    for (float x : d.vd) vmax = std::max(vmax, (double)std::fabs(x));
    std::vector<double> s(n_keys), qr(hd);
    for (int64_t t = 0; t < c.n_tokens; ++t)
        for (int h = 0; h < c.n_heads; ++h) {
            const int64_t pos = d.pos[t];
            const int64_t lo = c.window > 0 ? std::max<int64_t>(0, pos - c.window + 1) : 0, hi = pos;
            for (int i = 0; i < hd; ++i) {
                const float x = d.q[t * qd + (int64_t)h * hd + i];
                qr[i] = c.round_f16 ? fp16_to_fp32(fp32_to_fp16(x)) : x;
            }
            double mx = -INFINITY, ds = 0;
            for (int64_t j = lo; j <= hi; ++j) {
                const float* kr = d.kd.data() + j * kvd + (int64_t)(h / group) * hd;
                double dot = 0, mag = 0;
                for (int i = 0; i < hd; ++i) dot += qr[i] * kr[i], mag += std::fabs(qr[i] * kr[i]);
                s[j] = dot * (double)fscale;
                ds = std::max(ds, hd * 0x1p-24 * mag * scale + 0x1p-24 * std::fabs(s[j]));
                mx = std::max(mx, s[j]);
            }
            double sum = 0;
            for (int64_t j = lo; j <= hi; ++j) sum += (s[j] = std::exp(s[j] - mx));
            const int64_t n = hi - lo + 1;
            const double rel = (c.round_f16 ? 0x1p-11 : 0.0) + 2 * ds + 1e-6 + n * 0x1p-24;
            const double abs = (c.round_f16 ? n * 0x1p-25 * vmax : 0.0) + 1e-6;
            for (int i = 0; i < hd; ++i) {
                double o = 0, b = 0;
                for (int64_t j = lo; j <= hi; ++j) {
                    const double vv = d.vd[j * kvd + (int64_t)(h / group) * hd + i];
                    o += s[j] / sum * vv, b += s[j] / sum * std::fabs(vv);
                }
                out[t * qd + (int64_t)h * hd + i] = o;
                tol[t * qd + (int64_t)h * hd + i] = b * rel + abs;
            }
        }
}

// Returns the largest |got - ref| / tol (must be <= 1).
double worst(const std::vector<float>& got, const std::vector<double>& ref, const std::vector<double>& tol) {
    double w = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double e = std::fabs((double)got[i] - ref[i]) / tol[i];
        w = std::isfinite(got[i]) ? std::max(w, e) : INFINITY;
    }
    return w;
}

void check(const Case& c, uint32_t seed, bool scalar_reference = true) {
    SCOPED_TRACE(testing::Message() << dtype_name(c.type) << " heads=" << c.n_heads << "/" << c.n_kv_heads
                                    << " hd=" << c.head_dim << " tokens=" << c.n_tokens << " pos0=" << c.pos0
                                    << " window=" << c.window << " round_f16=" << c.round_f16);
    const Data d = make_data(c, seed);
    const AttentionParams p = params(c);
    const int64_t n_keys = c.pos0 + c.n_tokens, size = c.n_tokens * (int64_t)c.n_heads * c.head_dim;
    std::vector<double> ref, tol;
    reference(c, d, ref, tol);
    if (scalar_reference) {  // the existing scalar op meets the same bound
        std::vector<float> o(size, NAN);
        attention(d.q.data(), d.kd.data(), d.vd.data(), n_keys, c.n_tokens, d.pos.data(), p, o.data(), 1);
        EXPECT_LE(worst(o, ref, tol), 1.0) << "scalar reference attention";
    }
    const KvRows k{d.k.data(), d.rb, c.type}, v{d.v.data(), d.rb, c.type};
    for (Isa isa : isas()) {
        std::vector<float> o1(size, NAN), o2(size, NAN);
        flash_attention_isa(isa, d.q.data(), k, v, n_keys, c.n_tokens, d.pos.data(), p, o1.data(), 1);
        flash_attention_isa(isa, d.q.data(), k, v, n_keys, c.n_tokens, d.pos.data(), p, o2.data(), 2);
        const double w1 = worst(o1, ref, tol);
        EXPECT_LE(w1, 1.0) << isa_name(isa);
        if (std::getenv("LLM_TEST_VERBOSE"))
            std::printf("%s %s %d/%d hd=%d n=%lld pos0=%lld window=%d: error/bound %.3f\n",
                        std::string(dtype_name(c.type)).c_str(), isa_name(isa), c.n_heads, c.n_kv_heads, c.head_dim,
                        (long long)c.n_tokens, (long long)c.pos0, c.window, w1);
        EXPECT_EQ(0, std::memcmp(o1.data(), o2.data(), size * sizeof(float))) << isa_name(isa) << ": 1 vs 2 threads";
    }
    // llama.cpp's arithmetic (ggml_attention, F16 cache with values transposed) meets the same bound.
    if (c.type == DType::F16 && c.round_f16 && ggml_attention_available()) {
        const int64_t kvd = (int64_t)c.n_kv_heads * c.head_dim;
        const int64_t vt_len = (n_keys + kGgmlKvPad - 1) / kGgmlKvPad * kGgmlKvPad;
        std::vector<uint16_t> vt((size_t)kvd * vt_len, 0);
        const uint16_t* vrows = reinterpret_cast<const uint16_t*>(d.v.data());
        for (int64_t j = 0; j < n_keys; ++j)
            for (int64_t i = 0; i < kvd; ++i) vt[i * vt_len + j] = vrows[j * kvd + i];
        const GgmlKv kv{reinterpret_cast<const uint16_t*>(d.k.data()), kvd, vt.data(), vt_len};
        for (Isa isa : isas()) {  // llama.cpp's AVX2 and AVX-512 arithmetic
            if (!isa_is_x86(isa)) continue;
            std::vector<float> o1(size, NAN), o2(size, NAN);
            ggml_attention_isa(isa, d.q.data(), kv, n_keys, c.n_tokens, d.pos.data(), p, o1.data(), 1);
            ggml_attention_isa(isa, d.q.data(), kv, n_keys, c.n_tokens, d.pos.data(), p, o2.data(), 2);
            EXPECT_LE(worst(o1, ref, tol), 1.0) << "ggml_attention " << isa_name(isa);
            EXPECT_EQ(0, std::memcmp(o1.data(), o2.data(), size * sizeof(float)))
                << "ggml_attention " << isa_name(isa) << ": 1 vs 2 threads";
            // The tiled loops (several keys / dims x heads per pass) keep every FMA chain: the same bits
            // as one score and one output at a time.
            std::vector<float> o3(size, NAN);
            ggml_attention_isa(isa, d.q.data(), kv, n_keys, c.n_tokens, d.pos.data(), p, o3.data(), 1, false);
            EXPECT_EQ(0, std::memcmp(o1.data(), o3.data(), size * sizeof(float)))
                << "ggml_attention " << isa_name(isa) << ": tiles on vs off";
        }
    }
}

const DType kKvTypes[] = {DType::F16, DType::F32, DType::BF16, DType::Q8_0};

TEST(FlashAttention, ShapesTypesAndGqa) {
    struct Heads { int n_heads, n_kv_heads; };
    const Heads heads[] = {{4, 4}, {8, 2}, {16, 2}, {9, 3}};
    const int head_dims[] = {64, 96, 80};
    struct Len { int64_t n_tokens, pos0; };
    const Len lens[] = {{1, 0}, {1, 700}, {17, 0}, {17, 40}, {3, 129}};
    uint32_t seed = 1;
    for (DType type : kKvTypes)
        for (const Heads& h : heads)
            for (int hd : head_dims) {
                if ((h.n_kv_heads * hd) % block_size(type) != 0) continue;  // the KV cache refuses these
                for (const Len& len : lens)
                    for (int window : {0, 7}) {
                        Case c;
                        c.type = type, c.n_heads = h.n_heads, c.n_kv_heads = h.n_kv_heads, c.head_dim = hd;
                        c.n_tokens = len.n_tokens, c.pos0 = len.pos0, c.window = window;
                        c.round_f16 = type == DType::F16;
                        check(c, seed++);
                    }
            }
}

TEST(FlashAttention, LongPrompt513) {
    uint32_t seed = 100;
    for (DType type : kKvTypes)
        for (int window : {0, 100}) {
            Case c;
            c.type = type, c.n_heads = 8, c.n_kv_heads = 2, c.head_dim = 64, c.n_tokens = 513, c.window = window;
            c.round_f16 = type == DType::F16;
            check(c, seed++);
        }
    Case c;  // TinyLlama's shape, decode-sized chunk after a prompt
    c.n_heads = 32, c.n_kv_heads = 4, c.head_dim = 64, c.n_tokens = 33, c.pos0 = 480, c.round_f16 = true;
    check(c, seed++);
}

// llama.cpp's arithmetic at the shapes its tiled loops take: Gemma 3's one KV head for 4 query heads of 256
// dims, groups of 2 (the AVX2 tile) and of 1, windows that cut 16-key blocks, keys past several blocks.
TEST(FlashAttention, GgmlAttentionTileShapes) {
    struct Shape { int n_heads, n_kv_heads, head_dim; };
    const Shape shapes[] = {{4, 1, 256}, {6, 3, 64}, {2, 2, 80}, {4, 2, 40}};
    uint32_t seed = 400;
    for (const Shape& sh : shapes)
        for (int window : {0, 37}) {
            Case c;
            c.n_heads = sh.n_heads, c.n_kv_heads = sh.n_kv_heads, c.head_dim = sh.head_dim;
            c.n_tokens = 70, c.pos0 = 13, c.window = window, c.round_f16 = true;
            check(c, seed++);
        }
}

// Decoding over a long history splits the keys into chunks merged at the end (same bound).
TEST(FlashAttention, DecodeLongHistory) {
    uint32_t seed = 300;
    for (DType type : {DType::F16, DType::Q8_0})
        for (int window : {0, 300})
            for (int64_t n_tokens : {1, 2}) {
                Case c;
                c.type = type, c.n_heads = 32, c.n_kv_heads = 4, c.head_dim = 64, c.n_tokens = n_tokens;
                c.pos0 = 1500, c.window = window, c.round_f16 = type == DType::F16, c.q_scale = 2.0f;
                check(c, seed++);
            }
}

TEST(FlashAttention, PeakySoftmaxAndRoundingWithF32Cache) {
    uint32_t seed = 200;
    for (float qs : {4.0f, 12.0f})
        for (bool round : {false, true}) {
            Case c;
            c.type = DType::F32, c.n_heads = 8, c.n_kv_heads = 1, c.head_dim = 64, c.n_tokens = 40, c.pos0 = 90;
            c.q_scale = qs, c.round_f16 = round;
            check(c, seed++);
        }
}

// A window of 1 sees only the query's own key: the output is that value row exactly.
TEST(FlashAttention, WindowOfOneIsTheValueRow) {
    Case c;
    c.type = DType::F32, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 64, c.n_tokens = 20, c.pos0 = 5, c.window = 1;
    const Data d = make_data(c, 7);
    const AttentionParams p = params(c);
    const int64_t n_keys = c.pos0 + c.n_tokens, qd = (int64_t)c.n_heads * c.head_dim;
    const KvRows k{d.k.data(), d.rb, c.type}, v{d.v.data(), d.rb, c.type};
    for (Isa isa : isas()) {
        std::vector<float> o(c.n_tokens * qd, NAN);
        flash_attention_isa(isa, d.q.data(), k, v, n_keys, c.n_tokens, d.pos.data(), p, o.data(), 2);
        for (int64_t t = 0; t < c.n_tokens; ++t)
            for (int h = 0; h < c.n_heads; ++h)
                for (int i = 0; i < c.head_dim; ++i)
                    ASSERT_EQ(o[t * qd + h * c.head_dim + i],
                              d.vd[(c.pos0 + t) * c.n_kv_heads * c.head_dim + (h / 2) * c.head_dim + i])
                        << isa_name(isa);
    }
}

}  // namespace
}  // namespace llm
