// GGUF v3 writer. Layout written: header | kv pairs | tensor infos | zero pad to alignment | tensor data, each
// tensor starting at a multiple of the alignment (relative to the data section, which is itself aligned).
#include "formats/gguf_writer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace llm {

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
    LLM_CHECK(alignment != 0 && (alignment & (alignment - 1)) == 0);
    if (alignment != 32) add_u32("general.alignment", alignment);
}

template <typename T>
void GgufWriter::put(T v) {
    const size_t o = kv_.size();
    kv_.resize(o + sizeof(T));
    std::memcpy(kv_.data() + o, &v, sizeof(T));  // little-endian host
}

void GgufWriter::put_str(const std::string& s) {
    put<uint64_t>(s.size());
    kv_.insert(kv_.end(), s.begin(), s.end());
}

void GgufWriter::key(const std::string& k, GgufType t) {
    put_str(k);
    put<uint32_t>((uint32_t)t);
    ++n_kv_;
}

void GgufWriter::add_u8(const std::string& k, uint8_t v) { key(k, GgufType::U8); put(v); }
void GgufWriter::add_i8(const std::string& k, int8_t v) { key(k, GgufType::I8); put(v); }
void GgufWriter::add_u16(const std::string& k, uint16_t v) { key(k, GgufType::U16); put(v); }
void GgufWriter::add_i16(const std::string& k, int16_t v) { key(k, GgufType::I16); put(v); }
void GgufWriter::add_u32(const std::string& k, uint32_t v) { key(k, GgufType::U32); put(v); }
void GgufWriter::add_i32(const std::string& k, int32_t v) { key(k, GgufType::I32); put(v); }
void GgufWriter::add_u64(const std::string& k, uint64_t v) { key(k, GgufType::U64); put(v); }
void GgufWriter::add_i64(const std::string& k, int64_t v) { key(k, GgufType::I64); put(v); }
void GgufWriter::add_f32(const std::string& k, float v) { key(k, GgufType::F32); put(v); }
void GgufWriter::add_f64(const std::string& k, double v) { key(k, GgufType::F64); put(v); }
void GgufWriter::add_bool(const std::string& k, bool v) { key(k, GgufType::BOOL); put<uint8_t>(v ? 1 : 0); }
void GgufWriter::add_string(const std::string& k, const std::string& v) { key(k, GgufType::STRING); put_str(v); }

void GgufWriter::add_int_array(const std::string& k, GgufType t, const std::vector<int64_t>& v) {
    key(k, GgufType::ARRAY);
    put<uint32_t>((uint32_t)t);
    put<uint64_t>(v.size());
    for (int64_t x : v) {
        switch (t) {
            case GgufType::U8: put((uint8_t)x); break;
            case GgufType::I8: put((int8_t)x); break;
            case GgufType::BOOL: put<uint8_t>(x ? 1 : 0); break;
            case GgufType::U16: put((uint16_t)x); break;
            case GgufType::I16: put((int16_t)x); break;
            case GgufType::U32: put((uint32_t)x); break;
            case GgufType::I32: put((int32_t)x); break;
            case GgufType::U64: put((uint64_t)x); break;
            case GgufType::I64: put(x); break;
            default: LLM_CHECK(!"add_int_array: element type must be an integer or bool");
        }
    }
}

void GgufWriter::add_float_array(const std::string& k, GgufType t, const std::vector<double>& v) {
    LLM_CHECK(t == GgufType::F32 || t == GgufType::F64);
    key(k, GgufType::ARRAY);
    put<uint32_t>((uint32_t)t);
    put<uint64_t>(v.size());
    for (double x : v) {
        if (t == GgufType::F32) put((float)x);
        else put(x);
    }
}

void GgufWriter::add_string_array(const std::string& k, const std::vector<std::string>& v) {
    key(k, GgufType::ARRAY);
    put<uint32_t>((uint32_t)GgufType::STRING);
    put<uint64_t>(v.size());
    for (const std::string& s : v) put_str(s);
}

void GgufWriter::add_value(const std::string& k, const GgufValue& v) {
    switch (v.type) {
        case GgufType::U8: add_u8(k, (uint8_t)v.u); break;
        case GgufType::I8: add_i8(k, (int8_t)v.i); break;
        case GgufType::U16: add_u16(k, (uint16_t)v.u); break;
        case GgufType::I16: add_i16(k, (int16_t)v.i); break;
        case GgufType::U32: add_u32(k, (uint32_t)v.u); break;
        case GgufType::I32: add_i32(k, (int32_t)v.i); break;
        case GgufType::U64: add_u64(k, v.u); break;
        case GgufType::I64: add_i64(k, v.i); break;
        case GgufType::F32: add_f32(k, (float)v.f); break;
        case GgufType::F64: add_f64(k, v.f); break;
        case GgufType::BOOL: add_bool(k, v.i != 0); break;
        case GgufType::STRING: add_string(k, v.s); break;
        case GgufType::ARRAY:
            if (v.array_type == GgufType::STRING) add_string_array(k, v.strings);
            else if (v.array_type == GgufType::F32 || v.array_type == GgufType::F64) add_float_array(k, v.array_type, v.floats);
            else add_int_array(k, v.array_type, v.ints);
            break;
    }
}

Status GgufWriter::add_tensor_impl(const std::string& name, DType type, const std::vector<int64_t>& ne,
                                   const void* data, size_t nbytes, bool copy) {
    if (ne.empty() || ne.size() > 4) return error("gguf writer: tensor '{}': {} dims (expected 1..4)", name, ne.size());
    for (const Tensor& t : tensors_)
        if (t.name == name) return error("gguf writer: duplicate tensor '{}'", name);
    const int64_t bs = block_size(type);
    if (ne[0] < 0 || ne[0] % bs != 0)
        return error("gguf writer: tensor '{}': ne[0] = {} is not a multiple of block size {}", name, ne[0], bs);
    uint64_t expect = row_bytes(type, ne[0]);
    for (size_t d = 1; d < ne.size(); ++d) {
        if (ne[d] < 0 || __builtin_mul_overflow(expect, (uint64_t)ne[d], &expect))
            return error("gguf writer: tensor '{}': bad dims", name);
    }
    if (expect != nbytes)
        return error("gguf writer: tensor '{}': {} bytes given, {} expected for its type and shape", name, nbytes, expect);
    Tensor t{name, type, ne, data, {}, nbytes, data_size_};
    if (copy && nbytes) t.owned.assign((const uint8_t*)data, (const uint8_t*)data + nbytes);
    data_size_ += (nbytes + alignment_ - 1) / alignment_ * alignment_;
    tensors_.push_back(std::move(t));
    return Status::ok();
}

Status GgufWriter::add_tensor(const std::string& name, DType type, const std::vector<int64_t>& ne, const void* data,
                              size_t nbytes) {
    return add_tensor_impl(name, type, ne, data, nbytes, true);
}

Status GgufWriter::add_tensor_ref(const std::string& name, DType type, const std::vector<int64_t>& ne,
                                  const void* data, size_t nbytes) {
    return add_tensor_impl(name, type, ne, data, nbytes, false);
}

std::vector<uint8_t> GgufWriter::header() const {
    std::vector<uint8_t> h;
    auto put = [&h](auto v) {
        const size_t o = h.size();
        h.resize(o + sizeof(v));
        std::memcpy(h.data() + o, &v, sizeof(v));
    };
    put((uint32_t)0x46554747);  // "GGUF" in file byte order
    put((uint32_t)3);
    put((uint64_t)tensors_.size());
    put((uint64_t)n_kv_);
    h.insert(h.end(), kv_.begin(), kv_.end());
    for (const Tensor& t : tensors_) {
        put((uint64_t)t.name.size());
        h.insert(h.end(), t.name.begin(), t.name.end());
        put((uint32_t)t.ne.size());
        for (int64_t n : t.ne) put((uint64_t)n);
        put((uint32_t)t.type);
        put(t.offset);
    }
    h.resize((h.size() + alignment_ - 1) / alignment_ * alignment_, 0);
    return h;
}

std::vector<uint8_t> GgufWriter::serialize() const {
    std::vector<uint8_t> out = header();
    const size_t base = out.size();
    out.resize(base + data_size_, 0);
    for (const Tensor& t : tensors_) {
        const void* src = t.owned.empty() ? t.data : t.owned.data();
        if (t.nbytes) std::memcpy(out.data() + base + t.offset, src, t.nbytes);
    }
    return out;
}

Status GgufWriter::write(const std::string& path) const {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return error("{}: cannot open for writing: {}", path, std::strerror(errno));
    std::vector<uint8_t> h = header();
    bool ok = std::fwrite(h.data(), 1, h.size(), f) == h.size();
    static const uint8_t zeros[64] = {};
    uint64_t pos = 0;
    for (const Tensor& t : tensors_) {
        while (ok && pos < t.offset) {  // pad the previous tensor up to this one's aligned offset
            size_t n = (size_t)std::min<uint64_t>(sizeof(zeros), t.offset - pos);
            ok = std::fwrite(zeros, 1, n, f) == n;
            pos += n;
        }
        const void* src = t.owned.empty() ? t.data : t.owned.data();
        if (ok && t.nbytes) ok = std::fwrite(src, 1, t.nbytes, f) == t.nbytes;
        pos += t.nbytes;
    }
    while (ok && pos < data_size_) {
        size_t n = (size_t)std::min<uint64_t>(sizeof(zeros), data_size_ - pos);
        ok = std::fwrite(zeros, 1, n, f) == n;
        pos += n;
    }
    if (std::fclose(f) != 0) ok = false;
    if (!ok) return error("{}: write failed: {}", path, std::strerror(errno));
    return Status::ok();
}

}  // namespace llm
