// The packed quantized safetensors folders of make_quant4_fixtures.py, made on first use in $LLM_CACHE/quant4-fixtures
// (again whenever the generator is newer than them); shared by the CPU (tests/models) and Vulkan (tests/vulkan) tests.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/dtype.hpp"

namespace llm::test {

// The folder, or "" with *why set when it cannot be made (no python3 with numpy).
inline std::string quant4_dir(std::string* why) {
    static std::string dir, reason;
    static bool done = false;
    if (!done) {
        done = true;
        namespace fs = std::filesystem;
        const char* cache = std::getenv("LLM_CACHE");
        const char* home = std::getenv("HOME");
        dir = (cache ? std::string(cache) : std::string(home ? home : ".") + "/.cache/llm") + "/quant4-fixtures";
        const std::string script = std::string(LLM_SOURCE_DIR) + "/tests/models/make_quant4_fixtures.py";
        std::error_code ec;
        const bool fresh = fs::exists(dir + "/done", ec) &&
                           fs::last_write_time(dir + "/done", ec) >= fs::last_write_time(script, ec);
        if (!fresh && std::system(("python3 '" + script + "' '" + dir + "' > /dev/null 2>&1").c_str()) != 0) {
            reason = "cannot run tests/models/make_quant4_fixtures.py (python3 with numpy: scripts/setup-python.sh)";
            dir.clear();
        }
    }
    *why = reason;
    return dir;
}

struct Quant4Case {
    std::string folder;
    DType converted;  // what the packed linears become at load (names the shared fixtures' tolerance)
};

inline const Quant4Case kQuant4Cases[] = {
    {"llama-mlx4", DType::Q4_1}, {"llama-mlx8", DType::F16},     {"phi3-mlx4", DType::Q4_1},
    {"llama-gptq", DType::Q4_1}, {"llama-gptq-sym", DType::Q4_0}, {"llama-gptq-v2", DType::Q4_1},
    {"llama-mlx-mixed", DType::Q4_1},  // also F16 (8-bit) and BF16 (excluded) linears: Q4_1's bound is the loosest
};

}  // namespace llm::test
