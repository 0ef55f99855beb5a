// The models in the Hugging Face cache as llm-models shows them (one entry per GGUF model file or safetensors
// folder per snapshot), described from their own files, and removal of one entry.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "hub/hub_cache.hpp"
#include "hub/model_ref.hpp"

namespace llm::hub {

struct CachedModel {
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
std::vector<CachedModel> list_cached_models(const HubCache& cache);
// "<repo>: <file> <bytes>" for every blobs/*.incomplete (downloads a later pull resumes).
std::vector<std::string> partial_downloads(const HubCache& cache);
// Removes the entry `ref` names: its snapshot links, the blobs no other snapshot uses, an emptied snapshot with
// the refs pointing at it, and the repository folder (with partial downloads) once nothing is left.
// Returns the paths removed.
Expected<std::vector<std::string>> remove_cached_model(const HubCache& cache, const ModelRef& ref);

// llama.cpp's general.file_type names ("Q4_K_M" for 15); empty when unknown.
std::string gguf_file_type_name(int64_t ftype);

}  // namespace llm::hub
