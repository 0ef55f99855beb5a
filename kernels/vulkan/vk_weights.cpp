// VulkanWeights::upload: which weights run on the device, decided per node of the model's node list from
// the op table (core/op_table.hpp) and what this device can build; then the uploads.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "kernels/vulkan/vk_decoder.hpp"

namespace llm::vk {
namespace {

// Types named by LLM_VULKAN_CPU_TYPES ("q2_k,iq4_xs").
Expected<std::vector<DType>> env_cpu_types() {
    std::vector<DType> out;
    const char* env = std::getenv("LLM_VULKAN_CPU_TYPES");
    if (!env) return out;
    std::string_view rest(env);
    while (!rest.empty()) {
        const size_t comma = rest.find(',');
        const std::string_view name = rest.substr(0, comma);
        if (!name.empty()) {
            auto t = dtype_from_name(name);
            if (!t) return error("vulkan: LLM_VULKAN_CPU_TYPES: unknown type '{}'", name);
            out.push_back(*t);
        }
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    return out;
}

bool contains(const std::vector<DType>& v, DType t) { return std::find(v.begin(), v.end(), t) != v.end(); }

// Where the weights of one type run: on the device unless the op table has no Vulkan kernel for the op
// using it, the type is forced onto the CPU, or its pipelines fail to build here. Logged once per type.
struct TypeInfo {
    DType type;
    std::string why;  // empty: on the device
    std::string first;
    std::string_view op;
    int count = 0;
};

// The reason a weight of this type, used by op, stays on the CPU ("" when it runs on the device).
std::string classify(Context& cx, Op op, DType type, const std::vector<DType>& env, const UploadOptions& uo) {
    if (!op_supports(Backend::Vulkan, op, type) || !supports_type(type)) return "has no Vulkan kernel";
    if (contains(env, type)) return "is set to run on the CPU (LLM_VULKAN_CPU_TYPES)";
    if (contains(uo.cpu_types, type)) return "is set to run on the CPU (UploadOptions::cpu_types)";
    const DType one[] = {type};
    if (Status st = warm_up_pipelines(cx, one); !st)
        return fmt::format("has no Vulkan kernel this device can build ({})", st.message());
    return "";
}

}  // namespace

const DeviceMatrix& VulkanWeights::matrix(const TensorView& t) const {
    auto it = matrices.find(t.data);
    LLM_CHECK(it != matrices.end());
    return it->second;
}

const Buffer& VulkanWeights::gain(const float* g) const {
    auto it = gains.find(g);
    LLM_CHECK(it != gains.end());
    return it->second;
}

Expected<std::shared_ptr<const VulkanWeights>> VulkanWeights::upload(std::shared_ptr<Context> ctx,
                                                                     const ModelConfig& c, const ModelWeights& w,
                                                                     const UploadOptions& uo) {
    if (!ctx) return error("vulkan: no context");
    if (c.head_dim > 256) return error("vulkan: head_dim {} > 256 is not supported", c.head_dim);
    if (c.kv_dim() % 2) return error("vulkan: odd kv_dim {}", c.kv_dim());
    if (!w.token_embd.valid()) return error("vulkan: token_embd is missing");
    auto d = std::make_shared<VulkanWeights>();
    d->ctx = std::move(ctx);
    d->config = c;
    d->host = w;  // the views (and owners) of the model; graphs are built from this copy
    Context& cx = *d->ctx;
    auto env = env_cpu_types();
    if (!env) return env.status();

    // The weights each node reads, from the node list of a one-token pass (every weight appears in it).
    const Graph g = build_forward(c, d->host, Batch::contiguous(std::vector<int32_t>{0}, 0, false));
    std::vector<TypeInfo> types;
    auto type_info = [&](DType t) {
        return std::find_if(types.begin(), types.end(), [&](const TypeInfo& i) { return i.type == t; });
    };
    {
        auto guard = cx.lock();  // pipelines are built under the lock; uploads take it themselves
        LLM_TRY(warm_up_pipelines(cx, {}));  // the activation ops must build
        for (const Node& n : g.nodes())
            if (n.w && type_info(n.w->type) == types.end())
                types.push_back({n.w->type, classify(cx, n.op, n.w->type, *env, uo), "", op_name(n.op)});
    }
    for (const Node& n : g.nodes()) {
        if (n.gain && !d->gains.count(n.gain)) {
            const size_t len = n.op == Op::RmsNorm && n.head_dim > 0 ? (size_t)n.head_dim : (size_t)g.desc(n.out).cols;
            auto b = upload_floats(cx, n.gain, len);
            if (!b) return b.status().with_context(fmt::format("vulkan: {} gain", op_name(n.op)));
            d->gains.emplace(n.gain, std::move(*b));
        }
        if (!n.w || d->matrices.count(n.w->data)) continue;
        const TensorView& t = *n.w;
        TypeInfo& ti = *type_info(t.type);
        DeviceMatrix m;
        if (ti.why.empty()) {
            auto up = upload_matrix(cx, t);
            if (!up) return up.status();
            m = std::move(*up);
            d->bytes += m.bytes();
        } else {
            if (!op_supports(Backend::Cpu, n.op, t.type))
                return error("vulkan: tensor '{}' ({}) {} and the CPU has no kernel for it either", t.name,
                             dtype_name(t.type), ti.why);
            m.type = t.type;
            m.n_in = (uint32_t)t.ne[0];
            m.n_out = (uint32_t)t.n_rows();
            m.row_bytes = (uint32_t)t.row_size();
            if (ti.count++ == 0) ti.first = t.name, ti.op = op_name(n.op);
            ++d->n_cpu_matrices;
        }
        m.cpu = t;  // also for uploaded ones: a node whose op the device lacks for this type falls back
        d->matrices.emplace(t.data, std::move(m));
    }
    for (const TypeInfo& ti : types) {
        if (ti.count == 0) continue;
        std::string line = fmt::format("vulkan: {} {} ({}) {}; running it on the CPU", ti.op, ti.first,
                                       dtype_name(ti.type), ti.why);
        if (ti.count > 1) line += fmt::format(" (and {} more {} matrices)", ti.count - 1, dtype_name(ti.type));
        if (uo.log) std::fprintf(stderr, "llm: %s\n", line.c_str());
        d->cpu_notes.push_back(std::move(line));
    }
    return std::shared_ptr<const VulkanWeights>(std::move(d));
}

}  // namespace llm::vk
