// Model reference parsing and file selection (pure functions: no network, no files).
#include "hub/model_ref.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <set>

namespace llm::hub {
namespace {

std::string upper(std::string_view s) {
    std::string o(s);
    for (char& c : o) c = (char)std::toupper((unsigned char)c);
    return o;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_word_char(char c) { return std::isalnum((unsigned char)c) || c == '_'; }

std::string basename(std::string_view path) {
    const size_t slash = path.rfind('/');
    return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

bool top_level(std::string_view path) { return path.find('/') == std::string_view::npos; }

// A path inside a repository: relative, no empty, "." or ".." parts (it becomes a path under the snapshot).
bool valid_repo_path(std::string_view p) {
    if (p.empty() || p.front() == '/' || p.back() == '/') return false;
    size_t start = 0;
    while (start <= p.size()) {
        size_t end = p.find('/', start);
        if (end == std::string_view::npos) end = p.size();
        const std::string_view part = p.substr(start, end - start);
        if (part.empty() || part == "." || part == "..") return false;
        start = end + 1;
    }
    for (char c : p)
        if ((unsigned char)c < 0x20 || c == '\\') return false;
    return true;
}

Status validate_revision(std::string_view rev) {
    if (rev.empty()) return error("empty revision after '@'");
    if (rev.front() == '/' || rev.back() == '/' || rev.find("..") != std::string_view::npos)
        return error("invalid revision '{}'", rev);
    for (char c : rev)
        if ((unsigned char)c <= 0x20 || c == '\\' || c == '?' || c == '#' || c == '%')
            return error("invalid character in revision '{}'", rev);
    return Status::ok();
}

}  // namespace

bool is_commit_hash(std::string_view s) {
    return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

Status validate_repo_id(std::string_view repo) {
    const size_t slash = repo.find('/');
    if (slash == std::string_view::npos || repo.find('/', slash + 1) != std::string_view::npos)
        return error("'{}' is not owner/repo", repo);
    if (repo.find("--") != std::string_view::npos || repo.find("..") != std::string_view::npos)
        return error("'{}': '--' and '..' are not allowed in a repository id", repo);
    for (std::string_view part : {repo.substr(0, slash), repo.substr(slash + 1)}) {
        if (part.empty() || part.size() > 96) return error("'{}': each part must have 1 to 96 characters", repo);
        for (char c : part)
            if (!is_word_char(c) && c != '-' && c != '.')
                return error("'{}': invalid character '{}' (letters, digits, '_', '-' and '.' only)", repo, c);
        if (!is_word_char(part.front()) || !is_word_char(part.back()))
            return error("'{}': a part may not start or end with '-' or '.'", repo);
    }
    return Status::ok();
}

std::string ModelRef::to_string() const {
    std::string s = "hf:" + repo;
    if (kind == Kind::Quant) s += ":" + quant;
    if (kind == Kind::File) s += "/" + file;
    if (revision != "main") s += "@" + revision;
    return s;
}

Expected<ModelRef> parse_model_ref(std::string_view s) {
    auto fail = [&](const Status& st) { return Status::error(fmt::format("model reference '{}': {}", s, st.message())); };
    if (!is_hub_ref(s)) return fail(error("expected hf:owner/repo[:QUANT | /path/file.gguf][@revision]"));
    std::string_view body = s.substr(3);
    ModelRef r;
    // '@' never occurs in repository ids or quantization names: the first one starts the revision.
    if (const size_t at = body.find('@'); at != std::string_view::npos) {
        r.revision = std::string(body.substr(at + 1));
        r.explicit_revision = true;
        if (Status st = validate_revision(r.revision); !st) return fail(st);
        body = body.substr(0, at);
    }
    if (const size_t colon = body.find(':'); colon != std::string_view::npos) {
        r.kind = ModelRef::Kind::Quant;
        r.repo = std::string(body.substr(0, colon));
        r.quant = std::string(body.substr(colon + 1));
        if (r.quant.empty()) return fail(error("empty quantization after ':' (e.g. hf:{}:Q4_K_M)", r.repo));
        for (char c : r.quant)
            if (!is_word_char(c) && c != '-' && c != '.')
                return fail(error("invalid character '{}' in quantization '{}'", c, r.quant));
    } else {
        const size_t slash = body.find('/');
        const size_t slash2 = slash == std::string_view::npos ? slash : body.find('/', slash + 1);
        r.repo = std::string(body.substr(0, slash2));
        if (slash2 != std::string_view::npos) {
            r.kind = ModelRef::Kind::File;
            r.file = std::string(body.substr(slash2 + 1));
            if (!valid_repo_path(r.file)) return fail(error("invalid file path '{}'", r.file));
            if (!ends_with(upper(r.file), ".GGUF"))
                return fail(error("'{}' is not a .gguf file (name a GGUF file, a quantization with "
                                  "hf:{}:QUANT, or the safetensors folder with hf:{})",
                                  r.file, r.repo, r.repo));
        }
    }
    if (r.repo.find('/') == std::string::npos)
        return fail(error("'{}' is not owner/repo (e.g. hf:bartowski/SmolLM2-135M-Instruct-GGUF:Q4_K_M)", r.repo));
    if (Status st = validate_repo_id(r.repo); !st) return fail(st);
    return r;
}

std::string repo_folder_name(std::string_view repo) {
    std::string o = "models--";
    for (char c : repo) {
        if (c == '/') o += "--";
        else o += c;
    }
    return o;
}

std::optional<std::string> repo_from_folder_name(std::string_view folder) {
    if (folder.substr(0, 8) != "models--") return std::nullopt;
    std::string rest(folder.substr(8));
    const size_t sep = rest.find("--");
    if (sep == std::string::npos) return std::nullopt;  // a repo without owner: not one of ours
    std::string repo = rest.substr(0, sep) + "/" + rest.substr(sep + 2);
    if (!validate_repo_id(repo)) return std::nullopt;
    return repo;
}

std::optional<GgufName> parse_gguf_name(std::string_view path) {
    if (!ends_with(upper(path), ".GGUF")) return std::nullopt;
    GgufName n;
    std::string stem(path.substr(0, path.size() - 5));
    // "-00001-of-00003"
    if (stem.size() > 15) {
        const std::string tail = stem.substr(stem.size() - 15);
        auto digits = [](std::string_view d) {
            return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
        };
        if (tail[0] == '-' && digits(tail.substr(1, 5)) && tail.substr(6, 4) == "-of-" && digits(tail.substr(10, 5))) {
            // Parts count from 1 (llama.cpp's "%s-%05d-of-%05d.gguf"): "-00000-of-00003" or "-00004-of-00003" is
            // part of the name, not a split (found by fuzz_hub).
            const int index = std::stoi(tail.substr(1, 5)), count = std::stoi(tail.substr(10, 5));
            if (index >= 1 && index <= count) {
                n.split_index = index, n.split_count = count;
                stem.resize(stem.size() - 15);
            }
        }
    }
    n.prefix = stem;
    // The tag: the word after the last '-' or '.' of the file name ("Model.Q4_K_M", "model-q8_0").
    const std::string name = basename(stem);
    const size_t sep = name.find_last_of("-.");
    if (sep != std::string::npos && sep + 1 < name.size()) {
        const std::string tag = name.substr(sep + 1);
        if (std::all_of(tag.begin(), tag.end(), is_word_char)) n.tag = upper(tag);
    }
    return n;
}

bool is_model_gguf(std::string_view path) {
    if (!parse_gguf_name(path)) return false;
    const std::string name = basename(path);
    for (const char* sidecar : {"mmproj", "imatrix", "mtp-", "eagle3-", "dflash-", "dspark-"})
        if (name.find(sidecar) != std::string::npos) return false;
    return true;
}

std::optional<std::string> find_gguf(const std::vector<std::string>& files, std::string_view quant) {
    std::vector<std::string> sorted = files;
    std::sort(sorted.begin(), sorted.end());
    auto first_part = [](const std::string& f) {
        auto n = parse_gguf_name(f);
        return n && (n->split_count <= 1 || n->split_index == 1);
    };
    auto match = [&](std::string_view q) -> std::optional<std::string> {
        const std::string uq = upper(q);
        for (const std::string& f : sorted)  // the file's own tag first: Q4_0 must not pick IQ4_0-like names
            if (is_model_gguf(f) && first_part(f) && parse_gguf_name(f)->tag == uq) return f;
        for (const std::string& f : sorted) {  // llama.cpp: "QUANT" followed by '.' or '-' anywhere in the path
            if (!is_model_gguf(f) || !first_part(f)) continue;
            const std::string uf = upper(f);
            for (size_t pos = uf.find(uq); pos != std::string::npos; pos = uf.find(uq, pos + 1)) {
                const size_t end = pos + uq.size();
                if (end < uf.size() && (uf[end] == '.' || uf[end] == '-') && (pos == 0 || !std::isalnum((unsigned char)uf[pos - 1])))
                    return f;
            }
        }
        return std::nullopt;
    };
    if (!quant.empty()) return match(quant);
    for (const char* q : {"Q4_K_M", "Q8_0"})
        if (auto f = match(q)) return f;
    for (const std::string& f : sorted)
        if (is_model_gguf(f) && first_part(f)) return f;
    return std::nullopt;
}

std::vector<std::string> gguf_split_parts(const std::vector<std::string>& files, const std::string& first) {
    auto n = parse_gguf_name(first);
    if (!n || n->split_count <= 1) return {first};
    std::vector<std::pair<int, std::string>> parts;
    for (const std::string& f : files) {
        auto m = parse_gguf_name(f);
        if (m && m->prefix == n->prefix && m->split_count == n->split_count) parts.emplace_back(m->split_index, f);
    }
    std::sort(parts.begin(), parts.end());
    std::vector<std::string> out;
    for (auto& p : parts) out.push_back(p.second);
    return out;
}

std::vector<std::string> gguf_quant_tags(const std::vector<std::string>& files) {
    std::set<std::string> tags;
    for (const std::string& f : files)
        if (is_model_gguf(f))
            if (auto n = parse_gguf_name(f); n && !n->tag.empty()) tags.insert(n->tag);
    return {tags.begin(), tags.end()};
}

std::vector<std::string> folder_support_files(const std::vector<std::string>& files) {
    std::vector<std::string> out;
    for (const std::string& f : files) {
        if (!top_level(f)) continue;  // "original/", "onnx/", ...: other formats of the same model
        const std::string u = upper(f);
        if (ends_with(u, ".JSON") || ends_with(u, ".JINJA") || ends_with(u, ".TIKTOKEN") || u == "TOKENIZER.MODEL" ||
            u == "MERGES.TXT" || u == "VOCAB.TXT")
            out.push_back(f);
    }
    std::sort(out.begin(), out.end());
    return out;
}

Expected<std::vector<std::string>> folder_weight_files(const std::vector<std::string>& files,
                                                       const std::optional<std::string>& index_json,
                                                       std::string_view where) {
    std::vector<std::string> out;
    if (index_json) {
        auto j = nlohmann::json::parse(*index_json, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
            return error("{}: {}: not JSON with a \"weight_map\" object", where, kShardIndex);
        std::set<std::string> shards;
        for (const auto& [tensor, shard] : j["weight_map"].items()) {
            if (!shard.is_string() || !valid_repo_path(shard.get<std::string>()))
                return error("{}: {}: tensor '{}' maps to an invalid shard name", where, kShardIndex, tensor);
            shards.insert(shard.get<std::string>());
        }
        for (const std::string& s : shards) {
            if (std::find(files.begin(), files.end(), s) == files.end())
                return error("{}: {} names shard '{}', which is not in the repository", where, kShardIndex, s);
            out.push_back(s);
        }
        if (out.empty()) return error("{}: {}: empty weight_map", where, kShardIndex);
        return out;
    }
    if (std::find(files.begin(), files.end(), "model.safetensors") != files.end()) return std::vector<std::string>{"model.safetensors"};
    for (const std::string& f : files)
        if (top_level(f) && ends_with(f, ".safetensors")) out.push_back(f);
    std::sort(out.begin(), out.end());
    if (out.empty()) return error("{}: no .safetensors weights", where);
    return out;
}

Expected<RepoInfo> parse_repo_info(std::string_view body) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("sha") || !j["sha"].is_string() ||
        !is_commit_hash(j["sha"].get<std::string>()))
        return error("the answer has no commit \"sha\"");
    RepoInfo info;
    info.commit = j["sha"].get<std::string>();
    if (j.contains("siblings") && j["siblings"].is_array()) {
        for (const auto& s : j["siblings"]) {
            if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string()) continue;
            Sibling sib;
            sib.path = s["rfilename"].get<std::string>();
            if (s.contains("size") && s["size"].is_number_unsigned()) sib.size = s["size"].get<uint64_t>();
            if (s.contains("blobId") && s["blobId"].is_string()) sib.blob_id = s["blobId"].get<std::string>();
            if (s.contains("lfs") && s["lfs"].is_object()) {
                const auto& l = s["lfs"];
                for (const char* k : {"sha256", "oid"})
                    if (l.contains(k) && l[k].is_string()) sib.lfs_sha256 = l[k].get<std::string>();
                if (l.contains("size") && l["size"].is_number_unsigned()) sib.size = l["size"].get<uint64_t>();
            }
            // A path must stay inside the snapshot folder.
            if (sib.path.empty() || sib.path[0] == '/' || sib.path.find("..") != std::string::npos ||
                sib.path.find('\0') != std::string::npos)
                continue;
            info.siblings.push_back(std::move(sib));
        }
    }
    return info;
}

}  // namespace llm::hub
