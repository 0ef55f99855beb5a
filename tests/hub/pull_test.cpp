// Pulls from the fake hub into a temporary cache: the exact huggingface_hub layout, revisions, resume after a
// dropped connection, hash verification, auth, not-found messages, retries and offline mode.
#include <algorithm>

#include "hub/cached_models.hpp"
#include "hub_test_util.hpp"

using namespace hub_test;
using llm::hub::HubCache;

namespace {

bool is_symlink(const std::string& p) {
    std::error_code ec;
    return fs::is_symlink(p, ec);
}

// Everything under blobs/ (names), for "nothing broken stays" checks.
std::vector<std::string> blob_names(const std::string& repo_dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(repo_dir + "/blobs", ec)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

using Pull = HubFixture;

TEST_F(Pull, GgufQuantLandsInTheExactCacheLayout) {
    auto r = pull("hf:test/llama-mha-GGUF:q4_k_m");
    ASSERT_TRUE(r) << r.error_message();
    const std::string repo = repo_dir("test/llama-mha-GGUF");
    EXPECT_EQ(repo, env.cache_dir + "/models--test--llama-mha-GGUF");
    ASSERT_EQ(r->files.size(), 1u);
    const std::string sha = sha256_of_file(fixture("llama-mha/llama-mha.Q4_K_M.gguf"));
    EXPECT_EQ(r->path, repo + "/snapshots/" + r->commit + "/llama-mha.Q4_K_M.gguf");
    ASSERT_TRUE(is_symlink(r->path));
    EXPECT_EQ(fs::read_symlink(r->path).string(), "../../blobs/" + sha);  // relative, as huggingface_hub makes them
    EXPECT_EQ(sha256_of_file(r->path), sha);
    EXPECT_EQ(read_all(repo + "/refs/main"), r->commit);  // no newline
    EXPECT_EQ(blob_names(repo), std::vector<std::string>{sha});  // no .incomplete left
    EXPECT_TRUE(fs::exists(env.cache_dir + "/.locks/models--test--llama-mha-GGUF/" + sha + ".lock"));
    EXPECT_EQ(r->files[0].verified, "sha256");
    EXPECT_EQ(r->files[0].downloaded, fs::file_size(r->path));
    EXPECT_FALSE(r->files[0].cached);

    // Again: nothing is transferred (one API call, no HEAD, no storage GET).
    hub->reset();
    auto again = pull("hf:test/llama-mha-GGUF:Q4_K_M");
    ASSERT_TRUE(again) << again.error_message();
    EXPECT_EQ(again->path, r->path);
    EXPECT_TRUE(again->files[0].cached);
    EXPECT_EQ(hub->count("hub", "HEAD", "/resolve/"), 0);
    EXPECT_EQ(hub->storage_bytes(""), 0u);
}

TEST_F(Pull, DefaultQuantFileReferenceAndSkippedSidecars) {
    auto def = pull("hf:test/llama-mha-GGUF");  // a GGUF-only repository: llama.cpp's default, Q4_K_M
    ASSERT_TRUE(def) << def.error_message();
    EXPECT_EQ(fs::path(def->path).filename(), "llama-mha.Q4_K_M.gguf");
    auto file = pull("hf:test/llama-mha-GGUF/LLAMA-MHA.Q2_K.gguf");  // matched case-insensitively, like --hf-file
    ASSERT_TRUE(file) << file.error_message();
    EXPECT_EQ(fs::path(file->path).filename(), "llama-mha.Q2_K.gguf");
    EXPECT_EQ(sha256_of_file(file->path), sha256_of_file(fixture("llama-mha/llama-mha.Q2_K.gguf")));
    EXPECT_FALSE(fs::exists(fs::path(def->path).parent_path() / "mmproj-llama-mha-F16.gguf"));
}

TEST_F(Pull, SafetensorsFolderGetsConfigTokenizerAndWeightsOnly) {
    auto r = pull("hf:test/llama-mha");
    ASSERT_TRUE(r) << r.error_message();
    const std::string snap = repo_dir("test/llama-mha") + "/snapshots/" + r->commit;
    EXPECT_EQ(r->path, snap);
    EXPECT_EQ(HubCache(env.cache_dir).snapshot_files("test/llama-mha", r->commit),
              (std::vector<std::string>{"config.json", "generation_config.json", "model.safetensors", "tokenizer_vocab.json"}));
    for (const char* f : {"config.json", "model.safetensors", "tokenizer_vocab.json"}) {
        EXPECT_TRUE(is_symlink(snap + "/" + f)) << f;
        EXPECT_EQ(read_all(snap + "/" + f), read_all(fixture(std::string("llama-mha/hf/") + f))) << f;
    }
    // A small (non-LFS) file: its blob is named by the git blob sha1, which is what was verified.
    const std::string config = read_all(fixture("llama-mha/hf/config.json"));
    const std::string git_sha1 = llm::hub::git_blob_sha1_hex(config.data(), config.size());
    EXPECT_EQ(fs::read_symlink(snap + "/config.json").string(), "../../blobs/" + git_sha1);
    auto cfg = std::find_if(r->files.begin(), r->files.end(), [](auto& f) { return f.file == "config.json"; });
    ASSERT_NE(cfg, r->files.end());
    EXPECT_EQ(cfg->verified, "git-sha1");
    EXPECT_EQ(hub->count("storage", "GET", "pytorch"), 0);
}

TEST_F(Pull, ShardedFolderFollowsTheIndexAndSplitGgufGetsEveryPart) {
    auto r = pull("hf:test/sharded");
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_EQ(HubCache(env.cache_dir).snapshot_files("test/sharded", r->commit),
              (std::vector<std::string>{"config.json", "model-00001-of-00002.safetensors",
                                        "model-00002-of-00002.safetensors", "model.safetensors.index.json"}));
    auto s = pull("hf:test/split-GGUF:Q4_K_M");
    ASSERT_TRUE(s) << s.error_message();
    EXPECT_EQ(fs::path(s->path).filename(), "model-Q4_K_M-00001-of-00002.gguf");
    ASSERT_EQ(s->files.size(), 2u);
    EXPECT_EQ(fs::file_size(fs::path(s->path).parent_path() / "model-Q4_K_M-00002-of-00002.gguf"), 150001u);
}

TEST_F(Pull, RevisionsGetTheirOwnSnapshotAndRef) {
    auto main = pull("hf:test/llama-mha-GGUF:Q2_K");
    ASSERT_TRUE(main) << main.error_message();
    auto v1 = pull("hf:test/llama-mha-GGUF:Q4_0@v1");
    ASSERT_TRUE(v1) << v1.error_message();
    EXPECT_NE(v1->commit, main->commit);
    const std::string repo = repo_dir("test/llama-mha-GGUF");
    EXPECT_EQ(read_all(repo + "/refs/v1"), v1->commit);
    EXPECT_EQ(read_all(repo + "/refs/main"), main->commit);
    auto missing = pull("hf:test/llama-mha-GGUF:Q8_0@v1");  // v1 has Q2_K and Q4_0
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error_message().find("no Q8_0 GGUF in test/llama-mha-GGUF@v1; quantizations available: Q2_K, Q4_0"),
              std::string::npos) << missing.error_message();
    // The same file in another revision: one HEAD for its ETag, the blob is shared, no content is sent.
    hub->reset();
    auto same = pull("hf:test/llama-mha-GGUF:Q2_K@v1");
    ASSERT_TRUE(same) << same.error_message();
    EXPECT_NE(same->path, main->path);
    EXPECT_EQ(fs::read_symlink(same->path), fs::read_symlink(main->path));
    EXPECT_EQ(hub->count("hub", "HEAD", "Q2_K"), 1);
    EXPECT_EQ(hub->storage_bytes(""), 0u);
    // Pinned to a commit: no ref is written for it.
    auto pinned = pull("hf:test/llama-mha-GGUF:Q4_0@" + v1->commit);
    ASSERT_TRUE(pinned) << pinned.error_message();
    EXPECT_EQ(pinned->path, v1->path);
    EXPECT_FALSE(fs::exists(repo + "/refs/" + v1->commit));
}

TEST_F(Pull, DroppedConnectionResumesWhereItStopped) {
    const uint64_t size = fs::file_size(fixture("llama-mha/llama-mha.Q8_0.gguf"));
    hub->faults(json::array({{{"server", "storage"}, {"action", "drop"}, {"after", 700000}, {"times", 1}}}));
    auto r = pull("hf:test/llama-mha-GGUF:Q8_0");
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_EQ(sha256_of_file(r->path), sha256_of_file(fixture("llama-mha/llama-mha.Q8_0.gguf")));
    // Exactly the file's bytes crossed the wire: the second GET asked for the rest only.
    EXPECT_EQ(hub->storage_bytes("/blobs/"), size);
    std::vector<std::string> ranges;
    for (const auto& q : hub->requests())
        if (q["server"] == "storage" && q["method"] == "GET") ranges.push_back(q["range"]);
    EXPECT_EQ(ranges, (std::vector<std::string>{"", "bytes=700000-"}));
    EXPECT_NE(all_notes().find("retrying"), std::string::npos) << all_notes();
}

TEST_F(Pull, PartialFileFromAnEarlierRunIsResumed) {
    const uint64_t size = fs::file_size(fixture("llama-mha/llama-mha.Q8_0.gguf"));
    // Cut at 500000 bytes, then every retry dies before its first byte: no progress, so the pull gives up.
    opts.max_retries = 1;
    hub->faults(json::array({{{"server", "storage"}, {"action", "drop"}, {"after", 500000}, {"times", 1}},
                             {{"server", "storage"}, {"action", "drop"}, {"after", 0}}}));
    auto failed = pull("hf:test/llama-mha-GGUF:Q8_0");
    ASSERT_FALSE(failed);
    EXPECT_NE(failed.error_message().find(".incomplete"), std::string::npos) << failed.error_message();
    EXPECT_NE(failed.error_message().find("run again to resume"), std::string::npos) << failed.error_message();
    const std::string sha = sha256_of_file(fixture("llama-mha/llama-mha.Q8_0.gguf"));
    const std::string inc = repo_dir("test/llama-mha-GGUF") + "/blobs/" + sha + ".incomplete";
    ASSERT_EQ(fs::file_size(inc), 500000u);
    EXPECT_TRUE(HubCache(env.cache_dir).snapshot_files("test/llama-mha-GGUF", read_all(repo_dir("test/llama-mha-GGUF") + "/refs/main")).empty());

    hub->reset();
    auto r = pull("hf:test/llama-mha-GGUF:Q8_0");
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_EQ(r->files[0].resumed_from, 500000u);
    EXPECT_EQ(r->files[0].downloaded, size - 500000);
    EXPECT_EQ(hub->storage_bytes("/blobs/"), size - 500000);
    EXPECT_FALSE(fs::exists(inc));
    EXPECT_EQ(sha256_of_file(r->path), sha);
}

TEST_F(Pull, CorruptDownloadIsRejectedAndNothingBrokenStays) {
    hub->faults(json::array({{{"server", "storage"}, {"action", "corrupt"}}}));
    auto r = pull("hf:test/llama-mha-GGUF:Q4_K_M");
    ASSERT_FALSE(r);
    const std::string sha = sha256_of_file(fixture("llama-mha/llama-mha.Q4_K_M.gguf"));
    const std::string& m = r.error_message();
    EXPECT_NE(m.find("llama-mha.Q4_K_M.gguf"), std::string::npos) << m;
    EXPECT_NE(m.find("sha256 mismatch: expected " + sha + ", got "), std::string::npos) << m;
    const std::string repo = repo_dir("test/llama-mha-GGUF");
    EXPECT_TRUE(blob_names(repo).empty());
    EXPECT_TRUE(HubCache(env.cache_dir).snapshot_files("test/llama-mha-GGUF", read_all(repo + "/refs/main")).empty());
    EXPECT_FALSE(fs::exists(repo + "/snapshots/" + read_all(repo + "/refs/main") + "/llama-mha.Q4_K_M.gguf"));
}

// A size header that is no 64-bit number (30 digits) is not taken: the API's size is (std::stoull threw here).
TEST_F(Pull, ASizeHeaderBeyond64BitsFallsBackToTheApisSize) {
    hub->faults(json::array({{{"server", "hub"}, {"action", "header"}, {"name", "X-Linked-Size"},
                              {"value", std::string(30, '9')}}}));
    auto r = pull("hf:test/llama-mha-GGUF:Q8_0");
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_EQ(sha256_of_file(r->path), sha256_of_file(fixture("llama-mha/llama-mha.Q8_0.gguf")));
}

TEST_F(Pull, BadPrefixFromAnEarlierRunIsDownloadedAgain) {
    const std::string sha = sha256_of_file(fixture("llama-mha/llama-mha.Q4_K_M.gguf"));
    write_all(repo_dir("test/llama-mha-GGUF") + "/blobs/" + sha + ".incomplete", std::string(100000, 'z'));
    auto r = pull("hf:test/llama-mha-GGUF:Q4_K_M");
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_EQ(sha256_of_file(r->path), sha);
    EXPECT_NE(all_notes().find("downloading it again from the start"), std::string::npos) << all_notes();
}

TEST_F(Pull, PrivateRepositoryNeedsTheToken) {
    auto anon = pull("hf:test/private-GGUF:Q2_K");
    ASSERT_FALSE(anon);
    EXPECT_NE(anon.error_message().find("401"), std::string::npos) << anon.error_message();
    EXPECT_NE(anon.error_message().find("set HF_TOKEN or write a token to " + env.token_file), std::string::npos)
        << anon.error_message();
    env.token = "hf_wrong", env.token_source = "HF_TOKEN";
    auto wrong = pull("hf:test/private-GGUF:Q2_K");
    ASSERT_FALSE(wrong);
    EXPECT_NE(wrong.error_message().find("rejected the token from HF_TOKEN"), std::string::npos) << wrong.error_message();
    env.token = FakeHub::kToken;
    auto ok = pull("hf:test/private-GGUF:Q2_K");
    ASSERT_TRUE(ok) << ok.error_message();  // storage answers 400 to a request carrying the token: it was not sent there
    for (const auto& q : hub->requests()) {
        if (q["server"] == "storage") {
            EXPECT_EQ(q["auth"], "") << q.dump();
        }
        if (q["server"] == "hub" && q["status"] == 200) {
            EXPECT_EQ(q["auth"], std::string("Bearer ") + FakeHub::kToken);
        }
    }
}

TEST_F(Pull, NotFoundMessagesSayWhatExists) {
    auto repo = pull("hf:test/nope");
    ASSERT_FALSE(repo);
    EXPECT_NE(repo.error_message().find("repository test/nope not found at " + env.endpoint), std::string::npos)
        << repo.error_message();
    auto quant = pull("hf:test/llama-mha-GGUF:Q5_K_S");
    ASSERT_FALSE(quant);
    EXPECT_NE(quant.error_message().find("no Q5_K_S GGUF in test/llama-mha-GGUF@main; quantizations available: Q2_K, Q4_K_M, Q8_0"),
              std::string::npos)
        << quant.error_message();
    auto rev = pull("hf:test/llama-mha-GGUF:Q2_K@nope");
    ASSERT_FALSE(rev);
    EXPECT_NE(rev.error_message().find("revision 'nope' not found"), std::string::npos) << rev.error_message();
    auto file = pull("hf:test/llama-mha-GGUF/other.gguf");
    ASSERT_FALSE(file);
    EXPECT_NE(file.error_message().find("GGUF files there: llama-mha.Q2_K.gguf"), std::string::npos) << file.error_message();
    auto st = pull("hf:test/split-GGUF:Q8_0");
    ASSERT_FALSE(st);
    EXPECT_NE(st.error_message().find("quantizations available: Q4_K_M"), std::string::npos) << st.error_message();
}

TEST_F(Pull, TooManyRequestsAndServerErrorsAreRetried) {
    hub->faults(json::array({
        {{"server", "hub"}, {"match", "/api/models/"}, {"action", "status"}, {"code", 429}, {"retry_after", 0}, {"times", 2}},
        {{"server", "hub"}, {"method", "HEAD"}, {"action", "status"}, {"code", 502}, {"times", 1}},
        {{"server", "storage"}, {"method", "GET"}, {"action", "status"}, {"code", 500}, {"times", 2}},
    }));
    auto r = pull("hf:test/llama-mha-GGUF:Q2_K");
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_EQ(hub->count("hub", "GET", "/api/models/"), 3);
    EXPECT_EQ(hub->count("hub", "HEAD", "/resolve/"), 2);
    EXPECT_EQ(hub->count("storage", "GET", "/blobs/"), 3);
    EXPECT_EQ(sha256_of_file(r->path), sha256_of_file(fixture("llama-mha/llama-mha.Q2_K.gguf")));
}

TEST_F(Pull, PersistentServerErrorsEndInAClearError) {
    opts.max_retries = 2;
    hub->faults(json::array({{{"server", "storage"}, {"action", "status"}, {"code", 503}}}));
    const auto t0 = std::chrono::steady_clock::now();
    auto r = pull("hf:test/llama-mha-GGUF:Q2_K");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error_message().find("llama-mha.Q2_K.gguf: download failed after 3 attempts: HTTP 503"), std::string::npos)
        << r.error_message();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
    hub->faults(json::array({{{"server", "hub"}, {"method", "HEAD"}, {"action", "status"}, {"code", 500}}}));
    auto h = pull("hf:test/llama-mha-GGUF:Q8_0");
    ASSERT_FALSE(h);
    EXPECT_NE(h.error_message().find("HTTP 500: injected 500 (gave up after 2 retries)"), std::string::npos) << h.error_message();
    EXPECT_EQ(hub->count("hub", "HEAD", "Q8_0"), 3);
}

TEST_F(Pull, OfflineUsesTheCacheAndSaysWhatIsMissing) {
    auto online = pull("hf:test/llama-mha-GGUF:Q4_K_M");
    ASSERT_TRUE(online) << online.error_message();
    auto st = pull("hf:test/llama-mha");
    ASSERT_TRUE(st) << st.error_message();
    env.offline = true;
    env.endpoint = "http://127.0.0.1:9";  // nothing listens there, and nothing may be asked
    auto r = pull("hf:test/llama-mha-GGUF:Q4_K_M");
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_EQ(r->path, online->path);
    EXPECT_TRUE(r->from_cache_only);
    auto folder = pull("hf:test/llama-mha");
    ASSERT_TRUE(folder) << folder.error_message();
    EXPECT_EQ(folder->path, st->path);
    auto missing = pull("hf:test/llama-mha-GGUF:Q8_0");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error_message().find("not in the cache " + env.cache_dir), std::string::npos) << missing.error_message();
    EXPECT_NE(missing.error_message().find("cached quantizations: Q4_K_M"), std::string::npos) << missing.error_message();
    EXPECT_NE(missing.error_message().find("HF_HUB_OFFLINE"), std::string::npos) << missing.error_message();
    auto never = pull("hf:test/other");
    ASSERT_FALSE(never);
    EXPECT_NE(never.error_message().find("llm-pull hf:test/other"), std::string::npos) << never.error_message();

    // Not offline, but the hub is unreachable: the cached copy is used, with a note saying why.
    env.offline = false;
    auto fallback = pull("hf:test/llama-mha-GGUF:Q4_K_M");
    ASSERT_TRUE(fallback) << fallback.error_message();
    EXPECT_NE(all_notes().find("using the cached copy"), std::string::npos) << all_notes();
    auto nothing = pull("hf:test/llama-mha-GGUF:Q8_0");
    ASSERT_FALSE(nothing);
    EXPECT_NE(nothing.error_message().find("cannot connect"), std::string::npos) << nothing.error_message();
}

TEST_F(Pull, NotEnoughFreeSpaceStopsBeforeDownloading) {
    opts.free_space = [](const std::string&) -> uint64_t { return 1000; };
    auto r = pull("hf:test/llama-mha-GGUF:Q8_0");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error_message().find("not enough disk space"), std::string::npos) << r.error_message();
    EXPECT_NE(r.error_message().find("for 1 file: need 1.9 MiB, 1000 B free"), std::string::npos) << r.error_message();
    EXPECT_EQ(hub->storage_bytes(""), 0u);
    EXPECT_TRUE(blob_names(repo_dir("test/llama-mha-GGUF")).empty());
    // A sharded folder is checked as a whole, before the first shard; a partial download counts as done.
    opts.free_space = [](const std::string&) -> uint64_t { return 400000; };
    auto sharded = pull("hf:test/sharded");
    ASSERT_FALSE(sharded);
    EXPECT_NE(sharded.error_message().find("for 2 files: need 488.3 KiB, 390.6 KiB free"), std::string::npos)
        << sharded.error_message();
    EXPECT_EQ(hub->storage_bytes("/blobs/"), 0u);
    const std::string shard1 = read_all(dir / "srv/shard1");
    write_all(repo_dir("test/sharded") + "/blobs/" + llm::hub::sha256_hex(shard1.data(), shard1.size()) + ".incomplete",
              shard1.substr(0, 150000));
    auto resumed = pull("hf:test/sharded");
    ASSERT_TRUE(resumed) << resumed.error_message();
}

TEST_F(Pull, ServerIgnoringRangeRestartsFromZero) {
    opts.max_retries = 3;
    hub->faults(json::array({{{"server", "storage"}, {"action", "drop"}, {"after", 300000}, {"times", 1}},
                             {{"server", "storage"}, {"action", "ignore_range"}, {"times", 1}}}));
    auto r = pull("hf:test/llama-mha-GGUF:Q4_K_M");
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_EQ(sha256_of_file(r->path), sha256_of_file(fixture("llama-mha/llama-mha.Q4_K_M.gguf")));
    EXPECT_NE(all_notes().find("ignored the Range"), std::string::npos) << all_notes();
}
