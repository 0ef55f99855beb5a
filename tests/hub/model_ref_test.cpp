// Pure parts of the hub: reference parsing, GGUF quant matching, folder file selection, hashes, URLs, progress text.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>

#include "hub/hub.hpp"
#include "hub/http.hpp"
#include "hub/model_ref.hpp"
#include "hub/progress.hpp"
#include "hub/sha.hpp"

using namespace llm::hub;

TEST(ModelRef, ParsesEveryForm) {
    auto a = parse_model_ref("hf:bartowski/SmolLM2-135M-Instruct-GGUF:Q4_K_M");
    ASSERT_TRUE(a) << a.error_message();
    EXPECT_EQ(a->repo, "bartowski/SmolLM2-135M-Instruct-GGUF");
    EXPECT_EQ(a->kind, ModelRef::Kind::Quant);
    EXPECT_EQ(a->quant, "Q4_K_M");
    EXPECT_EQ(a->revision, "main");
    EXPECT_FALSE(a->explicit_revision);

    auto b = parse_model_ref("hf:HuggingFaceTB/SmolLM2-135M-Instruct");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->kind, ModelRef::Kind::Folder);

    auto c = parse_model_ref("hf:owner/repo/sub/dir/model-q8_0.gguf@v1.2");
    ASSERT_TRUE(c) << c.error_message();
    EXPECT_EQ(c->kind, ModelRef::Kind::File);
    EXPECT_EQ(c->file, "sub/dir/model-q8_0.gguf");
    EXPECT_EQ(c->revision, "v1.2");
    EXPECT_TRUE(c->explicit_revision);

    auto d = parse_model_ref("hf:owner/repo:iq4_xs@refs/pr/3");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->quant, "iq4_xs");
    EXPECT_EQ(d->revision, "refs/pr/3");

    for (const char* s : {"hf:o/r", "hf:o/r:Q4_K_M", "hf:o/r/a/b.gguf", "hf:o/r:Q8_0@0123456789abcdef0123456789abcdef01234567"}) {
        auto r = parse_model_ref(s);
        ASSERT_TRUE(r) << s;
        EXPECT_EQ(r->to_string(), s);
    }
    EXPECT_TRUE(is_hub_ref("hf:x/y"));
    EXPECT_FALSE(is_hub_ref("/models/x.gguf"));
}

TEST(ModelRef, ErrorsNameTheReferenceAndTheProblem) {
    struct Case {
        const char* ref;
        const char* expect;
    } cases[] = {
        {"hf:", "is not owner/repo"},
        {"hf:justrepo", "is not owner/repo"},
        {"hf:o/r:", "empty quantization"},
        {"hf:o/r@", "empty revision"},
        {"hf:o/r/model.bin", "not a .gguf file"},
        {"hf:o/r/../x.gguf", "invalid file path"},
        {"hf:o--x/r", "'--' and '..' are not allowed"},
        {"hf:o/r:Q4 K", "invalid character ' ' in quantization"},
        {"hf:o/-r", "may not start or end"},
        {"hf:o/r@a b", "invalid character in revision"},
        {"models/x.gguf", "expected hf:owner/repo"},
    };
    for (const Case& c : cases) {
        auto r = parse_model_ref(c.ref);
        ASSERT_FALSE(r) << c.ref;
        EXPECT_NE(r.error_message().find(c.ref), std::string::npos) << r.error_message();
        EXPECT_NE(r.error_message().find(c.expect), std::string::npos) << c.ref << ": " << r.error_message();
    }
}

TEST(ModelRef, CacheFolderNames) {
    EXPECT_EQ(repo_folder_name("owner/repo-x.y"), "models--owner--repo-x.y");
    EXPECT_EQ(repo_from_folder_name("models--owner--repo-x.y"), "owner/repo-x.y");
    EXPECT_FALSE(repo_from_folder_name("datasets--a--b"));
    EXPECT_FALSE(repo_from_folder_name("models--noowner"));
}

TEST(GgufMatch, TagsAndSplits) {
    auto n = parse_gguf_name("dir/Model-Q4_K_M-00002-of-00003.gguf");
    ASSERT_TRUE(n);
    EXPECT_EQ(n->prefix, "dir/Model-Q4_K_M");
    EXPECT_EQ(n->tag, "Q4_K_M");
    EXPECT_EQ(n->split_index, 2);
    EXPECT_EQ(n->split_count, 3);
    EXPECT_EQ(parse_gguf_name("llama-mha.q8_0.gguf")->tag, "Q8_0");
    EXPECT_FALSE(parse_gguf_name("README.md"));
    EXPECT_FALSE(is_model_gguf("mmproj-model-f16.gguf"));
    EXPECT_TRUE(is_model_gguf("model-f16.gguf"));
    // Found by fuzz_hub: parts count from 1, so "-00000-of-00003" (and an index past the count) is no split.
    for (const char* odd : {"x/Model-IQ4_XS-00000-of-00003.gguf", "x/Model-IQ4_XS-00004-of-00003.gguf"}) {
        auto m = parse_gguf_name(odd);
        ASSERT_TRUE(m) << odd;
        EXPECT_EQ(m->split_index, 1) << odd;
        EXPECT_EQ(m->split_count, 1) << odd;
    }
}

TEST(GgufMatch, QuantLikeLlamaCpp) {
    const std::vector<std::string> files = {
        "README.md", "Model-IQ4_NL.gguf", "Model-Q4_0.gguf", "Model-Q8_0.gguf", "mmproj-Model-Q4_0.gguf",
        "big/Model-Q6_K-00001-of-00002.gguf", "big/Model-Q6_K-00002-of-00002.gguf", "Model-Q4_K_M.gguf"};
    EXPECT_EQ(find_gguf(files, "q4_0"), "Model-Q4_0.gguf");  // case-insensitive, not the mmproj, not IQ4_*
    EXPECT_EQ(find_gguf(files, "IQ4_NL"), "Model-IQ4_NL.gguf");
    EXPECT_EQ(find_gguf(files, "Q6_K"), "big/Model-Q6_K-00001-of-00002.gguf");  // the first part
    EXPECT_EQ(find_gguf(files, ""), "Model-Q4_K_M.gguf");                       // llama.cpp's default
    EXPECT_FALSE(find_gguf(files, "Q5_K_M"));
    EXPECT_FALSE(find_gguf(files, "Q4"));  // "Q4" followed by '_' is not a match
    EXPECT_EQ(gguf_split_parts(files, "big/Model-Q6_K-00001-of-00002.gguf"),
              (std::vector<std::string>{"big/Model-Q6_K-00001-of-00002.gguf", "big/Model-Q6_K-00002-of-00002.gguf"}));
    EXPECT_EQ(gguf_quant_tags(files), (std::vector<std::string>{"IQ4_NL", "Q4_0", "Q4_K_M", "Q6_K", "Q8_0"}));
    // Without Q4_K_M the default is Q8_0, then the first model file.
    EXPECT_EQ(find_gguf({"a-F16.gguf", "a-Q8_0.gguf"}, ""), "a-Q8_0.gguf");
    EXPECT_EQ(find_gguf({"mmproj-F16.gguf", "b-F16.gguf", "a-BF16.gguf"}, ""), "a-BF16.gguf");
    // llama.cpp's substring rule when no file's own tag matches: "Q4_K_M." inside a longer name.
    EXPECT_EQ(find_gguf({"model.Q4_K_M.v2.gguf"}, "Q4_K_M"), "model.Q4_K_M.v2.gguf");
}

TEST(FolderFiles, ShardsFromTheIndexAndNothingElse) {
    const std::vector<std::string> files = {"config.json", "tokenizer.json", "tokenizer.model", "merges.txt",
                                            "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                                            "model-00002-of-00002.safetensors", "consolidated.safetensors",
                                            "original/params.json", "pytorch_model.bin", "README.md"};
    EXPECT_EQ(folder_support_files(files),
              (std::vector<std::string>{"config.json", "merges.txt", "model.safetensors.index.json", "tokenizer.json",
                                        "tokenizer.model"}));
    const std::string index = R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}})";
    auto w = folder_weight_files(files, index, "o/r");
    ASSERT_TRUE(w) << w.error_message();
    EXPECT_EQ(*w, (std::vector<std::string>{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}));
    auto missing = folder_weight_files(files, R"({"weight_map": {"a": "model-00009.safetensors"}})", "o/r");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error_message().find("model-00009.safetensors"), std::string::npos);
    EXPECT_FALSE(folder_weight_files(files, "{not json", "o/r"));
    EXPECT_EQ(*folder_weight_files({"model.safetensors", "model.f32.safetensors"}, std::nullopt, "o/r"),
              std::vector<std::string>{"model.safetensors"});
    EXPECT_FALSE(folder_weight_files({"config.json"}, std::nullopt, "o/r"));
}

TEST(Sha, KnownVectorsBothImplementations) {
    for (bool portable : {false, true}) {
        auto hex = [&](Hasher::Algo a, const std::string& s) {
            Hasher h(a, portable);
            h.update(s.data(), s.size());
            return h.hex_digest();
        };
        EXPECT_EQ(hex(Hasher::Algo::Sha256, ""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        EXPECT_EQ(hex(Hasher::Algo::Sha256, "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        EXPECT_EQ(hex(Hasher::Algo::Sha256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        EXPECT_EQ(hex(Hasher::Algo::Sha1, "abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        EXPECT_EQ(hex(Hasher::Algo::Sha1, ""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }
    EXPECT_EQ(git_blob_sha1_hex("hello\n", 6), "ce013625030ba8dba906f756967f9e9ca394464a");  // git hash-object
}

TEST(Sha, PortableMatchesOpensslOverOddChunks) {
    std::mt19937 rng(7);
    std::string data(300001, '\0');
    for (char& c : data) c = (char)rng();
    Hasher a(Hasher::Algo::Sha256, false), b(Hasher::Algo::Sha256, true);
    Hasher c(Hasher::Algo::Sha1, false), d(Hasher::Algo::Sha1, true);
    for (size_t pos = 0, step = 1; pos < data.size(); pos += step, step = step * 3 % 977 + 1) {
        const size_t n = std::min(step, data.size() - pos);
        a.update(data.data() + pos, n), b.update(data.data() + pos, n);
        c.update(data.data() + pos, n), d.update(data.data() + pos, n);
    }
    EXPECT_EQ(a.hex_digest(), b.hex_digest());
    EXPECT_EQ(c.hex_digest(), d.hex_digest());
    EXPECT_EQ(sha256_hex(data.data(), data.size()), [&] {
        Hasher h(Hasher::Algo::Sha256, true);
        h.update(data.data(), data.size());
        return h.hex_digest();
    }());
}

TEST(Url, OriginJoinEncode) {
    EXPECT_EQ(url_origin("http://127.0.0.1:8080/a/b?x"), "http://127.0.0.1:8080");
    EXPECT_EQ(url_origin("https://HuggingFace.co/x"), "https://huggingface.co:443");
    EXPECT_NE(url_origin("http://127.0.0.1:1/x"), url_origin("http://127.0.0.1:2/x"));
    EXPECT_EQ(url_join("http://h:1/a/b/c", "/z?q=1"), "http://h:1/z?q=1");
    EXPECT_EQ(url_join("http://h:1/a/b/c", "d"), "http://h:1/a/b/d");
    EXPECT_EQ(url_join("http://h:1/a", "https://cdn/x"), "https://cdn/x");
    EXPECT_EQ(url_join("https://h/a", "//cdn/x"), "https://cdn/x");
    EXPECT_EQ(url_encode("refs/pr/1", false), "refs%2Fpr%2F1");
    EXPECT_EQ(url_encode("dir/a b+c.gguf", true), "dir/a%20b%2Bc.gguf");
}

TEST(Progress, BarAndPlainLines) {
    EXPECT_EQ(format_bytes(512), "512 B");
    EXPECT_EQ(format_bytes(1536), "1.5 KiB");
    EXPECT_EQ(format_bytes(3ull << 30), "3.0 GiB");
    EXPECT_EQ(format_duration(75), "1:15");
    EXPECT_EQ(format_duration(3725), "1:02:05");
    FileProgress p;
    p.phase = FileProgress::Phase::Progress;
    p.file = "dir/model-Q4_K_M.gguf";
    p.total = 1000000;
    p.done = 450000;
    p.bytes_per_s = 100000;
    const std::string line = progress_line(p, 100);
    EXPECT_NE(line.find("model-Q4_K_M.gguf"), std::string::npos) << line;
    EXPECT_NE(line.find(" 45%"), std::string::npos) << line;
    EXPECT_NE(line.find("/s"), std::string::npos) << line;
    EXPECT_NE(line.find("left"), std::string::npos) << line;

    FILE* f = std::tmpfile();
    auto cb = console_progress(f, 0);  // not a terminal: plain lines
    p.phase = FileProgress::Phase::Start, p.done = 0;
    cb(p);
    for (uint64_t d = 0; d <= p.total; d += 50000) {
        p.phase = FileProgress::Phase::Progress, p.done = d;
        cb(p);
    }
    p.phase = FileProgress::Phase::Done, p.elapsed_s = 2;
    cb(p);
    std::rewind(f);
    std::string out;
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof buf, f)) out.append(buf, n);
    std::fclose(f);
    EXPECT_EQ(out.find('\r'), std::string::npos) << out;
    EXPECT_NE(out.find("downloading dir/model-Q4_K_M.gguf"), std::string::npos) << out;
    EXPECT_NE(out.find("done dir/model-Q4_K_M.gguf"), std::string::npos) << out;
    const long lines = std::count(out.begin(), out.end(), '\n');
    EXPECT_GE(lines, 10);  // start, 10%..90%, done
    EXPECT_LE(lines, 12);
}

TEST(HubEnvTest, ReadsTheVariablesHuggingfaceHubReads) {
    const char* names[] = {"HF_ENDPOINT", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "HF_TOKEN",
                           "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "XDG_CACHE_HOME"};
    std::vector<std::pair<std::string, std::optional<std::string>>> saved;
    for (const char* n : names) {
        const char* v = std::getenv(n);
        saved.emplace_back(n, v ? std::optional<std::string>(v) : std::nullopt);
        ::unsetenv(n);
    }
    const std::string home = testing::TempDir() + "/hfhome_" + std::to_string(::getpid());
    std::filesystem::create_directories(home);
    {
        std::ofstream(home + "/token") << "hf_from_file\n";
    }
    ::setenv("HF_HOME", home.c_str(), 1);
    ::setenv("HF_ENDPOINT", "http://127.0.0.1:9/", 1);
    ::setenv("HF_HUB_OFFLINE", "True", 1);
    HubEnv e = HubEnv::from_environment();
    EXPECT_EQ(e.cache_dir, home + "/hub");
    EXPECT_EQ(e.endpoint, "http://127.0.0.1:9");
    EXPECT_EQ(e.token, "hf_from_file");
    EXPECT_EQ(e.token_source, home + "/token");
    EXPECT_TRUE(e.offline);
    ::setenv("HF_HUB_CACHE", "/x/hub", 1);
    ::setenv("HF_TOKEN", "hf_env", 1);
    ::setenv("HF_HUB_OFFLINE", "0", 1);
    e = HubEnv::from_environment();
    EXPECT_EQ(e.cache_dir, "/x/hub");
    EXPECT_EQ(e.token, "hf_env");
    EXPECT_FALSE(e.offline);
    ::unsetenv("HF_HOME");
    ::unsetenv("HF_HUB_CACHE");
    ::setenv("XDG_CACHE_HOME", "/xdg", 1);
    EXPECT_EQ(HubEnv::from_environment().cache_dir, "/xdg/huggingface/hub");
    std::filesystem::remove_all(home);
    for (auto& [n, v] : saved) {
        if (v) ::setenv(n.c_str(), v->c_str(), 1);
        else ::unsetenv(n.c_str());
    }
}

TEST(ResolveModelPath, LocalPathsPassThrough) {
    auto p = resolve_model_path("/some/model.gguf");
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, "/some/model.gguf");
    auto bad = resolve_model_path("hf:not-a-repo");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error_message().find("hf:not-a-repo"), std::string::npos);
}
