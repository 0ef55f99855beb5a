// The memory a context implies, checked before allocating: KvCache::bytes_needed against KvCache::create, the
// "what fits" message, the available-memory parser (MemAvailable, cgroup limits) and SessionOptions validation.
#include <gtest/gtest.h>

#include "core/system_info.hpp"
#include "fixture_util.hpp"
#include "llm/llm.hpp"
#include "runtime/kv_cache.hpp"

namespace llm {
namespace {

ModelConfig smollm2_shape() {  // SmolLM2-135M: 30 layers, 3 KV heads of 64
    ModelConfig c;
    c.n_layers = 30, c.n_heads = 9, c.n_kv_heads = 3, c.head_dim = 64, c.d_model = 576;
    return c;
}

TEST(KvMemory, BytesNeededIsWhatCreateAllocates) {
    const ModelConfig c = smollm2_shape();
    for (DType t : {DType::F16, DType::F32, DType::BF16, DType::Q8_0})
        for (int n_ctx : {1, 100, 256, 1000})
            for (bool transposed : {false, true}) {
                if (transposed && t != DType::F16) continue;
                auto kv = KvCache::create(c, n_ctx, t, transposed);
                ASSERT_TRUE(kv) << kv.error_message();
                EXPECT_EQ((int64_t)kv->bytes(), KvCache::bytes_needed(c, n_ctx, t, transposed))
                    << dtype_name(t) << " " << n_ctx << " " << transposed;
            }
}

TEST(KvMemory, TooLargeContextSaysWhatFits) {
    const ModelConfig c = smollm2_shape();
    const int64_t gib = int64_t{1} << 30;
    // The reported case: 2,000,000 tokens of F16 cache for SmolLM2 is 42.9 GiB.
    Status s = check_kv_memory(c, 2'000'000, DType::F16, false, 100 << 20, 16 * gib);
    ASSERT_FALSE(s);
    EXPECT_NE(s.message().find("a context of 2000000 tokens needs a 42.9 GiB F16 KV cache"), std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find("16.0 GiB of memory is available"), std::string::npos) << s.message();
    // The context it offers fits, and one 256-token step more does not: (16 GiB - 100 MiB) * 0.9 / 23040 B/token.
    const size_t at = s.message().find("at most ");
    ASSERT_NE(at, std::string::npos);
    const int64_t offered = std::stoll(s.message().substr(at + 8));
    EXPECT_GT(offered, 600'000);
    EXPECT_TRUE(check_kv_memory(c, offered, DType::F16, false, 100 << 20, 16 * gib));
    EXPECT_FALSE(check_kv_memory(c, offered + 256, DType::F16, false, 100 << 20, 16 * gib));
    EXPECT_NE(s.message().find("with a q8_0 cache"), std::string::npos);
    // Unknown memory (0) never refuses; a small context always fits.
    EXPECT_TRUE(check_kv_memory(c, 2'000'000, DType::F16, false, 0, 0));
    EXPECT_TRUE(check_kv_memory(c, 4096, DType::F16, true, 100 << 20, gib));
    // Weights larger than the memory: nothing fits, said as much.
    Status none = check_kv_memory(c, 4096, DType::Q8_0, false, 2 * gib, gib);
    ASSERT_FALSE(none);
    EXPECT_NE(none.message().find("at most 0 tokens"), std::string::npos) << none.message();
}

TEST(AvailableMemory, ParsesMeminfoAndCgroupLimits) {
    const std::string meminfo = "MemTotal:       24000000 kB\nMemFree:        1000 kB\nMemAvailable:   2000000 kB\n";
    EXPECT_EQ(available_memory_from(meminfo, "", ""), 2'048'000'000);
    EXPECT_EQ(available_memory_from(meminfo, "max\n", "123\n"), 2'048'000'000);       // cgroup v2, no limit
    EXPECT_EQ(available_memory_from(meminfo, "1000000000\n", "400000000\n"), 600'000'000);  // the cgroup is tighter
    EXPECT_EQ(available_memory_from(meminfo, "9223372036854771712\n", "5\n"), 2'048'000'000);  // v1 "no limit"
    EXPECT_EQ(available_memory_from(meminfo, "100\n", "200\n"), 0);                    // over its limit already
    EXPECT_EQ(available_memory_from("", "", ""), 0);                                  // unknown
    EXPECT_EQ(available_memory_from("", "1000\n", "10\n"), 990);
    EXPECT_EQ(available_memory_from("MemAvailable: garbage", "", ""), 0);
    EXPECT_GT(available_memory_bytes(), 0);  // this machine has /proc/meminfo
}

TEST(SessionOptionsCheck, NamesTheField) {
    auto expect_error = [](SessionOptions o, const std::string& needle) {
        Status s = validate(o);
        ASSERT_FALSE(s) << needle;
        EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
    };
    EXPECT_TRUE(validate(SessionOptions{}));
    SessionOptions o;
    o.n_ctx = -1;
    expect_error(o, "n_ctx must be >= 0");
    o = {};
    o.n_threads = kMaxThreads + 1;
    expect_error(o, "n_threads must be in [0, 512]");
    o = {};
    o.n_batch = 0;
    expect_error(o, "n_batch must be positive");
    o = {};
    o.kv_type = DType::Q4_0;
    expect_error(o, "unsupported KV cache type");
    for (const char* bad : {"gpu", "vulkan:", "vulkan:x", "vulkan:-1", "vulkan:99999999999", "CPU"}) {
        o = {};
        o.device = bad;
        expect_error(o, "unknown device");
    }
    for (const char* good : {"cpu", "vulkan", "vulkan:0", "vulkan:12"}) {
        o = {};
        o.device = good;
        EXPECT_TRUE(validate(o)) << good;
    }
}

TEST(SessionOptionsCheck, CreateRefusesAContextThatCannotFit) {
    auto model = Model::load(test::models_dir() + "/mistral-gqa/mistral-gqa.Q8_0.gguf");
    ASSERT_TRUE(model) << model.error_message();
    SessionOptions o;
    o.n_ctx = 2'000'000'000;  // ~1 TB of F16 cache even for this tiny model
    auto s = Session::create(*model, o);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error_message().find("fits"), std::string::npos) << s.error_message();
    o.n_ctx = -3;
    EXPECT_FALSE(Session::create(*model, o));
}

}  // namespace
}  // namespace llm
