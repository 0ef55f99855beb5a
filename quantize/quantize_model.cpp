// The quantize driver: opens the input (GGUF here, safetensors in quantize_model_hf.cpp), plans every tensor's
// output type (quantize_model_rules.cpp), converts rows to F32 and re-quantizes them in parallel, writes GGUF v3
// with the input's metadata, tensor names, order and alignment, plus general.file_type / quantization_version.
#include "quantize/quantize_model.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/openmp.hpp"
#include "core/system_info.hpp"
#include "formats/gguf.hpp"
#include "formats/gguf_writer.hpp"
#include "kernels/quant/quant.hpp"

namespace llm {
namespace {

constexpr uint32_t kQuantizationVersion = 2;  // GGML_QNT_VERSION

bool is_directory(const std::string& p) {
    struct stat st {};
    return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Expected<QuantSource> open_gguf_source(const std::string& path) {
    auto opened = GgufFile::open(path);
    if (!opened) return opened.status();
    auto f = std::make_shared<const GgufFile>(std::move(*opened));
    QuantSource src;
    src.owners.push_back(f);
    src.alignment = f->alignment();
    auto arch = f->get_string("general.architecture");
    if (!arch) return arch.status().with_context(path);
    src.info.arch = arch->value_or("");
    auto get = [&](const char* key, int& out) -> Status {
        auto v = f->get_int(src.info.arch + "." + key);
        if (!v) return v.status().with_context(path);
        if (v->has_value()) out = (int)**v;
        return Status::ok();
    };
    LLM_TRY(get("block_count", src.info.n_layers));
    LLM_TRY(get("attention.head_count", src.info.n_heads));
    src.info.n_kv_heads = src.info.n_heads;
    LLM_TRY(get("attention.head_count_kv", src.info.n_kv_heads));
    for (const GgufTensorInfo& ti : f->tensors()) {
        QuantSource::Tensor t;
        t.desc = {ti.name, ti.n_dims, ti.ne, ti.type};
        t.data = f->tensor(ti.name).data;
        t.nbytes = ti.nbytes;
        src.tensors.push_back(std::move(t));
    }
    src.write_metadata = [f](GgufWriter& w) {
        for (const auto& [key, value] : f->metadata()) {
            if (key == "general.alignment" || key == "general.file_type" || key == "general.quantization_version")
                continue;
            // Split files are written whole.
            if (key.rfind("split.", 0) == 0) continue;
            w.add_value(key, value);
        }
    };
    return src;
}

void source_rows_to_f32(const QuantSource::Tensor& t, int64_t row0, int64_t n_rows, float* dst) {
    const int64_t ne0 = t.desc.ne[0];
    const size_t rb = row_bytes(t.desc.type, ne0);
    const auto* base = static_cast<const uint8_t*>(t.data);
    for (int64_t r = row0; r < row0 + n_rows; ++r) {
        int64_t src_row = r;
        if (t.permute_heads > 0) {
            // GGUF row h*hd + 2i + j holds HF row h*hd + j*hd/2 + i (convert_hf_to_gguf.py's permute), which
            // turns HF's rotate-half RoPE pairs (i, i + hd/2) into ggml's adjacent pairs (2i, 2i + 1).
            const int64_t hd = t.desc.ne[1] / t.permute_heads;
            const int64_t h = r / hd, l = r % hd;
            src_row = h * hd + (l % 2) * (hd / 2) + l / 2;
        }
        dequantize_row(t.desc.type, base + (size_t)src_row * rb, dst + (size_t)(r - row0) * ne0, ne0);
    }
}

Expected<QuantizeResult> quantize_model(const std::string& in_path, const std::string& out_path,
                                        const QuantizeOptions& opts) {
    const bool hf = is_directory(in_path) || ends_with(in_path, ".safetensors");
    auto opened = hf ? open_hf_source(in_path) : open_gguf_source(in_path);
    if (!opened) return opened.status();
    QuantSource& src = *opened;
    auto log = [&](const std::string& s) {
        if (opts.log) opts.log(s);
    };
    for (const std::string& w : src.warnings) log("warning: " + w);

    std::vector<QuantTensorDesc> descs;
    for (const auto& t : src.tensors) descs.push_back(t.desc);
    std::vector<TensorPlan> plan = plan_tensor_types(src.info, descs, opts.ftype, opts.pure);
    // convert_hf_to_gguf.py writes 1-D tensors (norms) as F32 whatever the file type.
    if (hf)
        for (size_t i = 0; i < plan.size(); ++i)
            if (descs[i].n_dims <= 1) plan[i].type = DType::F32;

    for (size_t i = 0; i < src.tensors.size(); ++i) {
        const QuantTensorDesc& d = src.tensors[i].desc;
        if (type_traits(d.type).is_quantized && plan[i].type != d.type && !opts.allow_requantize)
            return error("{}: tensor '{}' is already {}; pass --allow-requantize to re-quantize it", in_path, d.name,
                         dtype_name(d.type));
        if (!type_traits(plan[i].type).from_float)
            return error("{}: tensor '{}': no quantizer for {}", in_path, d.name, dtype_name(plan[i].type));
    }

    GgufWriter w(src.alignment);
    src.write_metadata(w);
    w.add_u32("general.quantization_version", kQuantizationVersion);
    w.add_u32("general.file_type", (uint32_t)opts.ftype);

    [[maybe_unused]] const int n_threads = opts.n_threads > 0 ? opts.n_threads : physical_core_count();
    std::vector<std::vector<uint8_t>> outputs(src.tensors.size());
    QuantizeResult res;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < src.tensors.size(); ++i) {
        const QuantSource::Tensor& t = src.tensors[i];
        const QuantTensorDesc& d = t.desc;
        const DType out_type = plan[i].type;
        std::vector<int64_t> ne(d.ne.begin(), d.ne.begin() + std::max(1, d.n_dims));
        const int64_t ne0 = d.ne[0], n_rows = d.ne[1] * d.ne[2] * d.ne[3];
        const size_t out_row = row_bytes(out_type, ne0);
        const size_t out_bytes = out_row * (size_t)n_rows;
        std::string shape = fmt::format("{}", ne0);
        for (size_t k = 1; k < ne.size(); ++k) shape += fmt::format(" x {}", ne[k]);
        log(fmt::format("[{:4}/{:4}] {:<36} {:>5} [{:>18}] -> {:<6}{} {:8.2f} MiB", i + 1, src.tensors.size(),
                        d.name, dtype_name(d.type), shape, dtype_name(out_type),
                        plan[i].fallback ? " (fallback: row length)" : "", out_bytes / 1048576.0));
        res.in_bytes += t.nbytes;
        res.out_bytes += out_bytes;
        ++res.n_tensors;
        res.n_fallback += plan[i].fallback;
        Status s;
        if (out_type == d.type && t.permute_heads == 0) {
            s = w.add_tensor_ref(d.name, d.type, ne, t.data, t.nbytes);  // unchanged: straight from the mapping
        } else {
            res.n_quantized += type_traits(out_type).is_quantized;
            std::vector<uint8_t>& out = outputs[i];
            out.resize(out_bytes);
            // Chunks of rows per thread; each thread converts its rows to F32 in a small scratch buffer.
            const int64_t chunk = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, ne0));
#pragma omp parallel num_threads(n_threads) if (n_rows > chunk)
            {
                std::vector<float> scratch((size_t)(chunk * ne0));
#pragma omp for schedule(dynamic)
                for (int64_t r0 = 0; r0 < n_rows; r0 += chunk) {
                    const int64_t nr = std::min(chunk, n_rows - r0);
                    source_rows_to_f32(t, r0, nr, scratch.data());
                    for (int64_t r = 0; r < nr; ++r)
                        quantize_row(out_type, scratch.data() + r * ne0, out.data() + (size_t)(r0 + r) * out_row,
                                     ne0);
                }
            }
            s = w.add_tensor_ref(d.name, out_type, ne, out.data(), out.size());
        }
        if (!s) return s;
    }
    log(fmt::format("writing {} ({} tensors, {:.1f} MiB -> {:.1f} MiB, {:.1f} s quantizing)", out_path,
                    res.n_tensors, res.in_bytes / 1048576.0, res.out_bytes / 1048576.0,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()));
    // Write to a temporary name first so an interrupted run never leaves a truncated file under the final name.
    const std::string tmp = out_path + ".tmp";
    LLM_TRY(w.write(tmp));
    if (std::rename(tmp.c_str(), out_path.c_str()) != 0) {
        std::remove(tmp.c_str());
        return error("{}: cannot rename from {}", out_path, tmp);
    }
    return res;
}

}  // namespace llm
