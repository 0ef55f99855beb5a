#include "models/default_model.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <vector>

namespace llm {

std::string model_cache_dir() {
    if (const char* c = std::getenv("LLM_CACHE"); c && *c) return c;
    const char* home = std::getenv("HOME");
    return std::string(home && *home ? home : ".") + "/.cache/llm";
}

std::optional<std::string> find_default_model() {
    if (const char* m = std::getenv("LLM_MODEL"); m && *m) return std::string(m);
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path dir = fs::path(model_cache_dir()) / "smollm2";
    std::vector<std::string> found;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec) && it->path().extension() == ".gguf") found.push_back(it->path().string());
    if (found.empty()) return std::nullopt;
    std::sort(found.begin(), found.end());
    return found.front();
}

}  // namespace llm
