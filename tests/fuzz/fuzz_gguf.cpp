// libFuzzer target for the GGUF reader: any input must parse or return an error (no crash, leak or UB),
// and a successful parse must yield tensor views inside the buffer.
// Build: cmake -B build-fuzz -G Ninja -DLLM_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DLLM_BUILD_TESTS=OFF
// Run:   build-fuzz/fuzz_gguf -max_total_time=60 -max_len=8192 CORPUS_DIR (seed it with small gguf files)
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "formats/gguf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto f = llm::GgufFile::parse(data, size, "fuzz.gguf");
    if (!f) {
        if (f.error_message().empty()) std::abort();
        return 0;
    }
    for (const llm::GgufTensorInfo& t : f->tensors()) {
        llm::TensorView v = f->tensor(t.name);
        const uint8_t* p = static_cast<const uint8_t*>(v.data);
        if (v.nbytes && (p < data || p + v.nbytes > data + size)) std::abort();
        if (v.nbytes) {
            volatile uint8_t sink = p[0] ^ p[v.nbytes - 1];  // touch both ends under ASan
            (void)sink;
        }
    }
    for (const auto& kv : f->metadata()) (void)f->get_int(kv.first), (void)f->get_string_array(kv.first);
    return 0;
}
