// GGUF reader (versions 2 and 3). Everything is validated before use; tensor data stays in the mmap.
// Spec: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/mapped_file.hpp"
#include "core/status.hpp"
#include "core/tensor.hpp"

namespace llm {

enum class GgufType : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
    STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType t);

// One metadata value. Scalars keep their GGUF type; arrays hold typed vectors (nested arrays are rejected).
struct GgufValue {
    GgufType type = GgufType::U8;
    GgufType array_type = GgufType::U8;  // element type when type == ARRAY
    // Scalars: integers (all widths, and BOOL) in i, unsigned 64-bit in u, floats in f, strings in s.
    int64_t i = 0;
    uint64_t u = 0;
    double f = 0;
    std::string s;
    // Arrays, by element type: integer/bool elements in ints, float elements in floats, strings in strings.
    std::vector<int64_t> ints;
    std::vector<double> floats;
    std::vector<std::string> strings;

    bool is_array() const { return type == GgufType::ARRAY; }
    size_t array_size() const { return ints.size() + floats.size() + strings.size(); }
};

struct GgufTensorInfo {
    std::string name;
    int n_dims = 0;
    std::array<int64_t, 4> ne{1, 1, 1, 1};
    DType type = DType::F32;
    uint64_t offset = 0;  // relative to the data section
    size_t nbytes = 0;
};

class GgufFile {
public:
    // Maps and validates the file; every error names the file and what is wrong.
    static Expected<GgufFile> open(const std::string& path);
    // Parses an in-memory buffer (used by the fuzz target); `name` is used in messages.
    // The buffer must outlive the returned object.
    static Expected<GgufFile> parse(const uint8_t* data, size_t size, const std::string& name);

    uint32_t version() const { return version_; }
    uint32_t alignment() const { return alignment_; }
    const std::string& path() const { return path_; }

    // Metadata in file order.
    const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
    const GgufValue* find(const std::string& key) const;

    // Typed getters: nullopt when the key is absent; an error when present with an incompatible type.
    Expected<std::optional<int64_t>> get_int(const std::string& key) const;       // any integer type
    Expected<std::optional<double>> get_float(const std::string& key) const;      // F32/F64 (or integer)
    Expected<std::optional<bool>> get_bool(const std::string& key) const;
    Expected<std::optional<std::string>> get_string(const std::string& key) const;
    // Array getters return null when the key is absent (or an error on a type mismatch).
    Expected<const std::vector<std::string>*> get_string_array(const std::string& key) const;
    Expected<const std::vector<double>*> get_float_array(const std::string& key) const;
    Expected<const std::vector<int64_t>*> get_int_array(const std::string& key) const;

    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
    // A view of the named tensor's data in the mapping, or an invalid view when absent.
    TensorView tensor(const std::string& name) const;
    const GgufTensorInfo* find_tensor(const std::string& name) const;

    // Keeps the mapping alive for views handed out.
    std::shared_ptr<MappedFile> mapping() const { return file_; }

private:
    std::string path_;
    std::shared_ptr<MappedFile> file_;  // null when parsed from a caller's buffer
    const uint8_t* base_ = nullptr;
    size_t size_ = 0;
    uint32_t version_ = 0;
    uint32_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<std::pair<std::string, GgufValue>> kv_;
    std::map<std::string, size_t> kv_index_;
    std::vector<GgufTensorInfo> tensors_;
    std::map<std::string, size_t> tensor_index_;
    friend class GgufParser;
};

}  // namespace llm
