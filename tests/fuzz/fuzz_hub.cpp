// libFuzzer target for what comes from users and from the hub in hub/: model references (hf:owner/repo:QUANT@rev),
// the model API's JSON answer (commit and file list), the shard index as the hub side reads it, and GGUF file
// names (quant tags, split parts). The first byte picks the parser. Invariants: a parsed reference prints back to
// a string that parses to the same reference; listed paths never leave the snapshot folder; a picked GGUF is one
// of the files given.
// Build and run: scripts/fuzz.sh hub (corpus: tests/fuzz/corpus/hub).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hub/model_ref.hpp"

namespace {

std::vector<std::string> lines(std::string_view text) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos <= text.size() && out.size() < 256) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        if (nl > pos) out.emplace_back(text.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return out;
}

bool same(const llm::hub::ModelRef& a, const llm::hub::ModelRef& b) {
    return a.repo == b.repo && a.kind == b.kind && a.quant == b.quant && a.file == b.file && a.revision == b.revision;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace llm::hub;
    if (size == 0 || size > 65536) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (data[0] % 4) {
        case 0: {
            auto ref = parse_model_ref(text);
            if (!ref) {
                if (ref.error_message().empty()) std::abort();
                break;
            }
            if (!validate_repo_id(ref->repo)) std::abort();
            auto again = parse_model_ref(ref->to_string());
            if (!again || !same(*ref, *again)) std::abort();
            const std::string folder = repo_folder_name(ref->repo);
            auto back = repo_from_folder_name(folder);
            if (!back || *back != ref->repo) std::abort();
            break;
        }
        case 1: {
            auto info = parse_repo_info(text);
            if (!info) break;
            if (!is_commit_hash(info->commit)) std::abort();
            for (const Sibling& s : info->siblings)
                if (s.path.empty() || s.path[0] == '/' || s.path.find("..") != std::string::npos) std::abort();
            const auto paths = info->paths();
            (void)folder_support_files(paths);
            (void)folder_weight_files(paths, std::nullopt, "fuzz");
            for (const char* quant : {"", "Q4_K_M", "q8_0"})
                if (auto g = find_gguf(paths, quant)) {
                    bool listed = false;
                    for (const auto& p : paths) listed |= p == *g;
                    if (!listed) std::abort();
                    (void)gguf_split_parts(paths, *g);
                }
            break;
        }
        case 2: {
            const std::vector<std::string> files = {"config.json", "model-00001-of-00002.safetensors",
                                                    "model-00002-of-00002.safetensors", "sub/x.safetensors"};
            auto w = folder_weight_files(files, std::string(text), "fuzz");
            if (w)
                for (const auto& f : *w) {
                    bool listed = false;
                    for (const auto& p : files) listed |= p == f;
                    if (!listed) std::abort();
                }
            break;
        }
        default: {
            const auto names = lines(text);
            for (const auto& n : names)
                if (auto g = parse_gguf_name(n))
                    if (g->split_index < 1 || g->split_index > g->split_count) std::abort();
            (void)gguf_quant_tags(names);
            if (!names.empty()) {
                if (auto g = find_gguf(names, names[0])) (void)gguf_split_parts(names, *g);
            }
            break;
        }
    }
    return 0;
}
