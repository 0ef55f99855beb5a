// The Vulkan backend of the forward-pass node list (models/forward.hpp builds it, core/graph.hpp holds it):
// weights uploaded once, the KV cache in device memory, each pass's nodes recorded into one command buffer
// (one submit), logits read back once. Recordings are cached by batch shape (token count, output rows)
// and re-submitted: positions reach the shaders through a small params buffer and the rope table, so
// every decode step reuses one recording.
// Per node, the op table (core/op_table.hpp) and the upload decide where it runs: a weight the device
// cannot run stays in host memory and its nodes run on the CPU between two command buffers (one log line
// per type on stderr at upload).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/graph.hpp"
#include "core/status.hpp"
#include "kernels/vulkan/vk_context.hpp"
#include "kernels/vulkan/vk_ops.hpp"
#include "models/forward.hpp"
#include "models/model_config.hpp"
#include "models/model_weights.hpp"

namespace llm::vk {

struct DecoderOptions {
    int n_ctx = 512;                          // KV cache positions
    DType kv_type = DType::F16;               // F16 or F32
    LongRopeMode longrope = LongRopeMode::Auto;
    bool profile = false;                     // GPU timestamps after every node (see last_profile())
    int max_batch = 0;                        // tokens per submission; 0: as many as the buffer range allows
    bool reuse_commands = true;               // cache recorded command buffers by shape (false: record
                                              // every pass, positions as push constants)
    int max_cached = 4;                       // recordings kept (least recently used dropped first)
    int n_threads = 0;                        // CPU threads for nodes that fall back to the CPU; 0: all cores
    // The serving engine's pool instead of one sequence's cache: paged_blocks blocks of block_tokens positions
    // per layer, written and read through block tables (forward(Batch, PagedKv, ...)); n_ctx is then the most
    // positions one sequence may hold.
    int64_t paged_blocks = 0;
    int block_tokens = 16;
    // Invariant: one matmul kernel at every token count (the tiled one, whose reduction order per output does
    // not depend on the tokens beside it; the CPU fallback in Numerics::Invariant too), so a token's logits do
    // not depend on what shares its pass. Exact / Fast: the kernel by token count (matrix-vector for few).
    Numerics numerics = Numerics::Exact;
};

struct UploadOptions {
    // Weight types whose ops run on the CPU even where the device has kernels for them (testing, driver
    // bugs); LLM_VULKAN_CPU_TYPES=q2_k,iq4_xs adds to this list.
    std::vector<DType> cpu_types;
    bool log = true;  // print the fallback lines on stderr (they are kept in cpu_notes either way)
};

// A model's weights on the device, uploaded once and shared by every session (decoder) of the model.
struct VulkanWeights {
    std::shared_ptr<Context> ctx;
    ModelConfig config;
    // The host model the graphs are built from: views into the mapped files (kept alive by host.owners)
    // and the norm gains. Device copies are found by host address, so a tied output finds token_embd's.
    ModelWeights host;
    std::unordered_map<const void*, DeviceMatrix> matrices;  // by TensorView::data; on_cpu(): left on the host
    std::unordered_map<const float*, Buffer> gains;          // by the address of host's gain vectors
    size_t bytes = 0;
    // Matrices left on the CPU, and one line per (type, reason) as logged.
    int n_cpu_matrices = 0;
    std::vector<std::string> cpu_notes;

    // The device copy of a weight of host (or of the model uploaded: same data); aborts for an unknown one.
    const DeviceMatrix& matrix(const TensorView& t) const;
    const Buffer& gain(const float* g) const;

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
    // are never read, so truncating a session is just a smaller pos0 on the next call. Batches wider than
    // the device's buffer range (or max_batch) run as consecutive sub-batches.
    Status forward(std::span<const int32_t> tokens, int64_t pos0, bool all_logits, float* logits);
    // One pass over a batch: one sequence (sequence ids 0) at consecutive positions on this backend for
    // now; logits: [out_rows x n_vocab]. hook (debugging): called after the pass for every node with an
    // output, with its values as they were right after the node (such a pass is recorded afresh with one
    // copy per node, and not cached).
    Status forward(const Batch& b, float* logits, const NodeHook& hook = {});
    // One pass of the serving engine (a paged decoder: DecoderOptions::paged_blocks > 0) over several
    // sequences, each one's tokens consecutive in b (kv.seqs: their tokens, key counts and block tables;
    // kv.slots: each token's pool row; kv.pool is not used, the pool lives on the device). logits:
    // [out_rows x n_vocab].
    Status forward(const Batch& b, const PagedKv& kv, float* logits);
    bool paged() const { return opt_.paged_blocks > 0; }

    // With DecoderOptions::profile: GPU milliseconds per op of the last forward run on this decoder's
    // context, summed by op name ("matmul", "attention", ...), when the device has timestamps.
    std::vector<std::pair<std::string, double>> last_profile() const;

    int n_ctx() const { return opt_.n_ctx; }
    Context& context() { return *w_->ctx; }
    const VulkanWeights& weights() const { return *w_; }
    // Tokens one pass may hold (every activation row must fit one storage-buffer binding).
    int64_t max_tokens() const;

    // Command buffers recorded so far (a new shape, or every pass without reuse_commands), the
    // recordings cached now, and the command buffers submitted (several per pass with CPU nodes).
    uint64_t n_recordings() const { return n_recordings_; }
    size_t n_cached_recordings() const { return recordings_.size(); }
    uint64_t n_submits() const { return n_submits_; }

    // For the recorder (kernels/vulkan/vk_decoder.cpp).
    const std::vector<Buffer>& k_cache() const { return k_cache_; }
    const std::vector<Buffer>& v_cache() const { return v_cache_; }
    bool kv_f16() const { return opt_.kv_type == DType::F16; }

private:
    struct Recording;
    friend class GraphRecorder;
    VulkanDecoder() = default;
    Status ensure_buffers(const MemoryPlan& plan, const Batch& b);
    Status record(Recording& r, const Graph& g, const MemoryPlan& plan, uint32_t pos0, uint32_t n_keys, bool debug);
    // The recorded pass of b's shape (recorded first when new), run with this pass's inputs.
    Status run_pass(const Batch& b, const ForwardInputs& in, int64_t pos0, float* logits, const NodeHook& hook);
    // Ensures a host-visible buffer of at least `bytes` (a new one invalidates the recordings).
    Status ensure_host(Buffer& buf, size_t bytes);

    std::shared_ptr<const VulkanWeights> w_;
    DecoderOptions opt_;
    std::vector<Buffer> k_cache_, v_cache_;  // per layer [n_ctx (paged: paged_blocks x block_tokens) x kv_dim] of kv_type
    // Activations: one buffer per MemoryPlan slot; logits [rows x n_vocab]; ids [n]; rope (cos, sin) tables (the
    // second: sliding-window layers with their own rope base, Gemma 3).
    std::vector<Buffer> slots_;
    Buffer logits_, logits_host_, ids_, rope_cs_, rope_cs_swa_;
    Buffer params_;  // uint32 {pos0, n_keys} of the pass, read by kv_write and attention
    // Paged passes: each token's pool row; per token {position, key count, table offset}; the block tables.
    Buffer kv_slots_, tok_info_, tables_;
    std::vector<std::unique_ptr<Recording>> recordings_;  // valid while the activation buffers are
    uint64_t n_recordings_ = 0, n_submits_ = 0, use_clock_ = 0;
    std::vector<std::pair<std::string, double>> last_profile_;
};

}  // namespace llm::vk
