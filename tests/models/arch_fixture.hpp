// The Qwen 2 / Qwen 3 / Gemma 3 fixture models of make_arch_fixtures.py (written into $LLM_CACHE/arch-fixtures on
// first use, checked by the sha256s of tests/models/data/arch_fixtures/manifest.json) and their llama.cpp references;
// shared by the CPU (tests/models) and Vulkan (tests/vulkan) tests.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fixture_util.hpp"

namespace llm::test {

inline const std::string kArchRefDir = std::string(LLM_SOURCE_DIR) + "/tests/models/data/arch_fixtures";

inline const nlohmann::json& arch_manifest() {
    static const nlohmann::json m = read_json_file(kArchRefDir + "/manifest.json");
    return m;
}

inline std::string sha256_of(const std::string& path) {
    std::string cmd = "sha256sum '" + path + "' 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return "";
    char buf[65] = {};
    const size_t n = fread(buf, 1, 64, p);
    pclose(p);
    return std::string(buf, n);
}

inline bool arch_files_ok(const std::string& dir) {
    for (const auto& [rel, sha] : arch_manifest()["files_sha256"].items())
        if (sha256_of(dir + "/" + rel) != sha.get<std::string>()) return false;
    return true;
}

// The fixture folder ($LLM_CACHE/arch-fixtures), made on first use; "" with *why set when it cannot be made.
inline std::string arch_fixture_dir(std::string* why) {
    static std::string dir, reason;
    static bool done = false;
    if (!done) {
        done = true;
        const char* cache = std::getenv("LLM_CACHE");
        const char* home = std::getenv("HOME");
        dir = (cache ? std::string(cache) : std::string(home ? home : ".") + "/.cache/llm") + "/arch-fixtures";
        if (!arch_files_ok(dir)) {
            const std::string cmd = "python3 '" + std::string(LLM_SOURCE_DIR) + "/tests/models/make_arch_fixtures.py' '" +
                                    dir + "' > /dev/null 2>&1";
            if (std::system(cmd.c_str()) != 0) {
                reason = "cannot run tests/models/make_arch_fixtures.py (python3 with numpy and gguf: "
                         "scripts/setup-python.sh)";
                dir.clear();
            } else if (!arch_files_ok(dir)) {
                reason = "make_arch_fixtures.py wrote files whose sha256 differs from the manifest's";
                dir.clear();
            }
        }
    }
    *why = reason;
    return dir;
}

}  // namespace llm::test
