// The engine's entry point to the Vulkan backend: one call makes a session's forward pass from a device
// spec ("vulkan", "vulkan:N"), sharing one upload of a model's weights between its sessions.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/vulkan/vk_decoder.hpp"

namespace llm::vk {

struct SessionRequest {
    std::string_view device = "vulkan";  // "vulkan" (LLM_VULKAN_DEVICE or the best device) or "vulkan:N"
    int n_ctx = 512;
    DType kv_type = DType::F16;          // F16 or F32 on the device; other types run as F16 (see note)
    LongRopeMode longrope = LongRopeMode::Auto;
    bool profile = false;
    // The serving engine: a pool of paged_blocks blocks of block_tokens positions instead of one sequence's
    // cache, and its numerics (DecoderOptions).
    int64_t paged_blocks = 0;
    int block_tokens = 16;
    Numerics numerics = Numerics::Exact;
};

// A decoder for one session. Errors (no loader/driver/device, out of device memory, a bad
// LLM_VULKAN_CPU_TYPES) are for the caller to log before running on the CPU. Matrices of a weight type the
// device cannot run stay on the CPU, op by op, with one stderr line per type (see VulkanWeights::upload). The weights are uploaded once
// per (model, device) and reused while any session of that model on that device is alive; a model is
// recognized by the owners of its weights (ModelWeights::owners), never by address alone.
// note (optional) receives a line worth logging (the device used, a KV type substitution).
Expected<std::unique_ptr<VulkanDecoder>> create_session_decoder(const SessionRequest& req, const ModelConfig& c,
                                                                const ModelWeights& w, std::string* note = nullptr);

// One line per device (DeviceInfo::summary), or one line saying why there is none; for --list-devices.
std::vector<std::string> device_list_lines();

}  // namespace llm::vk
