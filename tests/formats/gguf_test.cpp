// GGUF reader on the fixture models (names, shapes and types against manifest.json) and writer round trips.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/fp16.hpp"
#include "formats/gguf.hpp"
#include "formats/gguf_writer.hpp"
#include "formats/safetensors.hpp"
#include "test_util.hpp"

using namespace fmt_test;
using llm::DType;
using llm::GgufFile;
using llm::GgufType;
using llm::GgufWriter;

namespace {

nlohmann::json manifest() {
    std::ifstream f(fixtures_dir() + "/manifest.json");
    return nlohmann::json::parse(f);
}

// Expected ggml shape (ne order) of a GGUF tensor from the model's hyper-parameters.
std::vector<int64_t> expected_ne(const std::string& name, const nlohmann::json& hp, int64_t n_vocab) {
    const int64_t d = hp["n_embd"], nh = hp["n_head"], nkv = hp["n_head_kv"], ff = hp["n_ff"];
    const int64_t hd = d / nh;
    auto ends = [&](const char* s) { return name.size() >= strlen(s) && name.compare(name.size() - strlen(s), strlen(s), s) == 0; };
    if (name == "token_embd.weight" || name == "output.weight") return {d, n_vocab};
    if (ends("norm.weight")) return {d};
    if (ends("attn_q.weight")) return {d, nh * hd};
    if (ends("attn_k.weight") || ends("attn_v.weight")) return {d, nkv * hd};
    if (ends("attn_qkv.weight")) return {d, (nh + 2 * nkv) * hd};
    if (ends("attn_output.weight")) return {nh * hd, d};
    if (ends("ffn_gate.weight")) return {d, ff};
    if (ends("ffn_up.weight")) return {d, hp["arch"] == "phi3" ? 2 * ff : ff};
    if (ends("ffn_down.weight")) return {ff, d};
    if (name.rfind("rope_factors_", 0) == 0) return {hd / 2};
    return {};
}

TEST(Gguf, OpensEveryFixtureAndMatchesManifest) {
    nlohmann::json m = manifest();
    int opened = 0;
    for (auto& [model, info] : m["models"].items()) {
        for (auto& g : info["gguf"]) {
            if (g["file"].is_null()) continue;
            const std::string path = fixtures_dir() + "/" + g["file"].get<std::string>();
            auto f = GgufFile::open(path);
            ASSERT_TRUE(f) << f.error_message();
            ++opened;
            EXPECT_EQ(f->version(), 3u);
            auto arch = f->get_string("general.architecture");
            ASSERT_TRUE(arch);
            ASSERT_TRUE(arch->has_value()) << path;
            EXPECT_EQ(**arch, info["arch"].get<std::string>());
            const auto& types = g["tensor_types"];
            EXPECT_EQ(f->tensors().size(), types.size()) << path;
            for (auto& [tname, tty] : types.items()) {
                const llm::GgufTensorInfo* t = f->find_tensor(tname);
                ASSERT_NE(t, nullptr) << path << ": " << tname;
                EXPECT_EQ(llm::dtype_name(t->type), tty.get<std::string>()) << path << ": " << tname;
                std::vector<int64_t> ne = expected_ne(tname, info["hparams"], info["n_vocab"]);
                ASSERT_FALSE(ne.empty()) << tname;
                EXPECT_EQ(t->n_dims, (int)ne.size()) << path << ": " << tname;
                for (size_t d = 0; d < ne.size(); ++d) EXPECT_EQ(t->ne[d], ne[d]) << path << ": " << tname << " dim " << d;
                llm::TensorView v = f->tensor(tname);
                ASSERT_TRUE(v.valid());
                EXPECT_EQ(v.nbytes, (size_t)v.n_rows() * v.row_size());
                EXPECT_EQ((uintptr_t)v.data % f->alignment(), 0u) << "mmap base is page aligned";
            }
        }
    }
    EXPECT_EQ(opened, 33);  // 15 llama-mha + 14 mistral-gqa + 4 phi3 shipped
}

TEST(Gguf, OpensTokenizerFixtures) {
    for (const char* name : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf", "ggml-vocab-gpt-2.gguf"}) {
        auto f = GgufFile::open(std::string(LLM_FIXTURES_DIR) + "/tokenizer/" + name);
        ASSERT_TRUE(f) << f.error_message();
        auto toks = f->get_string_array("tokenizer.ggml.tokens");
        ASSERT_TRUE(toks) << toks.error_message();
        ASSERT_NE(*toks, nullptr);
        EXPECT_GT((*toks)->size(), 1000u);
        EXPECT_TRUE(f->tensors().empty());
    }
}

// The F32 GGUF and the F32 safetensors twin hold bit-identical weights (un-permuted tensors compared).
TEST(Gguf, DataMatchesSafetensorsTwin) {
    auto g = GgufFile::open(fixtures_dir() + "/llama-mha/llama-mha.F32.gguf");
    ASSERT_TRUE(g) << g.error_message();
    auto s = llm::SafetensorsModel::open(fixtures_dir() + "/llama-mha/hf/model.f32.safetensors");
    ASSERT_TRUE(s) << s.error_message();
    const std::pair<const char*, const char*> pairs[] = {
        {"token_embd.weight", "model.embed_tokens.weight"},
        {"output.weight", "lm_head.weight"},
        {"blk.1.ffn_down.weight", "model.layers.1.mlp.down_proj.weight"},
        {"blk.0.attn_v.weight", "model.layers.0.self_attn.v_proj.weight"},
        {"output_norm.weight", "model.norm.weight"},
    };
    for (auto [gn, sn] : pairs) {
        llm::TensorView a = g->tensor(gn), b = s->tensor(sn);
        ASSERT_TRUE(a.valid() && b.valid()) << gn;
        EXPECT_EQ(a.ne, b.ne) << gn;
        ASSERT_EQ(a.nbytes, b.nbytes) << gn;
        EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << gn;
    }
}

TEST(GgufWriter, RoundTripsEveryValueType) {
    GgufWriter w(64);
    w.add_u8("k.u8", 200);
    w.add_i8("k.i8", -100);
    w.add_u16("k.u16", 60000);
    w.add_i16("k.i16", -30000);
    w.add_u32("k.u32", 4000000000u);
    w.add_i32("k.i32", -2000000000);
    w.add_u64("k.u64", 1ull << 63);
    w.add_i64("k.i64", -(1ll << 62));
    w.add_f32("k.f32", 1.5f);
    w.add_f64("k.f64", 0.1);
    w.add_bool("k.bool", true);
    w.add_string("k.str", std::string("h\0i\xff", 4));  // bytes, not necessarily UTF-8
    w.add_int_array("k.ai32", GgufType::I32, {1, -2, 3});
    w.add_int_array("k.abool", GgufType::BOOL, {1, 0});
    w.add_int_array("k.au8", GgufType::U8, {});
    w.add_float_array("k.af32", GgufType::F32, {0.5, -2.0});
    w.add_float_array("k.af64", GgufType::F64, {0.1});
    w.add_string_array("k.astr", {"a", "", "ccc"});
    std::vector<float> a(64 * 3);
    for (size_t i = 0; i < a.size(); ++i) a[i] = (float)i;
    ASSERT_TRUE(w.add_tensor("t.f32", DType::F32, {64, 3}, a.data(), a.size() * 4));
    std::vector<uint8_t> q(34 * 2, 7);
    ASSERT_TRUE(w.add_tensor("t.q8", DType::Q8_0, {64}, q.data(), q.size()));
    ASSERT_TRUE(w.add_tensor("t.empty", DType::F16, {0, 5}, nullptr, 0));
    EXPECT_FALSE(w.add_tensor("t.bad", DType::F32, {4}, a.data(), 15));
    EXPECT_FALSE(w.add_tensor("t.f32", DType::F32, {4}, a.data(), 16));

    TempDir dir("writer");
    const std::string path = dir.file("rt.gguf");
    ASSERT_TRUE(w.write(path));
    EXPECT_EQ(read_file(path), w.serialize());
    auto f = GgufFile::open(path);
    ASSERT_TRUE(f) << f.error_message();
    EXPECT_EQ(f->alignment(), 64u);
    EXPECT_EQ(f->metadata().size(), w.n_kv());
    EXPECT_EQ(**f->get_int("k.u8"), 200);
    EXPECT_EQ(**f->get_int("k.i8"), -100);
    EXPECT_EQ(**f->get_int("k.u16"), 60000);
    EXPECT_EQ(**f->get_int("k.i16"), -30000);
    EXPECT_EQ(**f->get_int("k.u32"), 4000000000ll);
    EXPECT_EQ(**f->get_int("k.i32"), -2000000000);
    EXPECT_FALSE(f->get_int("k.u64"));  // 2^63 does not fit int64
    EXPECT_EQ(f->find("k.u64")->u, 1ull << 63);
    EXPECT_EQ(**f->get_int("k.i64"), -(1ll << 62));
    EXPECT_EQ(**f->get_float("k.f32"), 1.5);
    EXPECT_EQ(**f->get_float("k.f64"), 0.1);
    EXPECT_EQ(**f->get_float("k.u32"), 4e9);
    EXPECT_EQ(**f->get_bool("k.bool"), true);
    EXPECT_FALSE(f->get_bool("k.u8"));
    EXPECT_FALSE(f->get_string("k.u8"));
    EXPECT_FALSE(f->get_int("k.str"));
    EXPECT_EQ(**f->get_string("k.str"), std::string("h\0i\xff", 4));
    EXPECT_FALSE(f->get_string("missing")->has_value());
    EXPECT_EQ(*f->get_int_array("k.ai32").value(), (std::vector<int64_t>{1, -2, 3}));
    EXPECT_EQ(*f->get_int_array("k.abool").value(), (std::vector<int64_t>{1, 0}));
    EXPECT_TRUE(f->get_int_array("k.au8").value()->empty());
    EXPECT_EQ(*f->get_float_array("k.af32").value(), (std::vector<double>{0.5, -2.0}));
    EXPECT_EQ(*f->get_float_array("k.af64").value(), (std::vector<double>{0.1}));
    EXPECT_EQ(*f->get_string_array("k.astr").value(), (std::vector<std::string>{"a", "", "ccc"}));
    EXPECT_FALSE(f->get_string_array("k.ai32"));
    EXPECT_FALSE(f->get_float_array("k.astr"));
    EXPECT_EQ(f->get_int_array("missing").value(), nullptr);

    ASSERT_EQ(f->tensors().size(), 3u);
    llm::TensorView t = f->tensor("t.f32");
    ASSERT_TRUE(t.valid());
    EXPECT_EQ(t.n_dims, 2);
    EXPECT_EQ(t.ne[0], 64);
    EXPECT_EQ(t.ne[1], 3);
    EXPECT_EQ(std::memcmp(t.data, a.data(), a.size() * 4), 0);
    EXPECT_EQ(f->find_tensor("t.q8")->offset % 64, 0u);
    EXPECT_EQ(std::memcmp(f->tensor("t.q8").data, q.data(), 34), 0);
    llm::TensorView e = f->tensor("t.empty");
    EXPECT_TRUE(e.valid());
    EXPECT_EQ(e.nbytes, 0u);
    EXPECT_EQ(e.n_elements(), 0);
    EXPECT_FALSE(f->tensor("nope").valid());

    // Re-emitting the metadata with add_value reproduces the same bytes.
    GgufWriter w2(64);
    for (const auto& [k, v] : f->metadata())
        if (k != "general.alignment") w2.add_value(k, v);
    GgufWriter w3(64);
    Bytes s2 = w2.serialize();
    auto f2 = GgufFile::parse(s2.data(), s2.size(), "w2.gguf");
    ASSERT_TRUE(f2) << f2.error_message();
    EXPECT_EQ(f2->metadata().size(), f->metadata().size());
}

TEST(GgufWriter, Version2FilesParse) {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    float x[32] = {};
    ASSERT_TRUE(w.add_tensor("x", DType::F32, {32}, x, sizeof(x)));
    Bytes b = w.serialize();
    b[4] = 2;  // v2 has the same layout as v3
    auto f = GgufFile::parse(b.data(), b.size(), "v2.gguf");
    ASSERT_TRUE(f) << f.error_message();
    EXPECT_EQ(f->version(), 2u);
    EXPECT_EQ(f->alignment(), 32u);
}

}  // namespace
