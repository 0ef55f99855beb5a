// Golden tests against ggml: for each fixture type, dequantizing ggml's bytes must give ggml's floats
// bit for bit, and quantizing the fixture input must give ggml's bytes exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "kernels/quant/quant.hpp"
#include "quant_test_util.hpp"

namespace {

using llm::DType;
using llm::test::quant_fixture_path;
using llm::test::read_bytes;

constexpr int64_t kN = 4096;

const char* const kFixtureTypes[] = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K",
                                     "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"};

std::vector<float> load_floats(const std::string& path) {
    std::vector<uint8_t> bytes = read_bytes(path);
    std::vector<float> out(bytes.size() / sizeof(float));
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
    return out;
}

double rel_rmse(const std::vector<float>& ref, const std::vector<float>& got) {
    double se = 0, s2 = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        se += ((double)ref[i] - got[i]) * ((double)ref[i] - got[i]);
        s2 += (double)ref[i] * ref[i];
    }
    return std::sqrt(se / s2);
}

class QuantFixture : public ::testing::TestWithParam<const char*> {
protected:
    void SetUp() override {
        auto t = llm::dtype_from_name(GetParam());
        ASSERT_TRUE(t.has_value()) << GetParam();
        type = *t;
        input = load_floats(quant_fixture_path("input.f32.bin"));
        q = read_bytes(quant_fixture_path(std::string(GetParam()) + ".q.bin"));
        deq = load_floats(quant_fixture_path(std::string(GetParam()) + ".deq.f32.bin"));
        ASSERT_EQ(input.size(), (size_t)kN) << "input.f32.bin";
        ASSERT_EQ(q.size(), llm::row_bytes(type, kN)) << GetParam() << ".q.bin size";
        ASSERT_EQ(deq.size(), (size_t)kN) << GetParam() << ".deq.f32.bin size";
    }
    DType type{};
    std::vector<float> input, deq;
    std::vector<uint8_t> q;
};

TEST_P(QuantFixture, DequantizeIsBitExact) {
    std::vector<float> out(kN);
    llm::dequantize_row(type, q.data(), out.data(), kN);
    int mismatches = 0;
    for (int64_t i = 0; i < kN; ++i) {
        uint32_t a, b;
        std::memcpy(&a, &out[i], 4);
        std::memcpy(&b, &deq[i], 4);
        if (a != b && ++mismatches <= 5) {
            ADD_FAILURE() << GetParam() << " element " << i << ": got " << out[i] << " want " << deq[i];
        }
    }
    EXPECT_EQ(mismatches, 0);
}

TEST_P(QuantFixture, QuantizeIsBitExact) {
    std::vector<uint8_t> out(q.size());
    llm::quantize_row(type, input.data(), out.data(), kN);
    const auto& tt = llm::type_traits(type);
    int bad_blocks = 0;
    for (size_t b = 0; b < q.size() / tt.type_size; ++b) {
        const size_t off = b * tt.type_size;
        if (std::memcmp(out.data() + off, q.data() + off, tt.type_size) != 0) {
            if (++bad_blocks <= 5) {
                size_t k = 0;
                while (out[off + k] == q[off + k]) ++k;
                ADD_FAILURE() << GetParam() << " block " << b << " differs first at byte " << k << ": got "
                              << (int)out[off + k] << " want " << (int)q[off + k];
            }
        }
    }
    EXPECT_EQ(bad_blocks, 0);
    if (bad_blocks) {
        // Fallback quality bar: our bytes must not dequantize worse than ggml's.
        std::vector<float> ours(kN);
        llm::dequantize_row(type, out.data(), ours.data(), kN);
        EXPECT_LE(rel_rmse(input, ours), rel_rmse(input, deq) * 1.0001) << GetParam();
    }
}

INSTANTIATE_TEST_SUITE_P(Ggml, QuantFixture, ::testing::ValuesIn(kFixtureTypes),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

}  // namespace
