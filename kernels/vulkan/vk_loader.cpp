// dlopen-based Vulkan loader: resolves the entry points listed in vk_loader.hpp.
#include "kernels/vulkan/vk_loader.hpp"

#include <dlfcn.h>

#include <mutex>

namespace llm::vk {

Functions& vkf() {
    static Functions f;
    return f;
}

Status load_loader() {
    static std::once_flag once;
    static Status result;
    std::call_once(once, [] {
        void* lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!lib) lib = dlopen("libvulkan.so", RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            result = error("vulkan: cannot open the Vulkan loader libvulkan.so.1 ({})", dlerror());
            return;
        }
        Functions& f = vkf();
        f.vkGetInstanceProcAddr = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
        if (!f.vkGetInstanceProcAddr) {
            result = error("vulkan: libvulkan.so.1 has no vkGetInstanceProcAddr");
            return;
        }
#define LLM_VK_LOAD(name) f.name = reinterpret_cast<PFN_##name>(f.vkGetInstanceProcAddr(nullptr, #name));
        LLM_VK_GLOBAL_FNS(LLM_VK_LOAD)
#undef LLM_VK_LOAD
        if (!f.vkCreateInstance) result = error("vulkan: the loader has no vkCreateInstance");
    });
    return result;
}

Status load_instance(VkInstance instance) {
    Functions& f = vkf();
#define LLM_VK_LOAD(name)                                                                    \
    f.name = reinterpret_cast<PFN_##name>(f.vkGetInstanceProcAddr(instance, #name));         \
    if (!f.name) return error("vulkan: instance function {} is missing", #name);
    LLM_VK_INSTANCE_FNS(LLM_VK_LOAD)
    LLM_VK_DEVICE_FNS(LLM_VK_LOAD)
#undef LLM_VK_LOAD
    return {};
}

const char* result_name(VkResult r) {
    switch (r) {
        case VK_SUCCESS: return "VK_SUCCESS";
        case VK_NOT_READY: return "VK_NOT_READY";
        case VK_TIMEOUT: return "VK_TIMEOUT";
        case VK_INCOMPLETE: return "VK_INCOMPLETE";
        case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
        case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
        case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
        case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
        case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
        case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
        case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
        case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
        case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
        case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
        case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
        case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
        case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
        default: return "VK_ERROR_UNKNOWN";
    }
}

}  // namespace llm::vk
