// GGUF v2/v3 reader: parses the header, metadata and tensor infos from a byte range with every count, length,
// offset and size checked against the bytes actually present before anything is allocated or read.
// Layout: magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv | kv[n_kv] | tensor_info[n_tensors] | pad | data.
#include "formats/gguf.hpp"

#include <algorithm>
#include <cstring>

namespace llm {

namespace {

// Smallest encodings, used to bound counts by the bytes left before reserving anything.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;               // empty key, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, n_dims, ne[0], type, offset

// Bytes of one scalar value in the file; 0 for STRING/ARRAY (variable) and for unknown types.
uint64_t scalar_size(GgufType t) {
    switch (t) {
        case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
        case GgufType::U16: case GgufType::I16: return 2;
        case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
        case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
        case GgufType::STRING: case GgufType::ARRAY: return 0;
    }
    return 0;
}

bool valid_type(uint32_t t) { return t <= (uint32_t)GgufType::F64; }
bool is_integer(GgufType t) {
    switch (t) {
        case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
        case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64: return true;
        default: return false;
    }
}
bool is_float(GgufType t) { return t == GgufType::F32 || t == GgufType::F64; }

// Printable form of a key or tensor name for messages (names are raw bytes and may hold anything).
std::string printable(const std::string& s) {
    std::string out;
    for (unsigned char c : s.substr(0, 96)) {
        if (c >= 0x20 && c < 0x7f && c != '\'') out += (char)c;
        else out += fmt::format("\\x{:02x}", c);
    }
    if (s.size() > 96) out += "...";
    return out;
}

// Bounds-checked little-endian reader over [data, data + size).
class Cursor {
public:
    Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    size_t pos() const { return pos_; }
    uint64_t left() const { return size_ - pos_; }

    template <typename T>
    bool read(T& out) {
        if (left() < sizeof(T)) return false;
        std::memcpy(&out, data_ + pos_, sizeof(T));  // the host is little-endian (x86-64)
        pos_ += sizeof(T);
        return true;
    }
    // A u64 length followed by that many bytes; fails without allocating when the length exceeds the bytes left.
    bool read_string(std::string& out, bool& too_long) {
        too_long = false;
        uint64_t n;
        if (!read(n)) return false;
        if (n > left()) { too_long = true; return false; }
        out.assign(reinterpret_cast<const char*>(data_ + pos_), (size_t)n);
        pos_ += (size_t)n;
        return true;
    }

private:
    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
};

}  // namespace

const char* gguf_type_name(GgufType t) {
    switch (t) {
        case GgufType::U8: return "u8";
        case GgufType::I8: return "i8";
        case GgufType::U16: return "u16";
        case GgufType::I16: return "i16";
        case GgufType::U32: return "u32";
        case GgufType::I32: return "i32";
        case GgufType::F32: return "f32";
        case GgufType::BOOL: return "bool";
        case GgufType::STRING: return "string";
        case GgufType::ARRAY: return "array";
        case GgufType::U64: return "u64";
        case GgufType::I64: return "i64";
        case GgufType::F64: return "f64";
    }
    return "unknown";
}

// Does the parsing; a friend of GgufFile so it can fill the private members.
class GgufParser {
public:
    GgufParser(const uint8_t* data, size_t size, const std::string& name) : cur_(data, size), name_(name) {
        f_.path_ = name;
        f_.base_ = data;
        f_.size_ = size;
    }

    Expected<GgufFile> run() {
        LLM_TRY(header());
        LLM_TRY(metadata());
        LLM_TRY(alignment());
        LLM_TRY(tensor_infos());
        LLM_TRY(layout());
        return std::move(f_);
    }

private:
    template <typename... Args>
    Status fail(fmt::format_string<Args...> f, Args&&... args) {
        return Status::error(fmt::format("{}: {}", name_, fmt::format(f, std::forward<Args>(args)...)));
    }
    Status truncated(const std::string& what) {
        return fail("truncated file: {} at byte {} runs past the end ({} bytes)", what, cur_.pos(), f_.size_);
    }

    Status header() {
        uint8_t magic[4];
        if (!cur_.read(magic)) return truncated("magic");
        if (std::memcmp(magic, "GGUF", 4) != 0)
            return fail("bad magic {:02x} {:02x} {:02x} {:02x} (expected \"GGUF\")", magic[0], magic[1], magic[2],
                        magic[3]);
        uint32_t v;
        if (!cur_.read(v)) return truncated("version");
        if (v == 0x02000000u || v == 0x03000000u) return fail("big-endian GGUF is not supported (version field {:#x})", v);
        if (v != 2 && v != 3) return fail("unsupported GGUF version {} (expected 2 or 3)", v);
        f_.version_ = v;
        if (!cur_.read(n_tensors_)) return truncated("tensor count");
        if (!cur_.read(n_kv_)) return truncated("metadata kv count");
        // Both counts are bounded by the bytes left, so the reservations below cannot exceed the file.
        if (n_kv_ > cur_.left() / kMinKvBytes) return fail("metadata kv count {} too large for the file", n_kv_);
        if (n_tensors_ > cur_.left() / kMinTensorInfoBytes) return fail("tensor count {} too large for the file", n_tensors_);
        if (n_kv_ * kMinKvBytes + n_tensors_ * kMinTensorInfoBytes > cur_.left())
            return fail("metadata kv count {} and tensor count {} too large for the file", n_kv_, n_tensors_);
        return Status::ok();
    }

    Status metadata() {
        f_.kv_.reserve((size_t)n_kv_);
        for (uint64_t k = 0; k < n_kv_; ++k) {
            std::string key;
            bool too_long;
            if (!cur_.read_string(key, too_long))
                return too_long ? fail("metadata key #{}: length exceeds the file", k)
                                : truncated(fmt::format("metadata key #{} length", k));
            if (f_.kv_index_.count(key)) return fail("duplicate metadata key '{}'", printable(key));
            uint32_t t;
            if (!cur_.read(t)) return truncated(fmt::format("type of key '{}'", printable(key)));
            if (!valid_type(t)) return fail("key '{}': invalid value type {}", printable(key), t);
            GgufValue v;
            v.type = (GgufType)t;
            LLM_TRY(value(key, v));
            f_.kv_index_.emplace(key, f_.kv_.size());
            f_.kv_.emplace_back(std::move(key), std::move(v));
        }
        return Status::ok();
    }

    // Reads one scalar of type t into the integer/float/string slots of v.
    Status scalar(const std::string& key, GgufType t, int64_t& i, uint64_t& u, double& f, std::string* s) {
        auto trunc = [&] { return truncated(fmt::format("value of key '{}'", printable(key))); };
        switch (t) {
            case GgufType::U8: { uint8_t x; if (!cur_.read(x)) return trunc(); i = x; u = x; break; }
            case GgufType::I8: { int8_t x; if (!cur_.read(x)) return trunc(); i = x; u = (uint64_t)i; break; }
            case GgufType::U16: { uint16_t x; if (!cur_.read(x)) return trunc(); i = x; u = x; break; }
            case GgufType::I16: { int16_t x; if (!cur_.read(x)) return trunc(); i = x; u = (uint64_t)i; break; }
            case GgufType::U32: { uint32_t x; if (!cur_.read(x)) return trunc(); i = x; u = x; break; }
            case GgufType::I32: { int32_t x; if (!cur_.read(x)) return trunc(); i = x; u = (uint64_t)i; break; }
            case GgufType::U64: { uint64_t x; if (!cur_.read(x)) return trunc(); i = (int64_t)x; u = x; break; }
            case GgufType::I64: { int64_t x; if (!cur_.read(x)) return trunc(); i = x; u = (uint64_t)x; break; }
            case GgufType::F32: { float x; if (!cur_.read(x)) return trunc(); f = x; break; }
            case GgufType::F64: { double x; if (!cur_.read(x)) return trunc(); f = x; break; }
            case GgufType::BOOL: {
                uint8_t x;
                if (!cur_.read(x)) return trunc();
                if (x > 1) return fail("key '{}': bool value {} is not 0 or 1", printable(key), x);
                i = x; u = x;
                break;
            }
            case GgufType::STRING: {
                bool too_long;
                if (!cur_.read_string(*s, too_long))
                    return too_long ? fail("key '{}': string length exceeds the file", printable(key)) : trunc();
                break;
            }
            case GgufType::ARRAY: return fail("key '{}': nested arrays are not supported", printable(key));
        }
        return Status::ok();
    }

    Status value(const std::string& key, GgufValue& v) {
        if (v.type != GgufType::ARRAY) return scalar(key, v.type, v.i, v.u, v.f, &v.s);
        uint32_t et;
        uint64_t n;
        if (!cur_.read(et)) return truncated(fmt::format("array element type of key '{}'", printable(key)));
        if (!valid_type(et)) return fail("key '{}': invalid array element type {}", printable(key), et);
        if ((GgufType)et == GgufType::ARRAY) return fail("key '{}': nested arrays are not supported", printable(key));
        if (!cur_.read(n)) return truncated(fmt::format("array length of key '{}'", printable(key)));
        v.array_type = (GgufType)et;
        const uint64_t min_elem = v.array_type == GgufType::STRING ? 8 : scalar_size(v.array_type);
        if (n > cur_.left() / min_elem)
            return fail("key '{}': array length {} exceeds the file ({} bytes left)", printable(key), n, cur_.left());
        int64_t i = 0;
        uint64_t u = 0;
        double f = 0;
        if (v.array_type == GgufType::STRING) {
            v.strings.reserve((size_t)n);
            for (uint64_t j = 0; j < n; ++j) {
                v.strings.emplace_back();
                LLM_TRY(scalar(key, GgufType::STRING, i, u, f, &v.strings.back()));
            }
        } else if (is_float(v.array_type)) {
            v.floats.reserve((size_t)n);
            for (uint64_t j = 0; j < n; ++j) {
                LLM_TRY(scalar(key, v.array_type, i, u, f, nullptr));
                v.floats.push_back(f);
            }
        } else {  // integers and bools (U64 elements are stored bit-cast into int64)
            v.ints.reserve((size_t)n);
            for (uint64_t j = 0; j < n; ++j) {
                LLM_TRY(scalar(key, v.array_type, i, u, f, nullptr));
                v.ints.push_back(i);
            }
        }
        return Status::ok();
    }

    Status alignment() {
        const GgufValue* a = f_.find("general.alignment");
        if (!a) return Status::ok();
        if (a->type != GgufType::U32)
            return fail("key 'general.alignment': type {} (expected u32)", gguf_type_name(a->type));
        if (a->u == 0 || (a->u & (a->u - 1)) != 0)
            return fail("key 'general.alignment': {} is not a nonzero power of two", a->u);
        f_.alignment_ = (uint32_t)a->u;
        return Status::ok();
    }

    Status tensor_infos() {
        f_.tensors_.reserve((size_t)n_tensors_);
        for (uint64_t k = 0; k < n_tensors_; ++k) {
            GgufTensorInfo ti;
            bool too_long;
            if (!cur_.read_string(ti.name, too_long))
                return too_long ? fail("tensor #{}: name length exceeds the file", k)
                                : truncated(fmt::format("tensor #{} name length", k));
            const std::string tn = printable(ti.name);
            if (f_.tensor_index_.count(ti.name)) return fail("duplicate tensor name '{}'", tn);
            uint32_t n_dims;
            if (!cur_.read(n_dims)) return truncated(fmt::format("n_dims of tensor '{}'", tn));
            if (n_dims < 1 || n_dims > 4) return fail("tensor '{}': n_dims {} (expected 1..4)", tn, n_dims);
            ti.n_dims = (int)n_dims;
            int64_t n_elements = 1;
            bool overflow = false;
            for (uint32_t d = 0; d < n_dims; ++d) {
                uint64_t ne;
                if (!cur_.read(ne)) return truncated(fmt::format("ne[{}] of tensor '{}'", d, tn));
                if (ne > (uint64_t)INT64_MAX) return fail("tensor '{}': ne[{}] = {} is negative or too large", tn, d, ne);
                ti.ne[d] = (int64_t)ne;
                overflow |= __builtin_mul_overflow(n_elements, ti.ne[d], &n_elements);
            }
            if (overflow)
                return fail("tensor '{}': element count {}x{}x{}x{} overflows", tn, ti.ne[0], ti.ne[1], ti.ne[2], ti.ne[3]);
            uint32_t type;
            if (!cur_.read(type)) return truncated(fmt::format("type of tensor '{}'", tn));
            std::optional<DType> dt = dtype_from_u32(type);
            if (!dt) return fail("tensor '{}': unknown tensor type {}", tn, type);
            ti.type = *dt;
            const int64_t bs = block_size(ti.type);
            if (ti.ne[0] % bs != 0)
                return fail("tensor '{}': ne[0] = {} is not a multiple of the {} block size {}", tn, ti.ne[0],
                            dtype_name(ti.type), bs);
            // bytes = (ne0 / bs) * type_size * ne1 * ne2 * ne3, each step checked (zero dims give 0, no division).
            uint64_t nbytes = (uint64_t)(ti.ne[0] / bs);
            overflow = __builtin_mul_overflow(nbytes, (uint64_t)type_traits(ti.type).type_size, &nbytes);
            for (int d = 1; d < 4; ++d) overflow |= __builtin_mul_overflow(nbytes, (uint64_t)ti.ne[d], &nbytes);
            if (overflow || nbytes > SIZE_MAX) return fail("tensor '{}': byte size overflows", tn);
            ti.nbytes = (size_t)nbytes;
            if (!cur_.read(ti.offset)) return truncated(fmt::format("offset of tensor '{}'", tn));
            if (ti.offset % f_.alignment_ != 0)
                return fail("tensor '{}': offset {} is not a multiple of the alignment {}", tn, ti.offset, f_.alignment_);
            f_.tensor_index_.emplace(ti.name, f_.tensors_.size());
            f_.tensors_.push_back(std::move(ti));
        }
        return Status::ok();
    }

    // Data section placement: every tensor inside the file, none overlapping.
    Status layout() {
        uint64_t pos = cur_.pos();
        uint64_t data = (pos + f_.alignment_ - 1) / f_.alignment_ * f_.alignment_;  // pos < 2^63: no overflow
        f_.data_offset_ = data;
        const uint64_t size = f_.size_;
        uint64_t avail = data <= size ? size - data : 0;
        std::vector<std::pair<uint64_t, size_t>> order;  // (offset, index) of tensors holding bytes
        order.reserve(f_.tensors_.size());
        for (size_t k = 0; k < f_.tensors_.size(); ++k) {
            const GgufTensorInfo& t = f_.tensors_[k];
            if (t.nbytes == 0) {
                if (t.offset > avail) return fail("tensor '{}': offset {} is past the end of the data section ({} bytes)",
                                                  printable(t.name), t.offset, avail);
                continue;
            }
            if (data > size || t.offset > avail || t.nbytes > avail - t.offset)
                return fail("tensor '{}': data [{}, +{}) lies outside the data section ({} bytes at file offset {})",
                            printable(t.name), t.offset, t.nbytes, avail, data);
            order.emplace_back(t.offset, k);
        }
        std::sort(order.begin(), order.end());
        for (size_t j = 1; j < order.size(); ++j) {
            const GgufTensorInfo& a = f_.tensors_[order[j - 1].second];
            const GgufTensorInfo& b = f_.tensors_[order[j].second];
            if (a.offset + a.nbytes > b.offset)
                return fail("tensors '{}' [{}, +{}) and '{}' [{}, +{}) overlap", printable(a.name), a.offset, a.nbytes,
                            printable(b.name), b.offset, b.nbytes);
        }
        return Status::ok();
    }

    Cursor cur_;
    std::string name_;
    GgufFile f_;
    uint64_t n_tensors_ = 0;
    uint64_t n_kv_ = 0;
};

Expected<GgufFile> GgufFile::parse(const uint8_t* data, size_t size, const std::string& name) {
    return GgufParser(data, size, name).run();
}

Expected<GgufFile> GgufFile::open(const std::string& path) {
    Expected<std::shared_ptr<MappedFile>> m = MappedFile::open(path);
    if (!m) return m.status();
    Expected<GgufFile> f = parse((*m)->data(), (*m)->size(), path);
    if (f) f->file_ = std::move(*m);
    return f;
}

const GgufValue* GgufFile::find(const std::string& key) const {
    auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

Expected<std::optional<int64_t>> GgufFile::get_int(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::optional<int64_t>();
    if (!is_integer(v->type))
        return error("{}: key '{}': type {} (expected an integer)", path_, key, gguf_type_name(v->type));
    if (v->type == GgufType::U64 && v->u > (uint64_t)INT64_MAX)
        return error("{}: key '{}': value {} does not fit in int64", path_, key, v->u);
    return std::optional<int64_t>(v->i);
}

Expected<std::optional<double>> GgufFile::get_float(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::optional<double>();
    if (is_float(v->type)) return std::optional<double>(v->f);
    if (v->type == GgufType::U64) return std::optional<double>((double)v->u);
    if (is_integer(v->type)) return std::optional<double>((double)v->i);
    return error("{}: key '{}': type {} (expected a number)", path_, key, gguf_type_name(v->type));
}

Expected<std::optional<bool>> GgufFile::get_bool(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::optional<bool>();
    if (v->type != GgufType::BOOL) return error("{}: key '{}': type {} (expected bool)", path_, key, gguf_type_name(v->type));
    return std::optional<bool>(v->i != 0);
}

Expected<std::optional<std::string>> GgufFile::get_string(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::optional<std::string>();
    if (v->type != GgufType::STRING)
        return error("{}: key '{}': type {} (expected string)", path_, key, gguf_type_name(v->type));
    return std::optional<std::string>(v->s);
}

Expected<const std::vector<std::string>*> GgufFile::get_string_array(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return static_cast<const std::vector<std::string>*>(nullptr);
    if (!v->is_array() || v->array_type != GgufType::STRING)
        return error("{}: key '{}': expected an array of strings", path_, key);
    return &v->strings;
}

Expected<const std::vector<double>*> GgufFile::get_float_array(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return static_cast<const std::vector<double>*>(nullptr);
    if (!v->is_array() || !is_float(v->array_type))
        return error("{}: key '{}': expected an array of f32/f64", path_, key);
    return &v->floats;
}

Expected<const std::vector<int64_t>*> GgufFile::get_int_array(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return static_cast<const std::vector<int64_t>*>(nullptr);
    if (!v->is_array() || !(is_integer(v->array_type) || v->array_type == GgufType::BOOL))
        return error("{}: key '{}': expected an array of integers", path_, key);
    return &v->ints;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

TensorView GgufFile::tensor(const std::string& name) const {
    TensorView v;
    const GgufTensorInfo* t = find_tensor(name);
    if (!t) return v;
    v.name = t->name;
    v.type = t->type;
    v.n_dims = t->n_dims;
    v.ne = t->ne;
    v.nbytes = t->nbytes;
    // Empty tensors may sit at (or, with no data section, past) the end: point them at the base instead.
    v.data = t->nbytes ? base_ + data_offset_ + t->offset : base_;
    return v;
}

}  // namespace llm
