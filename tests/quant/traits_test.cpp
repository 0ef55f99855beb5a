// Traits table sanity: block structs match type sizes, names and ids map back to their types.
#include <gtest/gtest.h>

#include <string>

#include "core/dtype.hpp"
#include "kernels/quant/blocks.hpp"
#include "kernels/quant/quant.hpp"

namespace {

using llm::DType;

struct Expect {
    DType type;
    const char* name;
    int64_t block_size;
    size_t type_size;
};

const Expect kAll[] = {
    {DType::F32, "F32", 1, 4},
    {DType::F16, "F16", 1, 2},
    {DType::BF16, "BF16", 1, 2},
    {DType::Q4_0, "Q4_0", 32, sizeof(llm::BlockQ4_0)},
    {DType::Q4_1, "Q4_1", 32, sizeof(llm::BlockQ4_1)},
    {DType::Q5_0, "Q5_0", 32, sizeof(llm::BlockQ5_0)},
    {DType::Q5_1, "Q5_1", 32, sizeof(llm::BlockQ5_1)},
    {DType::Q8_0, "Q8_0", 32, sizeof(llm::BlockQ8_0)},
    {DType::Q8_1, "Q8_1", 32, sizeof(llm::BlockQ8_1)},
    {DType::Q2_K, "Q2_K", 256, sizeof(llm::BlockQ2_K)},
    {DType::Q3_K, "Q3_K", 256, sizeof(llm::BlockQ3_K)},
    {DType::Q4_K, "Q4_K", 256, sizeof(llm::BlockQ4_K)},
    {DType::Q5_K, "Q5_K", 256, sizeof(llm::BlockQ5_K)},
    {DType::Q6_K, "Q6_K", 256, sizeof(llm::BlockQ6_K)},
    {DType::Q8_K, "Q8_K", 256, sizeof(llm::BlockQ8_K)},
    {DType::IQ4_NL, "IQ4_NL", 32, sizeof(llm::BlockIQ4_NL)},
    {DType::IQ4_XS, "IQ4_XS", 256, sizeof(llm::BlockIQ4_XS)},
};

std::string lower(std::string s) {
    for (char& c : s) c = (char)std::tolower((unsigned char)c);
    return s;
}

TEST(TypeTraits, EveryRowMatchesItsBlockLayout) {
    for (const Expect& e : kAll) {
        const llm::TypeTraits& t = llm::type_traits(e.type);
        EXPECT_EQ(t.type, e.type) << e.name;
        EXPECT_EQ(t.name, e.name);
        EXPECT_EQ(t.block_size, e.block_size) << e.name;
        EXPECT_EQ(t.type_size, e.type_size) << e.name;
        EXPECT_EQ(t.is_quantized, e.block_size > 1) << e.name;
        EXPECT_NE(t.to_float, nullptr) << e.name;
        EXPECT_NE(t.from_float, nullptr) << e.name;
        EXPECT_EQ(llm::row_bytes(e.type, 4096), (size_t)(4096 / e.block_size) * e.type_size) << e.name;
    }
}

TEST(TypeTraits, KnownGgmlByteSizes) {
    // Sizes as ggml reports them (ggml_type_size), independent of our structs.
    EXPECT_EQ(llm::type_traits(DType::Q4_0).type_size, 18u);
    EXPECT_EQ(llm::type_traits(DType::Q8_0).type_size, 34u);
    EXPECT_EQ(llm::type_traits(DType::Q2_K).type_size, 84u);
    EXPECT_EQ(llm::type_traits(DType::Q3_K).type_size, 110u);
    EXPECT_EQ(llm::type_traits(DType::Q4_K).type_size, 144u);
    EXPECT_EQ(llm::type_traits(DType::Q5_K).type_size, 176u);
    EXPECT_EQ(llm::type_traits(DType::Q6_K).type_size, 210u);
    EXPECT_EQ(llm::type_traits(DType::Q8_K).type_size, 292u);
    EXPECT_EQ(llm::type_traits(DType::IQ4_XS).type_size, 136u);
}

TEST(TypeTraits, NamesParseBackCaseInsensitively) {
    for (const Expect& e : kAll) {
        EXPECT_EQ(llm::dtype_from_name(e.name), e.type) << e.name;
        EXPECT_EQ(llm::dtype_from_name(lower(e.name)), e.type) << e.name;
        EXPECT_EQ(llm::dtype_name(e.type), e.name);
    }
    EXPECT_EQ(llm::dtype_from_name("q4_K"), DType::Q4_K);  // ggml's own spelling
    EXPECT_EQ(llm::dtype_from_name("Bf16"), DType::BF16);
    EXPECT_FALSE(llm::dtype_from_name("").has_value());
    EXPECT_FALSE(llm::dtype_from_name("Q4_K_M").has_value());
    EXPECT_FALSE(llm::dtype_from_name("q4").has_value());
    EXPECT_FALSE(llm::dtype_from_name("IQ2_XXS").has_value());
}

TEST(TypeTraits, IdsMapToKnownTypesOnly) {
    for (const Expect& e : kAll) EXPECT_EQ(llm::dtype_from_u32((uint32_t)e.type), e.type) << e.name;
    // 4, 5: removed Q4_2/Q4_3; 16..19, 21, 22: IQ types we do not support; beyond the table.
    for (uint32_t id : {4u, 5u, 16u, 17u, 18u, 19u, 21u, 22u, 24u, 29u, 31u, 39u, 63u, 64u, 1000u, 0xFFFFFFFFu}) {
        EXPECT_FALSE(llm::dtype_from_u32(id).has_value()) << id;
    }
}

TEST(TypeTraitsDeathTest, UnknownTypeAborts) {
    EXPECT_DEATH((void)llm::type_traits(static_cast<DType>(4)), "unknown dtype");
}

}  // namespace
