// Backend-ops tests of the weight kernels: dequantization (bit-exact with dequantize_row) for every block
// type, embedding lookup, matrix-vector and tiled matrix-matrix products against matmul_reference.
#include <string>

#include "core/fp16.hpp"
#include "kernels/cpu/matmul.hpp"
#include "kernels/cpu/ops.hpp"
#include "kernels/quant/quant.hpp"
#include "kernels/vulkan/vk_ops.hpp"
#include "tests/vulkan/vk_test_util.hpp"

namespace llm::vk {
namespace {

const DType kAllTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0, DType::Q4_0,
                           DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q2_K, DType::Q3_K,
                           DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS};

// Quantized weights of shape [n_out x n_in] from random floats (rows of varying magnitude).
struct HostMatrix {
    std::vector<uint8_t> bytes;
    TensorView view;
};
HostMatrix make_matrix(DType type, int64_t n_in, int64_t n_out, uint32_t seed) {
    HostMatrix m;
    const size_t rb = row_bytes(type, n_in);
    m.bytes.resize(rb * n_out);
    std::vector<float> row;
    for (int64_t r = 0; r < n_out; ++r) {
        row = test::random_floats(n_in, seed + (uint32_t)r, -1.0f, 1.0f);
        const float mag = 0.01f + 0.5f * (float)(r % 7);
        for (float& x : row) x *= mag;
        quantize_row(type, row.data(), m.bytes.data() + rb * r, n_in);
    }
    m.view.name = std::string("w_") + std::string(dtype_name(type));
    m.view.type = type;
    m.view.n_dims = 2;
    m.view.ne = {n_in, n_out, 1, 1};
    m.view.data = m.bytes.data();
    m.view.nbytes = m.bytes.size();
    return m;
}

class VkWeights : public ::testing::TestWithParam<DType> {};

// Every row dequantized on the device must equal dequantize_row bit for bit.
TEST_P(VkWeights, DequantizeIsBitExact) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    const DType type = GetParam();
    const int64_t n_in = 512, n_out = 6;
    HostMatrix m = make_matrix(type, n_in, n_out, 11);
    auto dm = upload_matrix(*ctx, m.view);
    ASSERT_TRUE(dm.has_value()) << dm.error_message();
    std::vector<int32_t> ids(n_out);
    for (int i = 0; i < n_out; ++i) ids[i] = i;
    Buffer bids = test::to_device(*ctx, ids);
    auto out = ctx->create_buffer(n_in * n_out * 4);
    ASSERT_TRUE(out.has_value());
    CommandList& cl = ctx->begin();
    ASSERT_TRUE(get_rows(*ctx, cl, *dm, bids, n_out, *out).is_ok());
    ASSERT_TRUE(ctx->submit().is_ok());
    auto got = test::from_device<float>(*ctx, *out, n_in * n_out);
    std::vector<float> want(n_in);
    for (int64_t r = 0; r < n_out; ++r) {
        dequantize_row(type, m.view.row(r), want.data(), n_in);
        for (int64_t i = 0; i < n_in; ++i)
            ASSERT_EQ(float_to_bits(got[r * n_in + i]), float_to_bits(want[i]))
                << dtype_name(type) << " row " << r << " element " << i << ": " << got[r * n_in + i] << " vs "
                << want[i];
    }
}

// Embedding lookup with repeated, unordered ids against the CPU embed_rows.
TEST_P(VkWeights, EmbedRows) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    const DType type = GetParam();
    const int64_t d = 256, n_vocab = 9;
    HostMatrix m = make_matrix(type, d, n_vocab, 23);
    auto dm = upload_matrix(*ctx, m.view);
    ASSERT_TRUE(dm.has_value()) << dm.error_message();
    const std::vector<int32_t> ids = {3, 0, 8, 3, 5};
    Buffer bids = test::to_device(*ctx, ids);
    auto out = ctx->create_buffer(d * ids.size() * 4 + 8);
    ASSERT_TRUE(out.has_value());
    CommandList& cl = ctx->begin();
    ASSERT_TRUE(get_rows(*ctx, cl, *dm, bids, (uint32_t)ids.size(), *out, 2).is_ok());
    ASSERT_TRUE(ctx->submit().is_ok());
    auto got = test::from_device<float>(*ctx, *out, d * ids.size() + 2);
    std::vector<float> want(d * ids.size());
    embed_rows(m.view, ids.data(), (int64_t)ids.size(), want.data(), 1);
    for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i + 2], want[i]) << i;
}

struct MatmulShape {
    int64_t n_in, n_out, n_tokens;
};

void check_matmul(Context& ctx, DType type, MatmulShape s, MatmulKernel kernel, uint32_t seed,
                  size_t max_part_bytes = 0) {
    HostMatrix m = make_matrix(type, s.n_in, s.n_out, seed);
    const std::vector<float> x = test::random_floats(s.n_in * s.n_tokens, seed * 7 + 1);
    std::vector<float> want(s.n_out * s.n_tokens);
    matmul_reference(m.view, x.data(), s.n_tokens, want.data());
    auto dm = upload_matrix(ctx, m.view, max_part_bytes);
    ASSERT_TRUE(dm.has_value()) << dm.error_message();
    Buffer bx = test::to_device(ctx, x);
    // y written with an offset and a row stride wider than n_out, as the decoder's fused outputs are.
    const uint32_t y_off = 3, y_stride = (uint32_t)s.n_out + 5;
    auto by = ctx.create_buffer((y_off + y_stride * s.n_tokens) * 4);
    ASSERT_TRUE(by.has_value());
    CommandList& cl = ctx.begin();
    Status st = matmul(ctx, cl, *dm, {&bx, 0, 0}, (uint32_t)s.n_tokens, {&*by, y_off, y_stride}, kernel);
    ASSERT_TRUE(st.is_ok()) << st.message();
    ASSERT_TRUE(ctx.submit().is_ok());
    auto raw = test::from_device<float>(ctx, *by, y_off + y_stride * s.n_tokens);
    std::vector<float> got(want.size());
    for (int64_t t = 0; t < s.n_tokens; ++t)
        for (int64_t r = 0; r < s.n_out; ++r) got[t * s.n_out + r] = raw[y_off + t * y_stride + r];
    const double e = test::nmse(got, want);
    EXPECT_LT(e, 1e-6) << dtype_name(type) << " " << s.n_in << "x" << s.n_out << " tokens " << s.n_tokens
                       << (kernel == MatmulKernel::Tiled            ? " tiled"
                           : kernel == MatmulKernel::MatVecSubgroup ? " matvec-subgroup"
                                                                    : " matvec");
}

TEST_P(VkWeights, MatVec) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    const DType type = GetParam();
    const int64_t bs = block_size(type);
    const int64_t k = bs == 1 ? 64 : std::max<int64_t>(bs, 64);
    const MatmulShape shapes[] = {{k, 1, 1}, {k, 7, 1}, {3 * k, 33, 1}, {2 * k, 65, 3}};
    uint32_t seed = 100;
    for (const auto& s : shapes) check_matmul(*ctx, type, s, MatmulKernel::MatVec, seed++);
    if (bs == 1) check_matmul(*ctx, type, {37, 19, 2}, MatmulKernel::MatVec, seed++);  // odd n_in
}

// The subgroupAdd reduction (decode's default where the device has subgroup arithmetic), same shapes.
TEST_P(VkWeights, MatVecSubgroup) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    if (!ctx->info().subgroup_arithmetic) GTEST_SKIP() << "device without subgroup arithmetic";
    const DType type = GetParam();
    const int64_t bs = block_size(type);
    const int64_t k = bs == 1 ? 64 : std::max<int64_t>(bs, 64);
    const MatmulShape shapes[] = {{k, 1, 1}, {k, 7, 1}, {3 * k, 33, 1}, {2 * k, 65, 3}, {8 * k, 5, 4}};
    uint32_t seed = 150;
    for (const auto& s : shapes) check_matmul(*ctx, type, s, MatmulKernel::MatVecSubgroup, seed++);
    if (bs == 1) check_matmul(*ctx, type, {37, 19, 2}, MatmulKernel::MatVecSubgroup, seed++);  // odd n_in
}

// matvec_sg built with a workgroup of exactly one subgroup (spec constants {SG, SG}): the path without
// shared memory that devices with 32- or 64-wide subgroups take, reached here on any subgroup size.
TEST(VkWeights, MatVecSubgroupOneSubgroupPerWorkgroup) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    if (!ctx->info().subgroup_arithmetic) GTEST_SKIP() << "device without subgroup arithmetic";
    const uint32_t sg = ctx->info().subgroup_size;
    for (DType type : {DType::F32, DType::Q4_K, DType::Q8_0}) {
        const int64_t n_in = 512, n_out = 9, n_tokens = 2;
        HostMatrix m = make_matrix(type, n_in, n_out, 400);
        const std::vector<float> x = test::random_floats(n_in * n_tokens, 401);
        std::vector<float> want(n_out * n_tokens);
        matmul_reference(m.view, x.data(), n_tokens, want.data());
        auto dm = upload_matrix(*ctx, m.view);
        ASSERT_TRUE(dm.has_value()) << dm.error_message();
        Buffer bx = test::to_device(*ctx, x);
        auto by = ctx->create_buffer(want.size() * 4);
        ASSERT_TRUE(by.has_value());
        const uint32_t spec[] = {sg, sg};
        auto p = ctx->pipeline(std::string("matvec_sg_") + type_suffix(type), 3, spec);
        ASSERT_TRUE(p.has_value()) << p.error_message();
        struct {  // the shader's push constants
            uint32_t n_in, n_out, n_tokens, row_bytes, x_offset, x_stride, y_offset, y_stride;
        } pc{(uint32_t)n_in, (uint32_t)n_out, (uint32_t)n_tokens, dm->row_bytes, 0, (uint32_t)n_in, 0, (uint32_t)n_out};
        CommandList& cl = ctx->begin();
        cl.dispatch(**p, {&dm->parts[0].buf, &bx, &*by}, &pc, sizeof(pc), (uint32_t)n_out, (uint32_t)n_tokens, 1);
        ASSERT_TRUE(ctx->submit().is_ok());
        EXPECT_LT(test::nmse(test::from_device<float>(*ctx, *by, want.size()), want), 1e-6) << dtype_name(type);
    }
}

TEST_P(VkWeights, TiledMatmul) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    const DType type = GetParam();
    const int64_t bs = block_size(type);
    const int64_t k = bs == 1 ? 64 : std::max<int64_t>(bs, 64);
    const MatmulShape shapes[] = {{k, 33, 5}, {2 * k, 40, 33}, {k, 17, 1}};
    uint32_t seed = 200;
    for (const auto& s : shapes) check_matmul(*ctx, type, s, MatmulKernel::Tiled, seed++);
    if (bs == 1) check_matmul(*ctx, type, {45, 31, 33}, MatmulKernel::Tiled, seed++);  // odd everything
}

INSTANTIATE_TEST_SUITE_P(AllTypes, VkWeights, ::testing::ValuesIn(kAllTypes),
                         [](const ::testing::TestParamInfo<DType>& i) { return std::string(dtype_name(i.param)); });

// Matrices larger than the device's buffer range are split by rows; force that with tiny parts.
TEST(VkWeights, SplitMatrix) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    for (DType type : {DType::Q4_0, DType::F16}) {
        const size_t part = row_bytes(type, 64) * 5;  // 5 rows per buffer
        check_matmul(*ctx, type, {64, 23, 1}, MatmulKernel::MatVec, 300, part);
        check_matmul(*ctx, type, {64, 23, 2}, MatmulKernel::MatVecSubgroup, 303, part);
        check_matmul(*ctx, type, {64, 23, 9}, MatmulKernel::Tiled, 301, part);
        HostMatrix m = make_matrix(type, 64, 23, 302);
        auto dm = upload_matrix(*ctx, m.view, part);
        ASSERT_TRUE(dm.has_value()) << dm.error_message();
        EXPECT_EQ(dm->parts.size(), 5u);
        const std::vector<int32_t> ids = {22, 0, 7, 13, 4, 22};
        Buffer bids = test::to_device(*ctx, ids);
        auto out = ctx->create_buffer(64 * ids.size() * 4);
        ASSERT_TRUE(out.has_value());
        CommandList& cl = ctx->begin();
        ASSERT_TRUE(get_rows(*ctx, cl, *dm, bids, (uint32_t)ids.size(), *out).is_ok());
        ASSERT_TRUE(ctx->submit().is_ok());
        auto got = test::from_device<float>(*ctx, *out, 64 * ids.size());
        std::vector<float> want(64 * ids.size());
        embed_rows(m.view, ids.data(), (int64_t)ids.size(), want.data(), 1);
        EXPECT_EQ(got, want);
    }
}

TEST(VkWeights, UnsupportedTypeIsAnError) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    TensorView v;
    v.name = "act";
    v.type = DType::Q8_K;
    v.ne = {256, 1, 1, 1};
    std::vector<uint8_t> bytes(row_bytes(DType::Q8_K, 256));
    v.data = bytes.data();
    auto dm = upload_matrix(*ctx, v);
    ASSERT_FALSE(dm.has_value());
    EXPECT_NE(dm.error_message().find("Q8_K"), std::string::npos) << dm.error_message();
}

}  // namespace
}  // namespace llm::vk
