// safetensors reader: one `model.safetensors` file or a sharded folder (`model.safetensors.index.json` with a
// `weight_map` naming `model-0000N-of-0000M.safetensors` shards). Headers are fully validated; tensor data stays
// in the memory maps, which live as long as the SafetensorsModel.
// Format: u64 LE header length N | N bytes of UTF-8 JSON | data section (offsets in the JSON are relative to it).
#pragma once
#include <cstdint>
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

    // Tensor names, sorted.
    const std::vector<std::string>& names() const { return names_; }
    // A view into the mapping (ne reversed from the JSON shape: ne[0] is the last dim), or invalid when absent.
    TensorView tensor(const std::string& name) const;
    const TensorView* find(const std::string& name) const;
    bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
    size_t size() const { return tensors_.size(); }
    // `__metadata__` of the (first) file; string values only.
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    // The files opened (one per shard); empty when parsed from memory.
    const std::vector<std::string>& files() const { return paths_; }

private:
    std::vector<std::shared_ptr<MappedFile>> maps_;  // keeps the views valid
    std::vector<std::string> paths_;
    std::map<std::string, TensorView> tensors_;
    std::vector<std::string> names_;
    std::map<std::string, std::string> metadata_;
    friend struct SafetensorsLoader;
};

}  // namespace llm
