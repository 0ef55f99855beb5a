// Greedy generation on the real SmolLM2-135M-Instruct (Q4_1) against llama.cpp (references made once per x86
// ISA by make_smollm2_greedy_reference.py with PyPI's llama-cpp-python 0.3.36 over a llama.cpp built for that
// ISA), raw and through the chat template: prompt ids must be identical, and all generated ids too. The
// reference is the one of the ISA the kernels run (LLM_CPU caps it: ctest also runs this test as avx2 and
// scalar); an ISA without a reference skips. This needs the engine's numerics to be llama.cpp's bit for bit: even where llama.cpp's top1-top2 margin is large, a 1-ulp difference early on
// flips an 8-bit activation rounding and grows to 0.1-0.5 logits within a few layers, and some
// continuations pass steps with margins of 0.02. The margins are printed to help diagnose a failure.
#include "greedy_reference.hpp"
#include "models/default_model.hpp"

namespace llm {
namespace {

TEST(SmolLM2, GreedyContinuationsMatchLlamaCpp) {
    auto path = find_default_model();
    if (!path) GTEST_SKIP() << "SmolLM2-135M-Instruct not in the cache: run scripts/fetch-smollm2.sh";
    const std::string ref = test::greedy_reference_path("smollm2_greedy_reference");
    if (ref.empty()) GTEST_SKIP() << "no llama.cpp reference for the " << isa_name(best_isa()) << " kernels";
    test::check_greedy_reference("smollm2", *path, ref);
}

}  // namespace
}  // namespace llm
