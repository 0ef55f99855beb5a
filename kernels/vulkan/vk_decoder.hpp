// The decoder forward pass of models/decoder.cpp on a Vulkan device: weights uploaded once, the KV cache
// in device memory, one command buffer (one submit) per forward pass, logits read back once.
// Recorded command buffers are cached by shape (n tokens, all logits) and re-submitted: positions reach
// the shaders through a small params buffer, so every decode step reuses one recording.
// Weight matrices of a type the device cannot run stay in host memory and their ops run on the CPU
// between two command buffers (one log line per type on stderr at upload).
// Same contract as decoder_forward(); the engine selects it with a backend option (see the report).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "kernels/vulkan/vk_context.hpp"
#include "kernels/vulkan/vk_ops.hpp"
#include "models/model_config.hpp"
#include "models/model_weights.hpp"

namespace llm::vk {

struct DecoderOptions {
    int n_ctx = 512;                          // KV cache positions
    DType kv_type = DType::F16;               // F16 or F32
    LongRopeMode longrope = LongRopeMode::Auto;
    bool profile = false;                     // GPU timestamps after every op (see last_profile())
    int max_batch = 0;                        // tokens per submission; 0: as many as the buffer range allows
    bool reuse_commands = true;               // cache recorded command buffers by shape (false: record
                                              // every pass, positions as push constants)
    int max_cached = 4;                       // recordings kept (least recently used dropped first)
    int n_threads = 0;                        // CPU threads for ops that fall back to the CPU; 0: all cores
};

struct UploadOptions {
    // Weight types whose ops run on the CPU even where the device has kernels for them (testing, driver
    // bugs); LLM_VULKAN_CPU_TYPES=q2_k,iq4_xs adds to this list.
    std::vector<DType> cpu_types;
    bool log = true;  // print the fallback lines on stderr (they are kept in cpu_notes either way)
};

// A model's weights on the device, uploaded once and shared by every session (decoder) of the model.
struct VulkanWeights {
    struct Layer {
        Buffer attn_norm, ffn_norm;  // (d_model) float gains
        DeviceMatrix wq, wk, wv, wqkv, wo, w_gate, w_up, w_gate_up, w_down;  // absent ones stay invalid
    };
    std::shared_ptr<Context> ctx;
    ModelConfig config;
    std::vector<Layer> layers;
    DeviceMatrix token_embd, output;  // output stays invalid when tied to token_embd
    bool tied = false;
    Buffer output_norm;
    size_t bytes = 0;
    // Matrices left on the CPU (DeviceMatrix::on_cpu), one line per (type, reason) as logged, and the
    // owners of the host memory they point into (kept alive with these weights).
    int n_cpu_matrices = 0;
    std::vector<std::string> cpu_notes;
    std::vector<std::shared_ptr<const void>> owners;

    // Errors name the tensor: out of device memory, a type neither the device nor the CPU can run, ...
    static Expected<std::shared_ptr<const VulkanWeights>> upload(std::shared_ptr<Context> ctx, const ModelConfig& c,
                                                                 const ModelWeights& w, const UploadOptions& uo = {});
};

// One session's forward pass: its own KV cache and activations on the device.
class VulkanDecoder {
public:
    static Expected<std::unique_ptr<VulkanDecoder>> create(std::shared_ptr<const VulkanWeights> weights,
                                                           const DecoderOptions& opt);
    // Convenience: upload the weights and create one decoder.
    static Expected<std::unique_ptr<VulkanDecoder>> create(std::shared_ptr<Context> ctx, const ModelConfig& c,
                                                           const ModelWeights& w, const DecoderOptions& opt,
                                                           const UploadOptions& uo = {});
    ~VulkanDecoder();

    // Runs tokens at positions [pos0, pos0 + n) through the model, appending their keys/values to the
    // device cache. logits receives [n x n_vocab] when all_logits, else the last position's [n_vocab].
    // Errors: ids out of range, pos0 + n beyond n_ctx, device failures. Rows >= pos0 + n of the cache
    // are never read, so truncating a session is just a smaller pos0 on the next call.
    Status forward(std::span<const int32_t> tokens, int64_t pos0, bool all_logits, float* logits);

    // With DecoderOptions::profile: GPU milliseconds per op of the last forward run on this decoder's
    // context, summed by op name ("matmul", "attention", ...), when the device has timestamps.
    std::vector<std::pair<std::string, double>> last_profile() const;

    int n_ctx() const { return opt_.n_ctx; }
    Context& context() { return *w_->ctx; }
    const VulkanWeights& weights() const { return *w_; }

    // Command buffers recorded so far (a new shape, or every pass without reuse_commands), the
    // recordings cached now, and the command buffers submitted (several per pass with CPU ops).
    uint64_t n_recordings() const { return n_recordings_; }
    size_t n_cached_recordings() const { return recordings_.size(); }
    uint64_t n_submits() const { return n_submits_; }

private:
    struct Recording;
    VulkanDecoder() = default;
    Status ensure_scratch(uint32_t n);
    Status record(Recording& r, uint32_t n, uint32_t pos0, bool all_logits);

    std::shared_ptr<const VulkanWeights> w_;
    DecoderOptions opt_;
    std::vector<Buffer> k_cache_, v_cache_;  // per layer [n_ctx x kv_dim] of kv_type
    // Activations for up to cap_ tokens: x, h [n x d_model]; qkv [n x (q_dim + 2 kv_dim)]; attn [n x q_dim];
    // ff [n x 2 d_ff] (gate | up); ffo [n x d_ff]; logits [n x n_vocab]; ids [n]; rope (cos, sin) table.
    uint32_t cap_ = 0;
    Buffer x_, h_, qkv_, attn_, ff_, ffo_, logits_, logits_host_, ids_, rope_cs_;
    Buffer params_;  // uint32 {pos0, n_keys} of the pass, read by kv_write and attention
    std::vector<std::unique_ptr<Recording>> recordings_;  // valid while the activation buffers are
    uint64_t n_recordings_ = 0, n_submits_ = 0, use_clock_ = 0;
    std::vector<std::pair<std::string, double>> last_profile_;
};

}  // namespace llm::vk
