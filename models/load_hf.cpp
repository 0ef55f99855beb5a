// Hugging Face adapter: config.json + safetensors (LlamaForCausalLM, MistralForCausalLM, Phi3ForCausalLM,
// Qwen2ForCausalLM, Qwen3ForCausalLM, Gemma3ForCausalLM; float or packed MLX / GPTQ weights) -> ModelConfig +
// ModelWeights. HF keeps the un-permuted Q/K layout, so RoPE is rotate-half (NEOX) here; Gemma's norm weights are
// stored as w for a gain of 1 + w.
#include <sys/stat.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/mapped_file.hpp"
#include "formats/safetensors.hpp"
#include "models/layer_tensors.hpp"
#include "models/load_hf_quant.hpp"
#include "models/model_loader.hpp"

namespace llm {
namespace {

using json = nlohmann::json;

std::string parent_dir(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

Expected<LoadedModel> load_hf_model(const std::string& path) {
    struct stat st {};
    const bool is_dir = stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    const std::string dir = is_dir ? path : parent_dir(path);
    auto cfg_text = read_text_file(dir + "/config.json");
    if (!cfg_text) return cfg_text.status();
    auto cfg = parse_hf_config(*cfg_text, dir + "/config.json");
    if (!cfg) return cfg.status();
    auto quant = parse_hf_quant(*cfg_text, dir);
    if (!quant) return quant.status().with_context(dir);
    auto st_model = SafetensorsModel::open(path);
    if (!st_model) return st_model.status();
    auto tensors = std::make_shared<const SafetensorsModel>(std::move(*st_model));

    LoadedModel m;
    m.hf_dir = dir;
    ModelConfig& c = m.config = *cfg;
    if (c.name.empty()) c.name = dir.substr(dir.find_last_of('/') + 1);
    ModelWeights& w = m.weights;
    w.owners.push_back(tensors);
    auto fail = [&](const Status& s) { return s.with_context(dir); };
    // Packed 4/8-bit linears (MLX, GPTQ), converted once; lookups of their ".weight" find the converted view.
    auto packed = convert_hf_packed(*tensors, *quant, w.owners);
    if (!packed) return fail(packed.status());
    m.packed_weights = !packed->empty();
    auto find = [&](const std::string& name) {
        auto it = packed->find(name);
        return it != packed->end() ? it->second : tensors->tensor(name);
    };
    auto T = [&](const std::string& name) {
        TensorView t = find(name);
        t.name = name;
        return t;
    };

    w.token_embd = T(std::string(kTokenEmbd.hf));
    if (Status s = check_matrix(w.token_embd, c.d_model, c.n_vocab); !s) return fail(s);
    w.output = T(std::string(kOutput.hf));
    if (!w.output.valid()) {
        if (!c.tied_embeddings) return error("{}: tensor '{}' is missing (and embeddings are not tied)", dir, kOutput.hf);
        w.output = w.token_embd;
    }
    c.tied_embeddings = w.output.data == w.token_embd.data;
    if (Status s = check_matrix(w.output, c.d_model, c.n_vocab); !s) return fail(s);
    // A norm gain: Gemma stores w for 1 + w (llama.cpp's converter adds the 1; here it is added on load).
    const bool plus_one = c.arch == "gemma3";
    auto gain = [&](const std::string& name, int64_t n) -> Expected<std::vector<float>> {
        auto v = to_float_vector(T(name), n);
        if (v && plus_one)
            for (float& x : *v) x += 1.0f;
        return v;
    };
    auto on = gain(std::string(kOutputNorm.hf), c.d_model);
    if (!on) return fail(on.status());
    w.output_norm = std::move(*on);

    if (Status s = load_layers(c, WeightFormat::Hf, find, plus_one, w.layers); !s) return fail(s);
    return m;
}

}  // namespace llm
