#include <gtest/gtest.h>

#include "core/cpu_features.hpp"
#include "core/fp16.hpp"

TEST(Fp16, RoundTripsAllHalfValues) {
    for (uint32_t h = 0; h < 65536; ++h) {
        float f = llm::fp16_to_fp32((uint16_t)h);
        if (f != f) continue;  // NaN payloads need not round-trip
        ASSERT_EQ(llm::fp32_to_fp16(f), h) << h;
    }
}

TEST(CpuFeatures, ReportsAnIsa) { EXPECT_NE(llm::cpu_isa_name(), nullptr); }
