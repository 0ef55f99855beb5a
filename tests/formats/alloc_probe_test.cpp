// "No allocation larger than the file": global operator new/new[] are replaced in this test-only translation
// unit to record the largest single allocation made while a parser runs on fixtures and corrupt files.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "formats/gguf.hpp"
#include "formats/safetensors.hpp"
#include "test_util.hpp"

namespace {

std::atomic<bool> g_probe_on{false};
std::atomic<size_t> g_probe_max{0};

void* probe_alloc(size_t n) {
    if (g_probe_on.load(std::memory_order_relaxed)) {
        size_t cur = g_probe_max.load(std::memory_order_relaxed);
        while (n > cur && !g_probe_max.compare_exchange_weak(cur, n)) {
        }
    }
    void* p = std::malloc(n ? n : 1);
    return p;
}

}  // namespace

// Replacements (plain, array, nothrow; deletes to match). Aligned variants keep the library defaults.
void* operator new(size_t n) {
    void* p = probe_alloc(n);
    if (!p) throw std::bad_alloc();
    return p;
}
void* operator new[](size_t n) {
    void* p = probe_alloc(n);
    if (!p) throw std::bad_alloc();
    return p;
}
void* operator new(size_t n, const std::nothrow_t&) noexcept { return probe_alloc(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return probe_alloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

using namespace fmt_test;

// Runs f with the probe on and returns the largest single allocation it made.
template <typename F>
size_t largest_alloc(F&& f) {
    g_probe_max = 0;
    g_probe_on = true;
    f();
    g_probe_on = false;
    return g_probe_max.load();
}

// Slack for fixed-size bookkeeping (small vectors, strings, map nodes) in tiny files.
constexpr size_t kSlack = 4096;

TEST(AllocProbe, ProbeSeesAllocations) {
    size_t m = largest_alloc([] { std::vector<char> v(123456); (void)v; });
    EXPECT_GE(m, 123456u);
}

TEST(AllocProbe, CorruptGgufNeverAllocatesMoreThanTheFile) {
    for (const CorruptCase& c : gguf_corrupt_cases()) {
        size_t m = largest_alloc([&] { (void)llm::GgufFile::parse(c.bytes.data(), c.bytes.size(), c.name); });
        EXPECT_LE(m, c.bytes.size() + kSlack) << c.name;
    }
}

TEST(AllocProbe, CorruptSafetensorsNeverAllocatesMoreThanTheFile) {
    for (const CorruptCase& c : safetensors_corrupt_cases()) {
        size_t m = largest_alloc([&] { (void)llm::SafetensorsModel::parse(c.bytes.data(), c.bytes.size(), c.name); });
        EXPECT_LE(m, c.bytes.size() + kSlack) << c.name;
    }
}

TEST(AllocProbe, FixturesNeverAllocateMoreThanTheFile) {
    const std::string dir = fixtures_dir();
    for (const std::string& p : {dir + "/llama-mha/llama-mha.Q4_K_M.gguf", dir + "/phi3/phi3.BF16.gguf"}) {
        Bytes b = read_file(p);
        size_t m = largest_alloc([&] {
            auto f = llm::GgufFile::parse(b.data(), b.size(), p);
            EXPECT_TRUE(f) << f.error_message();
        });
        EXPECT_LE(m, b.size() + kSlack) << p;
    }
    for (const std::string& p : {dir + "/llama-mha/hf/model.safetensors", dir + "/phi3/hf/model.safetensors"}) {
        Bytes b = read_file(p);
        size_t m = largest_alloc([&] {
            auto s = llm::SafetensorsModel::parse(b.data(), b.size(), p);
            EXPECT_TRUE(s) << s.error_message();
        });
        EXPECT_LE(m, b.size() + kSlack) << p;
    }
}

// Vocab-only files are nearly all string array: GgufValue keeps it as std::vector<std::string> (32 bytes per
// element, at least 8 bytes each in the file), so the in-memory copy may exceed the file by that fixed factor.
// Allocations stay proportional to bytes actually present; they never follow a claimed count alone.
TEST(AllocProbe, VocabFixturesStayWithinTheStringExpansion) {
    const std::string tok = std::string(LLM_FIXTURES_DIR) + "/tokenizer/";
    for (const char* name : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-phi-3.gguf"}) {
        Bytes b = read_file(tok + name);
        size_t m = largest_alloc([&] {
            auto f = llm::GgufFile::parse(b.data(), b.size(), name);
            EXPECT_TRUE(f) << f.error_message();
        });
        EXPECT_LE(m, 4 * b.size() + kSlack) << name;
    }
}

// Counts that just fit the bytes left: the reservation is bounded by the file, never by the claimed count alone.
TEST(AllocProbe, LargestArrayClaimIsBoundedByTheFile) {
    for (uint32_t elem : {0u /*u8*/, 6u /*f32*/, 8u /*string*/, 10u /*u64*/}) {
        Bytes b;
        put<uint32_t>(b, 0x46554747);
        put<uint32_t>(b, 3);
        put<uint64_t>(b, 0);
        put<uint64_t>(b, 1);
        put_str(b, "k");
        put<uint32_t>(b, 9);
        put<uint32_t>(b, elem);
        put<uint64_t>(b, 4096);  // claims 4096 elements, the file holds a few bytes of them
        b.resize(b.size() + 64, 0);
        size_t m = largest_alloc([&] {
            auto f = llm::GgufFile::parse(b.data(), b.size(), "arr.gguf");
            EXPECT_FALSE(f);
        });
        EXPECT_LE(m, b.size() + kSlack) << elem;
    }
}

}  // namespace
