// Models by name: `hf:owner/repo[:QUANT | /path/file.gguf][@revision]` resolved to a local path in the Hugging
// Face cache (laid out as huggingface_hub does, so either side finds the other's downloads), downloading what is
// missing (resumable, verified, retried, locked against concurrent pulls); the cached models listed and removed.
//
//   auto r = llm::hub::pull(*llm::hub::parse_model_ref("hf:owner/repo:Q4_K_M"), llm::hub::HubEnv::from_environment(),
//                           llm::hub::PullOptions::console());
//   r->path  // .../models--owner--repo/snapshots/<commit>/model-Q4_K_M.gguf
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llm/export.hpp"
#include "llm/status.hpp"

namespace llm::hub {

struct LLM_API ModelRef {
    enum class Kind {
        Folder,  // hf:owner/repo: config, tokenizer files and every safetensors shard (a GGUF-only repo: its default quant)
        Quant,   // hf:owner/repo:Q4_K_M: the GGUF file of that quantization
        File,    // hf:owner/repo/path/file.gguf
    };
    std::string repo;  // "owner/repo"
    Kind kind = Kind::Folder;
    std::string quant;  // Kind::Quant, as written (matched case-insensitively)
    std::string file;   // Kind::File: the path inside the repository
    std::string revision = "main";  // branch, tag or 40-hex commit
    bool explicit_revision = false;

    // The canonical spelling: "hf:owner/repo:Q4_K_M@v1" (no "@main").
    std::string to_string() const;
};

inline bool is_hub_ref(std::string_view s) { return s.substr(0, 3) == "hf:"; }
// Parses "hf:..."; errors name the reference and the part that is wrong.
LLM_API Expected<ModelRef> parse_model_ref(std::string_view s);

// The settings huggingface_hub reads from the environment (same variables, same precedence).
struct LLM_API HubEnv {
    std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT, without a trailing '/'
    std::string cache_dir;     // HF_HUB_CACHE | HUGGINGFACE_HUB_CACHE | $HF_HOME/hub | $XDG_CACHE_HOME/huggingface/hub | ~/.cache/huggingface/hub
    std::string token;         // HF_TOKEN | HUGGING_FACE_HUB_TOKEN | the file HF_TOKEN_PATH or $HF_HOME/token
    std::string token_source;  // where the token came from ("HF_TOKEN", a file path), for messages
    std::string token_file;    // the token file looked at (for "set HF_TOKEN or write <file>" messages)
    bool offline = false;      // HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE set to 1/true/yes/on
    static HubEnv from_environment();
};

class LLM_API HubCache {
public:
    explicit HubCache(const std::string& root);  // made absolute
    const std::string& root() const { return root_; }

    std::string repo_dir(const std::string& repo) const;
    std::string blob_path(const std::string& repo, const std::string& etag) const;
    std::string incomplete_path(const std::string& repo, const std::string& etag) const;
    std::string lock_path(const std::string& repo, const std::string& etag) const;
    std::string snapshot_dir(const std::string& repo, const std::string& commit) const;
    std::string snapshot_path(const std::string& repo, const std::string& commit, const std::string& file) const;

    // The commit refs/<revision> holds, if any.
    std::optional<std::string> read_ref(const std::string& repo, const std::string& revision) const;
    Status write_ref(const std::string& repo, const std::string& revision, const std::string& commit) const;
    // snapshots/<commit>/<file> -> relative symlink to blobs/<etag>, replaced atomically.
    Status link_snapshot(const std::string& repo, const std::string& commit, const std::string& file,
                         const std::string& etag) const;
    // Files of a snapshot whose target exists (relative paths with '/', sorted).
    std::vector<std::string> snapshot_files(const std::string& repo, const std::string& commit) const;
    // Commits with a snapshot folder, and refs as (revision, commit) pairs.
    std::vector<std::string> snapshots(const std::string& repo) const;
    std::vector<std::pair<std::string, std::string>> refs(const std::string& repo) const;
    // Repositories with a models--* folder.
    std::vector<std::string> repos() const;

private:
    std::string root_;
};

// One file's download, reported while it runs.
struct LLM_API FileProgress {
    enum class Phase { Start, Progress, Done };
    Phase phase = Phase::Start;
    std::string file;            // path in the repository
    uint64_t done = 0;           // bytes in the blob so far (a resumed prefix included)
    uint64_t total = 0;          // expected size; 0 when the hub did not say
    uint64_t resumed_from = 0;   // bytes that were already on disk when this transfer started
    double bytes_per_s = 0;      // recent transfer rate
    double elapsed_s = 0;
};

struct LLM_API PullOptions {
    std::function<void(const FileProgress&)> progress;  // null: silent
    std::function<void(const std::string&)> note;       // retries, resumes, waits, cache fallbacks; null: silent
    int max_retries = 5;         // per request, for 429/5xx and dropped connections without progress
    int backoff_ms = 1000;       // first retry delay, doubled each time (Retry-After wins when smaller than the cap)
    int max_backoff_ms = 30000;
    long low_speed_time_s = 30;  // a stalled transfer (under 1 byte/s this long) is retried
    // Free bytes in a folder (statvfs); tests replace it.
    std::function<uint64_t(const std::string& dir)> free_space;

    // Progress bar (terminal) or plain lines (otherwise) and notes on stderr; LLM_HUB_BACKOFF_MS overrides backoff_ms.
    static PullOptions console();
};

struct LLM_API PulledFile {
    std::string file;           // path in the repository
    std::string local_path;     // snapshots/<commit>/<file>
    uint64_t size = 0;
    uint64_t downloaded = 0;    // bytes received over the network for it by this call
    uint64_t resumed_from = 0;  // bytes of an earlier partial download reused
    bool cached = false;        // present before this call
    std::string verified;       // "sha256", "git-sha1", or "" (size only: the hub gave no usable hash)
};

struct LLM_API PullResult {
    ModelRef ref;
    std::string path;    // what loaders open: the GGUF file (first part when split) or the snapshot folder
    std::string commit;
    std::vector<PulledFile> files;
    bool from_cache_only = false;  // no network used (offline, or the hub unreachable and the cache complete)
};

// Resolves `ref` against the hub (one API call for the commit and file list), downloads the missing files and
// returns the local path. Offline (env.offline) or with the hub unreachable, answers from the cache alone.
LLM_API Expected<PullResult> pull(const ModelRef& ref, const HubEnv& env, const PullOptions& opts);
// From the cache only (no network): the snapshot of ref's revision must hold every file the reference needs.
LLM_API Expected<PullResult> find_cached(const ModelRef& ref, const HubCache& cache, const std::string& why_offline);

// For loaders: a path is returned unchanged; an "hf:" reference is pulled with console progress on stderr.
LLM_API Expected<std::string> resolve_model_path(const std::string& path_or_ref);

struct LLM_API CachedModel {
    std::string ref;           // how to name it: "hf:owner/repo:Q4_K_M", "hf:owner/repo", ... ("@rev" unless main)
    std::string repo;
    std::string commit;
    std::vector<std::string> revisions;  // refs/ names pointing at the commit
    std::string local_path;    // the GGUF file or the snapshot folder
    std::vector<std::string> files;  // paths in the repository that belong to the entry
    std::string format;        // "gguf" or "safetensors"
    // Read from GGUF metadata or config.json + safetensors headers; empty/0 when unknown.
    std::string architecture;
    uint64_t n_params = 0;
    std::string weight_type;   // "Q4_K_M", "BF16", ...
    int64_t n_ctx = 0;
    uint64_t size_bytes = 0;   // blobs on disk, each counted once
    int64_t last_used = 0;     // unix seconds: the latest blob access time
    std::string problem;       // why the description is incomplete (unreadable file, ...)
};

// Every entry, sorted by reference; partial downloads are not entries (see partial_downloads).
LLM_API std::vector<CachedModel> list_cached_models(const HubCache& cache);
// "<repo>: <file> <bytes>" for every blobs/*.incomplete (downloads a later pull resumes).
LLM_API std::vector<std::string> partial_downloads(const HubCache& cache);
// Removes the entry `ref` names: its snapshot links, the blobs no other snapshot uses, an emptied snapshot with
// the refs pointing at it, and the repository folder (with partial downloads) once nothing is left.
// Returns the paths removed.
LLM_API Expected<std::vector<std::string>> remove_cached_model(const HubCache& cache, const ModelRef& ref);

LLM_API std::string format_bytes(uint64_t n);     // "1.5 GiB", "512 B"

// Ctrl-C for downloads: transfers in progress stop with an error, pull() returns; checked between requests.
LLM_API void request_cancel();
LLM_API bool cancel_requested();

}  // namespace llm::hub
