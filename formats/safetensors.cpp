// safetensors reader: strict header validation (size limit, UTF-8 JSON object without duplicate keys, known dtypes,
// shapes matching byte ranges, byte ranges sorted/contiguous and covering the data section exactly) and the
// sharded-folder index (`weight_map`, shard names confined to the folder).
#include "formats/safetensors.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

namespace llm {

namespace {

using json = nlohmann::json;

struct Entry {
    std::string name;
    DType type;           // float tensors
    IntKind int_kind;     // None for float tensors
    int n_dims;
    std::array<int64_t, 4> ne;
    uint64_t begin, end;  // relative to the data section
};

// Thrown from the parser callback (caught right here, never crosses the API).
struct JsonReject {
    std::string why;
};

// Parses [b, e) as JSON rejecting duplicate keys (in any object) and nesting deeper than a header needs.
Expected<json> parse_strict_json(const char* b, const char* e, const std::string& what) {
    std::vector<std::set<std::string>> keys;  // one set per open object
    auto cb = [&keys](int depth, json::parse_event_t ev, json& parsed) -> bool {
        if (depth > 16) throw JsonReject{"JSON nested too deeply"};
        switch (ev) {
            case json::parse_event_t::object_start: keys.emplace_back(); break;
            case json::parse_event_t::object_end: if (!keys.empty()) keys.pop_back(); break;
            case json::parse_event_t::key: {
                const std::string& k = parsed.get_ref<const std::string&>();
                if (!keys.empty() && !keys.back().insert(k).second) throw JsonReject{fmt::format("duplicate key '{}'", k)};
                break;
            }
            default: break;
        }
        return true;
    };
    try {
        return json::parse(b, e, cb);
    } catch (const JsonReject& r) {
        return error("{}: {}", what, r.why);
    } catch (const json::exception& x) {
        return error("{}: invalid JSON: {}", what, x.what());
    } catch (const std::bad_alloc&) {
        return error("{}: out of memory parsing JSON", what);
    }
}

struct MappedType {
    DType type = DType::F32;
    IntKind int_kind = IntKind::None;
};

// Maps a safetensors dtype to a DType (float tensors) or an IntKind (U32 / I32: packed quantized weights and their
// indices); known-but-unsupported and unknown dtypes get distinct messages.
Expected<MappedType> map_dtype(const std::string& d, const std::string& file, const std::string& tensor) {
    if (d == "F32") return MappedType{DType::F32};
    if (d == "F16") return MappedType{DType::F16};
    if (d == "BF16") return MappedType{DType::BF16};
    if (d == "U32") return MappedType{DType::F32, IntKind::U32};
    if (d == "I32") return MappedType{DType::F32, IntKind::I32};
    static const char* const kKnown[] = {"F64", "I64", "I16", "I8", "U8", "U16", "U64", "BOOL",
                                         "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64"};
    for (const char* k : kKnown)
        if (d == k)
            return error("{}: tensor '{}': unsupported dtype {} (supported: F32, F16, BF16; U32, I32 for packed "
                         "quantized weights)", file, tensor, d);
    return error("{}: tensor '{}': unknown dtype '{}'", file, tensor, d);
}

size_t dtype_bytes(const Entry& e) { return e.int_kind != IntKind::None || e.type == DType::F32 ? 4 : 2; }

Expected<Entry> parse_entry(const std::string& file, const std::string& name, const json& v) {
    if (!v.is_object()) return error("{}: tensor '{}': entry is not a JSON object", file, name);
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) return error("{}: tensor '{}': missing or non-string 'dtype'", file, name);
    if (sh == v.end() || !sh->is_array()) return error("{}: tensor '{}': missing or non-array 'shape'", file, name);
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
        return error("{}: tensor '{}': 'data_offsets' must be two non-negative integers", file, name);
    Entry e;
    e.name = name;
    Expected<MappedType> t = map_dtype(dt->get<std::string>(), file, name);
    if (!t) return t.status();
    e.type = t->type;
    e.int_kind = t->int_kind;
    if (sh->size() > 4) return error("{}: tensor '{}': {} dims (at most 4 supported)", file, name, sh->size());
    e.n_dims = (int)sh->size();
    e.ne = {1, 1, 1, 1};
    uint64_t nbytes = dtype_bytes(e);
    for (int d = 0; d < e.n_dims; ++d) {
        const json& x = (*sh)[(size_t)d];
        if (!x.is_number_unsigned() || x.get<uint64_t>() > (uint64_t)INT64_MAX)
            return error("{}: tensor '{}': shape[{}] is not a non-negative integer", file, name, d);
        e.ne[(size_t)(e.n_dims - 1 - d)] = (int64_t)x.get<uint64_t>();  // ne[0] is the last (fastest) dim
        if (__builtin_mul_overflow(nbytes, x.get<uint64_t>(), &nbytes))
            return error("{}: tensor '{}': shape {} overflows", file, name, sh->dump());
    }
    e.begin = (*off)[0].get<uint64_t>();
    e.end = (*off)[1].get<uint64_t>();
    if (e.begin > e.end) return error("{}: tensor '{}': data_offsets [{}, {}] are reversed", file, name, e.begin, e.end);
    if (e.end - e.begin != nbytes)
        return error("{}: tensor '{}': shape {} needs {} bytes but data_offsets [{}, {}] span {}", file, name,
                     sh->dump(), nbytes, e.begin, e.end, e.end - e.begin);
    return e;
}

struct ParsedFile {
    std::vector<Entry> entries;
    std::map<std::string, std::string> metadata;
    const uint8_t* data = nullptr;  // start of the data section
};

Expected<ParsedFile> parse_file(const uint8_t* p, size_t size, const std::string& file) {
    if (size < 8) return error("{}: file too small ({} bytes) for the 8-byte header length", file, size);
    uint64_t n;
    std::memcpy(&n, p, 8);  // little-endian host
    if (n > kSafetensorsMaxHeader)
        return error("{}: header length {} exceeds the {} byte limit", file, n, kSafetensorsMaxHeader);
    if (n > size - 8) return error("{}: header length {} runs past the end of the file ({} bytes)", file, n, size);
    Expected<json> j = parse_strict_json((const char*)p + 8, (const char*)p + 8 + n, file + ": header");
    if (!j) return j.status();
    if (!j->is_object()) return error("{}: header is not a JSON object", file);
    ParsedFile out;
    out.data = p + 8 + n;
    const uint64_t data_size = size - 8 - n;
    out.entries.reserve(j->size());
    for (auto it = j->begin(); it != j->end(); ++it) {
        if (it.key() == "__metadata__") {
            if (!it->is_object()) return error("{}: '__metadata__' is not a JSON object", file);
            for (auto m = it->begin(); m != it->end(); ++m) {
                if (!m->is_string()) return error("{}: '__metadata__' value '{}' is not a string", file, m.key());
                out.metadata[m.key()] = m->get<std::string>();
            }
            continue;
        }
        Expected<Entry> e = parse_entry(file, it.key(), *it);
        if (!e) return e.status();
        if (e->end > data_size)
            return error("{}: tensor '{}': data_offsets [{}, {}] run past the end of the data section ({} bytes)", file,
                         e->name, e->begin, e->end, data_size);
        out.entries.push_back(std::move(*e));
    }
    // The byte ranges, sorted, must tile the data section exactly: no gaps, no overlaps, nothing left over.
    std::vector<const Entry*> order;
    order.reserve(out.entries.size());
    for (const Entry& e : out.entries) order.push_back(&e);
    std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t expect = 0;
    const Entry* prev = nullptr;
    for (const Entry* e : order) {
        if (e->begin > expect)
            return error("{}: gap of {} bytes before tensor '{}' (data_offsets [{}, {}])", file, e->begin - expect,
                         e->name, e->begin, e->end);
        if (e->begin < expect)
            return error("{}: tensor '{}' [{}, {}] overlaps tensor '{}' (ends at {})", file, e->name, e->begin, e->end,
                         prev ? prev->name : "", expect);
        expect = e->end;
        prev = e;
    }
    if (expect != data_size)
        return error("{}: tensors end at data offset {} but the data section has {} bytes (trailing bytes after the "
                     "last tensor)", file, expect, data_size);
    return out;
}

TensorView make_view(const Entry& e, const uint8_t* data) {
    TensorView v;
    v.name = e.name;
    v.type = e.type;
    v.n_dims = e.n_dims;
    v.ne = e.ne;
    v.data = data + e.begin;  // non-null even for empty tensors (data points into the file)
    v.nbytes = (size_t)(e.end - e.begin);
    return v;
}

bool is_dir(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool exists(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
}
bool ends_with(const std::string& s, const std::string& suf) {
    return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// A shard file name must name a file inside the model folder.
bool safe_shard_name(const std::string& s) {
    if (s.empty() || s == "." || s == "..") return false;
    for (char c : s)
        if (c == '/' || c == '\\' || c == '\0') return false;
    return s.find("..") == std::string::npos;
}

}  // namespace

Expected<std::map<std::string, std::set<std::string>>> parse_safetensors_index(std::string_view text,
                                                                                const std::string& name) {
    if (text.size() > kSafetensorsMaxHeader)
        return error("{}: index file of {} bytes exceeds the {} byte limit", name, text.size(), kSafetensorsMaxHeader);
    Expected<json> j = parse_strict_json(text.data(), text.data() + text.size(), name);
    if (!j) return j.status();
    if (!j->is_object()) return error("{}: not a JSON object", name);
    auto wm = j->find("weight_map");
    if (wm == j->end() || !wm->is_object()) return error("{}: missing 'weight_map' object", name);
    std::map<std::string, std::set<std::string>> by_shard;  // shard -> tensors listed for it
    for (auto it = wm->begin(); it != wm->end(); ++it) {
        if (!it->is_string()) return error("{}: weight_map entry '{}' is not a string", name, it.key());
        const std::string& shard = it->get_ref<const std::string&>();
        if (!safe_shard_name(shard))
            return error("{}: weight_map entry '{}': unsafe shard file name '{}' (must be a plain file name in the "
                         "model folder)", name, it.key(), shard);
        by_shard[shard].insert(it.key());
    }
    if (by_shard.empty()) return error("{}: weight_map is empty", name);
    return by_shard;
}

struct SafetensorsLoader {
    static void add(SafetensorsModel& m, const ParsedFile& pf, const std::set<std::string>* only) {
        for (const Entry& e : pf.entries) {
            if (only && !only->count(e.name)) continue;
            if (e.int_kind == IntKind::None) {
                m.tensors_.emplace(e.name, make_view(e, pf.data));
                continue;
            }
            IntTensor t;
            t.name = e.name;
            t.kind = e.int_kind;
            t.n_dims = e.n_dims;
            t.ne = e.ne;
            t.data = pf.data + e.begin;
            m.ints_.emplace(e.name, std::move(t));
        }
    }
    static void finish(SafetensorsModel& m) {
        m.names_.clear();
        for (const auto& kv : m.tensors_) m.names_.push_back(kv.first);
    }

    static Expected<SafetensorsModel> open_file(const std::string& path) {
        Expected<std::shared_ptr<MappedFile>> f = MappedFile::open(path);
        if (!f) return f.status();
        Expected<ParsedFile> pf = parse_file((*f)->data(), (*f)->size(), path);
        if (!pf) return pf.status();
        SafetensorsModel m;
        add(m, *pf, nullptr);
        m.metadata_ = std::move(pf->metadata);
        m.maps_.push_back(std::move(*f));
        m.paths_.push_back(path);
        finish(m);
        return m;
    }

    static Expected<SafetensorsModel> open_index(const std::string& index_path, const std::string& dir) {
        Expected<std::shared_ptr<MappedFile>> f = MappedFile::open(index_path);
        if (!f) return f.status();
        if ((*f)->size() > kSafetensorsMaxHeader)
            return error("{}: index file of {} bytes exceeds the {} byte limit", index_path, (*f)->size(),
                         kSafetensorsMaxHeader);
        auto by_shard = parse_safetensors_index(
            std::string_view((const char*)(*f)->data(), (*f)->size()), index_path);
        if (!by_shard) return by_shard.status();
        SafetensorsModel m;
        for (const auto& [shard, names] : *by_shard) {
            const std::string path = dir + "/" + shard;
            Expected<std::shared_ptr<MappedFile>> sf = MappedFile::open(path);
            if (!sf) return error("{}: shard of weight_map: {}", index_path, sf.error_message());
            Expected<ParsedFile> pf = parse_file((*sf)->data(), (*sf)->size(), path);
            if (!pf) return pf.status();
            std::set<std::string> present;
            for (const Entry& e : pf->entries) {
                if (!names.count(e.name))
                    return error("{}: tensor '{}' is not mapped to this shard by {}", path, e.name, index_path);
                present.insert(e.name);
            }
            for (const std::string& n : names)
                if (!present.count(n))
                    return error("{}: weight_map maps tensor '{}' to shard '{}' but that shard does not contain it",
                                 index_path, n, shard);
            add(m, *pf, nullptr);
            if (m.maps_.empty()) m.metadata_ = std::move(pf->metadata);
            m.maps_.push_back(std::move(*sf));
            m.paths_.push_back(path);
        }
        finish(m);
        return m;
    }
};

Expected<SafetensorsModel> SafetensorsModel::parse(const uint8_t* data, size_t size, const std::string& name) {
    Expected<ParsedFile> pf = parse_file(data, size, name);
    if (!pf) return pf.status();
    SafetensorsModel m;
    SafetensorsLoader::add(m, *pf, nullptr);
    m.metadata_ = std::move(pf->metadata);
    SafetensorsLoader::finish(m);
    return m;
}

Expected<SafetensorsModel> SafetensorsModel::open(const std::string& path) {
    if (is_dir(path)) {
        const std::string index = path + "/model.safetensors.index.json";
        if (exists(index)) return SafetensorsLoader::open_index(index, path);
        const std::string single = path + "/model.safetensors";
        if (exists(single)) return SafetensorsLoader::open_file(single);
        return error("{}: no model.safetensors or model.safetensors.index.json in this folder", path);
    }
    if (ends_with(path, ".index.json")) {
        size_t slash = path.rfind('/');
        return SafetensorsLoader::open_index(path, slash == std::string::npos ? "." : path.substr(0, slash));
    }
    return SafetensorsLoader::open_file(path);
}

const TensorView* SafetensorsModel::find(const std::string& name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
}

const IntTensor* SafetensorsModel::int_tensor(const std::string& name) const {
    auto it = ints_.find(name);
    return it == ints_.end() ? nullptr : &it->second;
}

TensorView SafetensorsModel::tensor(const std::string& name) const {
    const TensorView* v = find(name);
    return v ? *v : TensorView{};
}

}  // namespace llm
