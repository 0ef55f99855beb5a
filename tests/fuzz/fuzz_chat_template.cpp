// libFuzzer target: parse arbitrary bytes as a chat template and render it against a fixed conversation
// with tight limits. Any crash, sanitizer report, hang or exception escaping the API is a bug; errors
// returned as Status are fine. The first input byte picks options so both code paths get exercised.
// Run: build with -DLLM_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DLLM_BUILD_TESTS=OFF (add
// -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link,address,undefined so the library is instrumented too), then
//   fuzz_chat_template -max_total_time=60 -dict=tests/fuzz/fuzz_chat_template.dict CORPUS_DIR
// seeding CORPUS_DIR with tests/chat/data/templates/*.jinja (each prefixed by one flag byte, e.g. \x03).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tokenizer/chat/chat_template.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t flags = data[0];
    std::string_view source(reinterpret_cast<const char*>(data + 1), size - 1);
    auto tmpl = llm::ChatTemplate::parse(source);
    if (!tmpl) return 0;
    static const std::vector<llm::ChatMessage> conv = {
        {"system", "  You are terse.\n"}, {"user", "Hi {{ x }} {% if %}"}, {"assistant", " ok "}, {"user", "\xc3\xa9\xff"}};
    llm::ChatTemplateOptions opt;
    opt.add_generation_prompt = flags & 1;
    opt.bos_token = "<s>";
    opt.eos_token = "</s>";
    opt.max_output_bytes = 1 << 16;
    opt.max_steps = 20000;
    auto out = tmpl->render(flags & 2 ? conv : std::vector<llm::ChatMessage>{}, opt);
    if (out && out->size() > opt.max_output_bytes) __builtin_trap();  // the output cap must hold
    return 0;
}
