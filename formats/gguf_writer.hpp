// GGUF v3 writer: metadata of every type (arrays included) and tensors placed at `general.alignment`.
// Used by tests to build files and by the quantize tool. Builds the header in memory; tensor data is copied
// in (add_tensor) or referenced (add_tensor_ref, caller keeps it alive until write()).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "core/status.hpp"
#include "formats/gguf.hpp"

namespace llm {

class GgufWriter {
public:
    // alignment: a nonzero power of two; written as `general.alignment` (u32) when it is not the default 32.
    explicit GgufWriter(uint32_t alignment = 32);

    // Scalars.
    void add_u8(const std::string& key, uint8_t v);
    void add_i8(const std::string& key, int8_t v);
    void add_u16(const std::string& key, uint16_t v);
    void add_i16(const std::string& key, int16_t v);
    void add_u32(const std::string& key, uint32_t v);
    void add_i32(const std::string& key, int32_t v);
    void add_u64(const std::string& key, uint64_t v);
    void add_i64(const std::string& key, int64_t v);
    void add_f32(const std::string& key, float v);
    void add_f64(const std::string& key, double v);
    void add_bool(const std::string& key, bool v);
    void add_string(const std::string& key, const std::string& v);
    // Arrays; elem_type picks the encoding of each element (integer types/BOOL for ints, F32/F64 for floats).
    void add_int_array(const std::string& key, GgufType elem_type, const std::vector<int64_t>& v);
    void add_float_array(const std::string& key, GgufType elem_type, const std::vector<double>& v);
    void add_string_array(const std::string& key, const std::vector<std::string>& v);
    // Copies a value read by GgufFile (for rewriting metadata, e.g. when quantizing).
    void add_value(const std::string& key, const GgufValue& v);

    // ne in ggml order (ne[0] = row length), 1..4 dims. nbytes must equal the size implied by type and ne.
    Status add_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne, const void* data,
                      size_t nbytes);
    // As add_tensor but without copying: `data` must stay valid until write()/serialize() returns.
    Status add_tensor_ref(const std::string& name, DType type, const std::vector<int64_t>& ne, const void* data,
                          size_t nbytes);

    // The whole file as bytes (tests), or written to `path` (errors name the path).
    std::vector<uint8_t> serialize() const;
    Status write(const std::string& path) const;

    size_t n_kv() const { return n_kv_; }
    size_t n_tensors() const { return tensors_.size(); }

private:
    struct Tensor {
        std::string name;
        DType type;
        std::vector<int64_t> ne;
        const void* data;               // bytes to write (points into owned when copied)
        std::vector<uint8_t> owned;
        size_t nbytes;
        uint64_t offset;                // relative to the data section
    };
    Status add_tensor_impl(const std::string& name, DType type, const std::vector<int64_t>& ne, const void* data,
                           size_t nbytes, bool copy);
    void key(const std::string& k, GgufType t);
    template <typename T>
    void put(T v);
    void put_str(const std::string& s);
    std::vector<uint8_t> header() const;  // everything up to (and including the padding before) the data section

    uint32_t alignment_;
    std::vector<uint8_t> kv_;           // encoded metadata pairs
    size_t n_kv_ = 0;
    std::vector<Tensor> tensors_;
    uint64_t data_size_ = 0;            // bytes of the data section so far (each tensor padded to alignment)
};

}  // namespace llm
