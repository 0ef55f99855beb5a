// The Hugging Face cache layout (paths, refs, snapshot links, locks) and the environment that locates it.
#include "hub/hub_cache.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "hub/model_ref.hpp"

namespace llm::hub {
namespace fs = std::filesystem;
namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

// huggingface_hub expands '~' in these paths.
std::string expand_user(std::string p) {
    if (!p.empty() && p[0] == '~' && (p.size() == 1 || p[1] == '/')) p = env("HOME") + p.substr(1);
    return p;
}

bool truthy(const std::string& v) {
    std::string u;
    for (char c : v) u += (char)std::toupper((unsigned char)c);
    return u == "1" || u == "ON" || u == "YES" || u == "TRUE";
}

std::string trim(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace((unsigned char)s[b])) ++b;
    while (e > b && std::isspace((unsigned char)s[e - 1])) --e;
    return s.substr(b, e - b);
}

}  // namespace

HubEnv HubEnv::from_environment() {
    HubEnv e;
    if (std::string ep = env("HF_ENDPOINT"); !ep.empty()) {
        while (!ep.empty() && ep.back() == '/') ep.pop_back();
        e.endpoint = ep;
    }
    std::string hf_home = expand_user(env("HF_HOME"));
    if (hf_home.empty()) {
        const std::string xdg = env("XDG_CACHE_HOME");
        hf_home = (xdg.empty() ? env("HOME") + "/.cache" : xdg) + "/huggingface";
    }
    e.cache_dir = expand_user(env("HF_HUB_CACHE"));
    if (e.cache_dir.empty()) e.cache_dir = expand_user(env("HUGGINGFACE_HUB_CACHE"));
    if (e.cache_dir.empty()) e.cache_dir = hf_home + "/hub";
    e.token_file = expand_user(env("HF_TOKEN_PATH"));
    if (e.token_file.empty()) e.token_file = hf_home + "/token";
    if (std::string t = trim(env("HF_TOKEN")); !t.empty()) {
        e.token = t, e.token_source = "HF_TOKEN";
    } else if (std::string t2 = trim(env("HUGGING_FACE_HUB_TOKEN")); !t2.empty()) {
        e.token = t2, e.token_source = "HUGGING_FACE_HUB_TOKEN";
    } else if (auto f = read_text_file(e.token_file); f && !trim(*f).empty()) {
        e.token = trim(*f), e.token_source = e.token_file;
    }
    e.offline = truthy(env("HF_HUB_OFFLINE")) || truthy(env("TRANSFORMERS_OFFLINE"));
    return e;
}

HubCache::HubCache(const std::string& root) {
    std::error_code ec;
    fs::path p = fs::absolute(root, ec);
    root_ = (ec ? fs::path(root) : p).lexically_normal().string();
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string HubCache::repo_dir(const std::string& repo) const { return root_ + "/" + repo_folder_name(repo); }
std::string HubCache::blob_path(const std::string& repo, const std::string& etag) const {
    return repo_dir(repo) + "/blobs/" + etag;
}
std::string HubCache::incomplete_path(const std::string& repo, const std::string& etag) const {
    return blob_path(repo, etag) + ".incomplete";
}
std::string HubCache::lock_path(const std::string& repo, const std::string& etag) const {
    return root_ + "/.locks/" + repo_folder_name(repo) + "/" + etag + ".lock";
}
std::string HubCache::snapshot_dir(const std::string& repo, const std::string& commit) const {
    return repo_dir(repo) + "/snapshots/" + commit;
}
std::string HubCache::snapshot_path(const std::string& repo, const std::string& commit, const std::string& file) const {
    return snapshot_dir(repo, commit) + "/" + file;
}

std::optional<std::string> HubCache::read_ref(const std::string& repo, const std::string& revision) const {
    auto text = read_text_file(repo_dir(repo) + "/refs/" + revision);
    if (!text) return std::nullopt;
    std::string commit = trim(*text);
    if (!is_commit_hash(commit)) return std::nullopt;
    return commit;
}

Status HubCache::write_ref(const std::string& repo, const std::string& revision, const std::string& commit) const {
    if (read_ref(repo, revision) == commit) return Status::ok();
    return write_file_atomic(repo_dir(repo) + "/refs/" + revision, commit);
}

Status HubCache::link_snapshot(const std::string& repo, const std::string& commit, const std::string& file,
                               const std::string& etag) const {
    const fs::path link = snapshot_path(repo, commit, file);
    std::error_code ec;
    fs::create_directories(link.parent_path(), ec);
    if (ec) return error("{}: cannot create folder: {}", link.parent_path().string(), ec.message());
    const fs::path target = fs::path(blob_path(repo, etag)).lexically_relative(link.parent_path());
    const std::string tmp = link.string() + ".tmp" + std::to_string(::getpid());
    ::unlink(tmp.c_str());
    if (::symlink(target.c_str(), tmp.c_str()) != 0)
        return error("{}: cannot create symlink: {}", tmp, std::strerror(errno));
    if (::rename(tmp.c_str(), link.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        return error("{}: cannot create symlink: {}", link.string(), std::strerror(err));
    }
    return Status::ok();
}

std::vector<std::string> HubCache::snapshot_files(const std::string& repo, const std::string& commit) const {
    std::vector<std::string> out;
    const fs::path dir = snapshot_dir(repo, commit);
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code ec2;
        if (fs::is_regular_file(it->path(), ec2))  // follows the symlink: a dangling link is not a file
            out.push_back(it->path().lexically_relative(dir).generic_string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> HubCache::snapshots(const std::string& repo) const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(repo_dir(repo) + "/snapshots", ec))
        if (e.is_directory()) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::pair<std::string, std::string>> HubCache::refs(const std::string& repo) const {
    std::vector<std::pair<std::string, std::string>> out;
    const fs::path dir = repo_dir(repo) + "/refs";
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file()) continue;
        const std::string rev = it->path().lexically_relative(dir).generic_string();
        if (auto c = read_ref(repo, rev)) out.emplace_back(rev, *c);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> HubCache::repos() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root_, ec))
        if (e.is_directory())
            if (auto r = repo_from_folder_name(e.path().filename().string())) out.push_back(*r);
    std::sort(out.begin(), out.end());
    return out;
}

Expected<FileLock> FileLock::acquire(const std::string& path, const std::function<void()>& on_wait) {
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return error("{}: cannot open lock file: {}", path, std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) {
            const int err = errno;
            ::close(fd);
            return error("{}: cannot lock: {}", path, std::strerror(err));
        }
        if (on_wait) on_wait();
        while (::flock(fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                const int err = errno;
                ::close(fd);
                return error("{}: cannot lock: {}", path, std::strerror(err));
            }
        }
    }
    return FileLock(fd);
}

FileLock::~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock; the file stays (as with huggingface_hub)
}

Status write_file_atomic(const std::string& path, const std::string& content) {
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (ec) return error("{}: cannot create folder: {}", fs::path(path).parent_path().string(), ec.message());
    const std::string tmp = path + ".tmp" + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return error("{}: cannot write: {}", tmp, std::strerror(errno));
    const ssize_t n = ::write(fd, content.data(), content.size());
    int err = n < 0 ? errno : ENOSPC;  // a short write of a few bytes: the disk is full
    ::close(fd);
    if (n == (ssize_t)content.size()) {
        if (::rename(tmp.c_str(), path.c_str()) == 0) return Status::ok();
        err = errno;
    }
    ::unlink(tmp.c_str());
    return error("{}: cannot write: {}", path, std::strerror(err));
}

}  // namespace llm::hub
