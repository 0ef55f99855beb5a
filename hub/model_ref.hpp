// Model references (`hf:owner/repo[:QUANT | /path/file.gguf][@revision]`) and the pure rules that pick a
// repository's files for one: llama.cpp's `-hf owner/repo:QUANT` matching and the safetensors folder set.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "llm/hub.hpp"  // the public part

namespace llm::hub {

// huggingface_hub's repo id rule: [\w.-]{1,96} per part, one '/', no "--" or "..", no leading/trailing '-' '.'.
Status validate_repo_id(std::string_view repo);
bool is_commit_hash(std::string_view s);  // 40 lowercase hex digits

// "models--owner--repo" <-> "owner/repo" (the cache folder name).
std::string repo_folder_name(std::string_view repo);
std::optional<std::string> repo_from_folder_name(std::string_view folder);

// A GGUF file name taken apart as llama.cpp does: "dir/Model-Q4_K_M-00001-of-00003.gguf" ->
// prefix "dir/Model-Q4_K_M", tag "Q4_K_M" (upper case; empty when the name has none), split 1 of 3.
struct GgufName {
    std::string prefix;
    std::string tag;
    int split_index = 1;
    int split_count = 1;
};
std::optional<GgufName> parse_gguf_name(std::string_view path);
// A .gguf that holds a model (not an mmproj, imatrix or draft-model sidecar).
bool is_model_gguf(std::string_view path);
// The GGUF for `quant` among `files` (the first part of a split model): a file whose tag equals it, else
// llama.cpp's rule (case-insensitive "QUANT" followed by '.' or '-'). Empty quant: Q4_K_M, Q8_0, then the first.
std::optional<std::string> find_gguf(const std::vector<std::string>& files, std::string_view quant);
// Every part of a split GGUF, in order (just `first` when it is not split).
std::vector<std::string> gguf_split_parts(const std::vector<std::string>& files, const std::string& first);
// The quantization tags present among the model GGUFs, sorted, for "not found" messages.
std::vector<std::string> gguf_quant_tags(const std::vector<std::string>& files);

// Safetensors folder: the top-level config, tokenizer and template files (and the shard index when present).
std::vector<std::string> folder_support_files(const std::vector<std::string>& files);
// The weight files: the shards the index names when `index_json` is given (parsed, checked against `files`),
// else model.safetensors, else every top-level .safetensors. `where` prefixes messages.
Expected<std::vector<std::string>> folder_weight_files(const std::vector<std::string>& files,
                                                       const std::optional<std::string>& index_json,
                                                       std::string_view where);
inline constexpr std::string_view kShardIndex = "model.safetensors.index.json";

// One file of a repository as the hub's model API lists it.
struct Sibling {
    std::string path;
    uint64_t size = 0;
    std::string blob_id;     // git blob sha1
    std::string lfs_sha256;  // set for LFS files
};

struct RepoInfo {
    std::string commit;
    std::vector<Sibling> siblings;
    std::vector<std::string> paths() const {
        std::vector<std::string> p;
        for (const Sibling& s : siblings) p.push_back(s.path);
        return p;
    }
};

// The body of GET /api/models/{repo}/revision/{rev}?blobs=true: the commit "sha" (required, 40 hex digits) and the
// "siblings" (entries of other shapes are skipped, as are paths that would leave the snapshot folder).
Expected<RepoInfo> parse_repo_info(std::string_view body);

}  // namespace llm::hub
