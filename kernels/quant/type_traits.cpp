// The traits table (one row per DType: ggml name, block geometry, row converters), name/id lookups
// and the dequantize_row / quantize_row dispatchers.
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "kernels/quant/blocks.hpp"
#include "kernels/quant/quant.hpp"

namespace llm {

namespace {

// Names are the upper-case GGUF spellings (gguf-py GGMLQuantizationType, fixture file names);
// ggml's own type_name is lower case ("q4_K"); dtype_from_name accepts either.
constexpr TypeTraits kTraits[] = {
    {DType::F32, "F32", 1, sizeof(float), false, dequantize_row_f32, quantize_row_f32},
    {DType::F16, "F16", 1, sizeof(uint16_t), false, dequantize_row_f16, quantize_row_f16},
    {DType::BF16, "BF16", 1, sizeof(uint16_t), false, dequantize_row_bf16, quantize_row_bf16},
    {DType::Q4_0, "Q4_0", QK4_0, sizeof(BlockQ4_0), true, dequantize_row_q4_0, quantize_row_q4_0},
    {DType::Q4_1, "Q4_1", QK4_1, sizeof(BlockQ4_1), true, dequantize_row_q4_1, quantize_row_q4_1},
    {DType::Q5_0, "Q5_0", QK5_0, sizeof(BlockQ5_0), true, dequantize_row_q5_0, quantize_row_q5_0},
    {DType::Q5_1, "Q5_1", QK5_1, sizeof(BlockQ5_1), true, dequantize_row_q5_1, quantize_row_q5_1},
    {DType::Q8_0, "Q8_0", QK8_0, sizeof(BlockQ8_0), true, dequantize_row_q8_0, quantize_row_q8_0},
    // ggml has a reference quantizer for Q8_1 (quantize_row_q8_1_ref) but no dequantizer; ours is d*q.
    {DType::Q8_1, "Q8_1", QK8_1, sizeof(BlockQ8_1), true, dequantize_row_q8_1, quantize_row_q8_1},
    {DType::Q2_K, "Q2_K", QK_K, sizeof(BlockQ2_K), true, dequantize_row_q2_k, quantize_row_q2_k},
    {DType::Q3_K, "Q3_K", QK_K, sizeof(BlockQ3_K), true, dequantize_row_q3_k, quantize_row_q3_k},
    {DType::Q4_K, "Q4_K", QK_K, sizeof(BlockQ4_K), true, dequantize_row_q4_k, quantize_row_q4_k},
    {DType::Q5_K, "Q5_K", QK_K, sizeof(BlockQ5_K), true, dequantize_row_q5_k, quantize_row_q5_k},
    {DType::Q6_K, "Q6_K", QK_K, sizeof(BlockQ6_K), true, dequantize_row_q6_k, quantize_row_q6_k},
    {DType::Q8_K, "Q8_K", QK_K, sizeof(BlockQ8_K), true, dequantize_row_q8_k, quantize_row_q8_k},
    {DType::IQ4_NL, "IQ4_NL", QK4_NL, sizeof(BlockIQ4_NL), true, dequantize_row_iq4_nl, quantize_row_iq4_nl},
    {DType::IQ4_XS, "IQ4_XS", QK_K, sizeof(BlockIQ4_XS), true, dequantize_row_iq4_xs, quantize_row_iq4_xs},
};

// GGML type ids are small (< 40); index the table by id once.
constexpr size_t kMaxId = 64;
constexpr std::array<int8_t, kMaxId> make_index() {
    std::array<int8_t, kMaxId> idx{};
    for (auto& v : idx) v = -1;
    for (size_t i = 0; i < std::size(kTraits); ++i) idx[(size_t)kTraits[i].type] = (int8_t)i;
    return idx;
}
constexpr std::array<int8_t, kMaxId> kIndex = make_index();

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::tolower((unsigned char)a[i]) != std::tolower((unsigned char)b[i])) return false;
    }
    return true;
}

}  // namespace

std::optional<DType> dtype_from_u32(uint32_t id) {
    if (id >= kMaxId || kIndex[id] < 0) return std::nullopt;
    return static_cast<DType>(id);
}

const TypeTraits& type_traits(DType t) {
    const uint32_t id = static_cast<uint32_t>(t);
    if (id >= kMaxId || kIndex[id] < 0) {
        std::fprintf(stderr, "llm: type_traits: unknown dtype id %u\n", id);
        std::abort();
    }
    return kTraits[kIndex[id]];
}

std::string_view dtype_name(DType t) {
    const uint32_t id = static_cast<uint32_t>(t);
    return id < kMaxId && kIndex[id] >= 0 ? kTraits[kIndex[id]].name : std::string_view("?");
}

std::optional<DType> dtype_from_name(std::string_view name) {
    for (const TypeTraits& t : kTraits) {
        if (iequals(name, t.name)) return t.type;
    }
    return std::nullopt;
}

void dequantize_row(DType type, const void* src, float* dst, int64_t n) {
    type_traits(type).to_float(src, dst, n);
}

void quantize_row(DType type, const float* src, void* dst, int64_t n) {
    const TypeTraits& t = type_traits(type);
    if (!t.from_float) {
        std::fprintf(stderr, "llm: quantize_row: no reference quantizer for %.*s\n", (int)t.name.size(),
                     t.name.data());
        std::abort();
    }
    t.from_float(src, dst, n);
}

}  // namespace llm
