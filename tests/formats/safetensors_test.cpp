// safetensors reader: the fixture twins, sharded folders, and a suite of hand-made broken files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "formats/safetensors.hpp"
#include "test_util.hpp"

using namespace fmt_test;
using llm::DType;
using llm::SafetensorsModel;

namespace fmt_test {

Bytes make_safetensors_raw(const std::string& header, uint64_t data_size) {
    Bytes b;
    put<uint64_t>(b, header.size());
    b.resize(8 + header.size() + data_size);
    if (!header.empty()) std::memcpy(b.data() + 8, header.data(), header.size());
    for (uint64_t i = 0; i < data_size; ++i) b[8 + header.size() + i] = (uint8_t)i;
    return b;
}

Bytes make_safetensors(const std::vector<StEntry>& entries, uint64_t data_size, const std::string& metadata_json) {
    std::string h = "{";
    if (!metadata_json.empty()) h += "\"__metadata__\":" + metadata_json;
    for (const StEntry& e : entries) {
        if (h.size() > 1) h += ",";
        h += "\"" + e.name + "\":{\"dtype\":\"" + e.dtype + "\",\"shape\":[";
        for (size_t i = 0; i < e.shape.size(); ++i) {
            if (i) h += ',';
            h += std::to_string(e.shape[i]);
        }
        h += "],\"data_offsets\":[" + std::to_string(e.begin) + "," + std::to_string(e.end) + "]}";
    }
    h += "}";
    while (h.size() % 8) h += ' ';  // writers pad the header with spaces to 8 bytes
    return make_safetensors_raw(h, data_size);
}

// Valid base: a [2,3] F32 (24 bytes) then a [4] BF16 (8 bytes).
static std::vector<StEntry> base_entries() {
    return {{"a", "F32", {2, 3}, 0, 24}, {"b", "BF16", {4}, 24, 32}};
}

std::vector<CorruptCase> safetensors_corrupt_cases() {
    std::vector<CorruptCase> c;
    auto with = [&](const std::string& name, const std::string& expect, auto mutate, uint64_t data = 32) {
        auto e = base_entries();
        mutate(e);
        c.push_back({name, make_safetensors(e, data), expect});
    };
    c.push_back({"empty", {}, "file too small"});
    c.push_back({"short_length", {1, 2, 3}, "file too small"});
    {
        Bytes b;
        put<uint64_t>(b, 1000);
        b.insert(b.end(), 50, ' ');
        c.push_back({"header_past_eof", b, "header length 1000 runs past the end"});
    }
    {
        Bytes b;
        put<uint64_t>(b, 200'000'000);
        b.insert(b.end(), 50, ' ');
        c.push_back({"header_over_limit", b, "exceeds the 100000000 byte limit"});
    }
    {
        Bytes b;
        put<uint64_t>(b, ~0ull);
        c.push_back({"header_length_max", b, "exceeds the 100000000 byte limit"});
    }
    c.push_back({"invalid_json", make_safetensors_raw("{\"a\": {\"dtype\": ", 0), "invalid JSON"});
    c.push_back({"trailing_garbage", make_safetensors_raw("{} x", 0), "invalid JSON"});
    c.push_back({"invalid_utf8", make_safetensors_raw("{\"\xff\xfe\":{}}", 0), "invalid JSON"});
    c.push_back({"overlong_utf8", make_safetensors_raw("{\"\xc0\xaf\":{}}", 0), "invalid JSON"});
    c.push_back({"lone_surrogate", make_safetensors_raw("{\"\\udc00\":{}}", 0), "invalid JSON"});
    c.push_back({"not_object", make_safetensors_raw("[1,2]   ", 0), "header is not a JSON object"});
    c.push_back({"duplicate_tensor_key",
                 make_safetensors_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
                 "duplicate key 'a'"});
    c.push_back({"duplicate_inner_key",
                 make_safetensors_raw("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                 "duplicate key 'dtype'"});
    c.push_back({"deep_nesting", make_safetensors_raw(std::string(5000, '[') + std::string(5000, ']'), 0),
                 "nested too deeply"});
    c.push_back({"metadata_not_string", make_safetensors(base_entries(), 32, "{\"format\":1}"),
                 "'__metadata__' value 'format' is not a string"});
    c.push_back({"metadata_not_object", make_safetensors(base_entries(), 32, "[]"), "'__metadata__' is not a JSON object"});
    with("dtype_i64", "tensor 'b': unsupported dtype I64", [](auto& e) { e[1].dtype = "I64"; e[1].shape = {1}; });
    with("dtype_f8", "tensor 'b': unsupported dtype F8_E4M3", [](auto& e) { e[1].dtype = "F8_E4M3"; e[1].shape = {8}; });
    with("dtype_unknown", "tensor 'a': unknown dtype 'Q4'", [](auto& e) { e[0].dtype = "Q4"; });
    with("shape_mismatch", "tensor 'a': shape [2,4] needs 32 bytes but data_offsets [0, 24] span 24",
         [](auto& e) { e[0].shape = {2, 4}; });
    with("shape_5_dims", "tensor 'a': 5 dims", [](auto& e) { e[0].shape = {1, 1, 2, 1, 3}; });
    with("shape_overflow", "tensor 'a': shape", [](auto& e) { e[0].shape = {1ull << 40, 1ull << 40}; });
    with("gap", "gap of 8 bytes before tensor 'b'", [](auto& e) { e[1].begin = 32; e[1].end = 40; }, 40);
    with("overlap", "tensor 'b' [16, 24] overlaps tensor 'a'", [](auto& e) { e[1].begin = 16; e[1].end = 24; });
    with("not_ending_at_eof", "trailing bytes after the last tensor", [](auto&) {}, 40);
    with("past_eof", "tensor 'b': data_offsets [24, 32] run past the end", [](auto&) {}, 30);
    with("reversed_offsets", "data_offsets [24, 16] are reversed", [](auto& e) { e[1].begin = 24; e[1].end = 16; });
    with("first_not_at_zero", "gap of 8 bytes before tensor 'a'", [](auto& e) { e[0].begin = 8; e[0].end = 32; e[1].begin = 32; e[1].end = 40; }, 40);
    c.push_back({"negative_shape",
                 make_safetensors_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4),
                 "shape[0] is not a non-negative integer"});
    c.push_back({"float_offsets",
                 make_safetensors_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]}}", 4),
                 "'data_offsets' must be two non-negative integers"});
    c.push_back({"missing_dtype", make_safetensors_raw("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                 "missing or non-string 'dtype'"});
    c.push_back({"entry_not_object", make_safetensors_raw("{\"a\":5}", 0), "entry is not a JSON object"});
    return c;
}

}  // namespace fmt_test

namespace {

TEST(Safetensors, OpensFixtureTwins) {
    nlohmann::json m = nlohmann::json::parse(std::ifstream(fixtures_dir() + "/manifest.json"));
    for (auto& [model, info] : m["models"].items()) {
        const auto& hp = info["hparams"];
        const int64_t d = hp["n_embd"], n_vocab = info["n_vocab"];
        for (auto& [fname, entry] : info["hf"].items()) {
            if (fname.find(".safetensors") == std::string::npos || entry["file"].is_null()) continue;
            const std::string path = fixtures_dir() + "/" + entry["file"].get<std::string>();
            auto s = SafetensorsModel::open(path);
            ASSERT_TRUE(s) << s.error_message();
            const DType want = fname == "model.f32.safetensors" ? DType::F32 : DType::BF16;
            const bool tied = hp["tied"];
            const int n_layer = hp["n_layer"];
            const size_t per_layer = hp["arch"] == "phi3" ? 6 : 9;
            EXPECT_EQ(s->names().size(), 2 + (tied ? 0 : 1) + per_layer * n_layer) << path;
            EXPECT_EQ(s->size(), s->names().size());
            EXPECT_TRUE(std::is_sorted(s->names().begin(), s->names().end()));
            for (const std::string& n : s->names()) {
                llm::TensorView v = s->tensor(n);
                ASSERT_TRUE(v.valid()) << n;
                EXPECT_EQ(v.type, want) << n;
                EXPECT_EQ(v.nbytes, (size_t)v.n_elements() * (want == DType::F32 ? 4 : 2)) << n;
            }
            llm::TensorView e = s->tensor("model.embed_tokens.weight");
            ASSERT_TRUE(e.valid());
            EXPECT_EQ(e.n_dims, 2);
            EXPECT_EQ(e.ne[0], d);  // reversed from the JSON shape [n_vocab, d]
            EXPECT_EQ(e.ne[1], n_vocab);
            EXPECT_EQ(s->contains("lm_head.weight"), !tied);
            llm::TensorView nrm = s->tensor("model.norm.weight");
            EXPECT_EQ(nrm.n_dims, 1);
            EXPECT_EQ(nrm.ne[0], d);
            EXPECT_EQ(nrm.ne[1], 1);
        }
        // The folder form picks model.safetensors.
        auto dir = SafetensorsModel::open(fixtures_dir() + "/" + model + "/hf");
        ASSERT_TRUE(dir) << dir.error_message();
        EXPECT_EQ(dir->tensor("model.norm.weight").type, DType::BF16);
        EXPECT_EQ(dir->metadata().count("format"), 1u);
    }
}

TEST(Safetensors, MissingFileAndFolder) {
    auto a = SafetensorsModel::open("/nonexistent/x.safetensors");
    ASSERT_FALSE(a);
    EXPECT_NE(a.error_message().find("/nonexistent/x.safetensors"), std::string::npos);
    TempDir dir("empty");
    auto b = SafetensorsModel::open(dir.path());
    ASSERT_FALSE(b);
    EXPECT_NE(b.error_message().find("no model.safetensors"), std::string::npos);
}

TEST(Safetensors, EmptyTensorsAndScalars) {
    Bytes b = make_safetensors({{"z", "F16", {0, 4}, 0, 0}, {"s", "F32", {}, 0, 4}, {"z2", "BF16", {3, 0}, 4, 4}}, 4);
    auto s = SafetensorsModel::parse(b.data(), b.size(), "mem");
    ASSERT_TRUE(s) << s.error_message();
    EXPECT_EQ(s->tensor("z").n_elements(), 0);
    EXPECT_EQ(s->tensor("z").ne[0], 4);
    EXPECT_EQ(s->tensor("s").n_dims, 0);
    EXPECT_EQ(s->tensor("s").n_elements(), 1);
    Bytes empty = make_safetensors({}, 0);
    EXPECT_TRUE(SafetensorsModel::parse(empty.data(), empty.size(), "mem"));
}

// U32 / I32 (packed quantized weights, GPTQ indices) are integer tensors: int_tensor(), not names() / tensor().
TEST(Safetensors, IntegerTensorsAreKeptApart) {
    Bytes b = make_safetensors({{"w", "U32", {2, 3}, 0, 24}, {"g", "I32", {2}, 24, 32}, {"s", "F16", {2}, 32, 36}}, 36);
    auto s = SafetensorsModel::parse(b.data(), b.size(), "mem");
    ASSERT_TRUE(s) << s.error_message();
    EXPECT_EQ(s->names(), (std::vector<std::string>{"s"}));
    EXPECT_FALSE(s->tensor("w").valid());
    EXPECT_TRUE(s->contains("w"));
    const llm::IntTensor* w = s->int_tensor("w");
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->kind, llm::IntKind::U32);
    EXPECT_EQ(w->ne[0], 3);
    EXPECT_EQ(w->ne[1], 2);
    EXPECT_EQ(w->at(1), 0x07060504u);  // payload byte i is i, little-endian
    ASSERT_NE(s->int_tensor("g"), nullptr);
    EXPECT_EQ(s->int_tensor("g")->kind, llm::IntKind::I32);
    EXPECT_EQ(s->int_tensor("s"), nullptr);
    Bytes bad = make_safetensors({{"w", "U32", {2, 3}, 0, 20}}, 20);  // 6 U32 need 24 bytes
    auto t = SafetensorsModel::parse(bad.data(), bad.size(), "mem");
    ASSERT_FALSE(t);
    EXPECT_NE(t.error_message().find("needs 24 bytes"), std::string::npos) << t.error_message();
}

TEST(Safetensors, EveryCorruptCaseFailsWithItsMessage) {
    TempDir dir("st_corrupt");
    auto cases = safetensors_corrupt_cases();
    EXPECT_GE(cases.size(), 30u);
    for (const CorruptCase& c : cases) {
        const std::string path = dir.file(c.name + ".safetensors");
        write_file(path, c.bytes);
        auto s = SafetensorsModel::open(path);
        ASSERT_FALSE(s) << c.name << " parsed but should fail";
        EXPECT_NE(s.error_message().find(c.expect), std::string::npos)
            << c.name << ": message '" << s.error_message() << "' lacks '" << c.expect << "'";
        EXPECT_EQ(s.error_message().rfind(path, 0), 0u) << c.name << ": message does not name the file";
        EXPECT_EQ(s.error_message().find('\n'), std::string::npos) << c.name;
    }
}

// Two shards plus index: the valid folder loads; each broken index gives its message.
class ShardedFolder {
public:
    ShardedFolder() : dir_("sharded") {
        write_file(dir_.file("model-00001-of-00002.safetensors"), make_safetensors({{"x", "F32", {2}, 0, 8}}, 8));
        write_file(dir_.file("model-00002-of-00002.safetensors"),
                   make_safetensors({{"y", "F16", {3, 2}, 0, 12}, {"z", "BF16", {1}, 12, 14}}, 14));
    }
    void index(const std::string& json) { write_file(dir_.file("model.safetensors.index.json"), json); }
    std::string path() const { return dir_.path(); }

private:
    TempDir dir_;
};

const char* kGoodIndex =
    R"({"metadata":{"total_size":34},"weight_map":{"x":"model-00001-of-00002.safetensors",)"
    R"("y":"model-00002-of-00002.safetensors","z":"model-00002-of-00002.safetensors"}})";

TEST(Safetensors, ShardedFolderLoads) {
    ShardedFolder f;
    f.index(kGoodIndex);
    auto s = SafetensorsModel::open(f.path());
    ASSERT_TRUE(s) << s.error_message();
    EXPECT_EQ(s->names(), (std::vector<std::string>{"x", "y", "z"}));
    EXPECT_EQ(s->files().size(), 2u);
    EXPECT_EQ(s->tensor("y").ne[0], 2);
    EXPECT_EQ(s->tensor("y").ne[1], 3);
    EXPECT_EQ(s->tensor("z").type, DType::BF16);
    EXPECT_EQ(((const uint8_t*)s->tensor("z").data)[0], 12);  // payload byte i is i
    auto s2 = SafetensorsModel::open(f.path() + "/model.safetensors.index.json");
    ASSERT_TRUE(s2) << s2.error_message();
    EXPECT_EQ(s2->names().size(), 3u);
}

TEST(Safetensors, ShardedFolderErrors) {
    const std::pair<std::string, std::string> cases[] = {
        {R"({"weight_map":{"x":"model-00001-of-00002.safetensors","y":"model-00001-of-00002.safetensors",)"
         R"("z":"model-00002-of-00002.safetensors"}})",
         "weight_map maps tensor 'y' to shard 'model-00001-of-00002.safetensors' but that shard does not contain it"},
        {R"({"weight_map":{"x":"model-00001-of-00002.safetensors","q":"model-00002-of-00002.safetensors",)"
         R"("y":"model-00002-of-00002.safetensors","z":"model-00002-of-00002.safetensors"}})",
         "maps tensor 'q'"},
        {R"({"weight_map":{"x":"model-00001-of-00002.safetensors","y":"model-00002-of-00002.safetensors"}})",
         "tensor 'z' is not mapped to this shard"},
        {R"({"weight_map":{"x":"../model-00001-of-00002.safetensors"}})", "unsafe shard file name"},
        {R"({"weight_map":{"x":"/etc/passwd"}})", "unsafe shard file name"},
        {R"({"weight_map":{"x":".."}})", "unsafe shard file name"},
        {R"({"weight_map":{"x":"model-00009-of-00009.safetensors"}})", "cannot open"},
        {R"({"weight_map":{"x":5}})", "weight_map entry 'x' is not a string"},
        {R"({"weight_map":{}})", "weight_map is empty"},
        {R"({"metadata":{}})", "missing 'weight_map'"},
        {R"({"weight_map":{"x":"a","x":"b"}})", "duplicate key 'x'"},
        {R"({"weight_map":)", "invalid JSON"},
    };
    for (const auto& [json, expect] : cases) {
        ShardedFolder f;
        f.index(json);
        auto s = SafetensorsModel::open(f.path());
        ASSERT_FALSE(s) << json;
        EXPECT_NE(s.error_message().find(expect), std::string::npos) << s.error_message() << " lacks " << expect;
    }
}

TEST(Safetensors, RandomHeaderFlipsOfFixtures) {
    std::mt19937_64 rng(777);
    int failed = 0;
    for (const char* name : {"llama-mha/hf/model.safetensors", "phi3/hf/model.safetensors"}) {
        Bytes b = read_file(fixtures_dir() + "/" + name);
        ASSERT_GT(b.size(), 8u);
        uint64_t n;
        std::memcpy(&n, b.data(), 8);
        const size_t header = (size_t)n + 8;
        for (int it = 0; it < 400; ++it) {
            std::vector<std::pair<size_t, uint8_t>> saved;
            const int n_flips = 1 + (int)(rng() % 3);
            for (int k = 0; k < n_flips; ++k) {
                size_t pos = (size_t)(rng() % header);
                saved.push_back({pos, b[pos]});
                b[pos] = (uint8_t)(rng() & 0xff);
            }
            auto s = SafetensorsModel::parse(b.data(), b.size(), "flipped.safetensors");
            if (!s) {
                ++failed;
                EXPECT_EQ(s.error_message().rfind("flipped.safetensors: ", 0), 0u) << s.error_message();
            }
            for (auto r = saved.rbegin(); r != saved.rend(); ++r) b[r->first] = r->second;
        }
    }
    EXPECT_GT(failed, 0);
}

}  // namespace
