// The README's C++ example: load a model, tokenize a prompt, generate greedily through the public API only.
// tests/install/run.sh builds it against the installed package (find_package(llm)) and checks its output.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "llm/llm.hpp"

int main(int argc, char** argv) {
    if (argc < 3) return std::fprintf(stderr, "usage: %s MODEL PROMPT [N]\n", argv[0]), 2;
    auto model = llm::Model::load(argv[1]);  // a GGUF file, a safetensors folder or hf:owner/repo
    if (!model) {
        std::fprintf(stderr, "error (%s): %s\n", llm::status_code_name(model.status().code()),
                     model.error_message().c_str());
        return 1;
    }
    const llm::ModelInfo info = (*model)->info();
    std::printf("model: %s, %d layers, d_model %d, %lld parameters\n", info.arch.c_str(), info.n_layers,
                info.d_model, (long long)info.n_params);
    const llm::Tokenizer* tok = (*model)->tokenizer();
    if (!tok) return std::fprintf(stderr, "error: %s\n", (*model)->tokenizer_error().c_str()), 1;

    auto session = llm::Session::create(*model, {.n_ctx = 256});  // own KV cache; the weights are shared
    if (!session) return std::fprintf(stderr, "error: %s\n", session.error_message().c_str()), 1;
    auto sampler = llm::Sampler::create(llm::SamplerConfig::greedy());
    if (!sampler) return std::fprintf(stderr, "error: %s\n", sampler.error_message().c_str()), 1;

    const std::vector<int32_t> prompt = tok->encode(argv[2], /*add_special=*/true, /*parse_special=*/false);
    llm::GenerateOptions opts;
    opts.max_tokens = argc > 3 ? std::atoi(argv[3]) : 16;
    opts.stop_at_end_of_generation = false;
    std::string streamed;  // text arrives in whole UTF-8 characters
    auto result = llm::generate(**session, *tok, *sampler, prompt, opts, [&](std::string_view text) {
        streamed += text;
        return true;  // false would stop generation
    });
    if (!result) return std::fprintf(stderr, "error: %s\n", result.error_message().c_str()), 1;

    std::printf("prompt:");
    for (int32_t t : prompt) std::printf(" %d", t);
    std::printf("\ngenerated:");
    for (int32_t t : result->tokens) std::printf(" %d", t);
    std::printf("\nstop: %s, streamed text equals result text: %s\n", llm::stop_reason_name(result->stop_reason),
                streamed == result->text ? "yes" : "no");
    return 0;
}
