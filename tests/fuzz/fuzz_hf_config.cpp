// libFuzzer target for a Hugging Face config.json: any text parses into a ModelConfig that validate_config accepts
// or returns an error (no crash, no exception, no undefined behaviour such as casting 1e300 to int).
// Build and run: scripts/fuzz.sh hf_config (corpus: tests/fuzz/corpus/hf_config, dictionary: json.dict).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "models/model_loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto c = llm::parse_hf_config(text, "fuzz/config.json");
    if (!c) {
        if (c.error_message().empty()) std::abort();
        return 0;
    }
    // What the loader and the KV cache size from these fields must be sane.
    if (c->n_layers <= 0 || c->d_model <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 || c->n_vocab <= 0) std::abort();
    if (!llm::validate_config(*c)) std::abort();
    return 0;
}
