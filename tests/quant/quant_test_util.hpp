// Helpers for the quant tests: reading fixture files from LLM_FIXTURES_DIR/quant.
#pragma once
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace llm::test {

inline std::string quant_fixture_path(const std::string& name) {
    return std::string(LLM_FIXTURES_DIR) + "/quant/" + name;
}

// Whole file as bytes; empty if it cannot be read.
inline std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return {};
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace llm::test
