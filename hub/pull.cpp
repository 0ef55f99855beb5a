// Resolving a model reference: the hub's API for the commit and file list, the files the reference needs,
// per-file metadata (HEAD .../resolve/<commit>/<path>: ETag, size, storage redirect), locked blob downloads and
// snapshot links. Without the hub (offline, unreachable) the same selection runs over the cached snapshot.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "hub/download.hpp"
#include "hub/hub.hpp"
#include "hub/progress.hpp"

namespace llm::hub {
namespace {


bool is_hex(const std::string& s, size_t n) {
    return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit((unsigned char)c); });
}

std::string lower(std::string s) {
    for (char& c : s) c = (char)std::tolower((unsigned char)c);
    return s;
}

bool is_file(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

uint64_t file_size(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? (uint64_t)st.st_size : 0;
}

// "Last used" for llm-models (huggingface_hub's scan reads blob atimes too): set it even on relatime mounts.
void touch_atime(const std::string& p) {
    const struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    ::utimensat(AT_FDCWD, p.c_str(), times, 0);
}

// The server's own words: X-Error-Message, else a JSON body's "error", else the body's start.
std::string server_message(const HttpResult& r) {
    if (std::string m = r.header("x-error-message"); !m.empty()) return m;
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
    std::string b = r.body.substr(0, 200);
    std::replace(b.begin(), b.end(), '\n', ' ');
    return b;
}

std::string list(const std::vector<std::string>& v, size_t max = 20) {
    std::string s;
    for (size_t i = 0; i < v.size() && i < max; ++i) s += (i ? ", " : "") + v[i];
    if (v.size() > max) s += fmt::format(", ... ({} more)", v.size() - max);
    return s;
}

class HubSession {
public:
    HubSession(const HubEnv& env, const PullOptions& opts, HubCache& cache)
        : env_(env), opts_(opts), cache_(cache), http_(HttpOptions{15, opts.low_speed_time_s, "llm-hub/1"}) {}

    std::vector<std::string> auth() const {
        if (env_.token.empty()) return {};
        return {"Authorization: Bearer " + env_.token};
    }

    Status http_error(const ModelRef& ref, const std::string& url, const HttpResult& r) const {
        const std::string name = ref.to_string();
        if (r.net != NetError::None) return error("{}: {}: {}", name, url, r.describe());
        const std::string msg = server_message(r);
        const std::string code = r.header("x-error-code");
        switch (r.status) {
            case 401:
                if (!env_.token.empty())
                    return error("{}: the hub rejected the token from {} (401 Unauthorized from {})", name, env_.token_source, url);
                return error("{}: 401 Unauthorized from {}: the repository is private or gated (or does not exist); "
                             "set HF_TOKEN or write a token to {}", name, url, env_.token_file);
            case 403:
                return error("{}: access denied (403 Forbidden from {}){}{}; for a gated model, accept its conditions on the "
                             "model page with the account of your token", name, url, msg.empty() ? "" : ": ", msg);
            case 404:
                if (code == "RevisionNotFound") return error("{}: revision '{}' not found in {} (404 from {})", name, ref.revision, ref.repo, url);
                if (code == "EntryNotFound") return error("{}: file not found (404 from {})", name, url);
                return error("{}: repository {} not found at {} (404 from {})", name, ref.repo, env_.endpoint, url);
            default: {
                const std::string retried = is_transient(r, false) ? fmt::format(" (gave up after {} retries)", opts_.max_retries) : "";
                return error("{}: {}: HTTP {}{}{}{}", name, url, r.status, msg.empty() ? "" : ": ", msg, retried);
            }
        }
    }

    // GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true: the commit and every file with size and hashes.
    // `unreachable` is set when the failure means "no hub" (network, 429/5xx after retries), not "no such model".
    Expected<RepoInfo> repo_info(const ModelRef& ref, bool* unreachable) {
        const std::string url = fmt::format("{}/api/models/{}/revision/{}?blobs=true", env_.endpoint, ref.repo,
                                            url_encode(ref.revision, false));
        std::vector<std::string> headers = auth();
        headers.push_back("Accept: application/json");
        HttpResult r = with_retries([&] { return http_.request("GET", url, headers, true); }, opts_, url);
        if (!r.ok()) {
            *unreachable = r.net == NetError::Connect || is_transient(r, true);
            return http_error(ref, url, r);
        }
        auto info = parse_repo_info(r.body);
        if (!info)
            return error("{}: {}: {} (is HF_ENDPOINT={} a Hugging Face hub?)", ref.to_string(), url,
                         info.error_message(), env_.endpoint);
        return info;
    }

    // One file into the snapshot: nothing to do when the snapshot has it; else HEAD for the ETag, reuse of a blob
    // another revision (or huggingface_hub) already has, or a locked download.
    Expected<PulledFile> fetch(const ModelRef& ref, const std::string& commit, const Sibling& sib) {
        PulledFile pf;
        pf.file = sib.path;
        pf.local_path = cache_.snapshot_path(ref.repo, commit, sib.path);
        if (is_file(pf.local_path)) {
            pf.cached = true;
            pf.size = file_size(pf.local_path);
            return pf;
        }
        std::string url = fmt::format("{}/{}/resolve/{}/{}", env_.endpoint, ref.repo, commit, url_encode(sib.path, true));
        std::vector<std::string> headers = auth();
        headers.push_back("Accept-Encoding: identity");
        HttpResult r;
        // Follow redirects on the hub's own origin (renamed repos); stop at the storage redirect: the file's
        // metadata is on that response, and the token must not travel to another host.
        for (int hop = 0; hop < 10; ++hop) {
            r = with_retries([&] { return http_.request("HEAD", url, headers, false); }, opts_, "HEAD " + url);
            if (!r.redirect()) break;
            const std::string target = url_join(url, r.header("location"));
            if (url_origin(target) != url_origin(url)) break;
            url = target;
        }
        if (!r.ok() && !r.redirect()) return http_error(ref, url, r);
        std::string etag = r.header("x-linked-etag");
        if (etag.empty()) etag = r.header("etag");
        if (etag.rfind("W/", 0) == 0) etag = etag.substr(2);
        etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
        if (r.header("x-repo-commit").empty() || etag.empty())
            return error("{}: {}: no {} header: HF_ENDPOINT={} does not look like a Hugging Face hub", ref.to_string(),
                         url, etag.empty() ? "ETag" : "X-Repo-Commit", env_.endpoint);
        if (etag.find('/') != std::string::npos || etag[0] == '.' || etag.size() > 128)
            return error("{}: {}: unusable ETag '{}'", ref.to_string(), url, etag);

        BlobRequest req;
        req.repo = ref.repo;
        req.file = sib.path;
        req.etag = etag;
        std::string size = r.header("x-linked-size");
        if (size.empty() && !r.redirect()) size = r.header("content-length");
        // The size header of the answer, when it is a number (a run of digits beyond 64 bits is not: std::stoull
        // would throw); else the API's.
        uint64_t header_size = 0;
        const auto [size_end, size_ec] = std::from_chars(size.data(), size.data() + size.size(), header_size);
        const bool size_ok = !size.empty() && size_ec == std::errc() && size_end == size.data() + size.size();
        req.size = size_ok ? header_size : sib.size;
        req.url = r.redirect() ? url_join(url, r.header("location")) : url;
        if (url_origin(req.url) == url_origin(env_.endpoint)) req.headers = auth();
        // LFS files: the sha256 object id (the API's and the ETag); other files: the git blob id when the API's
        // blobId confirms that is what the ETag is (hubs are free to use other ETags for them).
        req.sha256 = !sib.lfs_sha256.empty() ? lower(sib.lfs_sha256) : is_hex(etag, 64) ? lower(etag) : "";
        if (req.sha256.empty() && req.size > 0 && is_hex(etag, 40) && lower(etag) == lower(sib.blob_id))
            req.git_sha1 = lower(etag);

        const std::string blob = cache_.blob_path(ref.repo, etag);
        if (!is_file(blob)) {
            auto lock = FileLock::acquire(cache_.lock_path(ref.repo, etag), [&] {
                if (opts_.note) opts_.note(fmt::format("waiting for another process downloading {} ({})", sib.path, ref.repo));
            });
            if (!lock) return lock.status();
            if (!is_file(blob)) {  // the other process may have finished it while we waited
                auto out = download_blob(http_, cache_, req, opts_);
                if (!out) return out.status();
                pf.downloaded = out->downloaded;
                pf.resumed_from = out->resumed_from;
                pf.verified = out->verified;
            }
        }
        LLM_TRY(cache_.link_snapshot(ref.repo, commit, sib.path, etag));
        pf.size = file_size(pf.local_path);
        return pf;
    }

private:
    const HubEnv& env_;
    const PullOptions& opts_;
    HubCache& cache_;
    HttpClient http_;
};

std::optional<std::string> match_file(const std::vector<std::string>& files, const std::string& want) {
    for (const std::string& f : files)
        if (f == want) return f;
    for (const std::string& f : files)  // llama.cpp matches --hf-file case-insensitively
        if (lower(f) == lower(want)) return f;
    return std::nullopt;
}

bool has_top_level_safetensors(const std::vector<std::string>& files) {
    return std::any_of(files.begin(), files.end(), [](const std::string& f) {
        return f.find('/') == std::string::npos && f.size() > 12 && f.substr(f.size() - 12) == ".safetensors";
    });
}

// The GGUF files (all split parts) a reference names among `files`, or an error listing what exists.
Expected<std::vector<std::string>> gguf_plan(const ModelRef& ref, const std::vector<std::string>& files,
                                             const std::string& where) {
    std::optional<std::string> first;
    if (ref.kind == ModelRef::Kind::File) {
        first = match_file(files, ref.file);
        if (!first) {
            std::vector<std::string> ggufs;
            for (const std::string& f : files)
                if (parse_gguf_name(f)) ggufs.push_back(f);
            return error("{}: no file '{}' in {}; GGUF files there: {}", ref.to_string(), ref.file, where,
                         ggufs.empty() ? "none" : list(ggufs));
        }
    } else {
        first = find_gguf(files, ref.quant);
        if (!first) {
            const auto tags = gguf_quant_tags(files);
            return error("{}: no {} GGUF in {}; quantizations available: {}", ref.to_string(),
                         ref.quant.empty() ? "model" : ref.quant, where, tags.empty() ? "none (no GGUF files)" : list(tags, 40));
        }
    }
    return gguf_split_parts(files, *first);
}

}  // namespace

Expected<PullResult> find_cached(const ModelRef& ref, const HubCache& cache, const std::string& why_offline) {
    auto not_cached = [&](const std::string& detail) {
        return Status::error(fmt::format("{}: not in the cache {}{} ({}); pull it with network access first: llm-pull {}",
                                         ref.to_string(), cache.root(), detail, why_offline, ref.to_string()));
    };
    std::optional<std::string> commit =
        is_commit_hash(ref.revision) ? std::optional<std::string>(ref.revision) : cache.read_ref(ref.repo, ref.revision);
    if (!commit) return not_cached("");
    const std::vector<std::string> files = cache.snapshot_files(ref.repo, *commit);
    if (files.empty()) return not_cached("");
    PullResult res;
    res.ref = ref;
    res.commit = *commit;
    res.from_cache_only = true;
    const std::string where = fmt::format("the cached snapshot {}", cache.snapshot_dir(ref.repo, *commit));
    std::vector<std::string> want;
    if (ref.kind == ModelRef::Kind::Folder && has_top_level_safetensors(files)) {
        if (std::find(files.begin(), files.end(), "config.json") == files.end()) return not_cached(" (no config.json)");
        std::optional<std::string> index;
        if (std::find(files.begin(), files.end(), std::string(kShardIndex)) != files.end()) {
            auto text = read_text_file(cache.snapshot_path(ref.repo, *commit, std::string(kShardIndex)));
            if (!text) return text.status();
            index = *text;
        }
        auto weights = folder_weight_files(files, index, ref.to_string());
        if (!weights) return not_cached(" (" + weights.error_message() + ")");
        want = folder_support_files(files);
        want.insert(want.end(), weights->begin(), weights->end());
        res.path = cache.snapshot_dir(ref.repo, *commit);
    } else {
        auto plan = gguf_plan(ref, files, where);
        if (!plan) {
            std::vector<std::string> ggufs;
            for (const std::string& f : files)
                if (is_model_gguf(f)) ggufs.push_back(f);
            if (ref.kind == ModelRef::Kind::File) return not_cached(fmt::format(" (cached GGUF files: {})", ggufs.empty() ? "none" : list(ggufs)));
            const auto tags = gguf_quant_tags(files);
            return not_cached(fmt::format(" (cached quantizations: {})", tags.empty() ? "none" : list(tags)));
        }
        auto n = parse_gguf_name(plan->front());
        if (n && (int)plan->size() < n->split_count) return not_cached(" (some parts of the split GGUF are missing)");
        want = *plan;
        res.path = cache.snapshot_path(ref.repo, *commit, plan->front());
    }
    for (const std::string& f : want) {
        PulledFile pf;
        pf.file = f;
        pf.local_path = cache.snapshot_path(ref.repo, *commit, f);
        pf.size = file_size(pf.local_path);
        pf.cached = true;
        touch_atime(pf.local_path);
        res.files.push_back(pf);
    }
    return res;
}

Expected<PullResult> pull(const ModelRef& ref, const HubEnv& env, const PullOptions& opts) {
    HubCache cache(env.cache_dir);
    if (env.offline) return find_cached(ref, cache, "offline: HF_HUB_OFFLINE is set");
    HubSession hub(env, opts, cache);
    bool unreachable = false;
    auto info = hub.repo_info(ref, &unreachable);
    if (!info) {
        if (!unreachable) return info.status();
        auto cached = find_cached(ref, cache, "the hub is unreachable");
        if (!cached) return Status::error(info.error_message() + "; no cached copy either");
        if (opts.note) opts.note(fmt::format("{}; using the cached copy", info.error_message()));
        return cached;
    }
    const std::string where = fmt::format("{}@{}", ref.repo, ref.revision);
    if (ref.revision != info->commit) LLM_TRY(cache.write_ref(ref.repo, ref.revision, info->commit));
    PullResult res;
    res.ref = ref;
    res.commit = info->commit;
    const std::vector<std::string> paths = info->paths();
    auto sibling = [&](const std::string& path) -> const Sibling& {
        return *std::find_if(info->siblings.begin(), info->siblings.end(), [&](const Sibling& s) { return s.path == path; });
    };
    auto fetch_all = [&](const std::vector<std::string>& files) -> Status {
        // The whole batch must fit before its first byte is fetched (a 4-shard model should not stop at shard 3).
        // Sizes come from the API; partial downloads count as done.
        uint64_t need = 0;
        for (const std::string& f : files) {
            const Sibling& s = sibling(f);
            if (is_file(cache.snapshot_path(ref.repo, info->commit, f))) continue;
            if (!s.lfs_sha256.empty() && is_file(cache.blob_path(ref.repo, s.lfs_sha256))) continue;
            const uint64_t have = s.lfs_sha256.empty() ? 0 : file_size(cache.incomplete_path(ref.repo, s.lfs_sha256));
            need += s.size - std::min(have, s.size);
        }
        const std::string blobs = cache.repo_dir(ref.repo) + "/blobs";
        if (const uint64_t free_bytes = free_space(opts, blobs); need > free_bytes)
            return error("{}: not enough disk space in {} for {} file{}: need {}, {} free", ref.to_string(), blobs,
                         files.size(), files.size() == 1 ? "" : "s", format_bytes(need), format_bytes(free_bytes));
        for (const std::string& f : files) {
            auto pf = hub.fetch(ref, info->commit, sibling(f));
            if (!pf) return pf.status();
            touch_atime(pf->local_path);
            res.files.push_back(*pf);
        }
        return Status::ok();
    };

    const bool folder = ref.kind == ModelRef::Kind::Folder && has_top_level_safetensors(paths);
    if (!folder) {  // a GGUF reference, or hf:owner/repo on a GGUF-only repository (llama.cpp's default quant)
        if (ref.kind == ModelRef::Kind::Folder && gguf_quant_tags(paths).empty() && !find_gguf(paths, ""))
            return error("{}: {} has neither .safetensors weights nor GGUF files", ref.to_string(), where);
        auto plan = gguf_plan(ref, paths, where);
        if (!plan) return plan.status();
        LLM_TRY(fetch_all(*plan));
        res.path = cache.snapshot_path(ref.repo, info->commit, plan->front());
        return res;
    }
    if (std::find(paths.begin(), paths.end(), "config.json") == paths.end())
        return error("{}: {} has no config.json (not a transformers model folder)", ref.to_string(), where);
    LLM_TRY(fetch_all(folder_support_files(paths)));
    std::optional<std::string> index;
    if (std::find(paths.begin(), paths.end(), std::string(kShardIndex)) != paths.end()) {
        auto text = read_text_file(cache.snapshot_path(ref.repo, info->commit, std::string(kShardIndex)));
        if (!text) return text.status();
        index = *text;
    }
    auto weights = folder_weight_files(paths, index, ref.to_string());
    if (!weights) return weights.status();
    LLM_TRY(fetch_all(*weights));
    res.path = cache.snapshot_dir(ref.repo, info->commit);
    return res;
}

PullOptions PullOptions::console() {
    PullOptions o;
    o.progress = console_progress(stderr);
    o.note = [](const std::string& m) { std::fprintf(stderr, "llm-hub: %s\n", m.c_str()); };
    if (const char* b = std::getenv("LLM_HUB_BACKOFF_MS"); b && *b) o.backoff_ms = std::max(0, std::atoi(b));
    return o;
}

Expected<std::string> resolve_model_path(const std::string& path_or_ref) {
    if (!is_hub_ref(path_or_ref)) return path_or_ref;
    auto ref = parse_model_ref(path_or_ref);
    if (!ref) return ref.status();
    auto r = pull(*ref, HubEnv::from_environment(), PullOptions::console());
    if (!r) return r.status();
    return r->path;
}

}  // namespace llm::hub
