// Device layer: discovery, selection errors, buffers, pipelines and one-submit command lists.
#include <cstdlib>

#include "kernels/vulkan/vk_context.hpp"
#include "tests/vulkan/vk_test_util.hpp"

namespace llm::vk {
namespace {

TEST(VkDevice, ListDevices) {
    auto devs = list_devices();
    if (!devs) GTEST_SKIP() << "no Vulkan device: " << devs.error_message();
    ASSERT_FALSE(devs->empty());
    for (const auto& d : *devs) {
        std::printf("%s\n", d.summary().c_str());
        EXPECT_FALSE(d.name.empty());
        EXPECT_GT(d.subgroup_size, 0u);
    }
    auto idx = default_device_index();
    ASSERT_TRUE(idx.has_value()) << idx.error_message();
    EXPECT_LT(*idx, (int)devs->size());
}

TEST(VkDevice, BadIndexIsAnError) {
    auto devs = list_devices();
    if (!devs) GTEST_SKIP() << "no Vulkan device: " << devs.error_message();
    auto ctx = Context::create(1000);
    ASSERT_FALSE(ctx.has_value());
    EXPECT_NE(ctx.error_message().find("does not exist"), std::string::npos) << ctx.error_message();
}

// In a fresh process (the instance is created once per process), no driver must be an error value.
TEST(VkDevice, NoDriverIsAnErrorNotACrash) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            setenv("VK_ICD_FILENAMES", "/nonexistent/icd.json", 1);
            setenv("VK_DRIVER_FILES", "/nonexistent/icd.json", 1);
            auto devs = list_devices();
            auto ctx = Context::create();
            std::fprintf(stderr, "%s\n", ctx ? "created" : ctx.error_message().c_str());
            std::exit(!devs && !ctx ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "vulkan: ");
}

TEST(VkDevice, ParseDeviceSpec) {
    EXPECT_EQ(*parse_device_spec("vulkan"), -1);
    EXPECT_EQ(*parse_device_spec("vulkan:0"), 0);
    EXPECT_EQ(*parse_device_spec("vulkan:12"), 12);
    EXPECT_FALSE(parse_device_spec("vulkan:").has_value());
    EXPECT_FALSE(parse_device_spec("vulkan:x").has_value());
    EXPECT_FALSE(parse_device_spec("cuda:0").has_value());
}

TEST(VkDevice, EnvSelectsDevice) {
    auto devs = list_devices();
    if (!devs) GTEST_SKIP() << "no Vulkan device: " << devs.error_message();
    setenv("LLM_VULKAN_DEVICE", "0", 1);
    auto idx = default_device_index();
    ASSERT_TRUE(idx.has_value());
    EXPECT_EQ(*idx, 0);
    setenv("LLM_VULKAN_DEVICE", "77", 1);
    idx = default_device_index();
    EXPECT_FALSE(idx.has_value());
    unsetenv("LLM_VULKAN_DEVICE");
}

TEST(VkDevice, BufferRoundTripAndUnknownShader) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    std::vector<uint32_t> v(1000);
    for (size_t i = 0; i < v.size(); ++i) v[i] = (uint32_t)(i * 2654435761u);
    Buffer b = test::to_device(*ctx, v);
    EXPECT_EQ(test::from_device<uint32_t>(*ctx, b, v.size()), v);
    auto p = ctx->pipeline("no_such_shader", 1);
    ASSERT_FALSE(p.has_value());
    EXPECT_NE(p.error_message().find("no_such_shader"), std::string::npos);
}

// Many dependent dispatches in one submission: x += y, 50 times, must see each previous result.
TEST(VkDevice, ManyDispatchesOneSubmit) {
    LLM_VK_CONTEXT_OR_SKIP(ctx);
    const uint32_t n = 1000;
    std::vector<float> x(n, 1.0f), y(n, 0.5f);
    Buffer bx = test::to_device(*ctx, x), by = test::to_device(*ctx, y);
    auto p = ctx->pipeline("add", 2);
    ASSERT_TRUE(p.has_value()) << p.error_message();
    CommandList& cl = ctx->begin();
    cl.timestamp("start");
    struct {
        uint32_t n, xo, yo;
    } pc{n, 0, 0};
    for (int i = 0; i < 50; ++i) cl.dispatch(**p, {&bx, &by}, &pc, sizeof(pc), (n + 255) / 256);
    cl.timestamp("end");
    EXPECT_EQ(cl.n_dispatches(), 50u);
    ASSERT_TRUE(ctx->submit().is_ok());
    auto out = test::from_device<float>(*ctx, bx, n);
    for (float v : out) ASSERT_EQ(v, 26.0f);
    for (const auto& [label, ms] : ctx->timings()) std::printf("timestamp %s: %.3f ms\n", label.c_str(), ms);
}

}  // namespace
}  // namespace llm::vk

namespace llm::vk {
namespace {

// The discrete-GPU path (device-local memory, staging uploads and downloads), forced on any device.
TEST(VkDevice, StagingPathRoundTrip) {
    LLM_VK_CONTEXT_OR_SKIP(shared);
    auto ctx = Context::create(shared->info().index, /*force_staging=*/true);
    ASSERT_TRUE(ctx.has_value()) << ctx.error_message();
    EXPECT_FALSE((*ctx)->buffers_mapped());
    std::vector<float> x(777), y(777, 2.0f);
    for (size_t i = 0; i < x.size(); ++i) x[i] = (float)i;
    Buffer bx = test::to_device(**ctx, x), by = test::to_device(**ctx, y);
    EXPECT_EQ(bx.mapped(), nullptr);
    auto p = (*ctx)->pipeline("add", 2);
    ASSERT_TRUE(p.has_value()) << p.error_message();
    CommandList& cl = (*ctx)->begin();
    struct {
        uint32_t n, xo, yo;
    } pc{776, 1, 0};  // x[1..777) += 2
    cl.dispatch(**p, {&bx, &by}, &pc, sizeof(pc), 4);
    ASSERT_TRUE((*ctx)->submit().is_ok());
    auto out = test::from_device<float>(**ctx, bx, x.size());
    EXPECT_EQ(out[0], 0.0f);
    for (size_t i = 1; i < x.size(); ++i) ASSERT_EQ(out[i], (float)i + 2.0f) << i;
}

}  // namespace
}  // namespace llm::vk
