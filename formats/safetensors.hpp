// safetensors reader: one `model.safetensors` file or a sharded folder (`model.safetensors.index.json` with a
// `weight_map` naming `model-0000N-of-0000M.safetensors` shards). Headers are fully validated; tensor data stays
// in the memory maps, which live as long as the SafetensorsModel.
// Format: u64 LE header length N | N bytes of UTF-8 JSON | data section (offsets in the JSON are relative to it).
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <string>
#include <vector>

#include "core/mapped_file.hpp"
#include "core/status.hpp"
#include "core/tensor.hpp"

namespace llm {

// An integer tensor (safetensors U32 / I32): the packed weights, zero points and group indices of quantized
// formats (MLX affine, GPTQ), unpacked by their loader; never read by the forward pass as it is. `ne` as TensorView's.
enum class IntKind : uint8_t { None, U32, I32 };
struct IntTensor {
    std::string name;
    IntKind kind = IntKind::None;
    int n_dims = 0;
    std::array<int64_t, 4> ne{1, 1, 1, 1};
    const uint8_t* data = nullptr;  // 4-byte little-endian elements, not necessarily 4-byte aligned

    int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
    uint32_t at(int64_t i) const {
        uint32_t v;
        std::memcpy(&v, data + 4 * (size_t)i, 4);
        return v;
    }
};

// Largest JSON header accepted (the reference implementation's limit).
constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;

// model.safetensors.index.json's text -> shard file name -> the tensors its weight_map puts there (shard names
// are plain file names: no '/', no ".."). `name` prefixes messages.
Expected<std::map<std::string, std::set<std::string>>> parse_safetensors_index(std::string_view text,
                                                                                const std::string& name);

class SafetensorsModel {
public:
    // path: a folder (index.json if present, else model.safetensors) or a single .safetensors file.
    static Expected<SafetensorsModel> open(const std::string& path);
    // Parses one in-memory file (fuzz target, tests); `name` is used in messages. The buffer must outlive the object.
    static Expected<SafetensorsModel> parse(const uint8_t* data, size_t size, const std::string& name);

    // Names of the float tensors (F32, F16, BF16), sorted; the integer ones are reached through int_tensor().
    const std::vector<std::string>& names() const { return names_; }
    // A view into the mapping (ne reversed from the JSON shape: ne[0] is the last dim), or invalid when absent.
    TensorView tensor(const std::string& name) const;
    const TensorView* find(const std::string& name) const;
    bool contains(const std::string& name) const { return tensors_.count(name) != 0 || ints_.count(name) != 0; }
    // A U32 / I32 tensor, or null (float tensors are views: tensor()).
    const IntTensor* int_tensor(const std::string& name) const;
    const std::map<std::string, IntTensor>& int_tensors() const { return ints_; }
    size_t size() const { return tensors_.size(); }
    // `__metadata__` of the (first) file; string values only.
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    // The files opened (one per shard); empty when parsed from memory.
    const std::vector<std::string>& files() const { return paths_; }

private:
    std::vector<std::shared_ptr<MappedFile>> maps_;  // keeps the views valid
    std::vector<std::string> paths_;
    std::map<std::string, TensorView> tensors_;
    std::map<std::string, IntTensor> ints_;
    std::vector<std::string> names_;
    std::map<std::string, std::string> metadata_;
    friend struct SafetensorsLoader;
};

}  // namespace llm
