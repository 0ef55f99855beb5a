// AVX2 + FMA + F16C instantiation of the flash-attention tile kernel: 8 query rows per ymm.
#include <immintrin.h>

#include "kernels/cpu/attention_impl.hpp"
#include "kernels/cpu/attention_vec256.hpp"

namespace llm::cpu {

void attention_tile_avx2(LLM_ATTN_TILE_ARGS) {
    attention_tile<Vec256>(a, kvh, f0, k_begin, k_end, partial, s);
}

}  // namespace llm::cpu
