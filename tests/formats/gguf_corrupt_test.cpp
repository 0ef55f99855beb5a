// Hand-made broken GGUF files: every class of header damage must give an error naming the problem,
// never a crash or a hang. Also: every truncation of a valid file, and seeded byte flips of fixture headers.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <random>

#include "formats/gguf.hpp"
#include "test_util.hpp"

using namespace fmt_test;
using llm::GgufFile;

namespace {

// Encoded (type, value) pairs.
Bytes v_u32(uint32_t x) { Bytes b; put<uint32_t>(b, 4); put(b, x); return b; }
Bytes v_u64(uint64_t x) { Bytes b; put<uint32_t>(b, 10); put(b, x); return b; }
Bytes v_str(const std::string& s) { Bytes b; put<uint32_t>(b, 8); put_str(b, s); return b; }

struct TSpec {
    std::string name;
    uint32_t n_dims;
    std::vector<uint64_t> ne;
    uint32_t type;
    uint64_t offset;
};

// A small valid GGUF, with knobs to break each field.
struct Spec {
    uint32_t magic = 0x46554747;  // "GGUF"
    uint32_t version = 3;
    std::optional<uint64_t> n_tensors, n_kv;
    std::vector<std::pair<std::string, Bytes>> kv = {
        {"general.architecture", v_str("llama")},
        {"llama.block_count", v_u32(2)},
    };
    std::vector<TSpec> tensors = {
        {"a.weight", 2, {8, 2}, 0 /*F32*/, 0},    // 64 bytes
        {"b.weight", 1, {32}, 8 /*Q8_0*/, 64},    // 34 bytes
    };
    uint32_t align = 32;
    uint64_t data_size = 128;
};

Bytes build(const Spec& s) {
    Bytes b;
    put(b, s.magic);
    put(b, s.version);
    put<uint64_t>(b, s.n_tensors.value_or(s.tensors.size()));
    put<uint64_t>(b, s.n_kv.value_or(s.kv.size()));
    for (const auto& [k, v] : s.kv) {
        put_str(b, k);
        put_bytes(b, v);
    }
    for (const TSpec& t : s.tensors) {
        put_str(b, t.name);
        put(b, t.n_dims);
        for (uint64_t n : t.ne) put(b, n);
        put(b, t.type);
        put(b, t.offset);
    }
    b.resize((b.size() + s.align - 1) / s.align * s.align, 0);
    b.resize(b.size() + s.data_size, 0x11);
    return b;
}

template <typename F>
CorruptCase mk(const std::string& name, const std::string& expect, F&& mutate) {
    Spec s;
    mutate(s);
    return {name, build(s), expect};
}

}  // namespace

namespace fmt_test {

std::vector<CorruptCase> gguf_corrupt_cases() {
    std::vector<CorruptCase> c;
    c.push_back({"empty", {}, "truncated file: magic"});
    c.push_back(mk("bad_magic", "bad magic", [](Spec& s) { s.magic = 0x46554748; }));
    c.push_back(mk("version1", "unsupported GGUF version 1", [](Spec& s) { s.version = 1; }));
    c.push_back(mk("version4", "unsupported GGUF version 4", [](Spec& s) { s.version = 4; }));
    c.push_back(mk("big_endian", "big-endian", [](Spec& s) { s.version = 0x03000000; }));
    c.push_back(mk("huge_n_tensors", "tensor count", [](Spec& s) { s.n_tensors = 1ull << 62; }));
    c.push_back(mk("huge_n_kv", "metadata kv count", [](Spec& s) { s.n_kv = ~0ull; }));
    c.push_back(mk("n_kv_past_end", "metadata kv count", [](Spec& s) { s.n_kv = 40; }));
    c.push_back(mk("n_tensors_past_end", "tensor count", [](Spec& s) { s.n_tensors = 12; }));
    {  // key length far beyond the file
        Spec s;
        Bytes b = build(s);
        uint64_t huge = 1ull << 61;
        std::memcpy(b.data() + 24, &huge, 8);
        c.push_back({"huge_key_length", b, "metadata key #0: length exceeds the file"});
    }
    c.push_back(mk("huge_string_value", "string length exceeds the file", [](Spec& s) {
        Bytes v;
        put<uint32_t>(v, 8);
        put<uint64_t>(v, ~0ull - 3);
        s.kv[0].second = v;
    }));
    c.push_back(mk("huge_array_count", "array length", [](Spec& s) {
        Bytes v;
        put<uint32_t>(v, 9);
        put<uint32_t>(v, 6);  // f32 elements
        put<uint64_t>(v, 1ull << 60);
        s.kv.push_back({"x.arr", v});
    }));
    c.push_back(mk("huge_string_array_count", "array length", [](Spec& s) {
        Bytes v;
        put<uint32_t>(v, 9);
        put<uint32_t>(v, 8);  // string elements: at least 8 bytes each
        put<uint64_t>(v, 100);
        s.kv.push_back({"x.strs", v});
    }));
    c.push_back(mk("nested_array", "nested arrays", [](Spec& s) {
        Bytes v;
        put<uint32_t>(v, 9);
        put<uint32_t>(v, 9);
        put<uint64_t>(v, 1);
        put<uint32_t>(v, 4);
        put<uint64_t>(v, 1);
        put<uint32_t>(v, 5);
        s.kv.push_back({"x.nested", v});
    }));
    c.push_back(mk("invalid_value_type", "invalid value type 13", [](Spec& s) {
        Bytes v;
        put<uint32_t>(v, 13);
        put<uint32_t>(v, 0);
        s.kv.push_back({"x.bad", v});
    }));
    c.push_back(mk("invalid_array_elem_type", "invalid array element type", [](Spec& s) {
        Bytes v;
        put<uint32_t>(v, 9);
        put<uint32_t>(v, 77);
        put<uint64_t>(v, 0);
        s.kv.push_back({"x.bad", v});
    }));
    c.push_back(mk("bool_not_0_1", "bool value 2", [](Spec& s) {
        Bytes v;
        put<uint32_t>(v, 7);
        put<uint8_t>(v, 2);
        s.kv.push_back({"x.flag", v});
    }));
    c.push_back(mk("duplicate_key", "duplicate metadata key 'llama.block_count'",
                   [](Spec& s) { s.kv.push_back({"llama.block_count", v_u32(3)}); }));
    c.push_back(mk("duplicate_tensor", "duplicate tensor name 'a.weight'",
                   [](Spec& s) { s.tensors[1].name = "a.weight"; s.tensors[1].type = 0; s.tensors[1].ne = {8}; }));
    c.push_back(mk("alignment_u64", "general.alignment': type u64", [](Spec& s) {
        s.kv.push_back({"general.alignment", v_u64(32)});
    }));
    c.push_back(mk("alignment_zero", "not a nonzero power of two", [](Spec& s) {
        s.kv.push_back({"general.alignment", v_u32(0)});
    }));
    c.push_back(mk("alignment_not_pow2", "not a nonzero power of two", [](Spec& s) {
        s.kv.push_back({"general.alignment", v_u32(48)});
    }));
    c.push_back(mk("n_dims_5", "n_dims 5", [](Spec& s) {
        s.tensors[0].n_dims = 5;
        s.tensors[0].ne = {8, 2, 1, 1, 1};
    }));
    c.push_back(mk("n_dims_0", "n_dims 0", [](Spec& s) {
        s.tensors[0].n_dims = 0;
        s.tensors[0].ne = {};
    }));
    c.push_back(mk("unknown_type", "unknown tensor type 99", [](Spec& s) { s.tensors[0].type = 99; }));
    c.push_back(mk("unsupported_iq2", "unknown tensor type 16", [](Spec& s) { s.tensors[0].type = 16; }));
    c.push_back(mk("ne0_not_block_multiple", "not a multiple of the Q8_0 block size 32",
                   [](Spec& s) { s.tensors[1].ne = {16}; }));
    c.push_back(mk("negative_dim", "is negative or too large", [](Spec& s) { s.tensors[0].ne[1] = ~0ull; }));
    c.push_back(mk("overflow_elements", "element count", [](Spec& s) {
        s.tensors[0].ne = {1ull << 32, 1ull << 32};
    }));
    c.push_back(mk("overflow_bytes", "byte size overflows", [](Spec& s) {
        s.tensors[0].n_dims = 3;
        s.tensors[0].ne = {1ull << 30, 1ull << 30, 4};  // 2^62 elements fit int64, 2^64 bytes do not
    }));
    c.push_back(mk("misaligned_offset", "not a multiple of the alignment 32", [](Spec& s) { s.tensors[1].offset = 72; }));
    c.push_back(mk("overlap", "overlap", [](Spec& s) { s.tensors[1].offset = 32; }));
    c.push_back(mk("offset_out_of_range", "outside the data section", [](Spec& s) { s.tensors[1].offset = 1 << 20; }));
    c.push_back(mk("data_past_end", "outside the data section", [](Spec& s) { s.data_size = 80; }));
    c.push_back(mk("huge_offset", "outside the data section", [](Spec& s) { s.tensors[1].offset = ~0ull - 31; }));
    c.push_back(mk("huge_tensor_name", "name length exceeds the file", [](Spec& s) {
        s.tensors[0].name = "";
        s.kv.clear();
        s.data_size = 0;
    }));
    // The last case above needs a patched length: the name length field follows the counts directly.
    {
        Bytes& b = c.back().bytes;
        uint64_t huge = 1ull << 40;
        std::memcpy(b.data() + 24, &huge, 8);
    }
    return c;
}

}  // namespace fmt_test

namespace {

TEST(GgufCorrupt, ValidBaseParses) {
    Bytes b = build(Spec{});
    auto f = GgufFile::parse(b.data(), b.size(), "base.gguf");
    ASSERT_TRUE(f) << f.error_message();
    EXPECT_EQ(f->tensors().size(), 2u);
    EXPECT_EQ(f->find_tensor("b.weight")->nbytes, 34u);
}

TEST(GgufCorrupt, EveryCaseFailsWithItsMessage) {
    TempDir dir("gguf_corrupt");
    auto cases = gguf_corrupt_cases();
    EXPECT_GE(cases.size(), 30u);
    for (const CorruptCase& c : cases) {
        const std::string path = dir.file(c.name + ".gguf");
        write_file(path, c.bytes);
        auto f = GgufFile::open(path);
        ASSERT_FALSE(f) << c.name << " parsed but should fail";
        EXPECT_NE(f.error_message().find(c.expect), std::string::npos)
            << c.name << ": message '" << f.error_message() << "' lacks '" << c.expect << "'";
        EXPECT_EQ(f.error_message().rfind(path, 0), 0u) << c.name << ": message does not name the file";
        EXPECT_EQ(f.error_message().find('\n'), std::string::npos) << c.name << ": message is not one line";
    }
}

// Cutting a valid file anywhere before its end must fail: inside the header as a truncation (or a count/length
// that no longer fits), inside the data section as a tensor outside the file.
TEST(GgufCorrupt, EveryTruncationFails) {
    Spec spec;
    Bytes strs, floats;  // arrays too, so every kind of field gets cut
    put<uint32_t>(strs, 9);
    put<uint32_t>(strs, 8);
    put<uint64_t>(strs, 2);
    put_str(strs, "ab");
    put_str(strs, "");
    put<uint32_t>(floats, 9);
    put<uint32_t>(floats, 6);
    put<uint64_t>(floats, 2);
    put<float>(floats, 1.f);
    put<float>(floats, 2.f);
    spec.kv.push_back({"x.tokens", strs});
    spec.kv.push_back({"x.scores", floats});
    Bytes b = build(spec);
    auto full = GgufFile::parse(b.data(), b.size(), "t.gguf");
    ASSERT_TRUE(full);
    for (size_t n = 0; n < b.size() - 128 + 98; ++n) {  // up to the end of the last tensor's bytes
        Bytes cut(b.begin(), b.begin() + (ptrdiff_t)n);
        auto f = GgufFile::parse(cut.data(), cut.size(), "t.gguf");
        ASSERT_FALSE(f) << "prefix of " << n << " bytes parsed";
        const std::string& m = f.error_message();
        const bool named = m.find("truncated") != std::string::npos || m.find("exceeds the file") != std::string::npos ||
                           m.find("too large for the file") != std::string::npos ||
                           m.find("outside the data section") != std::string::npos;
        EXPECT_TRUE(named) << n << ": " << m;
    }
}

// Seeded random byte flips of real headers: errors are fine, crashes and hangs are not.
TEST(GgufCorrupt, RandomHeaderFlipsOfFixtures) {
    const char* files[] = {"llama-mha/llama-mha.Q4_K_M.gguf", "phi3/phi3.Q8_0.gguf", "mistral-gqa/mistral-gqa.IQ4_XS.gguf"};
    std::mt19937_64 rng(12345);
    int failed = 0, total = 0;
    for (const char* name : files) {
        const std::string path = fixtures_dir() + "/" + name;
        auto orig = GgufFile::open(path);
        ASSERT_TRUE(orig) << orig.error_message();
        Bytes b = read_file(path);
        // Flip bytes in the header (metadata + tensor infos lie in the first few KB).
        const size_t header = (size_t)std::min<uint64_t>(b.size(), 16384);
        for (int it = 0; it < 300; ++it) {
            const int n_flips = 1 + (int)(rng() % 4);
            std::vector<std::pair<size_t, uint8_t>> saved;
            for (int k = 0; k < n_flips; ++k) {
                size_t pos = (size_t)(rng() % header);
                saved.push_back({pos, b[pos]});
                b[pos] = (uint8_t)(rng() & 0xff);
            }
            auto f = GgufFile::parse(b.data(), b.size(), "flipped.gguf");
            ++total;
            if (!f) {
                ++failed;
                EXPECT_EQ(f.error_message().rfind("flipped.gguf: ", 0), 0u) << f.error_message();
            }
            for (auto it2 = saved.rbegin(); it2 != saved.rend(); ++it2) b[it2->first] = it2->second;
        }
    }
    EXPECT_GT(failed, 0);
    RecordProperty("flips_rejected", failed);
    (void)total;
}

}  // namespace

// A model path that is a FIFO (or a device) is refused at once: open() must not block waiting for a writer, which
// would hang llm-run, or llm-serve's loader and with it the server's stop.
TEST(GgufCorrupt, AFifoIsRefusedWithoutBlocking) {
    const std::string path = testing::TempDir() + "/model_fifo_" + std::to_string(getpid()) + ".gguf";
    ::unlink(path.c_str());
    ASSERT_EQ(mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);
    auto f = GgufFile::open(path);
    ::unlink(path.c_str());
    ASSERT_FALSE(f);
    EXPECT_NE(f.error_message().find("not a regular file"), std::string::npos) << f.error_message();
}
