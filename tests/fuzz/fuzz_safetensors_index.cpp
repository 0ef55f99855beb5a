// libFuzzer target for model.safetensors.index.json (the sharded-folder index): any text gives shard names that
// stay inside the model folder, or an error.
// Build and run: scripts/fuzz.sh safetensors_index (corpus: tests/fuzz/corpus/safetensors_index).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "formats/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto idx = llm::parse_safetensors_index(text, "fuzz/model.safetensors.index.json");
    if (!idx) {
        if (idx.error_message().empty()) std::abort();
        return 0;
    }
    if (idx->empty()) std::abort();
    for (const auto& [shard, names] : *idx) {
        if (shard.empty() || shard.find('/') != std::string::npos || shard.find("..") != std::string::npos ||
            shard.find('\0') != std::string::npos || names.empty())
            std::abort();
    }
    return 0;
}
