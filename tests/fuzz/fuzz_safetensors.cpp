// libFuzzer target for the safetensors header parser (parse-from-memory entry point): any input must parse or
// return an error, and a successful parse must yield tensor views inside the buffer.
// Build: cmake -B build-fuzz -G Ninja -DLLM_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DLLM_BUILD_TESTS=OFF
// Run:   build-fuzz/fuzz_safetensors -max_total_time=60 -max_len=8192 CORPUS_DIR (seed it with small safetensors files)
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "formats/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto s = llm::SafetensorsModel::parse(data, size, "fuzz.safetensors");
    if (!s) {
        if (s.error_message().empty()) std::abort();
        return 0;
    }
    for (const std::string& n : s->names()) {
        llm::TensorView v = s->tensor(n);
        const uint8_t* p = static_cast<const uint8_t*>(v.data);
        if (p < data || p + v.nbytes > data + size) std::abort();
        if (v.nbytes) {
            volatile uint8_t sink = p[0] ^ p[v.nbytes - 1];
            (void)sink;
        }
    }
    return 0;
}
