// Hugging Face folder -> quantize source: llama.cpp tensor names and `<arch>.*` metadata as convert_hf_to_gguf.py
// writes them (Llama/Mistral: Q/K rows permuted for ggml's interleaved RoPE; Phi-3: fused tensors, LongRoPE
// factor tensors). Tokenizer: only the fixtures' tokenizer_vocab.json is converted; tokenizer.json is not (yet).
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/mapped_file.hpp"
#include "formats/gguf.hpp"
#include "formats/gguf_writer.hpp"
#include "formats/safetensors.hpp"
#include "models/layer_tensors.hpp"
#include "models/model_loader.hpp"
#include "quantize/quantize_model.hpp"

namespace llm {
namespace {

// tokenizer.ggml.* from a {tokens, scores, types, bos_id, ...} JSON (the fixtures' SentencePiece vocab dump).
Expected<std::function<void(GgufWriter&)>> vocab_json_writer(const std::string& path) {
    std::ifstream in(path);
    nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("tokens") || !j["tokens"].is_array())
        return error("{}: expected a JSON object with a 'tokens' list", path);
    try {
        auto tokens = j["tokens"].get<std::vector<std::string>>();
        std::vector<double> scores(tokens.size(), 0.0);
        std::vector<int64_t> types(tokens.size(), 1);
        if (j.contains("scores")) scores = j["scores"].get<std::vector<double>>();
        if (j.contains("types")) types = j["types"].get<std::vector<int64_t>>();
        if (scores.size() != tokens.size() || types.size() != tokens.size())
            return error("{}: tokens, scores and types differ in length", path);
        const int64_t bos = j.value("bos_id", 1), eos = j.value("eos_id", 2), unk = j.value("unk_id", 0);
        const bool add_bos = j.value("add_bos", true), add_space = j.value("add_space_prefix", true);
        return std::function<void(GgufWriter&)>([=](GgufWriter& w) {
            w.add_string("tokenizer.ggml.model", "llama");
            w.add_string("tokenizer.ggml.pre", "default");
            w.add_string_array("tokenizer.ggml.tokens", tokens);
            w.add_float_array("tokenizer.ggml.scores", GgufType::F32, scores);
            w.add_int_array("tokenizer.ggml.token_type", GgufType::I32, types);
            w.add_u32("tokenizer.ggml.bos_token_id", (uint32_t)bos);
            w.add_u32("tokenizer.ggml.eos_token_id", (uint32_t)eos);
            w.add_u32("tokenizer.ggml.unknown_token_id", (uint32_t)unk);
            w.add_bool("tokenizer.ggml.add_bos_token", add_bos);
            w.add_bool("tokenizer.ggml.add_eos_token", false);
            w.add_bool("tokenizer.ggml.add_space_prefix", add_space);
        });
    } catch (const nlohmann::json::exception& e) {
        return error("{}: {}", path, e.what());
    }
}

// `<arch>.*` metadata as convert_hf_to_gguf.py writes it for llama and phi3, then the tokenizer's (if any).
void write_hf_metadata(GgufWriter& w, const ModelConfig& c, const std::function<void(GgufWriter&)>& tokenizer) {
    const std::string& a = c.arch;
    w.add_string("general.architecture", a);
    w.add_string("general.type", "model");
    w.add_string("general.name", c.name);
    w.add_u32(a + ".context_length", (uint32_t)c.n_ctx_train);
    w.add_u32(a + ".embedding_length", (uint32_t)c.d_model);
    w.add_u32(a + ".block_count", (uint32_t)c.n_layers);
    w.add_u32(a + ".feed_forward_length", (uint32_t)c.d_ff);
    w.add_u32(a + ".attention.head_count", (uint32_t)c.n_heads);
    w.add_u32(a + ".attention.head_count_kv", (uint32_t)c.n_kv_heads);
    w.add_u32(a + ".rope.dimension_count", (uint32_t)c.n_rot);
    w.add_f32(a + ".rope.freq_base", c.rope_theta);
    w.add_f32(a + ".attention.layer_norm_rms_epsilon", c.rms_eps);
    if (c.head_dim != c.d_model / c.n_heads) {
        w.add_u32(a + ".attention.key_length", (uint32_t)c.head_dim);
        w.add_u32(a + ".attention.value_length", (uint32_t)c.head_dim);
    }
    w.add_u32(a + ".vocab_size", (uint32_t)c.n_vocab);
    if (c.rope_freq_scale != 1.0f) {
        w.add_string(a + ".rope.scaling.type", "linear");
        w.add_f32(a + ".rope.scaling.factor", 1.0f / c.rope_freq_scale);
    }
    if (!c.longrope_long.empty()) {
        w.add_u32(a + ".rope.scaling.original_context_length", (uint32_t)c.longrope_original_ctx);
        w.add_f32(a + ".rope.scaling.attn_factor", c.rope_attn_factor);
    }
    if (a == "phi3") w.add_u32(a + ".attention.sliding_window", (uint32_t)c.sliding_window);
    if (tokenizer) tokenizer(w);
}

}  // namespace

Expected<QuantSource> open_hf_source(const std::string& path) {
    auto loaded = load_hf_model(path);  // validated config.json (+ rope scaling) and tensor shapes
    if (!loaded) return loaded.status();
    const ModelConfig c = loaded->config;
    const std::string dir = loaded->hf_dir;
    if (loaded->packed_weights)  // llm-run / llm-serve load these directly (converted at load)
        return error(StatusCode::Unsupported, "{}: converting packed MLX / GPTQ safetensors is not supported (load the "
                     "folder directly)", dir);
    auto st_opened = SafetensorsModel::open(path);
    if (!st_opened) return st_opened.status();
    auto st = std::make_shared<const SafetensorsModel>(std::move(*st_opened));

    QuantSource src;
    src.owners.push_back(st);
    src.info = {c.arch, c.n_layers, c.n_heads, c.n_kv_heads};
    // The metadata below and the Q/K permutation are llama.cpp's for these two; Gemma 3 (1 + w gains) and Qwen
    // (biases, no permutation, QK-norm) would convert wrongly.
    if (c.arch != "llama" && c.arch != "phi3")
        return error("{}: converting a Hugging Face '{}' model is not supported (llama, phi3)", dir, c.arch);
    const bool llama = c.arch == "llama";

    auto add = [&](const std::string& hf_name, const std::string& gguf_name, int permute_heads = 0) -> Status {
        TensorView v = st->tensor(hf_name);
        if (!v.valid()) return error("{}: tensor '{}' is missing", dir, hf_name);
        if (v.type != DType::F32 && v.type != DType::F16 && v.type != DType::BF16)
            return error("{}: tensor '{}': type {} (expected F32, F16 or BF16)", dir, hf_name, dtype_name(v.type));
        QuantSource::Tensor t;
        t.desc = {gguf_name, v.n_dims, v.ne, v.type};
        t.data = v.data;
        t.nbytes = v.nbytes;
        t.permute_heads = permute_heads;
        src.tensors.push_back(std::move(t));
        return Status::ok();
    };
    // Generated F32 vectors (rope factors) live in owned buffers.
    auto add_f32 = [&](const std::string& name, const std::vector<float>& values) {
        auto buf = std::make_shared<std::vector<float>>(values);
        src.owners.push_back(buf);
        QuantSource::Tensor t;
        t.desc = {name, 1, {(int64_t)values.size(), 1, 1, 1}, DType::F32};
        t.data = buf->data();
        t.nbytes = values.size() * sizeof(float);
        src.tensors.push_back(std::move(t));
    };

    if (!c.rope_freq_factors.empty()) add_f32("rope_freqs.weight", c.rope_freq_factors);
    if (!c.longrope_long.empty()) {
        add_f32("rope_factors_long.weight", c.longrope_long);
        add_f32("rope_factors_short.weight", c.longrope_short);
    }
    auto name = [](const ModelTensor& t) { return std::string(t.hf); };
    LLM_TRY(add(name(kTokenEmbd), std::string(kTokenEmbd.gguf)));
    auto find = [&](const std::string& n) { return st->tensor(n); };
    for (int i = 0; i < c.n_layers; ++i) {
        const LayerLayout layout = layer_layout(WeightFormat::Hf, i, c, find);
        for (const LayerTensor& t : kLayerTensors) {
            if (!layer_has(t, c, layout)) continue;
            // llama.cpp runs llama-arch models with interleaved RoPE, so the converter permutes Q and K rows.
            const int permute = !llama ? 0 : t.matrix == &LayerWeights::wq ? c.n_heads
                                           : t.matrix == &LayerWeights::wk ? c.n_kv_heads : 0;
            LLM_TRY(add(layer_tensor_name(t, WeightFormat::Hf, i, c), layer_tensor_name(t, WeightFormat::Gguf, i, c),
                        permute));
        }
    }
    LLM_TRY(add(name(kOutputNorm), std::string(kOutputNorm.gguf)));
    if (!c.tied_embeddings) LLM_TRY(add(name(kOutput), std::string(kOutput.gguf)));

    std::function<void(GgufWriter&)> tokenizer;
    if (file_exists(dir + "/tokenizer_vocab.json")) {
        auto tw = vocab_json_writer(dir + "/tokenizer_vocab.json");
        if (!tw) return tw.status();
        tokenizer = *tw;
    } else {
        src.warnings.push_back(fmt::format(
            "{}: no tokenizer metadata written (tokenizer.json / tokenizer.model conversion is not supported); "
            "llama.cpp refuses to load a GGUF without tokenizer.ggml.*",
            dir));
    }

    src.write_metadata = [c, tokenizer](GgufWriter& w) { write_hf_metadata(w, c, tokenizer); };
    return src;
}

}  // namespace llm
