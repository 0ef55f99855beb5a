// Models by name: `hf:owner/repo[:QUANT | /path/file.gguf][@revision]` resolved to a local path in the Hugging
// Face cache, downloading what is missing (resumable, verified, retried, locked against concurrent pulls).
//
//   auto r = llm::hub::pull(*llm::hub::parse_model_ref("hf:owner/repo:Q4_K_M"), llm::hub::HubEnv::from_environment(),
//                           llm::hub::PullOptions::console());
//   r->path  // .../models--owner--repo/snapshots/<commit>/model-Q4_K_M.gguf
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "hub/hub_cache.hpp"
#include "hub/model_ref.hpp"

namespace llm::hub {

// One file's download, reported while it runs.
struct FileProgress {
    enum class Phase { Start, Progress, Done };
    Phase phase = Phase::Start;
    std::string file;            // path in the repository
    uint64_t done = 0;           // bytes in the blob so far (a resumed prefix included)
    uint64_t total = 0;          // expected size; 0 when the hub did not say
    uint64_t resumed_from = 0;   // bytes that were already on disk when this transfer started
    double bytes_per_s = 0;      // recent transfer rate
    double elapsed_s = 0;
};

struct PullOptions {
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

struct PulledFile {
    std::string file;           // path in the repository
    std::string local_path;     // snapshots/<commit>/<file>
    uint64_t size = 0;
    uint64_t downloaded = 0;    // bytes received over the network for it by this call
    uint64_t resumed_from = 0;  // bytes of an earlier partial download reused
    bool cached = false;        // present before this call
    std::string verified;       // "sha256", "git-sha1", or "" (size only: the hub gave no usable hash)
};

struct PullResult {
    ModelRef ref;
    std::string path;    // what loaders open: the GGUF file (first part when split) or the snapshot folder
    std::string commit;
    std::vector<PulledFile> files;
    bool from_cache_only = false;  // no network used (offline, or the hub unreachable and the cache complete)
};

// Resolves `ref` against the hub (one API call for the commit and file list), downloads the missing files and
// returns the local path. Offline (env.offline) or with the hub unreachable, answers from the cache alone.
Expected<PullResult> pull(const ModelRef& ref, const HubEnv& env, const PullOptions& opts);
// From the cache only (no network): the snapshot of ref's revision must hold every file the reference needs.
Expected<PullResult> find_cached(const ModelRef& ref, const HubCache& cache, const std::string& why_offline);

// For loaders: a path is returned unchanged; an "hf:" reference is pulled with console progress on stderr.
Expected<std::string> resolve_model_path(const std::string& path_or_ref);

}  // namespace llm::hub
