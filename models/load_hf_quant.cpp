// MLX affine and GPTQ packed weights -> Q4_1 / Q4_0 / F16 at load. Layouts (torch shapes, [rows, cols]):
//   MLX   P.weight U32 [out, in*bits/32] (values little end first), P.scales / P.biases [out, in/group]:
//         w = scales * q + biases.
//   GPTQ  P.qweight I32 [in/8, out] (8 input rows per word, low nibble first), P.qzeros I32 [groups, out/8],
//         P.scales F16 [groups, out], P.g_idx I32 [in]: w = scales * (q - zero), zero = stored (+1 in v1 files).
#include "models/load_hf_quant.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/fp16.hpp"
#include "core/mapped_file.hpp"
#include "formats/safetensors.hpp"
#include "kernels/quant/blocks.hpp"
#include "kernels/quant/quant.hpp"

namespace llm {
namespace {

using json = nlohmann::json;

bool ends_with(const std::string& s, std::string_view x) {
    return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

Status check_bits_group(int bits, int group, const std::string& where, const std::vector<int>& allowed_bits) {
    bool ok = false;
    for (int b : allowed_bits) ok |= b == bits;
    if (!ok) return error("{}: bits {} is not supported (supported: {})", where, bits, fmt::join(allowed_bits, ", "));
    if (group != 0 && (group <= 0 || (bits == 4 && group % 32 != 0)))
        return error("{}: group_size {} is not supported ({}-bit groups must be a multiple of 32)", where, group, bits);
    return Status::ok();
}

Expected<int> int_field(const json& j, const char* key, const std::string& where) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return error("{}: missing or non-integer '{}'", where, key);
    const int64_t v = it->get<int64_t>();
    if (v < -1 || v > (1 << 20)) return error("{}: '{}' = {} is out of range", where, key, v);
    return (int)v;
}

Expected<HfQuantScheme> parse_mlx(const json& q) {
    HfQuantScheme s;
    s.kind = HfQuantScheme::Kind::Mlx;
    const std::string where = "config.json: quantization";
    auto bits = int_field(q, "bits", where);
    if (!bits) return bits.status();
    auto group = int_field(q, "group_size", where);
    if (!group) return group.status();
    s.bits = *bits;
    s.group_size = *group;
    if (auto m = q.find("mode"); m != q.end() && !(m->is_string() && m->get<std::string>() == "affine"))
        return error("{}: mode {} is not supported (affine is)", where, m->dump());
    LLM_TRY(check_bits_group(s.bits, s.group_size, where, {4, 8}));
    for (auto it = q.begin(); it != q.end(); ++it) {  // per-layer entries: an object, or false (not quantized)
        if (it->is_boolean() && !it->get<bool>()) {
            s.mlx_overrides[it.key()] = {};
        } else if (it->is_object()) {
            const std::string w = where + "." + it.key();
            auto b = int_field(*it, "bits", w);
            if (!b) return b.status();
            auto g = int_field(*it, "group_size", w);
            if (!g) return g.status();
            LLM_TRY(check_bits_group(*b, *g, w, {4, 8}));
            s.mlx_overrides[it.key()] = {*b, *g};
        }
    }
    return s;
}

Expected<HfQuantScheme> parse_gptq(const json& q, const std::string& where) {
    HfQuantScheme s;
    s.kind = HfQuantScheme::Kind::Gptq;
    auto bits = int_field(q, "bits", where);
    if (!bits) return bits.status();
    auto group = int_field(q, "group_size", where);
    if (!group) return group.status();
    s.bits = *bits;
    s.group_size = *group == -1 ? 0 : *group;
    LLM_TRY(check_bits_group(s.bits, s.group_size, where, {4}));
    if (auto f = q.find("checkpoint_format"); f != q.end() && f->is_string()) {
        const std::string v = f->get<std::string>();
        if (v != "gptq" && v != "gptq_v2")
            return error("{}: checkpoint_format '{}' is not supported (gptq, gptq_v2)", where, v);
        s.gptq_v2 = v == "gptq_v2";
    }
    // desc_act files are accepted while their g_idx is the identity order; a reordered g_idx is refused per tensor.
    return s;
}

}  // namespace

Expected<HfQuantScheme> parse_hf_quant(std::string_view config_text, const std::string& dir) {
    json cfg = json::parse(config_text, nullptr, false);
    if (cfg.is_discarded() || !cfg.is_object()) return HfQuantScheme{};  // parse_hf_config reports bad JSON
    if (auto q = cfg.find("quantization"); q != cfg.end() && q->is_object()) return parse_mlx(*q);
    if (auto q = cfg.find("quantization_config"); q != cfg.end() && q->is_object()) {
        auto m = q->find("quant_method");
        const std::string method = m != q->end() && m->is_string() ? m->get<std::string>() : "";
        if (method != "gptq")
            return error("config.json: quantization_config.quant_method '{}' is not supported (gptq; MLX folders use "
                         "'quantization')", method);
        return parse_gptq(*q, "config.json: quantization_config");
    }
    if (!file_exists(dir + "/quantize_config.json")) return HfQuantScheme{};
    auto text = read_text_file(dir + "/quantize_config.json");
    if (!text) return text.status();
    json q = json::parse(*text, nullptr, false);
    if (q.is_discarded() || !q.is_object()) return error("{}/quantize_config.json: not a JSON object", dir);
    return parse_gptq(q, "quantize_config.json");
}

namespace {

// A float tensor's values as float32, checked against the shape [rows, cols] (torch order).
Expected<std::vector<float>> float_values(const SafetensorsModel& st, const std::string& name, int64_t rows,
                                          int64_t cols, const std::string& needed_by) {
    const TensorView* t = st.find(name);
    if (!t) {
        if (st.int_tensor(name)) return error("tensor '{}' must be F16, BF16 or F32", name);
        return error("tensor '{}' is missing (needed by '{}')", name, needed_by);
    }
    if (t->n_dims != 2 || t->ne[1] != rows || t->ne[0] != cols)
        return error("tensor '{}' has shape [{}, {}], expected [{}, {}] for '{}'", name, t->ne[1], t->ne[0], rows, cols,
                     needed_by);
    std::vector<float> v((size_t)(rows * cols));
    dequantize_row(t->type, t->data, v.data(), rows * cols);
    return v;
}

// Every value of `v` times `mul` fits fp16 (checked before the parallel conversion loops, which cannot fail).
Status check_fp16_range(const std::vector<float>& v, float mul, const std::string& name) {
    for (float x : v)
        if (!(std::fabs(x) * mul <= 65504.0f))
            return error("tensor '{}': value {} does not fit fp16{}", name, x, mul == 1.0f ? "" : " once scaled");
    return Status::ok();
}

// The view of a converted [n_in -> n_out] matrix held in `buf`.
TensorView owned_view(const std::string& name, DType type, int64_t n_in, int64_t n_out,
                      std::shared_ptr<std::vector<uint8_t>> buf, std::vector<std::shared_ptr<const void>>& owners) {
    TensorView v;
    v.name = name;
    v.type = type;
    v.n_dims = 2;
    v.ne = {n_in, n_out, 1, 1};
    v.data = buf->data();
    v.nbytes = buf->size();
    owners.push_back(std::move(buf));
    return v;
}

// Packs one row's 32-value block of nibbles as ggml does: qs[j] = q[j] | q[j + 16] << 4.
void pack_nibbles(const uint8_t* q, uint8_t* qs) {
    for (int j = 0; j < 16; ++j) qs[j] = (uint8_t)(q[j] | q[j + 16] << 4);
}

Expected<TensorView> convert_mlx(const SafetensorsModel& st, const IntTensor& wt, const std::string& prefix, int bits,
                                 int group, std::vector<std::shared_ptr<const void>>& owners) {
    const std::string wname = prefix + ".weight";
    if (wt.kind != IntKind::U32) return error("tensor '{}': packed MLX weights must be U32", wname);
    if (wt.n_dims != 2) return error("tensor '{}': packed weight has {} dims, expected 2", wname, wt.n_dims);
    const int64_t out = wt.ne[1], n_in = wt.ne[0] * 32 / bits;
    const TensorView* sc = st.find(prefix + ".scales");
    if (!sc) return error("tensor '{}.scales' is missing (needed by the packed weight '{}')", prefix, wname);
    if (n_in % group != 0 || sc->n_dims != 2 || sc->ne[0] * group != n_in)
        return error("tensor '{}': packed shape [{}, {}] holds {} {}-bit values per row, but '{}.scales' [{}, {}] with "
                     "group_size {} covers {}", wname, out, wt.ne[0], n_in, bits, prefix, sc->ne[1], sc->ne[0], group,
                     sc->ne[0] * group);
    const int64_t groups = n_in / group;
    auto scales = float_values(st, prefix + ".scales", out, groups, wname);
    if (!scales) return scales.status();
    auto biases = float_values(st, prefix + ".biases", out, groups, wname);
    if (!biases) return biases.status();
    const uint32_t mask = (1u << bits) - 1;
    auto value = [&](int64_t r, int64_t i) {
        const int64_t bit = i * bits;
        return (wt.at(r * wt.ne[0] + bit / 32) >> (bit % 32)) & mask;
    };
    // |scale * q + bias| <= |bias| + 255 |scale| for 8-bit values: both within half of fp16's range suffices.
    LLM_TRY(check_fp16_range(*scales, bits == 8 ? 510.0f : 1.0f, prefix + ".scales"));
    LLM_TRY(check_fp16_range(*biases, bits == 8 ? 2.0f : 1.0f, prefix + ".biases"));
    if (bits == 8) {  // F16: no 8-bit block type of ours has a per-group offset
        auto buf = std::make_shared<std::vector<uint8_t>>((size_t)(out * n_in) * 2);
        auto* dst = reinterpret_cast<uint16_t*>(buf->data());
#pragma omp parallel for
        for (int64_t r = 0; r < out; ++r)
            for (int64_t i = 0; i < n_in; ++i) {
                const size_t g = (size_t)(r * groups + i / group);
                dst[r * n_in + i] = fp32_to_fp16((*scales)[g] * (float)value(r, i) + (*biases)[g]);
            }
        return owned_view(wname, DType::F16, n_in, out, std::move(buf), owners);
    }
    const int64_t nb = n_in / 32;
    auto buf = std::make_shared<std::vector<uint8_t>>((size_t)(out * nb) * sizeof(BlockQ4_1));
    auto* blocks = reinterpret_cast<BlockQ4_1*>(buf->data());
#pragma omp parallel for
    for (int64_t r = 0; r < out; ++r) {
        uint8_t q[32];
        for (int64_t b = 0; b < nb; ++b) {
            const size_t g = (size_t)(r * groups + b * 32 / group);
            BlockQ4_1& blk = blocks[r * nb + b];
            blk.d = fp32_to_fp16((*scales)[g]);
            blk.m = fp32_to_fp16((*biases)[g]);
            for (int j = 0; j < 32; ++j) q[j] = (uint8_t)value(r, b * 32 + j);
            pack_nibbles(q, blk.qs);
        }
    }
    return owned_view(wname, DType::Q4_1, n_in, out, std::move(buf), owners);
}

}  // namespace

namespace {

// The GPTQ group of input i is i / group (g_idx the identity order); act-order files reorder it and are refused.
Status check_g_idx(const SafetensorsModel& st, const std::string& prefix, int64_t n_in, int64_t group) {
    const IntTensor* gi = st.int_tensor(prefix + ".g_idx");
    if (!gi) return Status::ok();  // older files leave it out: identity order
    if (gi->n_elements() != n_in)
        return error("tensor '{}.g_idx' has {} elements, expected {}", prefix, gi->n_elements(), n_in);
    for (int64_t i = 0; i < n_in; ++i)
        if ((int64_t)(int32_t)gi->at(i) != i / group)
            return error("tensor '{}.g_idx': act-order (desc_act) weights are not supported (g_idx[{}] = {}, expected "
                         "{}): quantize without desc_act", prefix, i, (int32_t)gi->at(i), i / group);
    return Status::ok();
}

Expected<TensorView> convert_gptq(const SafetensorsModel& st, const IntTensor& qw, const std::string& prefix,
                                  const HfQuantScheme& s, std::vector<std::shared_ptr<const void>>& owners) {
    const std::string wname = prefix + ".weight", qname = prefix + ".qweight";
    if (qw.kind != IntKind::I32 || qw.n_dims != 2)
        return error("tensor '{}': expected a 2-D I32 tensor [in/8, out]", qname);
    const int64_t out = qw.ne[0], n_in = qw.ne[1] * 8;
    const int64_t group = s.group_size == 0 ? n_in : s.group_size;
    if (n_in % group != 0 || n_in % 32 != 0)
        return error("tensor '{}': {} inputs are not a whole number of groups of {} (and blocks of 32)", qname, n_in,
                     group);
    const int64_t groups = n_in / group;
    const IntTensor* qz = st.int_tensor(prefix + ".qzeros");
    if (!qz) return error("tensor '{}.qzeros' is missing or not I32 (needed by '{}')", prefix, qname);
    if (out % 8 != 0 || qz->n_dims != 2 || qz->ne[1] != groups || qz->ne[0] != out / 8)
        return error("tensor '{}.qzeros' has shape [{}, {}], expected [{}, {}] for '{}' [{}, {}]", prefix, qz->ne[1],
                     qz->ne[0], groups, out / 8, qname, qw.ne[1], qw.ne[0]);
    auto scales = float_values(st, prefix + ".scales", groups, out, qname);
    if (!scales) return scales.status();
    LLM_TRY(check_g_idx(st, prefix, n_in, group));
    const int zero_add = s.gptq_v2 ? 0 : 1;
    auto zero = [&](int64_t g, int64_t j) {
        return (int)((qz->at(g * (out / 8) + j / 8) >> (4 * (j % 8))) & 15) + zero_add;
    };
    bool symmetric = true;  // every zero point 8: Q4_0 (d * (q - 8)) holds the group exactly
    for (int64_t g = 0; g < groups && symmetric; ++g)
        for (int64_t j = 0; j < out && symmetric; ++j) symmetric = zero(g, j) == 8;
    const DType type = symmetric ? DType::Q4_0 : DType::Q4_1;
    const int64_t nb = n_in / 32;
    const size_t bsize = symmetric ? sizeof(BlockQ4_0) : sizeof(BlockQ4_1);
    LLM_TRY(check_fp16_range(*scales, 16.0f, prefix + ".scales"));  // m = -scale * zero, zero <= 16
    auto buf = std::make_shared<std::vector<uint8_t>>((size_t)(out * nb) * bsize);
#pragma omp parallel for
    for (int64_t j = 0; j < out; ++j) {
        uint8_t q[32];
        for (int64_t b = 0; b < nb; ++b) {
            const int64_t g = b * 32 / group;
            const uint16_t d = fp32_to_fp16((*scales)[(size_t)(g * out + j)]);
            for (int k = 0; k < 32; ++k) {
                const int64_t i = b * 32 + k;
                q[k] = (uint8_t)((qw.at((i / 8) * out + j) >> (4 * (i % 8))) & 15);
            }
            uint8_t* blk = buf->data() + (size_t)(j * nb + b) * bsize;
            if (symmetric) {
                auto* q0 = reinterpret_cast<BlockQ4_0*>(blk);
                q0->d = d;
                pack_nibbles(q, q0->qs);
            } else {
                auto* q1 = reinterpret_cast<BlockQ4_1*>(blk);
                q1->d = d;
                q1->m = fp32_to_fp16(-fp16_to_fp32(d) * (float)zero(g, j));  // rounded: see the header
                pack_nibbles(q, q1->qs);
            }
        }
    }
    return owned_view(wname, type, n_in, out, std::move(buf), owners);
}

// MLX bits and group size of one linear (per-layer entries override the defaults); bits 0: not quantized.
HfQuantScheme::Override mlx_params(const HfQuantScheme& s, const std::string& prefix) {
    auto it = s.mlx_overrides.find(prefix);
    return it != s.mlx_overrides.end() ? it->second : HfQuantScheme::Override{s.bits, s.group_size};
}

}  // namespace

Expected<std::map<std::string, TensorView>> convert_hf_packed(const SafetensorsModel& st, const HfQuantScheme& q,
                                                              std::vector<std::shared_ptr<const void>>& owners) {
    std::map<std::string, TensorView> out;
    for (const auto& [name, t] : st.int_tensors()) {
        if (ends_with(name, ".weight")) {
            const std::string prefix = name.substr(0, name.size() - 7);
            if (q.kind != HfQuantScheme::Kind::Mlx)
                return error("tensor '{}': packed {} weight but config.json has no MLX 'quantization'", name,
                             t.kind == IntKind::U32 ? "U32" : "I32");
            const HfQuantScheme::Override p = mlx_params(q, prefix);
            if (p.bits == 0)
                return error("tensor '{}': packed weight but config.json's quantization excludes it", name);
            auto v = convert_mlx(st, t, prefix, p.bits, p.group_size, owners);
            if (!v) return v.status();
            out.emplace(name, std::move(*v));
        } else if (ends_with(name, ".qweight")) {
            const std::string prefix = name.substr(0, name.size() - 8);
            if (q.kind != HfQuantScheme::Kind::Gptq)
                return error("tensor '{}': GPTQ weight but neither config.json's quantization_config nor "
                             "quantize_config.json describes it", name);
            auto v = convert_gptq(st, t, prefix, q, owners);
            if (!v) return v.status();
            out.emplace(prefix + ".weight", std::move(*v));
        }
    }
    return out;
}

}  // namespace llm
