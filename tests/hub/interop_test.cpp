// Interoperability with Python's huggingface_hub (PyPI `huggingface_hub`; skipped when it is not installed):
// it finds our downloads without downloading again, and we find its downloads.
#include "hub_test_util.hpp"

using namespace hub_test;

namespace {

bool have_huggingface_hub() {
    static const bool ok = have_python() &&
                           std::system((python_exe() + " -c 'import huggingface_hub' >/dev/null 2>&1").c_str()) == 0;
    return ok;
}

struct Interop : HubFixture {
    void SetUp() override {
        HubFixture::SetUp();
        if (IsSkipped()) return;
        if (!have_huggingface_hub()) GTEST_SKIP() << "Python's huggingface_hub is missing (pip install huggingface_hub)";
    }

    // Runs Python code against the fake hub and `cache`; returns the JSON it prints last.
    json python(const std::string& code, const std::string& cache, bool offline) {
        const std::string script = dir / "snippet.py";
        write_all(script, "import json, os\nfrom huggingface_hub import hf_hub_download, snapshot_download, "
                          "try_to_load_from_cache\nout = {}\n" + code + "\nprint(json.dumps(out))\n");
        const std::string cmd = "HF_ENDPOINT=" + env.endpoint + " HF_HUB_CACHE=" + cache + " HF_HOME=" + (dir / "hfhome") +
                                " HF_HUB_OFFLINE=" + (offline ? "1" : "0") +
                                " HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_PROGRESS_BARS=1 HF_HUB_DISABLE_XET=1 " +
                                python_exe() + " " + script;
        auto [code_, out] = run(cmd);
        EXPECT_EQ(code_, 0) << out;
        const size_t brace = out.rfind("\n{");
        return json::parse(brace == std::string::npos ? out : out.substr(brace + 1), nullptr, false);
    }
};

}  // namespace

TEST_F(Interop, HuggingfaceHubFindsOurDownloads) {
    auto gguf = pull("hf:test/llama-mha-GGUF:Q4_K_M");
    ASSERT_TRUE(gguf) << gguf.error_message();
    auto folder = pull("hf:test/llama-mha");
    ASSERT_TRUE(folder) << folder.error_message();

    json offline = python(R"(
out["gguf"] = hf_hub_download("test/llama-mha-GGUF", "llama-mha.Q4_K_M.gguf", local_files_only=True)
out["config"] = try_to_load_from_cache("test/llama-mha", "config.json")
out["weights"] = hf_hub_download("test/llama-mha", "model.safetensors", local_files_only=True)
out["folder"] = snapshot_download("test/llama-mha", local_files_only=True)
)", env.cache_dir, true);
    ASSERT_FALSE(offline.is_discarded());
    EXPECT_EQ(offline["gguf"], gguf->path);
    EXPECT_EQ(offline["folder"], folder->path);
    EXPECT_EQ(offline["config"], folder->path + "/config.json");
    EXPECT_EQ(offline["weights"], folder->path + "/model.safetensors");

    // Online, huggingface_hub checks the metadata and finds the blob: no byte of content is sent again.
    hub->reset();
    json online = python(R"(
out["gguf"] = hf_hub_download("test/llama-mha-GGUF", "llama-mha.Q4_K_M.gguf")
out["config"] = hf_hub_download("test/llama-mha", "config.json")
)", env.cache_dir, false);
    EXPECT_EQ(online["gguf"], gguf->path);
    EXPECT_EQ(online["config"], folder->path + "/config.json");
    EXPECT_GT(hub->count("hub", "HEAD", "/resolve/"), 0);  // it did ask the hub
    EXPECT_EQ(hub->storage_bytes(""), 0u);
    EXPECT_EQ(hub->count("hub", "GET", "/resolve/"), 0);
}

TEST_F(Interop, WeFindHuggingfaceHubDownloads) {
    json py = python(R"(
out["gguf"] = hf_hub_download("test/llama-mha-GGUF", "llama-mha.Q8_0.gguf")
out["sharded"] = snapshot_download("test/sharded", allow_patterns=["*.json", "model-*.safetensors"])
out["folder"] = snapshot_download("test/llama-mha", allow_patterns=["*.json", "model.safetensors"])
)", env.cache_dir, false);
    ASSERT_FALSE(py.is_discarded());

    hub->reset();
    env.offline = true;
    for (const char* ref : {"hf:test/llama-mha-GGUF:Q8_0", "hf:test/sharded", "hf:test/llama-mha"}) {
        auto r = pull(ref);
        ASSERT_TRUE(r) << ref << ": " << r.error_message();
        const std::string want = ref == std::string("hf:test/llama-mha-GGUF:Q8_0") ? py["gguf"]
                                 : ref == std::string("hf:test/sharded")         ? py["sharded"]
                                                                                 : py["folder"];
        EXPECT_EQ(r->path, want) << ref;
    }
    EXPECT_TRUE(hub->requests().empty());

    // Online: one API call per model, no HEAD and no content (every file is already in the snapshot).
    env.offline = false;
    for (const char* ref : {"hf:test/llama-mha-GGUF:Q8_0", "hf:test/sharded", "hf:test/llama-mha"}) {
        auto r = pull(ref);
        ASSERT_TRUE(r) << ref << ": " << r.error_message();
        for (const auto& f : r->files) EXPECT_TRUE(f.cached) << ref << " " << f.file;
    }
    EXPECT_EQ(hub->count("hub", "HEAD", ""), 0);
    EXPECT_EQ(hub->storage_bytes(""), 0u);
    EXPECT_EQ(sha256_of_file(py["gguf"].get<std::string>()), sha256_of_file(fixture("llama-mha/llama-mha.Q8_0.gguf")));
}
