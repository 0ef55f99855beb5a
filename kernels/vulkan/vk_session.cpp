// Session-facing Vulkan entry: device spec parsing, per-(model, device) weight sharing, KV type mapping.
#include "kernels/vulkan/vk_session.hpp"

#include <mutex>

namespace llm::vk {
namespace {

// Weak cache of uploaded weights. An entry matches a model when its weights' first owner is the same
// object (owner_before equivalence on weak pointers), so a new model at a reused address never matches.
struct CacheEntry {
    int device = 0;
    const void* token_embd = nullptr;
    std::weak_ptr<const void> owner;
    std::weak_ptr<const VulkanWeights> weights;
};

bool same_owner(const std::weak_ptr<const void>& a, const std::shared_ptr<const void>& b) {
    return !a.owner_before(b) && !b.owner_before(a);
}

}  // namespace

Expected<std::unique_ptr<VulkanDecoder>> create_session_decoder(const SessionRequest& req, const ModelConfig& c,
                                                                const ModelWeights& w, std::string* note) {
    auto idx = parse_device_spec(req.device);
    if (!idx) return idx.status();
    auto ctx = Context::shared(*idx);
    if (!ctx) return ctx.status();
    const int device = (*ctx)->info().index;

    static std::mutex m;
    static std::vector<CacheEntry> cache;
    std::shared_ptr<const VulkanWeights> weights;
    {
        std::lock_guard<std::mutex> g(m);
        std::erase_if(cache, [](const CacheEntry& e) { return e.weights.expired(); });
        const std::shared_ptr<const void> owner = w.owners.empty() ? nullptr : w.owners.front();
        for (const CacheEntry& e : cache)
            if (owner && e.device == device && e.token_embd == w.token_embd.data && same_owner(e.owner, owner))
                weights = e.weights.lock();
        if (!weights) {
            auto up = VulkanWeights::upload(*ctx, c, w);
            if (!up) return up.status();
            weights = *up;
            if (owner) cache.push_back({device, w.token_embd.data, owner, weights});
        }
    }
    DecoderOptions opt;
    opt.n_ctx = req.n_ctx;
    opt.kv_type = req.kv_type == DType::F32 ? DType::F32 : DType::F16;
    opt.longrope = req.longrope;
    opt.profile = req.profile;
    opt.paged_blocks = req.paged_blocks, opt.block_tokens = req.block_tokens, opt.numerics = req.numerics;
    if (note) {
        *note = fmt::format("vulkan: running on {} ({}), weights {:.1f} MiB on the device", (*ctx)->info().name,
                            device_type_name((*ctx)->info().type), weights->bytes / 1048576.0);
        if (opt.kv_type != req.kv_type)
            *note += fmt::format("; KV cache {} is not supported on Vulkan, using F16", dtype_name(req.kv_type));
    }
    return VulkanDecoder::create(std::move(weights), opt);
}

std::vector<std::string> device_list_lines() {
    auto devs = list_devices();
    if (!devs) return {devs.error_message()};
    std::vector<std::string> out;
    for (const DeviceInfo& d : *devs) out.push_back(d.summary());
    return out;
}

}  // namespace llm::vk
