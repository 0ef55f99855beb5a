// Vulkan device layer: device discovery and selection, buffers (device-local with a staging path, or
// mapped where memory is unified), compute pipelines from embedded SPIR-V, and a command list that
// records many dispatches with barriers and submits once.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "kernels/vulkan/vk_loader.hpp"

namespace llm::vk {

enum class DeviceType { Discrete, Integrated, Virtual, Cpu, Other };
const char* device_type_name(DeviceType t);  // "discrete", "integrated", "virtual", "cpu", "other"

struct DeviceInfo {
    int index = 0;                  // position in the enumeration (what LLM_VULKAN_DEVICE selects)
    std::string name;
    DeviceType type = DeviceType::Other;
    uint32_t api_version = 0;
    uint64_t device_local_bytes = 0;  // sum of the device-local heaps
    bool unified_memory = false;      // a device-local, host-visible, coherent memory type exists (and the
                                      // device is integrated or a CPU): buffers are used mapped, no staging
    uint32_t subgroup_size = 0;
    bool subgroup_arithmetic = false; // subgroupAdd & co. in compute shaders (matvec_sg_* kernels)
    uint64_t max_buffer_range = 0;    // maxStorageBufferRange: the largest buffer one binding can address
    bool fp16 = false;                // shaderFloat16
    bool int8_dot = false;            // shaderIntegerDotProduct
    bool storage_8bit = false;        // storageBuffer8BitAccess
    bool storage_16bit = false;       // storageBuffer16BitAccess
    bool timestamps = false;          // compute queue supports timestamps
    float timestamp_period_ns = 0;
    std::string summary() const;      // one line for --list-devices
};

// Parses a device spec: "vulkan" -> -1 (the default device), "vulkan:N" -> N; an error otherwise.
Expected<int> parse_device_spec(std::string_view spec);

// Every Vulkan device of this machine; an error when there is no loader, no driver or no device.
Expected<std::vector<DeviceInfo>> list_devices();
// The index create() picks when none is given: LLM_VULKAN_DEVICE if set, else the first discrete, then
// integrated, then any other device.
Expected<int> default_device_index();

class Context;

// A storage buffer. Move-only; freed by its destructor (its Context must outlive it).
class Buffer {
public:
    Buffer() = default;
    Buffer(Buffer&& o) noexcept { *this = std::move(o); }
    Buffer& operator=(Buffer&& o) noexcept;
    ~Buffer() { reset(); }
    void reset();
    bool valid() const { return buffer_ != VK_NULL_HANDLE; }
    size_t size() const { return size_; }
    void* mapped() const { return mapped_; }  // non-null for host-visible buffers
    VkBuffer handle() const { return buffer_; }

private:
    friend class Context;
    VkDevice device_ = VK_NULL_HANDLE;
    VkBuffer buffer_ = VK_NULL_HANDLE;
    VkDeviceMemory memory_ = VK_NULL_HANDLE;
    size_t size_ = 0;
    void* mapped_ = nullptr;
};

// A compute pipeline: storage buffers at bindings 0..n_buffers-1 of set 0, push constants <= 128 bytes.
struct Pipeline {
    std::string name;
    uint32_t n_buffers = 0;
    VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    VkPipeline pipeline = VK_NULL_HANDLE;
};

// Records dispatches into one command buffer; submit() runs them all with one queue submission.
// A barrier (all compute/transfer writes visible to later reads) follows every dispatch and copy.
// The context has a default list (Context::begin()); create_list() makes more, each with its own command
// buffer and descriptor sets, that stay valid after a submission and can be submitted again without
// re-recording (buffers they bind must outlive them; what changes between runs comes from buffer contents).
class CommandList {
public:
    CommandList() = default;
    CommandList(const CommandList&) = delete;
    CommandList& operator=(const CommandList&) = delete;
    ~CommandList() { release(); }

    void dispatch(const Pipeline& p, std::span<const Buffer* const> buffers, const void* push, size_t push_bytes,
                  uint32_t gx, uint32_t gy = 1, uint32_t gz = 1);
    void dispatch(const Pipeline& p, std::initializer_list<const Buffer*> buffers, const void* push,
                  size_t push_bytes, uint32_t gx, uint32_t gy = 1, uint32_t gz = 1) {
        dispatch(p, std::span<const Buffer* const>(buffers.begin(), buffers.size()), push, push_bytes, gx, gy, gz);
    }
    void copy(const Buffer& src, size_t src_offset, const Buffer& dst, size_t dst_offset, size_t bytes);
    // n_rows copies of row_bytes, src row i at src_offset + i * src_stride (bytes), same for dst; one barrier.
    void copy_rows(const Buffer& src, size_t src_offset, size_t src_stride, const Buffer& dst, size_t dst_offset,
                   size_t dst_stride, size_t row_bytes, uint32_t n_rows);
    void fill_zero(const Buffer& dst, size_t offset, size_t bytes);  // offset and bytes multiples of 4
    // Between begin_group() and end_group() dispatches get no barriers between them (they must be
    // independent: disjoint writes, no reads of each other's output); end_group() emits one barrier.
    void begin_group() { grouped_ = true; }
    void end_group() {
        grouped_ = false;
        barrier();
    }
    bool grouped() const { return grouped_; }
    // Makes every write recorded so far visible to later commands and to the host (after the fence).
    void barrier();
    // Timestamp after the commands recorded so far (no-op without timestamp support); read with timings().
    void timestamp(std::string label);
    size_t n_dispatches() const { return n_dispatches_; }
    bool recording() const { return recording_; }

private:
    friend class Context;
    void release();
    Expected<VkDescriptorSet> allocate_set(const Pipeline& p);
    Context* ctx_ = nullptr;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE;
    bool recording_ = false;
    bool ended_ = false;  // recorded and closed: ready to (re)submit
    bool grouped_ = false;
    size_t n_dispatches_ = 0;
    std::vector<std::string> ts_labels_;
    std::vector<VkDescriptorPool> pools_;  // this list's descriptor sets; reset by the next begin
    size_t pool_index_ = 0;
};

class Context {
public:
    // device_index < 0: default_device_index(). Errors (no loader/driver/device, bad index) are values.
    // force_staging: never map device memory, even on unified devices (tests the discrete-GPU upload path).
    static Expected<std::unique_ptr<Context>> create(int device_index = -1, bool force_staging = false);
    // One process-wide context per device (created on first use), for sharing between models/sessions.
    static Expected<std::shared_ptr<Context>> shared(int device_index = -1);
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    const DeviceInfo& info() const { return info_; }
    // Whether decode matrix-vector products use the subgroup-reduction kernels: the device has subgroup
    // arithmetic and LLM_VULKAN_SUBGROUP is not 0 (off after a failed pipeline build; hold lock()).
    bool subgroup_matvec() const { return subgroup_matvec_; }
    void set_subgroup_matvec(bool on) { subgroup_matvec_ = on && info_.subgroup_arithmetic; }
    bool buffers_mapped() const { return device_memory_mapped_; }  // device buffers are host-visible
    VkDevice device() const { return device_; }

    // A storage buffer of at least `bytes` (rounded up to 16): device-local, mapped on unified devices.
    Expected<Buffer> create_buffer(size_t bytes);
    // Host-visible buffer (always mapped), e.g. for small per-forward inputs.
    Expected<Buffer> create_host_buffer(size_t bytes);
    // Copies host data into / out of a buffer: memcpy where mapped, else through a staging buffer and a
    // one-off submission. Not to be called while a command list is recording.
    Status upload(const Buffer& dst, const void* src, size_t bytes, size_t dst_offset = 0);
    Status download(const Buffer& src, void* dst, size_t bytes, size_t src_offset = 0);

    // The pipeline of an embedded shader (by name, e.g. "matvec_q4_0") with spec constants 0..n-1; cached.
    Expected<const Pipeline*> pipeline(std::string_view shader, uint32_t n_buffers,
                                       std::span<const uint32_t> spec = {});

    // A context has one command list: whoever records (begin..submit) from several threads holds this
    // lock for the whole sequence (VulkanDecoder::forward does; staging uploads/downloads take it too).
    std::unique_lock<std::mutex> lock() { return std::unique_lock<std::mutex>(mutex_); }

    // Starts recording (resets the previous list); submit() runs and waits.
    CommandList& begin();
    Status submit();
    // A separate, re-submittable command list (hold lock() while creating, recording, submitting or
    // destroying lists of a shared context: they come from one command pool).
    Expected<std::unique_ptr<CommandList>> create_list();
    void begin(CommandList& list);     // resets the list and starts recording it
    Status end(CommandList& list);     // closes the recording (submit() does it when still open)
    Status submit(CommandList& list);  // runs the list (again, when already recorded) and waits
    // Labeled GPU times (ms since the first timestamp) of the last submitted list, when supported.
    std::vector<std::pair<std::string, double>> timings() const;

private:
    friend class CommandList;
    Context() = default;
    Status init(int device_index, bool force_staging);
    Expected<Buffer> make_buffer(size_t bytes, bool host_visible);
    Status one_shot_copy(const Buffer& src, size_t so, const Buffer& dst, size_t d, size_t bytes);

    DeviceInfo info_;
    std::mutex mutex_;
    VkPhysicalDevice physical_ = VK_NULL_HANDLE;
    VkDevice device_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    uint32_t queue_family_ = 0;
    uint32_t device_memory_type_ = 0, staging_memory_type_ = 0;
    bool device_memory_mapped_ = false;
    bool subgroup_matvec_ = false;
    VkCommandPool command_pool_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
    VkQueryPool query_pool_ = VK_NULL_HANDLE;
    static constexpr uint32_t kMaxTimestamps = 2048;
    CommandList list_;
    std::vector<std::string> last_labels_;
    std::map<uint32_t, VkDescriptorSetLayout> set_layouts_;
    std::map<std::string, std::unique_ptr<Pipeline>> pipelines_;
    std::map<uint32_t, VkPipelineLayout> pipeline_layouts_;
};

// Embedded SPIR-V of a shader variant, or empty when no shader has that name.
std::span<const uint32_t> find_spirv(std::string_view name);

}  // namespace llm::vk
