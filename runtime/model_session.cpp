// Model: the public API over the loader; the devices and kernels this build can use. (Session: engine/session.cpp.)
#include <algorithm>
#include <new>

#include "core/cpu_features.hpp"
#include "core/mapped_file.hpp"
#include "core/system_info.hpp"
#include "formats/gguf.hpp"
#include "hub/hub.hpp"
#include "kernels/cpu/float_chain.hpp"
#include "kernels/cpu/matmul.hpp"
#include "llm/llm.hpp"
#include "models/layer_tensors.hpp"
#include "models/model_loader.hpp"
#include "quantize/quantize_model.hpp"
#include "quantize/quantize_weights.hpp"
#include "runtime/forward_cpu.hpp"
#include "runtime/model_access.hpp"
#include "runtime/model_impl.hpp"
#include "runtime/repack_weights.hpp"
#include "tokenizer/tokenizer.hpp"
#ifdef LLM_HAVE_VULKAN
#include "kernels/vulkan/vk_session.hpp"
#endif

namespace llm {

namespace {

void load_tokenizer(ModelAccess::Impl& m) {
    Expected<std::unique_ptr<Tokenizer>> tok = error("no tokenizer files");
    if (m.loaded.gguf) {
        tok = Tokenizer::from_gguf(*m.loaded.gguf);
    } else if (file_exists(m.loaded.hf_dir + "/tokenizer.json") || file_exists(m.loaded.hf_dir + "/tokenizer.model")) {
        tok = Tokenizer::from_hf_folder(m.loaded.hf_dir);
    } else {
        tok = error("{}: no tokenizer.json or tokenizer.model", m.loaded.hf_dir);
    }
    if (tok) {
        m.tokenizer = std::move(*tok);
    } else {
        m.tokenizer_error = tok.error_message();
    }
}

// Counts bytes of weights read at load against their total and reports every percent (and the end) to `progress`.
class LoadProgress {
public:
    LoadProgress(const ModelWeights& w, std::function<void(size_t, size_t)> progress) : progress_(std::move(progress)) {
        for (const TensorView* t : views(w)) total_ += t->nbytes;
    }
    void add(size_t bytes) {
        done_ += bytes;
        if (progress_ && done_ >= next_) {
            progress_(done_, total_);
            next_ = done_ + total_ / 100;
        }
    }
    void finish() {
        if (progress_) progress_(total_, total_);
    }
    static std::vector<const TensorView*> views(const ModelWeights& w) {
        std::vector<const TensorView*> v = {&w.token_embd, &w.output};
        for_each_layer_matrix(w.layers, [&](const TensorView& t, const LayerTensor&, int) { v.push_back(&t); });
        return v;
    }

private:
    std::function<void(size_t, size_t)> progress_;
    size_t total_ = 0, done_ = 0, next_ = 0;
};

// Reads every weight page the forward pass reads from the mapping once (the mapping is lazy), so the file comes off
// the disk here, not during the first tokens; matrices repacked at load were read by the repacking (and counted).
void prefetch_weights(const ModelWeights& w, LoadProgress& progress) {
    volatile uint8_t sink = 0;
    for (const TensorView* t : LoadProgress::views(w)) {
        if (t->panels) continue;
        const auto* p = static_cast<const uint8_t*>(t->data);
        for (size_t off = 0; off < t->nbytes; off += 4096) sink = sink + p[off];
        progress.add(t->nbytes);
    }
    progress.finish();
}

// A GGUF file's general.file_type as llama-quantize names it ("Q4_K_M"), "?" when the file does not say.
std::string file_type_name(const GgufFile& f) {
    if (auto ft = f.get_int("general.file_type"); ft && ft->has_value())
        for (const FileTypeInfo& t : file_types())
            if ((int64_t)t.ftype == **ft) return std::string(t.name);
    return "?";
}

// What info() returns, computed once at load (the GGUF header is read here, not per call).
ModelInfo compute_info(const ModelAccess::Impl& impl, size_t weight_bytes) {
    const ModelConfig& c = impl.loaded.config;
    ModelInfo m;
    m.arch = c.arch, m.name = c.name;
    m.n_vocab = c.n_vocab, m.d_model = c.d_model, m.n_layers = c.n_layers, m.n_heads = c.n_heads;
    m.n_kv_heads = c.n_kv_heads, m.head_dim = c.head_dim, m.d_ff = c.d_ff, m.n_ctx_train = c.n_ctx_train;
    m.sliding_window = c.sliding_window, m.rope_theta = c.rope_theta, m.tied_embeddings = c.tied_embeddings;
    m.weight_bytes = m.file_tensor_bytes = weight_bytes;
    if (auto f = GgufFile::open(impl.path)) {  // mapped, not read: the header only
        m.file_tensor_bytes = 0;
        for (const GgufTensorInfo& t : f->tensors()) m.file_tensor_bytes += t.nbytes;
        m.file_type = file_type_name(*f);
    } else {
        m.file_type = "safetensors";
    }
    // The matrices (the norms' float vectors are not counted): elements and types.
    const ModelWeights& w = impl.loaded.weights;
    std::vector<const TensorView*> mats{&w.token_embd};
    if (w.output.valid() && w.output.data != w.token_embd.data) mats.push_back(&w.output);
    for (const LayerWeights& L : w.layers)
        for (const TensorView* t : {&L.wq, &L.wk, &L.wv, &L.wqkv, &L.wo, &L.w_gate, &L.w_up, &L.w_gate_up, &L.w_down})
            if (t->valid()) mats.push_back(t);
    for (const TensorView* t : mats) {
        m.n_params += t->n_elements();
        auto it = std::find_if(m.weight_types.begin(), m.weight_types.end(), [&](auto& p) { return p.first == t->type; });
        if (it == m.weight_types.end()) m.weight_types.push_back({t->type, 1});
        else ++it->second;
    }
    std::stable_sort(m.weight_types.begin(), m.weight_types.end(), [](auto& a, auto& b) { return a.second > b.second; });
    return m;
}

}  // namespace

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

Expected<std::shared_ptr<const Model>> Model::load(const std::string& path_or_ref, const LoadOptions& opts) {
    auto resolved = hub::resolve_model_path(path_or_ref);  // "hf:owner/repo:Q4_K_M" -> a file in the HF cache
    if (!resolved) return resolved.status();
    const std::string& path = *resolved;
    auto loaded = load_model(path);
    // A loader's plain error is about the file's contents: InvalidModel (NotFound, Io, Unsupported stay).
    if (!loaded) return loaded.status().code() == StatusCode::InvalidArgument
                            ? loaded.status().with_code(StatusCode::InvalidModel) : loaded.status();
    const int threads = opts.n_threads > 0 ? opts.n_threads : physical_core_count();
    if (!opts.quantize.empty())
        if (Status s = quantize_weights(*loaded, opts.quantize, threads); !s) return s;
    LoadProgress progress(loaded->weights, opts.progress);
    const size_t repacked =
        opts.repack ? repack_weights(*loaded, threads, [&](size_t bytes) { progress.add(bytes); }) : 0;
    if (opts.progress) prefetch_weights(loaded->weights, progress);
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->loaded = std::move(*loaded);
    load_tokenizer(*impl);
    auto model = std::shared_ptr<const Model>(new Model(std::move(impl)));
    model->impl_->info = compute_info(*model->impl_, model->weight_bytes());
    model->impl_->mapped_weight_bytes = !opts.quantize.empty() ? 0 : model->weight_bytes() - std::min(repacked, model->weight_bytes());
    return model;
}

const ModelConfig& model_config(const Model& m) { return ModelAccess::impl(m).loaded.config; }
const ModelWeights& model_weights(const Model& m) { return ModelAccess::impl(m).loaded.weights; }
const ModelInfo& Model::info() const { return impl_->info; }
const std::string& Model::path() const { return impl_->path; }
const Tokenizer* Model::tokenizer() const { return impl_->tokenizer.get(); }
const std::string& Model::tokenizer_error() const { return impl_->tokenizer_error; }

size_t Model::weight_bytes() const {
    const ModelWeights& w = impl_->loaded.weights;
    size_t total = w.output.nbytes;
    for_each_layer_matrix(w.layers, [&](const TensorView& t, const LayerTensor&, int) { total += t.nbytes; });
    return total;
}

std::string Model::cpu_kernels(Numerics mode, int64_t n_tokens) const {
    const ModelWeights& w = impl_->loaded.weights;
    std::vector<std::pair<DType, bool>> seen;  // (type, interleaved), in first-use order
    auto note = [&](const TensorView& t) {
        const std::pair<DType, bool> k{t.type, t.panels != nullptr};
        if (t.valid() && std::find(seen.begin(), seen.end(), k) == seen.end()) seen.push_back(k);
    };
    for_each_layer_matrix(w.layers, [&](const TensorView& t, const LayerTensor&, int) { note(t); });
    note(w.output);
    std::string out;
    for (const auto& [type, panels] : seen)
        out += fmt::format("{}{} {} / {}", out.empty() ? "" : ", ", dtype_name(type),
                           matmul_kernel_name(best_isa(), type, 1, mode, panels),
                           matmul_kernel_name(best_isa(), type, n_tokens, mode, panels));
    return out;
}

std::vector<std::string> list_devices() {
    std::vector<std::string> lines = {fmt::format("cpu: {} physical cores, kernels: {}", physical_core_count(),
                                                  cpu_isa_name())};
#ifndef _OPENMP
    lines[0] += " (built without OpenMP, LLM_OPENMP=OFF: one thread whatever --threads says)";
#endif
#ifdef LLM_HAVE_VULKAN
    for (const std::string& l : vk::device_list_lines()) lines.push_back(l);
#else
    lines.push_back("vulkan: not built into this binary");
#endif
    return lines;
}

std::vector<std::string> cpu_kernel_lines() {
    std::vector<std::string> lines = {"cpu matmul kernels (1 token / 512 tokens) per --numerics mode:"};
    const Isa isa = best_isa();
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                    DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS}) {
        std::string line = fmt::format("  {:<7}", dtype_name(t));
        const bool panels = repacks(t);  // what Model::load makes
        for (Numerics m : {Numerics::Exact, Numerics::Fast, Numerics::Invariant})
            line += fmt::format(" {}: {} / {}", numerics_name(m), matmul_kernel_name(isa, t, 1, m, panels),
                                matmul_kernel_name(isa, t, 512, m, panels));
        lines.push_back(line);
    }
    return lines;
}

}  // namespace llm
