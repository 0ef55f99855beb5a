// Public C++ API of the llm library: load a model once, run any number of sessions on it.
//
//   auto model = llm::Model::load("model.gguf");             // or a Hugging Face safetensors folder
//   auto session = llm::Session::create(*model, {});          // own KV cache, shares the weights
//   session.value()->eval(tokens, /*all_logits=*/false);      // prompt, then one token at a time
//   std::span<const float> next = session.value()->logits();  // n_vocab logits of the last position
//
// Errors are returned as llm::Status / llm::Expected<T> with a code and a one-line message; nothing throws or exits.
// This header includes the rest of the core API: tokenizer.hpp (text <-> ids, streaming detokenizer), sampler.hpp
// (the sampler chain), generate.hpp (the generation loop), chat.hpp (chat templates, multi-turn chat) and
// system.hpp (host facts). The serving engine is engine.hpp; the C API is llm.h.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "llm/chat.hpp"
#include "llm/export.hpp"
#include "llm/generate.hpp"
#include "llm/sampler.hpp"
#include "llm/status.hpp"
#include "llm/system.hpp"
#include "llm/tokenizer.hpp"
#include "llm/types.hpp"

namespace llm {

struct LoadOptions {
    int n_threads = 0;     // threads used while loading (0 = physical cores)
    std::string quantize;  // requantize F32/F16/BF16 matrices at load: "q4_0", "q4_k", "q8_0", ... ("" = no)
    // On x86, interleave the F32/F16/BF16 matrices 16 rows at a time for the CPU's float kernels, and where the
    // kernels are AVX2's the Q4_K / Q5_K matrices 8 rows at a time for its decode kernel (the file's pages of them then
    // leave memory): Numerics::Invariant (the default) and Fast at full speed for float weights, K-quant decode ~1.3x
    // faster on AVX2. Vulkan, Numerics::Exact's float and Q5_K decode and its K-quant prompts read the file's rows
    // (which then come back into memory: the matrices resident twice), so false suits a model run only there.
    // LLM_REPACK=0 in the environment also turns it off.
    bool repack = true;
    // Called while the weights are read into memory (bytes done, bytes total), e.g. for a progress bar.
    std::function<void(size_t, size_t)> progress;
};

// What a loaded model is: its architecture, shape and weight types (for model-info displays and benchmarks).
struct ModelInfo {
    std::string arch;     // GGUF name: llama, phi3, gemma3, qwen2, qwen3 (Mistral runs as "llama")
    std::string name;     // general.name or the HF folder name
    int n_vocab = 0;
    int d_model = 0;
    int n_layers = 0;
    int n_heads = 0;
    int n_kv_heads = 0;
    int head_dim = 0;
    int d_ff = 0;
    int n_ctx_train = 0;  // the context the model was trained with
    int sliding_window = 0;  // 0 = full causal attention
    float rope_theta = 0;
    bool tied_embeddings = false;   // the output matrix is the token embeddings
    int64_t n_params = 0;           // weight elements (embeddings included)
    size_t weight_bytes = 0;        // as Model::weight_bytes()
    // Weight types of the matrices with their counts, the most common first.
    std::vector<std::pair<DType, int>> weight_types;
    // A GGUF file's `general.file_type` as llama-quantize names it ("Q4_K_M"), "safetensors" for a Hugging Face
    // folder, "?" when the file does not say.
    std::string file_type;
    size_t file_tensor_bytes = 0;   // bytes of the tensors in the file(s) (as loaded: weight_bytes() plus the rest)
};

// Immutable weights + hyper-parameters; thread-safe to share between sessions.
class LLM_API Model {
public:
    // A GGUF file, a Hugging Face safetensors folder, or hf:owner/repo[:file] (downloaded into the HF cache).
    static Expected<std::shared_ptr<const Model>> load(const std::string& path, const LoadOptions& opts = {});
    ~Model();
    const ModelInfo& info() const;  // computed once at load
    const std::string& path() const;
    // Bytes of weight data the forward pass reads per token (for bandwidth accounting).
    size_t weight_bytes() const;
    // The CPU matmul kernel each of the model's matrix weight types runs at one token and at n_tokens under `mode`,
    // on this CPU and as loaded (interleaved or not), e.g. "Q4_K gemv-x8 / gemm-avx2, Q6_K gemv-gemm-order /
    // gemm-avx2" (llm-bench prints it per model).
    std::string cpu_kernels(Numerics mode, int64_t n_tokens) const;
    // The model's tokenizer, or null when the files carry none (token ids still work);
    // tokenizer_error() then says why.
    const Tokenizer* tokenizer() const;
    const std::string& tokenizer_error() const;

private:
    struct Impl;
    friend struct ModelAccess;  // runtime/model_impl.hpp: the library's view of Impl (model_config() included)
    explicit Model(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

struct SessionOptions {
    int n_ctx = 0;               // context length (0 = the model's training context, capped at 4096)
    DType kv_type = DType::F16;  // KV cache element type: F16, BF16, F32 or Q8_0
    int n_threads = 0;           // 0 = physical cores
    int n_batch = 512;           // tokens per forward pass when a prompt is longer
    LongRopeMode longrope = LongRopeMode::Auto;
    // CPU kernel arithmetic (core/numerics.hpp; the README's table): Exact = llama.cpp's (greedy tokens equal
    // its own; with an F16 KV cache its attention over transposed values), Fast = our fastest kernels,
    // Invariant = a token's logits do not depend on how many tokens share its pass, the default (the serving
    // engine's: a prompt gives the same tokens alone and under load). (Replaces flash_attn: flash attention is
    // what Fast and Invariant run.)
    Numerics numerics = Numerics::Invariant;
    // "cpu", or "vulkan" / "vulkan:N" (device N of list_devices()). A Vulkan device that cannot be used
    // falls back to the CPU with a line on stderr.
    std::string device = "cpu";
};

// Most threads a session or a tool may ask for (as ggml's GGML_MAX_N_THREADS).
constexpr int kMaxThreads = 512;

// Checks what can be checked without the model: n_ctx >= 0, n_threads in [0, kMaxThreads], n_batch > 0, a KV
// type the cache supports, a device spelled cpu / vulkan / vulkan:N. Session::create runs it too, then checks
// that the KV cache fits in the memory available. Messages name the field: "n_ctx must be >= 0, got -5".
LLM_API Status validate(const SessionOptions& opts);

// Compute devices this build can use, one line each ("cpu: ..." first), for --list-devices.
LLM_API std::vector<std::string> list_devices();
// The CPU matmul kernels this CPU runs per weight type and numerics mode, for one decode token and a 512-token
// prompt (a header line, then one line per type), for --list-devices.
LLM_API std::vector<std::string> cpu_kernel_lines();

// One conversation the caller drives token by token: the serving engine (engine.hpp) with one sequence, a KV pool
// of n_ctx tokens and no prefix cache, and the logits of the last evaluation. In Numerics::Exact with an F16 cache
// attention is llama.cpp's (the pool keeps values transposed). Not thread-safe; use one per thread.
class LLM_API Session {
public:
    static Expected<std::unique_ptr<Session>> create(std::shared_ptr<const Model> model,
                                                     const SessionOptions& opts = {});
    ~Session();

    // Appends tokens to the history and runs them. Keeps the logits of every token when all_logits,
    // else of the last one. Fails (changing nothing) on an out-of-range id (InvalidArgument) or a full
    // context (ContextOverflow).
    Status eval(std::span<const int32_t> tokens, bool all_logits = false);
    // Logits of token i of the last eval (i = -1: its last token); n_vocab values.
    std::span<const float> logits(int64_t i = -1) const;
    // As logits(i), but null instead of aborting when i is out of range (for the C API).
    const float* logits_or_null(int64_t i = -1) const;

    int64_t n_past() const;  // tokens in the history
    int n_ctx() const;
    // Forgets history after the first n tokens (n <= n_past), e.g. to restart or to edit a conversation.
    void truncate(int64_t n);
    const Model& model() const;
    // The device the session actually runs on ("cpu" after a fallback).
    const std::string& device() const;

private:
    struct Impl;
    explicit Session(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace llm
