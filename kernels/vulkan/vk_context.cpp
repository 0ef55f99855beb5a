// Vulkan device layer: one process-wide instance, per-Context device/queue/pools, buffers, pipelines.
#include "kernels/vulkan/vk_context.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace llm::vk_spirv {
struct Blob {
    std::string_view name;
    const uint32_t* words;
    size_t n_words;
};
extern const Blob kBlobs[];
extern const size_t kNumBlobs;
}  // namespace llm::vk_spirv

namespace llm::vk {

#define LLM_VK_CHECK(call, what)                                                  \
    do {                                                                          \
        const VkResult r_ = (call);                                               \
        if (r_ != VK_SUCCESS) return error("vulkan: {}: {}", what, result_name(r_)); \
    } while (0)

namespace {

constexpr uint32_t kPushBytes = 128;  // the minimum maxPushConstantsSize every device offers

// The process-wide instance: created on first use, kept for the life of the process.
Expected<VkInstance> instance() {
    static std::once_flag once;
    static VkInstance inst = VK_NULL_HANDLE;
    static Status status;
    std::call_once(once, [] {
        status = load_loader();
        if (!status) return;
        Functions& f = vkf();
        uint32_t version = VK_API_VERSION_1_0;
        if (f.vkEnumerateInstanceVersion) f.vkEnumerateInstanceVersion(&version);
        if (version < VK_API_VERSION_1_1) {
            status = error("vulkan: the loader supports only Vulkan 1.0 (1.1 or newer needed)");
            return;
        }
        VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
        app.pApplicationName = "llm";
        app.pEngineName = "llm";
        app.apiVersion = std::min<uint32_t>(version, VK_API_VERSION_1_2);
        VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
        ci.pApplicationInfo = &app;
        const VkResult r = f.vkCreateInstance(&ci, nullptr, &inst);
        if (r != VK_SUCCESS) {
            status = error("vulkan: no usable Vulkan driver (vkCreateInstance: {})", result_name(r));
            return;
        }
        status = load_instance(inst);
    });
    if (!status) return status;
    return inst;
}

Expected<std::vector<VkPhysicalDevice>> physical_devices() {
    auto inst = instance();
    if (!inst) return inst.status();
    Functions& f = vkf();
    uint32_t n = 0;
    LLM_VK_CHECK(f.vkEnumeratePhysicalDevices(*inst, &n, nullptr), "vkEnumeratePhysicalDevices");
    if (n == 0) return error("vulkan: no Vulkan devices found");
    std::vector<VkPhysicalDevice> devs(n);
    LLM_VK_CHECK(f.vkEnumeratePhysicalDevices(*inst, &n, devs.data()), "vkEnumeratePhysicalDevices");
    devs.resize(n);
    return devs;
}

bool has_extension(VkPhysicalDevice pd, const char* name) {
    uint32_t n = 0;
    vkf().vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> exts(n);
    vkf().vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, exts.data());
    for (const auto& e : exts)
        if (std::strcmp(e.extensionName, name) == 0) return true;
    return false;
}

int compute_queue_family(VkPhysicalDevice pd, bool* timestamps) {
    uint32_t n = 0;
    vkf().vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, nullptr);
    std::vector<VkQueueFamilyProperties> qf(n);
    vkf().vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, qf.data());
    int best = -1;
    for (uint32_t i = 0; i < n; ++i) {
        if (!(qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
        // Prefer a compute-only family (async compute on discrete GPUs), else the first with compute.
        if (best < 0 || !(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) {
            if (best < 0 || (qf[best].queueFlags & VK_QUEUE_GRAPHICS_BIT)) best = (int)i;
        }
    }
    if (best >= 0 && timestamps) *timestamps = qf[best].timestampValidBits > 0;
    return best;
}

DeviceInfo describe(VkPhysicalDevice pd, int index) {
    Functions& f = vkf();
    DeviceInfo d;
    d.index = index;
    VkPhysicalDeviceProperties props;
    f.vkGetPhysicalDeviceProperties(pd, &props);
    d.name = props.deviceName;
    d.api_version = props.apiVersion;
    switch (props.deviceType) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: d.type = DeviceType::Discrete; break;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: d.type = DeviceType::Integrated; break;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: d.type = DeviceType::Virtual; break;
        case VK_PHYSICAL_DEVICE_TYPE_CPU: d.type = DeviceType::Cpu; break;
        default: d.type = DeviceType::Other; break;
    }
    d.timestamp_period_ns = props.limits.timestampPeriod;
    d.max_buffer_range = props.limits.maxStorageBufferRange;
    compute_queue_family(pd, &d.timestamps);
    d.timestamps = d.timestamps && props.limits.timestampComputeAndGraphics;

    VkPhysicalDeviceMemoryProperties mem;
    f.vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    for (uint32_t i = 0; i < mem.memoryHeapCount; ++i)
        if (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) d.device_local_bytes += mem.memoryHeaps[i].size;
    const VkMemoryPropertyFlags uni = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                      VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    bool has_uni = false;
    for (uint32_t i = 0; i < mem.memoryTypeCount; ++i)
        if ((mem.memoryTypes[i].propertyFlags & uni) == uni) has_uni = true;
    d.unified_memory = has_uni && (d.type == DeviceType::Cpu || d.type == DeviceType::Integrated);

    if (props.apiVersion >= VK_API_VERSION_1_1) {
        VkPhysicalDeviceSubgroupProperties sub{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
        VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
        p2.pNext = &sub;
        f.vkGetPhysicalDeviceProperties2(pd, &p2);
        d.subgroup_size = sub.subgroupSize;
        d.subgroup_arithmetic = (sub.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                                (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) && sub.subgroupSize > 0;

        VkPhysicalDevice16BitStorageFeatures s16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
        VkPhysicalDevice8BitStorageFeatures s8{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES};
        VkPhysicalDeviceShaderFloat16Int8Features f16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
        VkPhysicalDeviceShaderIntegerDotProductFeatures dot{
            VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
        s16.pNext = &s8;
        s8.pNext = &f16;
        const bool has_dot = props.apiVersion >= VK_API_VERSION_1_3 ||
                             has_extension(pd, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
        if (has_dot) f16.pNext = &dot;
        VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
        f2.pNext = &s16;
        f.vkGetPhysicalDeviceFeatures2(pd, &f2);
        d.storage_16bit = s16.storageBuffer16BitAccess;
        d.storage_8bit = s8.storageBuffer8BitAccess;
        d.fp16 = f16.shaderFloat16;
        d.int8_dot = has_dot && dot.shaderIntegerDotProduct;
    }
    return d;
}

int type_rank(DeviceType t) {
    switch (t) {
        case DeviceType::Discrete: return 0;
        case DeviceType::Integrated: return 1;
        case DeviceType::Virtual: return 2;
        case DeviceType::Other: return 3;
        case DeviceType::Cpu: return 4;
    }
    return 5;
}

int find_memory_type(const VkPhysicalDeviceMemoryProperties& mem, uint32_t type_bits, VkMemoryPropertyFlags want) {
    for (uint32_t i = 0; i < mem.memoryTypeCount; ++i)
        if ((type_bits & (1u << i)) && (mem.memoryTypes[i].propertyFlags & want) == want) return (int)i;
    return -1;
}

}  // namespace

const char* device_type_name(DeviceType t) {
    switch (t) {
        case DeviceType::Discrete: return "discrete";
        case DeviceType::Integrated: return "integrated";
        case DeviceType::Virtual: return "virtual";
        case DeviceType::Cpu: return "cpu";
        case DeviceType::Other: return "other";
    }
    return "other";
}

std::string DeviceInfo::summary() const {
    std::string feats;
    auto add = [&](bool on, const char* name) {
        if (on) feats += feats.empty() ? name : std::string(" ") + name;
    };
    add(fp16, "fp16");
    add(int8_dot, "int8-dot");
    add(storage_8bit, "storage8");
    add(storage_16bit, "storage16");
    add(subgroup_arithmetic, "subgroup-arith");
    add(unified_memory, "unified-memory");
    add(timestamps, "timestamps");
    return fmt::format(
        "vulkan:{}  {} ({}), {:.1f} GiB device-local, Vulkan {}.{}, subgroup {}, max buffer {} MiB, features: {}",
        index, name, device_type_name(type), device_local_bytes / 1073741824.0, VK_API_VERSION_MAJOR(api_version),
        VK_API_VERSION_MINOR(api_version), subgroup_size, max_buffer_range >> 20, feats.empty() ? "none" : feats);
}

Expected<int> parse_device_spec(std::string_view spec) {
    if (spec == "vulkan") return -1;
    if (spec.starts_with("vulkan:") && spec.size() > 7) {
        int v = 0;
        for (char ch : spec.substr(7)) {
            if (ch < '0' || ch > '9' || v > 100000) return error("bad Vulkan device '{}' (vulkan or vulkan:N)", spec);
            v = v * 10 + (ch - '0');
        }
        return v;
    }
    return error("bad Vulkan device '{}' (vulkan or vulkan:N)", spec);
}

Expected<std::vector<DeviceInfo>> list_devices() {
    auto devs = physical_devices();
    if (!devs) return devs.status();
    std::vector<DeviceInfo> out;
    for (size_t i = 0; i < devs->size(); ++i) out.push_back(describe((*devs)[i], (int)i));
    return out;
}

Expected<int> default_device_index() {
    auto devs = list_devices();
    if (!devs) return devs.status();
    if (const char* env = std::getenv("LLM_VULKAN_DEVICE"); env && *env) {
        char* end = nullptr;
        const long i = std::strtol(env, &end, 10);
        if (*end != '\0' || i < 0 || i >= (long)devs->size())
            return error("vulkan: LLM_VULKAN_DEVICE={} is not a device index (0..{})", env, devs->size() - 1);
        return (int)i;
    }
    int best = 0;
    for (const auto& d : *devs)
        if (type_rank(d.type) < type_rank((*devs)[best].type)) best = d.index;
    return best;
}

// ---- Buffer ----------------------------------------------------------------------------------------

Buffer& Buffer::operator=(Buffer&& o) noexcept {
    if (this != &o) {
        reset();
        device_ = o.device_, buffer_ = o.buffer_, memory_ = o.memory_, size_ = o.size_, mapped_ = o.mapped_;
        o.buffer_ = VK_NULL_HANDLE, o.memory_ = VK_NULL_HANDLE, o.size_ = 0, o.mapped_ = nullptr;
    }
    return *this;
}

void Buffer::reset() {
    if (buffer_ != VK_NULL_HANDLE) vkf().vkDestroyBuffer(device_, buffer_, nullptr);
    if (memory_ != VK_NULL_HANDLE) vkf().vkFreeMemory(device_, memory_, nullptr);  // unmaps implicitly
    buffer_ = VK_NULL_HANDLE, memory_ = VK_NULL_HANDLE, size_ = 0, mapped_ = nullptr;
}

// ---- Context ---------------------------------------------------------------------------------------

Expected<std::unique_ptr<Context>> Context::create(int device_index, bool force_staging) {
    if (device_index < 0) {
        auto idx = default_device_index();
        if (!idx) return idx.status();
        device_index = *idx;
    }
    std::unique_ptr<Context> ctx(new Context());
    if (Status s = ctx->init(device_index, force_staging); !s) return s;
    return ctx;
}

Expected<std::shared_ptr<Context>> Context::shared(int device_index) {
    if (device_index < 0) {
        auto idx = default_device_index();
        if (!idx) return idx.status();
        device_index = *idx;
    }
    static std::mutex m;
    static std::map<int, std::shared_ptr<Context>> contexts;
    std::lock_guard<std::mutex> g(m);
    if (auto it = contexts.find(device_index); it != contexts.end()) return it->second;
    auto ctx = create(device_index);
    if (!ctx) return ctx.status();
    std::shared_ptr<Context> sp(std::move(ctx.value()));
    contexts[device_index] = sp;
    return sp;
}

Status Context::init(int device_index, bool force_staging) {
    auto devs = physical_devices();
    if (!devs) return devs.status();
    if (device_index >= (int)devs->size())
        return error("vulkan: device {} does not exist ({} device(s))", device_index, devs->size());
    Functions& f = vkf();
    physical_ = (*devs)[device_index];
    info_ = describe(physical_, device_index);
    if (info_.api_version < VK_API_VERSION_1_1)
        return error("vulkan: device '{}' supports only Vulkan 1.0", info_.name);
    const int qf = compute_queue_family(physical_, nullptr);
    if (qf < 0) return error("vulkan: device '{}' has no compute queue", info_.name);
    queue_family_ = (uint32_t)qf;
    const char* sg_env = std::getenv("LLM_VULKAN_SUBGROUP");
    set_subgroup_matvec(!(sg_env && std::strcmp(sg_env, "0") == 0));

    const float priority = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = queue_family_;
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    LLM_VK_CHECK(f.vkCreateDevice(physical_, &dci, nullptr, &device_), "vkCreateDevice");
    f.vkGetDeviceQueue(device_, queue_family_, 0, &queue_);

    // Memory types: device-local (host-visible too on unified devices, then used mapped) and staging.
    VkPhysicalDeviceMemoryProperties mem;
    f.vkGetPhysicalDeviceMemoryProperties(physical_, &mem);
    const VkMemoryPropertyFlags coherent = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    int dev_type = -1;
    if (info_.unified_memory && !force_staging) {
        dev_type = find_memory_type(mem, ~0u, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | coherent);
        device_memory_mapped_ = dev_type >= 0;
    }
    if (dev_type < 0) dev_type = find_memory_type(mem, ~0u, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (dev_type < 0) dev_type = 0;
    int staging = find_memory_type(mem, ~0u, coherent | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (staging < 0) staging = find_memory_type(mem, ~0u, coherent);
    if (staging < 0) return error("vulkan: device '{}' has no host-visible coherent memory", info_.name);
    device_memory_type_ = (uint32_t)dev_type;
    staging_memory_type_ = (uint32_t)staging;

    VkCommandPoolCreateInfo cpi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    cpi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    cpi.queueFamilyIndex = queue_family_;
    LLM_VK_CHECK(f.vkCreateCommandPool(device_, &cpi, nullptr, &command_pool_), "vkCreateCommandPool");
    VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    cai.commandPool = command_pool_;
    cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cai.commandBufferCount = 1;
    LLM_VK_CHECK(f.vkAllocateCommandBuffers(device_, &cai, &list_.cmd_), "vkAllocateCommandBuffers");
    list_.ctx_ = this;
    VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    LLM_VK_CHECK(f.vkCreateFence(device_, &fci, nullptr, &fence_), "vkCreateFence");
    if (info_.timestamps) {
        VkQueryPoolCreateInfo qpi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
        qpi.queryType = VK_QUERY_TYPE_TIMESTAMP;
        qpi.queryCount = kMaxTimestamps;
        if (f.vkCreateQueryPool(device_, &qpi, nullptr, &query_pool_) != VK_SUCCESS) query_pool_ = VK_NULL_HANDLE;
    }
    return {};
}

Context::~Context() {
    if (device_ == VK_NULL_HANDLE) return;
    Functions& f = vkf();
    f.vkDeviceWaitIdle(device_);
    list_.release();
    for (auto& [name, p] : pipelines_) f.vkDestroyPipeline(device_, p->pipeline, nullptr);
    for (auto& [n, l] : pipeline_layouts_) f.vkDestroyPipelineLayout(device_, l, nullptr);
    for (auto& [n, l] : set_layouts_) f.vkDestroyDescriptorSetLayout(device_, l, nullptr);
    if (query_pool_) f.vkDestroyQueryPool(device_, query_pool_, nullptr);
    if (fence_) f.vkDestroyFence(device_, fence_, nullptr);
    if (command_pool_) f.vkDestroyCommandPool(device_, command_pool_, nullptr);
    f.vkDestroyDevice(device_, nullptr);
}

Expected<Buffer> Context::make_buffer(size_t bytes, bool host_visible) {
    Functions& f = vkf();
    bytes = std::max<size_t>(16, (bytes + 15) & ~size_t(15));
    if (bytes > info_.max_buffer_range)
        return error("vulkan: a buffer of {} bytes exceeds the device's storage buffer range of {} bytes", bytes,
                     info_.max_buffer_range);
    Buffer b;
    b.device_ = device_;
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = bytes;
    bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    LLM_VK_CHECK(f.vkCreateBuffer(device_, &bci, nullptr, &b.buffer_), "vkCreateBuffer");
    VkMemoryRequirements req;
    f.vkGetBufferMemoryRequirements(device_, b.buffer_, &req);
    const uint32_t type = host_visible ? staging_memory_type_ : device_memory_type_;
    if (!(req.memoryTypeBits & (1u << type))) return error("vulkan: buffer cannot use the chosen memory type");
    VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = type;
    const VkResult r = f.vkAllocateMemory(device_, &mai, nullptr, &b.memory_);
    if (r != VK_SUCCESS)
        return error("vulkan: cannot allocate {} bytes on '{}': {}", bytes, info_.name, result_name(r));
    LLM_VK_CHECK(f.vkBindBufferMemory(device_, b.buffer_, b.memory_, 0), "vkBindBufferMemory");
    if (host_visible || device_memory_mapped_)
        LLM_VK_CHECK(f.vkMapMemory(device_, b.memory_, 0, VK_WHOLE_SIZE, 0, &b.mapped_), "vkMapMemory");
    b.size_ = bytes;
    return b;
}

Expected<Buffer> Context::create_buffer(size_t bytes) { return make_buffer(bytes, false); }
Expected<Buffer> Context::create_host_buffer(size_t bytes) { return make_buffer(bytes, true); }

Status Context::one_shot_copy(const Buffer& src, size_t so, const Buffer& dst, size_t d, size_t bytes) {
    auto guard = lock();
    CommandList& cl = begin();
    cl.copy(src, so, dst, d, bytes);
    return submit();
}

Status Context::upload(const Buffer& dst, const void* src, size_t bytes, size_t dst_offset) {
    if (dst_offset + bytes > dst.size()) return error("vulkan: upload of {} bytes past the end of a buffer", bytes);
    if (bytes == 0) return {};
    if (dst.mapped()) {
        std::memcpy(static_cast<uint8_t*>(dst.mapped()) + dst_offset, src, bytes);
        return {};
    }
    auto staging = create_host_buffer(bytes);
    if (!staging) return staging.status();
    std::memcpy(staging->mapped(), src, bytes);
    return one_shot_copy(*staging, 0, dst, dst_offset, bytes);
}

Status Context::download(const Buffer& src, void* dst, size_t bytes, size_t src_offset) {
    if (src_offset + bytes > src.size()) return error("vulkan: download of {} bytes past the end of a buffer", bytes);
    if (bytes == 0) return {};
    if (src.mapped()) {
        std::memcpy(dst, static_cast<const uint8_t*>(src.mapped()) + src_offset, bytes);
        return {};
    }
    auto staging = create_host_buffer(bytes);
    if (!staging) return staging.status();
    LLM_TRY(one_shot_copy(src, src_offset, *staging, 0, bytes));
    std::memcpy(dst, staging->mapped(), bytes);
    return {};
}

Expected<const Pipeline*> Context::pipeline(std::string_view shader, uint32_t n_buffers,
                                            std::span<const uint32_t> spec) {
    std::string key(shader);
    for (uint32_t v : spec) key += fmt::format(":{}", v);
    if (auto it = pipelines_.find(key); it != pipelines_.end()) return it->second.get();
    const std::span<const uint32_t> code = find_spirv(shader);
    if (code.empty()) return error("vulkan: no embedded shader named '{}'", shader);
    Functions& f = vkf();

    VkDescriptorSetLayout& set_layout = set_layouts_[n_buffers];
    if (!set_layout) {
        std::vector<VkDescriptorSetLayoutBinding> bindings(n_buffers);
        for (uint32_t i = 0; i < n_buffers; ++i)
            bindings[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
        VkDescriptorSetLayoutCreateInfo lci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
        lci.bindingCount = n_buffers;
        lci.pBindings = bindings.data();
        LLM_VK_CHECK(f.vkCreateDescriptorSetLayout(device_, &lci, nullptr, &set_layout), "vkCreateDescriptorSetLayout");
    }
    VkPipelineLayout& layout = pipeline_layouts_[n_buffers];
    if (!layout) {
        VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushBytes};
        VkPipelineLayoutCreateInfo pli{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
        pli.setLayoutCount = 1;
        pli.pSetLayouts = &set_layout;
        pli.pushConstantRangeCount = 1;
        pli.pPushConstantRanges = &range;
        LLM_VK_CHECK(f.vkCreatePipelineLayout(device_, &pli, nullptr, &layout), "vkCreatePipelineLayout");
    }

    VkShaderModuleCreateInfo smi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    smi.codeSize = code.size() * 4;
    smi.pCode = code.data();
    VkShaderModule module;
    LLM_VK_CHECK(f.vkCreateShaderModule(device_, &smi, nullptr, &module), "vkCreateShaderModule");
    std::vector<VkSpecializationMapEntry> entries(spec.size());
    for (uint32_t i = 0; i < spec.size(); ++i) entries[i] = {i, i * 4, 4};
    VkSpecializationInfo si{(uint32_t)spec.size(), entries.data(), spec.size() * 4, spec.data()};
    VkComputePipelineCreateInfo cpi{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    cpi.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
    cpi.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    cpi.stage.module = module;
    cpi.stage.pName = "main";
    cpi.stage.pSpecializationInfo = spec.empty() ? nullptr : &si;
    cpi.layout = layout;
    auto p = std::make_unique<Pipeline>();
    const VkResult r = f.vkCreateComputePipelines(device_, VK_NULL_HANDLE, 1, &cpi, nullptr, &p->pipeline);
    f.vkDestroyShaderModule(device_, module, nullptr);
    if (r != VK_SUCCESS) return error("vulkan: cannot create pipeline '{}': {}", key, result_name(r));
    p->name = key;
    p->n_buffers = n_buffers;
    p->set_layout = set_layout;
    p->layout = layout;
    const Pipeline* out = p.get();
    pipelines_[key] = std::move(p);
    return out;
}

Expected<VkDescriptorSet> CommandList::allocate_set(const Pipeline& p) {
    Functions& f = vkf();
    constexpr uint32_t kSets = 256, kDescriptors = 8 * kSets;
    for (;; ++pool_index_) {
        if (pool_index_ == pools_.size()) {
            VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kDescriptors};
            VkDescriptorPoolCreateInfo dpi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
            dpi.maxSets = kSets;
            dpi.poolSizeCount = 1;
            dpi.pPoolSizes = &size;
            VkDescriptorPool pool;
            LLM_VK_CHECK(f.vkCreateDescriptorPool(ctx_->device_, &dpi, nullptr, &pool), "vkCreateDescriptorPool");
            pools_.push_back(pool);
        }
        VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
        ai.descriptorPool = pools_[pool_index_];
        ai.descriptorSetCount = 1;
        ai.pSetLayouts = &p.set_layout;
        VkDescriptorSet set;
        const VkResult r = f.vkAllocateDescriptorSets(ctx_->device_, &ai, &set);
        if (r == VK_SUCCESS) return set;
        if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL)
            return error("vulkan: vkAllocateDescriptorSets: {}", result_name(r));
    }
}

void CommandList::release() {
    if (!ctx_) return;
    Functions& f = vkf();
    for (VkDescriptorPool p : pools_) f.vkDestroyDescriptorPool(ctx_->device_, p, nullptr);
    pools_.clear();
    if (cmd_ != VK_NULL_HANDLE) f.vkFreeCommandBuffers(ctx_->device_, ctx_->command_pool_, 1, &cmd_);
    cmd_ = VK_NULL_HANDLE;
    ctx_ = nullptr;
}

Expected<std::unique_ptr<CommandList>> Context::create_list() {
    auto list = std::make_unique<CommandList>();
    VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    cai.commandPool = command_pool_;
    cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cai.commandBufferCount = 1;
    LLM_VK_CHECK(vkf().vkAllocateCommandBuffers(device_, &cai, &list->cmd_), "vkAllocateCommandBuffers");
    list->ctx_ = this;
    return list;
}

void Context::begin(CommandList& list) {
    Functions& f = vkf();
    for (VkDescriptorPool p : list.pools_) f.vkResetDescriptorPool(device_, p, 0);
    list.pool_index_ = 0;
    f.vkResetCommandBuffer(list.cmd_, 0);
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    f.vkBeginCommandBuffer(list.cmd_, &bi);
    if (query_pool_) f.vkCmdResetQueryPool(list.cmd_, query_pool_, 0, kMaxTimestamps);
    list.recording_ = true;
    list.ended_ = false;
    list.grouped_ = false;
    list.n_dispatches_ = 0;
    list.ts_labels_.clear();
}

CommandList& Context::begin() {
    begin(list_);
    return list_;
}

Status Context::end(CommandList& list) {
    if (!list.recording_) return list.ended_ ? Status{} : error("vulkan: end without begin");
    list.recording_ = false;
    LLM_VK_CHECK(vkf().vkEndCommandBuffer(list.cmd_), "vkEndCommandBuffer");
    list.ended_ = true;
    return {};
}

Status Context::submit() { return submit(list_); }

Status Context::submit(CommandList& list) {
    Functions& f = vkf();
    if (!list.recording_ && !list.ended_) return error("vulkan: submit without begin");
    LLM_TRY(end(list));
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &list.cmd_;
    LLM_VK_CHECK(f.vkResetFences(device_, 1, &fence_), "vkResetFences");
    LLM_VK_CHECK(f.vkQueueSubmit(queue_, 1, &si, fence_), "vkQueueSubmit");
    LLM_VK_CHECK(f.vkWaitForFences(device_, 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    last_labels_ = list.ts_labels_;
    return {};
}

std::vector<std::pair<std::string, double>> Context::timings() const {
    std::vector<std::pair<std::string, double>> out;
    if (!query_pool_ || last_labels_.empty()) return out;
    std::vector<uint64_t> ts(last_labels_.size());
    if (vkf().vkGetQueryPoolResults(device_, query_pool_, 0, (uint32_t)ts.size(), ts.size() * 8, ts.data(), 8,
                                    VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) != VK_SUCCESS)
        return out;
    for (size_t i = 0; i < ts.size(); ++i)
        out.emplace_back(last_labels_[i], (double)(ts[i] - ts[0]) * info_.timestamp_period_ns * 1e-6);
    return out;
}

// ---- CommandList -----------------------------------------------------------------------------------

void CommandList::barrier() {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                       VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT;
    const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    vkf().vkCmdPipelineBarrier(cmd_, stages, stages | VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

void CommandList::dispatch(const Pipeline& p, std::span<const Buffer* const> buffers, const void* push,
                           size_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz) {
    LLM_CHECK(recording_);
    LLM_CHECK(buffers.size() == p.n_buffers);
    LLM_CHECK(push_bytes <= kPushBytes);
    Functions& f = vkf();
    auto set = allocate_set(p);
    LLM_CHECK(set.has_value());
    VkDescriptorBufferInfo infos[16];
    VkWriteDescriptorSet writes[16];
    LLM_CHECK(buffers.size() <= 16);
    for (size_t i = 0; i < buffers.size(); ++i) {
        LLM_CHECK(buffers[i] && buffers[i]->valid());
        infos[i] = {buffers[i]->handle(), 0, VK_WHOLE_SIZE};
        writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        writes[i].dstSet = *set;
        writes[i].dstBinding = (uint32_t)i;
        writes[i].descriptorCount = 1;
        writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        writes[i].pBufferInfo = &infos[i];
    }
    f.vkUpdateDescriptorSets(ctx_->device_, (uint32_t)buffers.size(), writes, 0, nullptr);
    f.vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
    f.vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &*set, 0, nullptr);
    if (push_bytes) f.vkCmdPushConstants(cmd_, p.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, (uint32_t)push_bytes, push);
    if (gx && gy && gz) f.vkCmdDispatch(cmd_, gx, gy, gz);
    ++n_dispatches_;
    if (!grouped_) barrier();
}

void CommandList::copy(const Buffer& src, size_t src_offset, const Buffer& dst, size_t dst_offset, size_t bytes) {
    LLM_CHECK(recording_);
    VkBufferCopy region{src_offset, dst_offset, bytes};
    vkf().vkCmdCopyBuffer(cmd_, src.handle(), dst.handle(), 1, &region);
    barrier();
}

void CommandList::copy_rows(const Buffer& src, size_t src_offset, size_t src_stride, const Buffer& dst,
                            size_t dst_offset, size_t dst_stride, size_t row_bytes, uint32_t n_rows) {
    LLM_CHECK(recording_);
    std::vector<VkBufferCopy> regions(n_rows);
    for (uint32_t i = 0; i < n_rows; ++i)
        regions[i] = {src_offset + i * src_stride, dst_offset + i * dst_stride, row_bytes};
    if (n_rows) vkf().vkCmdCopyBuffer(cmd_, src.handle(), dst.handle(), n_rows, regions.data());
    barrier();
}

void CommandList::fill_zero(const Buffer& dst, size_t offset, size_t bytes) {
    LLM_CHECK(recording_);
    vkf().vkCmdFillBuffer(cmd_, dst.handle(), offset, bytes, 0);
    barrier();
}

void CommandList::timestamp(std::string label) {
    if (!ctx_->query_pool_ || ts_labels_.size() >= Context::kMaxTimestamps) return;
    vkf().vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, ctx_->query_pool_,
                              (uint32_t)ts_labels_.size());
    ts_labels_.push_back(std::move(label));
}

std::span<const uint32_t> find_spirv(std::string_view name) {
    for (size_t i = 0; i < vk_spirv::kNumBlobs; ++i)
        if (vk_spirv::kBlobs[i].name == name) return {vk_spirv::kBlobs[i].words, vk_spirv::kBlobs[i].n_words};
    return {};
}

}  // namespace llm::vk
