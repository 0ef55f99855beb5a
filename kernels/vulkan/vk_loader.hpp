// The Vulkan loader, opened at run time with dlopen: a machine without libvulkan gets an error Status
// (and the CPU backend) instead of a program that fails to start. Functions are called through vkf().
#pragma once
#ifndef VK_NO_PROTOTYPES
#define VK_NO_PROTOTYPES
#endif
#include <vulkan/vulkan.h>

#include "core/status.hpp"

namespace llm::vk {

// X-macro lists: global (no instance), instance-level and device-level entry points used by the backend.
#define LLM_VK_GLOBAL_FNS(X) \
    X(vkCreateInstance)      \
    X(vkEnumerateInstanceVersion)

#define LLM_VK_INSTANCE_FNS(X)                  \
    X(vkDestroyInstance)                        \
    X(vkEnumeratePhysicalDevices)               \
    X(vkGetPhysicalDeviceProperties)            \
    X(vkGetPhysicalDeviceProperties2)           \
    X(vkGetPhysicalDeviceFeatures2)             \
    X(vkGetPhysicalDeviceMemoryProperties)      \
    X(vkGetPhysicalDeviceQueueFamilyProperties) \
    X(vkEnumerateDeviceExtensionProperties)     \
    X(vkCreateDevice)                           \
    X(vkGetDeviceProcAddr)

#define LLM_VK_DEVICE_FNS(X)            \
    X(vkDestroyDevice)                  \
    X(vkGetDeviceQueue)                 \
    X(vkDeviceWaitIdle)                 \
    X(vkCreateBuffer)                   \
    X(vkDestroyBuffer)                  \
    X(vkGetBufferMemoryRequirements)    \
    X(vkAllocateMemory)                 \
    X(vkFreeMemory)                     \
    X(vkBindBufferMemory)               \
    X(vkMapMemory)                      \
    X(vkUnmapMemory)                    \
    X(vkCreateShaderModule)             \
    X(vkDestroyShaderModule)            \
    X(vkCreateDescriptorSetLayout)      \
    X(vkDestroyDescriptorSetLayout)     \
    X(vkCreatePipelineLayout)           \
    X(vkDestroyPipelineLayout)          \
    X(vkCreateComputePipelines)         \
    X(vkDestroyPipeline)                \
    X(vkCreateDescriptorPool)           \
    X(vkDestroyDescriptorPool)          \
    X(vkResetDescriptorPool)            \
    X(vkAllocateDescriptorSets)         \
    X(vkUpdateDescriptorSets)           \
    X(vkCreateCommandPool)              \
    X(vkDestroyCommandPool)             \
    X(vkResetCommandPool)               \
    X(vkAllocateCommandBuffers)         \
    X(vkFreeCommandBuffers)             \
    X(vkResetCommandBuffer)             \
    X(vkBeginCommandBuffer)             \
    X(vkEndCommandBuffer)               \
    X(vkCmdBindPipeline)                \
    X(vkCmdBindDescriptorSets)          \
    X(vkCmdPushConstants)               \
    X(vkCmdDispatch)                    \
    X(vkCmdPipelineBarrier)             \
    X(vkCmdCopyBuffer)                  \
    X(vkCmdFillBuffer)                  \
    X(vkCmdWriteTimestamp)              \
    X(vkCmdResetQueryPool)              \
    X(vkCreateQueryPool)                \
    X(vkDestroyQueryPool)               \
    X(vkGetQueryPoolResults)            \
    X(vkCreateFence)                    \
    X(vkDestroyFence)                   \
    X(vkResetFences)                    \
    X(vkWaitForFences)                  \
    X(vkQueueSubmit)

struct Functions {
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
#define LLM_VK_DECLARE(name) PFN_##name name = nullptr;
    LLM_VK_GLOBAL_FNS(LLM_VK_DECLARE)
    LLM_VK_INSTANCE_FNS(LLM_VK_DECLARE)
    LLM_VK_DEVICE_FNS(LLM_VK_DECLARE)
#undef LLM_VK_DECLARE
};

// The process-wide function table (instance/device entries filled by load_instance/load_device).
Functions& vkf();

// Opens libvulkan.so.1 once; an error names the library when it cannot be opened.
Status load_loader();
// Fills the instance- and device-level entries from the process-wide instance. Device entries come
// from vkGetInstanceProcAddr (the loader's trampolines), so they work for every device of the instance.
Status load_instance(VkInstance instance);

// "VK_ERROR_OUT_OF_DEVICE_MEMORY", ... for messages.
const char* result_name(VkResult r);

}  // namespace llm::vk
