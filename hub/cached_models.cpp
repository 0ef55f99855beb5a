// Listing and removing cached models. Descriptions come from the files themselves: GGUF metadata (through the
// validating reader in formats/gguf.hpp) or config.json plus the safetensors headers.
#include "hub/cached_models.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "formats/gguf.hpp"
#include "formats/safetensors.hpp"
#include "hub/hub.hpp"
#include "hub/progress.hpp"

namespace llm::hub {
namespace fs = std::filesystem;
namespace {

// The blob a snapshot link points to (absolute), or "" when it is not a link into blobs/.
std::string link_target(const std::string& link) {
    std::error_code ec;
    if (!fs::is_symlink(link, ec)) return "";
    const fs::path t = fs::read_symlink(link, ec);
    if (ec) return "";
    return (fs::path(link).parent_path() / t).lexically_normal().string();
}

void add_blob_usage(const std::string& path, std::set<std::string>& seen, CachedModel& m) {
    const std::string blob = link_target(path);
    const std::string real = blob.empty() ? path : blob;
    struct stat st {};
    if (::stat(real.c_str(), &st) != 0 || !seen.insert(real).second) return;
    m.size_bytes += (uint64_t)st.st_size;
    m.last_used = std::max<int64_t>(m.last_used, st.st_atim.tv_sec);
}

// The dominant tensor type by bytes (for files without general.file_type, and safetensors folders).
template <typename Views>
std::string dominant_type(const Views& views) {
    std::map<std::string, uint64_t> bytes;
    for (const TensorView* t : views) bytes[std::string(dtype_name(t->type))] += t->nbytes;
    std::string best;
    uint64_t most = 0;
    for (auto& [name, n] : bytes)
        if (n > most) best = name, most = n;
    return best;
}

void describe_gguf(CachedModel& m) {
    auto f = GgufFile::open(m.local_path);
    if (!f) {
        m.problem = f.error_message();
        return;
    }
    auto arch = f->get_string("general.architecture");
    if (arch && *arch) m.architecture = **arch;
    if (auto ctx = f->get_int(m.architecture + ".context_length"); ctx && *ctx) m.n_ctx = **ctx;
    std::vector<const TensorView*> views;
    std::vector<TensorView> owned;
    owned.reserve(f->tensors().size());
    for (const GgufTensorInfo& t : f->tensors()) {
        int64_t n = 1;
        for (int d = 0; d < t.n_dims; ++d) n *= t.ne[d];
        m.n_params += (uint64_t)n;
        owned.push_back(TensorView{t.name, t.type, t.n_dims, t.ne, nullptr, t.nbytes});
    }
    for (const TensorView& v : owned) views.push_back(&v);
    if (auto ft = f->get_int("general.file_type"); ft && *ft) m.weight_type = gguf_file_type_name(**ft);
    if (m.weight_type.empty()) m.weight_type = dominant_type(views);
}

void describe_safetensors(CachedModel& m) {
    if (auto text = read_text_file(m.local_path + "/config.json")) {
        auto j = nlohmann::json::parse(*text, nullptr, false);
        if (j.is_object()) {
            if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
                j["architectures"][0].is_string())
                m.architecture = j["architectures"][0].get<std::string>();
            else if (j.contains("model_type") && j["model_type"].is_string())
                m.architecture = j["model_type"].get<std::string>();
            if (j.contains("max_position_embeddings") && j["max_position_embeddings"].is_number_integer())
                m.n_ctx = j["max_position_embeddings"].get<int64_t>();
            for (const char* k : {"torch_dtype", "dtype"})
                if (j.contains(k) && j[k].is_string()) m.weight_type = j[k].get<std::string>();
        }
    }
    auto st = SafetensorsModel::open(m.local_path);
    if (!st) {
        m.problem = st.error_message();
        return;
    }
    std::vector<const TensorView*> views;
    for (const std::string& name : st->names()) {
        const TensorView* t = st->find(name);
        m.n_params += (uint64_t)t->n_elements();
        views.push_back(t);
    }
    if (m.weight_type.empty()) m.weight_type = dominant_type(views);
}

bool ends_with(const std::string& s, const std::string& x) {
    return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

}  // namespace

std::string gguf_file_type_name(int64_t ftype) {
    static const std::map<int64_t, const char*> names = {
        {0, "F32"},      {1, "F16"},     {2, "Q4_0"},    {3, "Q4_1"},     {7, "Q8_0"},     {8, "Q5_0"},
        {9, "Q5_1"},     {10, "Q2_K"},   {11, "Q3_K_S"}, {12, "Q3_K_M"},  {13, "Q3_K_L"},  {14, "Q4_K_S"},
        {15, "Q4_K_M"},  {16, "Q5_K_S"}, {17, "Q5_K_M"}, {18, "Q6_K"},    {19, "IQ2_XXS"}, {20, "IQ2_XS"},
        {21, "Q2_K_S"},  {22, "IQ3_XS"}, {23, "IQ3_XXS"}, {24, "IQ1_S"},  {25, "IQ4_NL"},  {26, "IQ3_S"},
        {27, "IQ3_M"},   {28, "IQ2_S"},  {29, "IQ2_M"},  {30, "IQ4_XS"},  {31, "IQ1_M"},   {32, "BF16"},
        {36, "TQ1_0"},   {37, "TQ2_0"},
    };
    auto it = names.find(ftype);
    return it == names.end() ? "" : it->second;
}

std::vector<CachedModel> list_cached_models(const HubCache& cache) {
    std::vector<CachedModel> out;
    for (const std::string& repo : cache.repos()) {
        const auto refs = cache.refs(repo);
        for (const std::string& commit : cache.snapshots(repo)) {
            const std::vector<std::string> files = cache.snapshot_files(repo, commit);
            if (files.empty()) continue;
            std::vector<std::string> revs;
            for (auto& [rev, c] : refs)
                if (c == commit) revs.push_back(rev);
            const bool main = std::find(revs.begin(), revs.end(), "main") != revs.end();
            const std::string suffix = main ? "" : "@" + (revs.empty() ? commit : revs.front());
            auto entry = [&](std::string ref, std::string local, std::vector<std::string> entry_files, const char* format) {
                CachedModel m;
                m.ref = std::move(ref) + suffix;
                m.repo = repo, m.commit = commit, m.revisions = revs;
                m.local_path = std::move(local);
                m.files = std::move(entry_files);
                m.format = format;
                std::set<std::string> seen;
                for (const std::string& f : m.files) add_blob_usage(cache.snapshot_path(repo, commit, f), seen, m);
                return m;
            };
            // GGUF models: "hf:repo:TAG" when the tag names exactly this file, else the file path.
            for (const std::string& f : files) {
                auto n = parse_gguf_name(f);
                if (!is_model_gguf(f) || (n->split_count > 1 && n->split_index != 1)) continue;
                const bool unique_tag = !n->tag.empty() && find_gguf(files, n->tag) == f;
                CachedModel m = entry(unique_tag ? fmt::format("hf:{}:{}", repo, n->tag) : fmt::format("hf:{}/{}", repo, f),
                                      cache.snapshot_path(repo, commit, f), gguf_split_parts(files, f), "gguf");
                describe_gguf(m);
                out.push_back(std::move(m));
            }
            // A safetensors folder.
            std::optional<std::string> index;
            if (std::find(files.begin(), files.end(), std::string(kShardIndex)) != files.end())
                if (auto t = read_text_file(cache.snapshot_path(repo, commit, std::string(kShardIndex)))) index = *t;
            const bool has_config = std::find(files.begin(), files.end(), "config.json") != files.end();
            auto weights = folder_weight_files(files, index, repo);
            if (has_config && weights) {
                std::vector<std::string> all = folder_support_files(files);
                all.insert(all.end(), weights->begin(), weights->end());
                CachedModel m = entry("hf:" + repo, cache.snapshot_dir(repo, commit), all, "safetensors");
                describe_safetensors(m);
                out.push_back(std::move(m));
            }
        }
    }
    std::sort(out.begin(), out.end(), [](const CachedModel& a, const CachedModel& b) { return a.ref < b.ref; });
    return out;
}

std::vector<std::string> partial_downloads(const HubCache& cache) {
    std::vector<std::string> out;
    for (const std::string& repo : cache.repos()) {
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(cache.repo_dir(repo) + "/blobs", ec))
            if (ends_with(e.path().filename().string(), ".incomplete"))
                out.push_back(fmt::format("{}: {} ({})", repo, e.path().string(), format_bytes(e.file_size(ec))));
    }
    return out;
}

Expected<std::vector<std::string>> remove_cached_model(const HubCache& cache, const ModelRef& ref) {
    auto found = find_cached(ref, cache, "nothing to remove");
    if (!found) return found.status();
    std::vector<std::string> removed;
    std::error_code ec;
    std::set<std::string> candidate_blobs;
    for (const PulledFile& f : found->files) {
        const std::string blob = link_target(f.local_path);
        if (!blob.empty()) candidate_blobs.insert(blob);
        if (fs::remove(f.local_path, ec)) removed.push_back(f.local_path);
        // Drop folders the file's path leaves empty, up to the snapshot.
        for (fs::path d = fs::path(f.local_path).parent_path(); d.string().size() > cache.snapshot_dir(ref.repo, found->commit).size();
             d = d.parent_path())
            if (!fs::remove(d, ec)) break;
    }
    // Blobs still linked from any snapshot stay.
    std::set<std::string> used;
    for (const std::string& commit : cache.snapshots(ref.repo))
        for (const std::string& f : cache.snapshot_files(ref.repo, commit))
            if (std::string b = link_target(cache.snapshot_path(ref.repo, commit, f)); !b.empty()) used.insert(b);
    for (const std::string& b : candidate_blobs)
        if (!used.count(b) && fs::remove(b, ec)) removed.push_back(b);
    const std::string snap = cache.snapshot_dir(ref.repo, found->commit);
    if (cache.snapshot_files(ref.repo, found->commit).empty()) {
        fs::remove_all(snap, ec);
        for (auto& [rev, c] : cache.refs(ref.repo))
            if (c == found->commit && fs::remove(cache.repo_dir(ref.repo) + "/refs/" + rev, ec)) removed.push_back("refs/" + rev);
    }
    if (cache.snapshots(ref.repo).empty()) {
        const std::string dir = cache.repo_dir(ref.repo);
        fs::remove_all(dir, ec);
        fs::remove_all(cache.root() + "/.locks/" + repo_folder_name(ref.repo), ec);
        removed.push_back(dir);
    }
    return removed;
}

}  // namespace llm::hub
