// The JSON-schema compiler's keyword tables and the checks and merges that need no compiler state: which
// keywords are enforced or ignored, type lists, allOf merging of one keyword, `not` of types, counts.
#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "constrain/schema_internal.hpp"

namespace llm::schema_detail {

// Keywords that constrain and that the compiler enforces.
static const std::unordered_set<std::string> kSupported = {
    "type",      "properties", "required",  "additionalProperties", "enum",      "const",     "items",
    "prefixItems", "additionalItems", "minItems", "maxItems",       "anyOf",     "oneOf",     "allOf",
    "$ref",      "$defs",      "definitions", "minLength",          "maxLength", "pattern",   "format",
    "minimum",   "maximum",    "exclusiveMinimum", "exclusiveMaximum", "nullable", "maxProperties", "minProperties",
    "propertyNames", "dependentRequired", "not", "multipleOf"};
// Keywords that do not constrain the instance (or only inform tools).
static const std::unordered_set<std::string> kAnnotations = {
    "title", "description", "default", "examples", "example", "$schema", "$id", "id", "$comment", "readOnly",
    "writeOnly", "deprecated", "$anchor", "contentEncoding", "contentMediaType", "discriminator", "xml",
    "externalDocs"};

std::string pointer_token(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

std::string where(const std::string& ptr) { return ptr.empty() ? "/" : ptr; }

bool is_annotation(const std::string& k) { return kAnnotations.count(k) || k.rfind("x-", 0) == 0; }

// Keywords whose presence restricts instances (everything supported but the containers for definitions).
bool constrains(const std::string& k) { return kSupported.count(k) && k != "$defs" && k != "definitions"; }

void check_keywords(const json& s, const std::string& ptr) {
    for (const auto& [k, v] : s.items()) {
        if (kSupported.count(k) || is_annotation(k)) continue;
        // Harmless values of keywords we cannot enforce in general.
        if ((k == "uniqueItems" && v == false) || (k == "minProperties" && v == 0)) continue;
        fail("unsupported keyword '{}' at {}/{} (a grammar cannot enforce it; remove it or relax the schema)", k, ptr,
             pointer_token(k));
    }
}

std::vector<std::string> type_list(const json& t, const std::string& ptr) {
    std::vector<std::string> out;
    if (t.is_string()) out.push_back(t.get<std::string>());
    else if (t.is_array())
        for (const auto& x : t) {
            if (!x.is_string()) fail("{}/type: expected type names, got {}", ptr, x.dump());
            out.push_back(x.get<std::string>());
        }
    else fail("{}/type: expected a string or an array of strings", ptr);
    for (const auto& name : out)
        if (name != "string" && name != "number" && name != "integer" && name != "boolean" && name != "null" &&
            name != "object" && name != "array")
            fail("{}/type: unknown type '{}'", ptr, name);
    return out;
}

bool value_has_type(const json& v, const std::string& t) {
    if (t == "string") return v.is_string();
    if (t == "integer") return v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
    if (t == "number") return v.is_number();
    if (t == "boolean") return v.is_boolean();
    if (t == "null") return v.is_null();
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    return false;
}

// The rule names a GBNF body refers to (words outside literals, classes and {m,n} counts).
std::vector<std::string> referenced_names(const std::string& b) {
    std::vector<std::string> out;
    for (size_t i = 0; i < b.size();) {
        const char c = b[i];
        if (c == '"' || c == '[') {
            const char close = c == '"' ? '"' : ']';
            for (++i; i < b.size() && b[i] != close; ++i)
                if (b[i] == '\\') ++i;
            ++i;
        } else if (c == '{') {
            while (i < b.size() && b[i] != '}') ++i;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
            const size_t start = i;
            while (i < b.size() && ((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= 'A' && b[i] <= 'Z') ||
                                    (b[i] >= '0' && b[i] <= '9') || b[i] == '-'))
                ++i;
            out.push_back(b.substr(start, i - start));
        } else {
            ++i;
        }
    }
    return out;
}

void merge_keyword(json& out, const std::string& k, const json& v, const std::string& ptr) {
    if (!out.contains(k)) {
        out[k] = v;
        return;
    }
    json& a = out[k];
    if (a == v) return;
    auto num = [&](const json& x) {
        if (!x.is_number()) fail("{}: allOf: '{}' must be a number", where(ptr), k);
        return x.get<double>();
    };
    if (k == "properties") {
        for (const auto& [p, ps] : v.items()) {
            if (a.contains(p)) a[p] = json{{"allOf", json::array({a[p], ps})}};
            else a[p] = ps;
        }
    } else if (k == "required") {
        for (const auto& r : v)
            if (std::find(a.begin(), a.end(), r) == a.end()) a.push_back(r);
    } else if (k == "type") {
        const auto ta = type_list(a, ptr), tb = type_list(v, ptr);
        json both = json::array();
        for (const auto& t : ta)
            for (const auto& u : tb)
                if (t == u || (t == "integer" && u == "number") || (t == "number" && u == "integer")) {
                    const std::string m = (t == "integer" || u == "integer") ? "integer" : t;
                    if (std::find(both.begin(), both.end(), m) == both.end()) both.push_back(m);
                }
        if (both.empty()) fail("{}: allOf: the types {} and {} do not overlap", where(ptr), a.dump(), v.dump());
        a = both;
    } else if (k == "minLength" || k == "minItems" || k == "minimum") {
        a = std::max(num(a), num(v));
    } else if (k == "maxLength" || k == "maxItems" || k == "maximum") {
        a = std::min(num(a), num(v));
    } else if (k == "enum") {
        json both = json::array();
        for (const auto& x : a)
            if (std::find(v.begin(), v.end(), x) != v.end()) both.push_back(x);
        if (both.empty()) fail("{}: allOf: the enums have no value in common", where(ptr));
        a = both;
    } else if (k == "items" || k == "additionalProperties" || k == "additionalItems") {
        if (a == false || v == false) a = false;
        else if (a == true || a.empty()) a = v;
        else if (!(v == true || v.empty())) a = json{{"allOf", json::array({a, v})}};
    } else {
        fail("{}: allOf: cannot merge two different values of '{}' ({} and {})", where(ptr), k, a.dump(), v.dump());
    }
}

// `not` where it only names types ({"not": {"type": "null"}}): the other types.
std::vector<std::string> types_without(std::vector<std::string> types, const json& n, const std::string& ptr) {
    if (!n.is_object() || n.size() != 1 || !n.contains("type"))
        fail("unsupported keyword 'not' at {}/not (only {{\"not\": {{\"type\": ...}}}} is supported)", ptr);
    const std::vector<std::string> excluded = type_list(n["type"], ptr + "/not");
    auto has = [&](const char* t) { return std::find(excluded.begin(), excluded.end(), t) != excluded.end(); };
    if (has("integer") && !has("number"))
        fail("unsupported keyword 'not' at {}/not (numbers that are not integers cannot be generated)", ptr);
    if (types.empty()) types = {"object", "array", "string", "number", "boolean", "null"};
    std::vector<std::string> out;
    for (const auto& t : types)
        if (!has(t.c_str()) && !(t == "integer" && has("number"))) out.push_back(t);
    if (out.empty()) fail("{}/not: excludes every type the schema allows", ptr);
    return out;
}

std::vector<std::string> inferred_types(const json& s) {
    std::vector<std::string> t;
    auto has = [&](std::initializer_list<const char*> ks) {
        return std::any_of(ks.begin(), ks.end(), [&](const char* k) { return s.contains(k); });
    };
    if (has({"properties", "required", "additionalProperties", "maxProperties", "minProperties", "propertyNames",
             "dependentRequired"}))
        t.push_back("object");
    if (has({"items", "prefixItems", "minItems", "maxItems", "additionalItems"})) t.push_back("array");
    if (has({"minLength", "maxLength", "pattern", "format"})) t.push_back("string");
    if (has({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})) t.push_back("number");
    return t;
}

std::optional<uint64_t> count(const json& s, const char* k, const std::string& ptr) {
    if (!s.contains(k)) return std::nullopt;
    const json& v = s[k];
    if (!v.is_number() || v.get<double>() < 0 || std::floor(v.get<double>()) != v.get<double>())
        fail("{}/{}: expected a non-negative integer", ptr, k);
    if (v.get<double>() > 10000) fail("{}/{}: {} is above the supported bound of 10000", ptr, k, v.dump());
    return static_cast<uint64_t>(v.get<double>());
}
}  // namespace llm::schema_detail
