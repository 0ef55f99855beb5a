// Driver of the llama.cpp-arithmetic attention (kernels in attention_ggml_avx2.cpp, attention_ggml_avx512.cpp:
// llama.cpp's AVX2 and AVX-512 builds differ in vector width, hence in the order of their float sums).
#include "kernels/cpu/attention_ggml.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/status.hpp"
#include "kernels/cpu/matmul.hpp"

namespace llm {
namespace cpu {
// The query heads of KV head g for one token (attention_ggml_avx512.cpp). q and out point at the group's
// first head, heads q_head_stride apart; scratch: ggml_attention_scratch_floats() floats, 64-byte aligned.
// tiles: batches run several keys (dims) x heads per pass where they can; the same bits either way.
void ggml_attention_group_avx512(const float* q, int64_t q_head_stride, const GgmlKv& kv, int64_t n_pad,
                                 int32_t pos, bool batch, const AttentionParams& p, int g, float* out,
                                 float* scratch, bool tiles);
// The same with 8-lane vectors (attention_ggml_avx2.cpp); scratch needs no alignment.
void ggml_attention_group_avx2(const float* q, int64_t q_head_stride, const GgmlKv& kv, int64_t n_pad, int32_t pos,
                               bool batch, const AttentionParams& p, int g, float* out, float* scratch, bool tiles);
}  // namespace cpu

bool ggml_attention_available() { return isa_supported(Isa::Avx2); }

void ggml_attention(const float* q, const GgmlKv& kv, int64_t n_keys, int64_t n_tokens, const int32_t* positions,
                    const AttentionParams& p, float* out, int n_threads) {
    ggml_attention_isa(best_isa(), q, kv, n_keys, n_tokens, positions, p, out, n_threads, vec_dot_tile_enabled());
}

void ggml_attention_isa(Isa isa, const float* q, const GgmlKv& kv, int64_t n_keys, int64_t n_tokens,
                        const int32_t* positions, const AttentionParams& p, float* out, int n_threads, bool tiles) {
    LLM_CHECK(isa_is_x86(isa) && isa_supported(isa));
    const auto group_fn = isa == Isa::Avx512 ? cpu::ggml_attention_group_avx512 : cpu::ggml_attention_group_avx2;
    LLM_CHECK(p.n_kv_heads > 0 && p.n_heads % p.n_kv_heads == 0 && p.head_dim > 0);
    const int64_t n_pad = (n_keys + kGgmlKvPad - 1) / kGgmlKvPad * kGgmlKvPad;
    const int group = p.n_heads / p.n_kv_heads;
    const int64_t n_items = n_tokens * p.n_kv_heads, stride = (int64_t)p.n_heads * p.head_dim;
    const bool batch = n_tokens >= 2;
    // Per head: scores and weights (2 x n_pad) and q (head_dim); then 16 partial-sum vectors per head.
    const size_t floats = (size_t)group * (2 * n_pad + p.head_dim) + (size_t)group * 16 * 16;
#pragma omp parallel num_threads(std::max(1, n_threads)) if (n_threads > 1 && n_items > 1)
    {
        static thread_local std::vector<float> buf;
        buf.resize(floats + 16);
        // The partial sums are stored as __m512: align the scratch so that they land on 64 bytes.
        float* scratch = buf.data();
        while (((uintptr_t)(scratch + (size_t)group * (2 * n_pad + p.head_dim)) & 63) != 0) ++scratch;
        // Latest tokens first: under the causal mask they see the most keys.
#pragma omp for schedule(dynamic, 1)
        for (int64_t item = 0; item < n_items; ++item) {
            const int64_t it = n_items - 1 - item, t = it / p.n_kv_heads;
            const int g = (int)(it % p.n_kv_heads);
            const int64_t off = t * stride + (int64_t)g * group * p.head_dim;
            group_fn(q + off, p.head_dim, kv, n_pad, positions[t], batch, p, g, out + off, scratch, tiles);
        }
    }
}

}  // namespace llm
