// Backend-ops tests of the activation kernels against the CPU scalar reference (kernels/cpu/ops.hpp):
// rms_norm, rope (both styles, freq factors, attn_factor), attention (GQA, causal, sliding window,
// F32 and F16 caches), KV cache writes, softmax, silu_mul and add, over odd sizes and one-token cases.
#include <cmath>
#include <cstring>

#include "core/fp16.hpp"
#include "kernels/cpu/ops.hpp"
#include "kernels/vulkan/vk_ops.hpp"
#include "tests/vulkan/vk_test_util.hpp"

namespace llm::vk {
namespace {

using test::from_device;
using test::nmse;
using test::random_floats;
using test::to_device;

TEST(VkOps, RmsNorm) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    const struct {
        uint32_t n, d;
    } shapes[] = {{1, 7}, {5, 64}, {3, 1000}, {1, 4096}};
    for (auto [n, d] : shapes) {
        const auto x = random_floats(n * d, n * 31 + d, -3, 3), w = random_floats(d, d, 0.5f, 1.5f);
        std::vector<float> want(n * d);
        llm::rms_norm(x.data(), w.data(), want.data(), n, d, 1e-5f, 1);
        Buffer bx = to_device(*ctx, x), bw = to_device(*ctx, w);
        CommandList& cl = ctx->begin();
        ASSERT_TRUE(rms_norm(*ctx, cl, bx, 0, bw, bx, 0, n, d, 1e-5f).is_ok());  // in place
        ASSERT_TRUE(ctx->submit().is_ok());
        EXPECT_LT(nmse(from_device<float>(*ctx, bx, n * d), want), 1e-10) << n << "x" << d;
    }
}

struct RopeCase {
    RopeStyle style;
    int n_heads, head_dim, n_rot, n_tokens, pos0;
    float freq_scale, attn_factor;
    bool factors;
};

TEST(VkOps, Rope) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    const RopeCase cases[] = {
        {RopeStyle::Neox, 2, 8, 8, 1, 0, 1.0f, 1.0f, false},
        {RopeStyle::Interleaved, 3, 16, 16, 5, 7, 1.0f, 1.0f, false},
        {RopeStyle::Neox, 4, 32, 24, 9, 100, 0.25f, 1.0f, true},       // partial rotation, linear scaling
        {RopeStyle::Interleaved, 2, 64, 64, 3, 4000, 1.0f, 1.19f, true}, // LongRoPE-like magnitude factor
        {RopeStyle::Neox, 5, 96, 96, 1, 12345, 1.0f, 1.0f, true},        // Phi-3 head_dim, one token
    };
    for (const RopeCase& c : cases) {
        std::vector<float> factors(c.n_rot / 2);
        for (size_t i = 0; i < factors.size(); ++i) factors[i] = 1.0f + 0.37f * (float)i;
        RopeParams p;
        p.style = c.style;
        p.n_rot = c.n_rot;
        p.theta_base = 500000.0f;
        p.freq_scale = c.freq_scale;
        p.attn_factor = c.attn_factor;
        p.freq_factors = c.factors ? factors.data() : nullptr;
        std::vector<int32_t> pos(c.n_tokens);
        for (int i = 0; i < c.n_tokens; ++i) pos[i] = c.pos0 + i;
        // x rows are wider than the heads (q inside a fused qkv row): offset 3, stride q_dim + 10.
        const uint32_t qd = c.n_heads * c.head_dim, stride = qd + 10, off = 3;
        const auto raw = random_floats(off + stride * c.n_tokens, c.head_dim + c.n_tokens);
        std::vector<float> dense(qd * c.n_tokens);
        for (int t = 0; t < c.n_tokens; ++t)
            for (uint32_t i = 0; i < qd; ++i) dense[t * qd + i] = raw[off + t * stride + i];
        llm::rope(dense.data(), c.n_tokens, c.n_heads, c.head_dim, pos.data(), p, 1);
        Buffer bx = to_device(*ctx, raw);
        Buffer bcs = to_device(*ctx, rope_table(p, pos.data(), c.n_tokens));
        CommandList& cl = ctx->begin();
        ASSERT_TRUE(rope(*ctx, cl, {&bx, off, stride}, c.n_tokens, c.n_heads, c.head_dim, p, bcs).is_ok());
        ASSERT_TRUE(ctx->submit().is_ok());
        const auto got = from_device<float>(*ctx, bx, raw.size());
        for (int t = 0; t < c.n_tokens; ++t) {
            for (uint32_t i = 0; i < qd; ++i) {  // the CPU's cos/sin table and FMAs: equal up to a rounding
                const float want = dense[t * qd + i];
                ASSERT_NEAR(got[off + t * stride + i], want, 0x1p-22f * std::fabs(want) + 1e-7f)
                    << "token " << t << " dim " << i;
            }
            for (uint32_t i = qd; i < stride && off + t * stride + i < raw.size(); ++i)
                ASSERT_EQ(got[off + t * stride + i], raw[off + t * stride + i]);  // untouched
        }
    }
}

struct AttnCase {
    int n_heads, n_kv_heads, head_dim, n_keys, n_tokens, window;
};

void check_attention(Context& ctx, const AttnCase& c, bool f16, bool round_to_f16 = false) {
    const int qd = c.n_heads * c.head_dim, kvd = c.n_kv_heads * c.head_dim;
    const int pos0 = c.n_keys - c.n_tokens;
    auto q = random_floats(qd * c.n_tokens, c.n_keys * 3 + 1, -2, 2);
    auto k = random_floats(kvd * c.n_keys, c.n_keys * 3 + 2, -2, 2);
    auto v = random_floats(kvd * c.n_keys, c.n_keys * 3 + 3);
    // The CPU sees what an F16 cache holds: values rounded to half.
    std::vector<float> kr = k, vr = v;
    if (f16)
        for (size_t i = 0; i < k.size(); ++i) kr[i] = fp16_to_fp32(fp32_to_fp16(k[i])), vr[i] = fp16_to_fp32(fp32_to_fp16(v[i]));
    AttentionParams p;
    p.n_heads = c.n_heads, p.n_kv_heads = c.n_kv_heads, p.head_dim = c.head_dim;
    p.scale = 1.0f / std::sqrt((float)c.head_dim);
    p.sliding_window = c.window;
    p.round_to_f16 = round_to_f16;
    std::vector<int32_t> pos(c.n_tokens);
    for (int i = 0; i < c.n_tokens; ++i) pos[i] = pos0 + i;
    std::vector<float> want(qd * c.n_tokens);
    llm::attention(q.data(), kr.data(), vr.data(), c.n_keys, c.n_tokens, pos.data(), p, want.data(), 1);

    // The device cache is filled by kv_write (history first, then this batch) like the decoder does.
    Buffer bq = to_device(ctx, q), bk = to_device(ctx, k), bv = to_device(ctx, v);
    const uint32_t elem = f16 ? 2 : 4, cache_off = 4;  // elements before row 0 (a layer offset)
    auto kc = ctx.create_buffer((cache_off + kvd * c.n_keys) * elem), vc = ctx.create_buffer((cache_off + kvd * c.n_keys) * elem);
    auto bo = ctx.create_buffer(qd * c.n_tokens * 4);
    ASSERT_TRUE(kc && vc && bo);
    const KvView kview{&*kc, cache_off, (uint32_t)kvd, f16}, vview{&*vc, cache_off, (uint32_t)kvd, f16};
    CommandList& cl = ctx.begin();
    if (pos0 > 0) {
        ASSERT_TRUE(kv_write(ctx, cl, {&bk, 0, 0}, pos0, kvd, 0, kview).is_ok());
        ASSERT_TRUE(kv_write(ctx, cl, {&bv, 0, 0}, pos0, kvd, 0, vview).is_ok());
    }
    ASSERT_TRUE(kv_write(ctx, cl, {&bk, (uint32_t)(pos0 * kvd), 0}, c.n_tokens, kvd, pos0, kview).is_ok());
    ASSERT_TRUE(kv_write(ctx, cl, {&bv, (uint32_t)(pos0 * kvd), 0}, c.n_tokens, kvd, pos0, vview).is_ok());
    Status st = attention(ctx, cl, {&bq, 0, 0}, kview, vview, c.n_keys, c.n_tokens, pos0, p, {&*bo, 0, 0});
    ASSERT_TRUE(st.is_ok()) << st.message();
    ASSERT_TRUE(ctx.submit().is_ok());
    EXPECT_LT(nmse(from_device<float>(ctx, *bo, want.size()), want), 1e-9)
        << (f16 ? "f16" : "f32") << (round_to_f16 ? " round_to_f16" : "") << " heads " << c.n_heads << "/" << c.n_kv_heads << " hd " << c.head_dim << " keys "
        << c.n_keys << " tokens " << c.n_tokens << " window " << c.window;
    if (f16) {  // the cache holds exactly the CPU's fp32_to_fp16 bits
        auto bits = from_device<uint16_t>(ctx, *kc, cache_off + kvd * c.n_keys);
        for (size_t i = 0; i < k.size(); ++i) ASSERT_EQ(bits[cache_off + i], fp32_to_fp16(k[i])) << i;
    }
}

TEST(VkOps, Attention) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    const AttnCase cases[] = {
        {4, 4, 16, 5, 5, 0},     // MHA prompt from position 0
        {8, 2, 32, 70, 3, 0},    // GQA, keys span two chunks
        {4, 2, 16, 100, 10, 17}, // sliding window
        {8, 2, 64, 33, 1, 0},    // one-token decode
        {2, 1, 128, 9, 1, 4},    // head_dim 128, window smaller than the context
        {3, 1, 96, 150, 6, 0},   // Phi-3 head_dim, three chunks
    };
    for (const AttnCase& c : cases) {
        check_attention(*ctx, c, false);
        check_attention(*ctx, c, true);
        check_attention(*ctx, c, true, /*round_to_f16=*/true);
    }
}

// Decode steps as the decoder re-submits them: one command list recorded once (cache writes of one token
// and attention), positions read from a params buffer the host updates before each submission.
TEST(VkOps, ReusedListReadsPositionsFromBuffer) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    const int n_heads = 4, n_kv = 2, hd = 32, qd = n_heads * hd, kvd = n_kv * hd, steps = 70;  // two key chunks
    for (int window : {0, 9}) {
        AttentionParams p;
        p.n_heads = n_heads, p.n_kv_heads = n_kv, p.head_dim = hd;
        p.scale = 1.0f / std::sqrt((float)hd);
        p.sliding_window = window;
        auto bq = ctx->create_buffer(qd * 4), bk = ctx->create_buffer(kvd * 4), bv = ctx->create_buffer(kvd * 4);
        auto kc = ctx->create_buffer(kvd * steps * 2), vc = ctx->create_buffer(kvd * steps * 2);
        auto bo = ctx->create_buffer(qd * 4);
        auto params = ctx->create_host_buffer(16);
        ASSERT_TRUE(bq && bk && bv && kc && vc && bo && params);
        const KvView kview{&*kc, 0, (uint32_t)kvd, true}, vview{&*vc, 0, (uint32_t)kvd, true};
        auto list = ctx->create_list();
        ASSERT_TRUE(list.has_value()) << list.error_message();
        CommandList& cl = **list;
        ctx->begin(cl);
        // The pos0 / n_keys arguments are placeholders: the shaders read params.
        ASSERT_TRUE(kv_write(*ctx, cl, {&*bk, 0, 0}, 1, kvd, 0, kview, &*params).is_ok());
        ASSERT_TRUE(kv_write(*ctx, cl, {&*bv, 0, 0}, 1, kvd, 0, vview, &*params).is_ok());
        ASSERT_TRUE(attention(*ctx, cl, {&*bq, 0, 0}, kview, vview, 1, 1, 0, p, {&*bo, 0, 0}, &*params).is_ok());
        ASSERT_TRUE(ctx->end(cl).is_ok());
        std::vector<float> kall, vall;
        for (int s = 0; s < steps; ++s) {
            const auto q = random_floats(qd, 1000 + s, -2, 2), k = random_floats(kvd, 2000 + s, -2, 2),
                       v = random_floats(kvd, 3000 + s);
            for (int i = 0; i < kvd; ++i) {
                kall.push_back(fp16_to_fp32(fp32_to_fp16(k[i])));
                vall.push_back(fp16_to_fp32(fp32_to_fp16(v[i])));
            }
            ASSERT_TRUE(ctx->upload(*bq, q.data(), qd * 4).is_ok());
            ASSERT_TRUE(ctx->upload(*bk, k.data(), kvd * 4).is_ok());
            ASSERT_TRUE(ctx->upload(*bv, v.data(), kvd * 4).is_ok());
            const uint32_t pv[2] = {(uint32_t)s, (uint32_t)s + 1};
            std::memcpy(params->mapped(), pv, sizeof(pv));
            ASSERT_TRUE(ctx->submit(cl).is_ok());
            const int32_t pos = s;
            std::vector<float> want(qd);
            llm::attention(q.data(), kall.data(), vall.data(), s + 1, 1, &pos, p, want.data(), 1);
            ASSERT_LT(nmse(from_device<float>(*ctx, *bo, qd), want), 1e-9) << "step " << s << " window " << window;
        }
    }
}

// The serving engine's pool: several sequences' keys written through slots into shuffled blocks, their queries
// in one call through block tables. Each sequence's output must be bit-identical to the same sequence alone in
// a contiguous cache (the same arithmetic, only the rows' addresses differ): what batch invariance needs.
TEST(VkOps, PagedAttentionMatchesEachSequenceAlone) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    const int n_heads = 4, n_kv = 2, hd = 32, qd = n_heads * hd, kvd = n_kv * hd, bt = 16, n_blocks = 20;
    struct Seq {
        int n_keys, n_tokens;
    };
    const Seq seqs[] = {{70, 3}, {5, 5}, {33, 1}, {100, 2}};
    std::vector<int32_t> free_blocks(n_blocks);
    for (int b = 0; b < n_blocks; ++b) free_blocks[b] = (b * 7 + 3) % n_blocks;  // a permutation: not in order
    for (bool f16 : {false, true})
        for (int window : {0, 9}) {
            AttentionParams p;
            p.n_heads = n_heads, p.n_kv_heads = n_kv, p.head_dim = hd;
            p.scale = 1.0f / std::sqrt((float)hd);
            p.sliding_window = window;
            p.round_to_f16 = f16;
            const uint32_t elem = f16 ? 2 : 4;
            std::vector<float> k_all, v_all, q_all;
            std::vector<uint32_t> slots, tok_info, tables;
            std::vector<std::vector<float>> alone;
            size_t next_block = 0;
            for (size_t si = 0; si < std::size(seqs); ++si) {
                const Seq& sq = seqs[si];
                const auto k = random_floats(kvd * sq.n_keys, 10 + si, -2, 2), v = random_floats(kvd * sq.n_keys, 20 + si);
                const auto q = random_floats(qd * sq.n_tokens, 30 + si, -2, 2);
                const uint32_t table0 = (uint32_t)tables.size();
                for (int j = 0; j < sq.n_keys; j += bt) tables.push_back((uint32_t)free_blocks[next_block++]);
                for (int j = 0; j < sq.n_keys; ++j) slots.push_back(tables[table0 + j / bt] * bt + j % bt);
                for (int t = 0; t < sq.n_tokens; ++t)
                    tok_info.insert(tok_info.end(), {(uint32_t)(sq.n_keys - sq.n_tokens + t), (uint32_t)sq.n_keys, table0});
                k_all.insert(k_all.end(), k.begin(), k.end()), v_all.insert(v_all.end(), v.begin(), v.end());
                q_all.insert(q_all.end(), q.begin(), q.end());
                // Alone, contiguous.
                Buffer bq = to_device(*ctx, q), bk = to_device(*ctx, k), bv = to_device(*ctx, v);
                auto kc = ctx->create_buffer(kvd * sq.n_keys * elem), vc = ctx->create_buffer(kvd * sq.n_keys * elem);
                auto bo = ctx->create_buffer(qd * sq.n_tokens * 4);
                ASSERT_TRUE(kc && vc && bo);
                const KvView kview{&*kc, 0, (uint32_t)kvd, f16}, vview{&*vc, 0, (uint32_t)kvd, f16};
                CommandList& cl = ctx->begin();
                ASSERT_TRUE(kv_write(*ctx, cl, {&bk, 0, 0}, sq.n_keys, kvd, 0, kview).is_ok());
                ASSERT_TRUE(kv_write(*ctx, cl, {&bv, 0, 0}, sq.n_keys, kvd, 0, vview).is_ok());
                cl.barrier();
                ASSERT_TRUE(attention(*ctx, cl, {&bq, 0, 0}, kview, vview, sq.n_keys, sq.n_tokens, sq.n_keys - sq.n_tokens,
                                      p, {&*bo, 0, 0})
                                .is_ok());
                ASSERT_TRUE(ctx->submit().is_ok());
                alone.push_back(from_device<float>(*ctx, *bo, qd * sq.n_tokens));
            }
            // Together, through the pool (a layer offset of 6 elements before row 0, as a layer's cache would have).
            const uint32_t n_q = (uint32_t)(q_all.size() / qd), off = 6;
            Buffer bq = to_device(*ctx, q_all), bk = to_device(*ctx, k_all), bv = to_device(*ctx, v_all);
            Buffer bslots = to_device(*ctx, slots), btok = to_device(*ctx, tok_info), btab = to_device(*ctx, tables);
            auto kc = ctx->create_buffer((off + kvd * n_blocks * bt) * elem), vc = ctx->create_buffer((off + kvd * n_blocks * bt) * elem);
            auto bo = ctx->create_buffer(qd * n_q * 4);
            ASSERT_TRUE(kc && vc && bo);
            const KvView kview{&*kc, off, (uint32_t)kvd, f16}, vview{&*vc, off, (uint32_t)kvd, f16};
            const PagedTables paged{&btok, &btab, (uint32_t)bt};
            CommandList& cl = ctx->begin();
            ASSERT_TRUE(kv_write(*ctx, cl, {&bk, 0, 0}, (uint32_t)slots.size(), kvd, 0, kview, nullptr, &bslots).is_ok());
            ASSERT_TRUE(kv_write(*ctx, cl, {&bv, 0, 0}, (uint32_t)slots.size(), kvd, 0, vview, nullptr, &bslots).is_ok());
            cl.barrier();
            Status st = attention(*ctx, cl, {&bq, 0, 0}, kview, vview, 0, n_q, 0, p, {&*bo, 0, 0}, nullptr, &paged);
            ASSERT_TRUE(st.is_ok()) << st.message();
            ASSERT_TRUE(ctx->submit().is_ok());
            const auto got = from_device<float>(*ctx, *bo, qd * n_q);
            size_t row = 0;
            for (size_t si = 0; si < std::size(seqs); ++si) {
                EXPECT_EQ(0, std::memcmp(got.data() + row * qd, alone[si].data(), alone[si].size() * 4))
                    << "sequence " << si << (f16 ? " f16" : " f32") << " window " << window;
                row += seqs[si].n_tokens;
            }
        }
}

TEST(VkOps, KvWriteEdgeValuesF16) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    std::vector<float> x = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65519.0f, 65520.0f, -1e9f, 1e-8f, -3e-5f,
                            6.1e-5f, 5.96e-8f, 2.98e-8f, 1.0009765625f, 1.00048828125f, 1.00146484375f,
                            INFINITY, -INFINITY, NAN, 0.333333f};
    Buffer bx = to_device(*ctx, x);
    auto cache = ctx->create_buffer(x.size() * 2);
    ASSERT_TRUE(cache.has_value());
    CommandList& cl = ctx->begin();
    ASSERT_TRUE(kv_write(*ctx, cl, {&bx, 0, 0}, 1, (uint32_t)x.size(), 0, {&*cache, 0, 0, true}).is_ok());
    ASSERT_TRUE(ctx->submit().is_ok());
    auto bits = from_device<uint16_t>(*ctx, *cache, x.size());
    for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(bits[i], fp32_to_fp16(x[i])) << "value " << x[i];
}

TEST(VkOps, Softmax) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    const struct {
        uint32_t rows, n;
    } shapes[] = {{1, 1}, {3, 100}, {2, 1000}};
    for (auto [rows, n] : shapes) {
        auto x = random_floats(rows * n + 1, n, -10, 10);
        std::vector<float> want(x.begin() + 1, x.end());
        for (uint32_t r = 0; r < rows; ++r) llm::softmax(want.data() + r * n, n);
        Buffer bx = to_device(*ctx, x);
        CommandList& cl = ctx->begin();
        ASSERT_TRUE(softmax(*ctx, cl, bx, 1, n, rows).is_ok());
        ASSERT_TRUE(ctx->submit().is_ok());
        auto got = from_device<float>(*ctx, bx, x.size());
        EXPECT_EQ(got[0], x[0]);
        EXPECT_LT(nmse(std::vector<float>(got.begin() + 1, got.end()), want), 1e-10) << rows << "x" << n;
    }
}

TEST(VkOps, SiluMulFusedAndSeparate) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    for (uint32_t width : {1u, 13u, 700u}) {
        const uint32_t rows = 3;
        // Fused [gate | up] rows as the Phi-3 gate_up matmul writes them.
        auto gu = random_floats(rows * 2 * width, width, -6, 6);
        std::vector<float> want(rows * width);
        for (uint32_t r = 0; r < rows; ++r)
            llm::silu_mul(gu.data() + r * 2 * width, gu.data() + r * 2 * width + width, want.data() + r * width, width, 1);
        Buffer bgu = to_device(*ctx, gu);
        auto out = ctx->create_buffer(rows * width * 4);
        ASSERT_TRUE(out.has_value());
        CommandList& cl = ctx->begin();
        ASSERT_TRUE(silu_mul(*ctx, cl, {&bgu, 0, 2 * width}, {&bgu, width, 2 * width}, {&*out, 0, 0}, width, rows).is_ok());
        ASSERT_TRUE(ctx->submit().is_ok());
        EXPECT_LT(nmse(from_device<float>(*ctx, *out, want.size()), want), 1e-10) << width;

        // Separate buffers, result written over `up` (in place, as the decoder does).
        auto g = random_floats(rows * width, width + 1, -6, 6), u = random_floats(rows * width, width + 2);
        std::vector<float> want2(rows * width);
        llm::silu_mul(g.data(), u.data(), want2.data(), rows * width, 1);
        Buffer bg = to_device(*ctx, g), bu = to_device(*ctx, u);
        CommandList& cl2 = ctx->begin();
        ASSERT_TRUE(silu_mul(*ctx, cl2, {&bg, 0, 0}, {&bu, 0, 0}, {&bu, 0, 0}, rows * width, 1).is_ok());
        ASSERT_TRUE(ctx->submit().is_ok());
        EXPECT_LT(nmse(from_device<float>(*ctx, bu, want2.size()), want2), 1e-10) << width;
    }
}

TEST(VkOps, AddInplace) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    for (uint32_t n : {1u, 1000u, 70001u}) {
        auto x = random_floats(n + 2, n), y = random_floats(n + 1, n + 1);
        std::vector<float> want(x.begin() + 2, x.end());
        llm::add_inplace(want.data(), y.data() + 1, n, 1);
        Buffer bx = to_device(*ctx, x), by = to_device(*ctx, y);
        CommandList& cl = ctx->begin();
        ASSERT_TRUE(add_inplace(*ctx, cl, bx, 2, by, 1, n).is_ok());
        ASSERT_TRUE(ctx->submit().is_ok());
        auto got = from_device<float>(*ctx, bx, n + 2);
        EXPECT_EQ(got[0], x[0]);
        EXPECT_EQ(got[1], x[1]);
        for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(got[i + 2], want[i]) << i;
    }
}

}  // namespace
}  // namespace llm::vk
