// JSON Schema -> GBNF: one rule per schema (named after its path or $defs name), shared primitive rules,
// $ref targets compiled once (so recursive schemas become recursive rules), allOf merged before compiling.
#include "constrain/json_schema.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "constrain/schema_internal.hpp"
#include "tokenizer/unicode.hpp"

namespace llm {
namespace {

using json = nlohmann::ordered_json;
using schema_detail::fail;

// Keywords that constrain and that the compiler enforces.
const std::unordered_set<std::string> kSupported = {
    "type",      "properties", "required",  "additionalProperties", "enum",      "const",     "items",
    "prefixItems", "additionalItems", "minItems", "maxItems",       "anyOf",     "oneOf",     "allOf",
    "$ref",      "$defs",      "definitions", "minLength",          "maxLength", "pattern",   "format",
    "minimum",   "maximum",    "exclusiveMinimum", "exclusiveMaximum", "nullable"};
// Keywords that do not constrain the instance (or only inform tools).
const std::unordered_set<std::string> kAnnotations = {
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
        if ((k == "uniqueItems" && v == false) || (k == "minProperties" && v == 0) || (k == "multipleOf" && v == 1 &&
                                                                                       s.value("type", json()) == "integer"))
            continue;
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

class SchemaCompiler {
public:
    SchemaCompiler(const json& root, const JsonSchemaOptions& opts) : root_(root), opts_(opts) {}

    std::string run() {
        const std::string root = reserve("root");
        define(root, body(root_, root, "", 0));
        std::string out;
        for (const auto& [name, b] : rules_) out += name + " ::= " + b + "\n";
        return out;
    }

private:
    // ---- rules ---------------------------------------------------------------------------------

    static std::string sanitize(const std::string& hint) {
        std::string out;
        for (char c : hint) {
            const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
            if (word) out += c;
            else if (!out.empty() && out.back() != '-') out += '-';
        }
        while (!out.empty() && out.back() == '-') out.pop_back();
        if (out.size() > 60) out.resize(60);
        return out.empty() ? "rule" : out;
    }

    std::string reserve(const std::string& hint) {
        const std::string base = sanitize(hint);
        std::string name = base;
        for (int i = 2; rule_index_.count(name); ++i) name = fmt::format("{}-{}", base, i);
        rule_index_.emplace(name, rules_.size());
        rules_.push_back({name, ""});
        return name;
    }
    void define(const std::string& name, std::string b) { rules_[rule_index_.at(name)].second = std::move(b); }
    std::string add_rule(const std::string& hint, std::string b) {
        auto same = body_rules_.find(b);  // identical bodies share one rule
        if (same != body_rules_.end()) return same->second;
        const std::string name = reserve(hint);
        body_rules_.emplace(b, name);
        define(name, std::move(b));
        return name;
    }

    // Shared rules with fixed meaning, added on first use.
    std::string prim(const std::string& key) {
        auto it = prims_.find(key);
        if (it != prims_.end()) return it->second;
        std::string b;
        if (key == "space") {
            b = opts_.compact ? "\"\"" : fmt::format("\"\" | \" \" | \"\\n\" [ \\t]{{0,{}}}", opts_.max_indent);
        } else if (key == "char") {
            b = R"([^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" ([0-9a-cA-CeEfF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2})))";
        } else if (key == "string") {
            b = "\"\\\"\" " + prim("char") + "* \"\\\"\"";
        } else if (key == "integer") {
            b = "\"-\"? ([0] | [1-9] [0-9]{0,15})";
        } else if (key == "number") {
            b = "\"-\"? ([0] | [1-9] [0-9]{0,15}) (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?";
        } else if (key == "boolean") {
            b = "\"true\" | \"false\"";
        } else if (key == "null") {
            b = "\"null\"";
        } else if (key == "value") {
            const std::string name = reserve("value");  // recursive: reserve before the object and array rules
            prims_.emplace(key, name);
            define(name, prim("object") + " | " + prim("array") + " | " + prim("string") + " | " + prim("number") +
                             " | " + prim("boolean") + " | " + prim("null"));
            return name;
        } else if (key == "object") {
            const std::string name = reserve("object");
            prims_.emplace(key, name);
            const std::string kv = prim("string") + " \":\" " + prim("space") + " " + prim("value");
            define(name, "\"{\" " + prim("space") + " (" + kv + " (\",\" " + prim("space") + " " + kv + ")* " +
                             prim("space") + ")? \"}\"");
            return name;
        } else if (key == "array") {
            const std::string name = reserve("array");
            prims_.emplace(key, name);
            define(name, "\"[\" " + prim("space") + " (" + prim("value") + " (\",\" " + prim("space") + " " +
                             prim("value") + ")* " + prim("space") + ")? \"]\"");
            return name;
        } else {
            fail("internal: unknown primitive '{}'", key);
        }
        const std::string name = reserve(key);
        prims_.emplace(key, name);
        define(name, std::move(b));
        return name;
    }

    std::string literal(const json& v) { return gbnf_literal(v.dump()); }

    // ---- references and allOf ------------------------------------------------------------------

    const json& resolve(const std::string& ref, const std::string& ptr) {
        if (ref.empty() || ref[0] != '#')
            fail("{}/$ref: only local references (#/...) are supported, got '{}'", ptr, ref);
        try {
            return root_.at(json::json_pointer(ref.substr(1)));
        } catch (const std::exception&) {
            fail("{}/$ref: '{}' does not resolve to a schema in this document", ptr, ref);
        }
    }

    std::string ref_rule(const std::string& ref, const std::string& ptr, int depth) {
        auto it = ref_rules_.find(ref);
        if (it != ref_rules_.end()) return it->second;
        const json& target = resolve(ref, ptr);
        const size_t slash = ref.find_last_of('/');
        const std::string name = reserve(slash == std::string::npos || slash + 1 == ref.size() ? "root-ref" : ref.substr(slash + 1));
        ref_rules_.emplace(ref, name);  // before compiling the target: it may refer to itself
        define(name, body(target, name, ref.substr(1), depth + 1));
        return name;
    }

    // The parts of an allOf with references followed and nested allOfs flattened.
    void flatten(const json& s, const std::string& ptr, std::vector<std::pair<json, std::string>>& out, int hops) {
        if (hops > 64) fail("{}: $ref/allOf chain longer than 64", where(ptr));
        if (s.is_boolean()) {
            if (!s.get<bool>()) fail("{}: allOf contains `false`, which nothing satisfies", where(ptr));
            return;
        }
        if (!s.is_object()) fail("{}: a schema must be an object or a boolean", where(ptr));
        check_keywords(s, ptr);
        json rest = json::object();
        for (const auto& [k, v] : s.items()) {
            if (k == "$ref") {
                if (!v.is_string()) fail("{}/$ref: expected a string", ptr);
                const std::string ref = v.get<std::string>();
                flatten(resolve(ref, ptr), ref.substr(1), out, hops + 1);
            } else if (k == "allOf") {
                if (!v.is_array()) fail("{}/allOf: expected an array", ptr);
                for (size_t i = 0; i < v.size(); ++i) flatten(v[i], fmt::format("{}/allOf/{}", ptr, i), out, hops + 1);
            } else if (constrains(k)) {
                rest[k] = v;
            }
        }
        if (!rest.empty()) out.push_back({std::move(rest), ptr});
    }

    static void merge_keyword(json& out, const std::string& k, const json& v, const std::string& ptr) {
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

    // allOf as one schema: objects merge their properties and requirements; other keywords must agree or
    // combine as bounds. additionalProperties: false in a part also excludes the other parts' properties
    // (JSON Schema evaluates it per part), so only the properties every closed part names survive.
    json merge(const json& s, const std::string& ptr) {
        std::vector<std::pair<json, std::string>> parts;
        flatten(s, ptr, parts, 0);
        json out = json::object();
        std::vector<std::set<std::string>> closed;
        for (const auto& [part, part_ptr] : parts) {
            if (part.contains("additionalProperties") && part["additionalProperties"] == false) {
                std::set<std::string> names;
                if (part.contains("properties"))
                    for (const auto& [p, _] : part["properties"].items()) names.insert(p);
                closed.push_back(std::move(names));
            }
            for (const auto& [k, v] : part.items()) merge_keyword(out, k, v, part_ptr);
        }
        if (!closed.empty() && out.contains("properties")) {
            json kept = json::object();
            for (const auto& item : out["properties"].items()) {
                const std::string& p = item.key();
                if (std::all_of(closed.begin(), closed.end(), [&](const auto& c) { return c.count(p) > 0; })) kept[p] = item.value();
            }
            out["properties"] = kept;
            if (out.contains("required"))
                for (const auto& r : out["required"])
                    if (!kept.contains(r.get<std::string>()))
                        fail("{}: allOf: required property {} is excluded by additionalProperties: false in another "
                             "part",
                             where(ptr), r.dump());
        }
        return out;
    }

    // ---- schemas -------------------------------------------------------------------------------

    // A rule name for the schema (a primitive, a $ref target or a new rule named `name`).
    std::string rule(const json& s, const std::string& name, const std::string& ptr, int depth) {
        if (s.is_object()) {
            // Shortcuts that avoid alias rules.
            bool only_ref = s.contains("$ref");
            for (const auto& [k, v] : s.items()) only_ref &= k == "$ref" || !constrains(k);
            if (only_ref && s["$ref"].is_string()) {
                check_keywords(s, ptr);
                return ref_rule(s["$ref"].get<std::string>(), ptr, depth);
            }
        }
        return named(name, body(s, name, ptr, depth));
    }

    // A rule for a body, unless the body already is a rule name (no alias rules).
    std::string named(const std::string& name, const std::string& b) {
        if (rule_index_.count(b)) return b;
        return add_rule(name, b);
    }

    std::string body(const json& s, const std::string& name, const std::string& ptr, int depth) {
        if (depth > opts_.max_depth) fail("{}: schemas nested deeper than {}", where(ptr), opts_.max_depth);
        if (s.is_boolean()) {
            if (!s.get<bool>()) fail("{}: the schema `false` matches nothing", where(ptr));
            return prim("value");
        }
        if (!s.is_object()) fail("{}: a schema must be an object or a boolean, got {}", where(ptr), s.type_name());
        check_keywords(s, ptr);
        json rest = json::object();  // the constraining keywords besides combinators
        for (const auto& [k, v] : s.items())
            if (constrains(k) && k != "anyOf" && k != "oneOf") rest[k] = v;

        const bool ref_with_siblings =
            s.contains("$ref") && std::any_of(s.items().begin(), s.items().end(), [](const auto& kv) {
                return constrains(kv.key()) && kv.key() != "$ref";
            });
        if (s.contains("allOf") || ref_with_siblings) return body(merge(s, ptr), name, ptr, depth + 1);
        if (s.contains("$ref")) {
            if (!s["$ref"].is_string()) fail("{}/$ref: expected a string", ptr);
            return ref_rule(s["$ref"].get<std::string>(), ptr, depth);
        }
        if (s.contains("anyOf") && s.contains("oneOf"))
            fail("{}: anyOf together with oneOf in one schema is not supported (wrap one in allOf)", where(ptr));
        for (const char* comb : {"anyOf", "oneOf"}) {
            if (!s.contains(comb)) continue;
            const json& alts = s[comb];
            if (!alts.is_array() || alts.empty()) fail("{}/{}: expected a non-empty array", ptr, comb);
            // Sibling keywords apply to every alternative: each becomes allOf(siblings, alternative).
            // oneOf is compiled as anyOf (exclusivity cannot be checked while generating).
            std::string out;
            for (size_t i = 0; i < alts.size(); ++i) {
                const std::string alt_ptr = fmt::format("{}/{}/{}", ptr, comb, i);
                const json alt = rest.empty() ? alts[i] : json{{"allOf", json::array({rest, alts[i]})}};
                out += (i ? " | " : "") + rule(alt, fmt::format("{}-{}", name, i), alt_ptr, depth + 1);
            }
            if (s.value("nullable", false)) out += " | " + prim("null");
            return out;
        }
        const bool nullable = s.contains("nullable") && s["nullable"] == true;
        std::vector<std::string> types;
        if (s.contains("type")) types = type_list(s["type"], ptr);
        if (s.contains("const")) {
            if (!types.empty() && std::none_of(types.begin(), types.end(), [&](auto& t) { return value_has_type(s["const"], t); }))
                fail("{}/const: the value does not have the schema's type", ptr);
            return literal(s["const"]) + (nullable ? " | " + prim("null") : "");
        }
        if (s.contains("enum")) {
            const json& e = s["enum"];
            if (!e.is_array() || e.empty()) fail("{}/enum: expected a non-empty array", ptr);
            std::string out;
            for (const auto& v : e) {
                if (!types.empty() && std::none_of(types.begin(), types.end(), [&](auto& t) { return value_has_type(v, t); }))
                    continue;
                out += (out.empty() ? "" : " | ") + literal(v);
            }
            if (out.empty()) fail("{}/enum: no value has the schema's type", ptr);
            return out + (nullable && std::find(e.begin(), e.end(), nullptr) == e.end() ? " | " + prim("null") : "");
        }
        if (types.empty()) types = inferred_types(s);
        if (nullable && std::find(types.begin(), types.end(), "null") == types.end() && !types.empty())
            types.push_back("null");
        if (types.empty()) return prim("value");
        if (types.size() == 1) return type_body(types[0], s, name, ptr, depth);
        std::string out;
        for (const auto& t : types) out += (out.empty() ? "" : " | ") + named(name + "-" + t, type_body(t, s, name + "-" + t, ptr, depth));
        return out;
    }

    static std::vector<std::string> inferred_types(const json& s) {
        std::vector<std::string> t;
        auto has = [&](std::initializer_list<const char*> ks) {
            return std::any_of(ks.begin(), ks.end(), [&](const char* k) { return s.contains(k); });
        };
        if (has({"properties", "required", "additionalProperties"})) t.push_back("object");
        if (has({"items", "prefixItems", "minItems", "maxItems", "additionalItems"})) t.push_back("array");
        if (has({"minLength", "maxLength", "pattern", "format"})) t.push_back("string");
        if (has({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})) t.push_back("number");
        return t;
    }

    std::string type_body(const std::string& t, const json& s, const std::string& name, const std::string& ptr, int depth) {
        if (t == "string") return string_body(s, ptr);
        if (t == "integer" || t == "number") return number_body(s, ptr, t == "integer");
        if (t == "boolean") return prim("boolean");
        if (t == "null") return prim("null");
        if (t == "object") return object_body(s, name, ptr, depth);
        return array_body(s, name, ptr, depth);
    }

    static std::optional<uint64_t> count(const json& s, const char* k, const std::string& ptr) {
        if (!s.contains(k)) return std::nullopt;
        const json& v = s[k];
        if (!v.is_number() || v.get<double>() < 0 || std::floor(v.get<double>()) != v.get<double>())
            fail("{}/{}: expected a non-negative integer", ptr, k);
        if (v.get<double>() > 10000) fail("{}/{}: {} is above the supported bound of 10000", ptr, k, v.dump());
        return static_cast<uint64_t>(v.get<double>());
    }

    static std::string repeat(const std::string& item, uint64_t lo, std::optional<uint64_t> hi) {
        if (hi && *hi == lo) return lo == 1 ? item : fmt::format("({}){{{}}}", item, lo);
        if (!hi) return lo == 0 ? "(" + item + ")*" : fmt::format("({}){{{},}}", item, lo);
        return fmt::format("({}){{{},{}}}", item, lo, *hi);
    }

    std::string string_body(const json& s, const std::string& ptr) {
        const auto min_len = count(s, "minLength", ptr), max_len = count(s, "maxLength", ptr);
        if (min_len && max_len && *min_len > *max_len) fail("{}: minLength is above maxLength", where(ptr));
        const std::string quote = "\"\\\"\"";
        if (s.contains("pattern") || s.contains("format")) {
            const char* k = s.contains("pattern") ? "pattern" : "format";
            if (min_len || max_len)
                fail("{}/{}: minLength/maxLength together with {} are not supported", ptr, min_len ? "minLength" : "maxLength", k);
            if (s.contains("pattern") && s.contains("format")) fail("{}/format: format together with pattern is not supported", ptr);
            if (!s[k].is_string()) fail("{}/{}: expected a string", ptr, k);
            const std::string v = s[k].get<std::string>();
            if (s.contains("pattern")) {
                auto e = regex_to_gbnf(v);
                if (!e) fail("{}/pattern: {}", ptr, e.error_message());
                return quote + " (" + *e + ") " + quote;
            }
            const auto* rules = schema_detail::format_rules(v);
            if (!rules) fail("{}/format: unsupported format '{}' (supported: {})", ptr, v, schema_detail::supported_formats());
            for (const auto& [n, b] : *rules)
                if (!rule_index_.count(n)) {
                    rule_index_.emplace(n, rules_.size());
                    rules_.push_back({n, b});
                }
            return quote + " " + rules->front().first + " " + quote;
        }
        if (!min_len && !max_len) return prim("string");
        return quote + " " + repeat(prim("char"), min_len.value_or(0), max_len) + " " + quote;
    }

    std::string number_body(const json& s, const std::string& ptr, bool integer) {
        // Bounds as integers: an integer's bounds round inward; a number's must already be integers.
        std::optional<schema_detail::NumberBound> lo, hi;
        auto read = [&](const char* k, bool lower) {
            if (!s.contains(k)) return;
            const json& v = s[k];
            if (v.is_boolean()) return;  // draft-04 exclusive flags, read below
            if (!v.is_number()) fail("{}/{}: expected a number", ptr, k);
            const double x = v.get<double>();
            const bool excl = std::string_view(k).rfind("exclusive", 0) == 0 ||
                              s.value(lower ? "exclusiveMinimum" : "exclusiveMaximum", json(false)) == true;
            if (std::fabs(x) >= 1e15) {
                if ((lower && x < 0) || (!lower && x > 0)) return;  // beyond every number of at most 16 digits
                fail("{}/{}: {} is beyond the supported range (|x| < 1e15)", ptr, k, v.dump());
            }
            schema_detail::NumberBound b;
            if (integer) {
                const double r = lower ? (excl ? std::floor(x) + 1 : std::ceil(x)) : (excl ? std::ceil(x) - 1 : std::floor(x));
                b = {static_cast<int64_t>(r), false};
            } else {
                if (std::floor(x) != x)
                    fail("{}/{}: {} is not an integer; number bounds must be integers (or use type integer)", ptr, k, v.dump());
                b = {static_cast<int64_t>(x), excl};
            }
            auto& slot = lower ? lo : hi;
            // Two lower (or upper) bounds: keep the tighter.
            if (!slot || (lower ? (b.value > slot->value || (b.value == slot->value && b.exclusive))
                                : (b.value < slot->value || (b.value == slot->value && b.exclusive))))
                slot = b;
        };
        read("minimum", true), read("exclusiveMinimum", true), read("maximum", false), read("exclusiveMaximum", false);
        if (!lo && !hi) return prim(integer ? "integer" : "number");
        try {
            const std::string e = integer ? schema_detail::integer_expr(lo ? std::optional<int64_t>(lo->value) : std::nullopt,
                                                                        hi ? std::optional<int64_t>(hi->value) : std::nullopt)
                                          : schema_detail::number_expr(lo, hi);
            return "(" + e + ")";
        } catch (const schema_detail::SchemaError& err) {
            fail("{}: {}", where(ptr), err.message);
        }
    }

    // A JSON string key that is none of `keys` (written without escapes): a trie of the keys where each
    // node may end (unless a key ends there), leave the trie with any other character, or follow a child.
    std::string key_not_in(const std::vector<std::string>& keys, const std::string& name) {
        struct Node {
            std::map<uint32_t, size_t> kids;
            bool terminal = false;
        };
        std::vector<Node> trie(1);
        for (const auto& k : keys) {
            size_t n = 0;
            for (size_t i = 0; i < k.size();) {
                if (!utf8::valid_seq_len(k, i)) fail("property name {} is not valid UTF-8", json(k).dump());
                const uint32_t c = utf8::decode(k, i);
                auto it = trie[n].kids.find(c);
                if (it == trie[n].kids.end()) {
                    trie.push_back({});
                    it = trie[n].kids.emplace(c, trie.size() - 1).first;
                }
                n = it->second;
            }
            trie[n].terminal = true;
        }
        const std::vector<CharRange> key_chars = complement_ranges({{0x00, 0x1F}, {'"', '"'}, {'\\', '\\'}, {0x7F, 0x7F}});
        const std::string tail = add_rule(name + "-key-tail", gbnf_class(key_chars) + "* \"\\\"\"");
        std::vector<std::string> names(trie.size());
        for (size_t n = 0; n < trie.size(); ++n) names[n] = reserve(fmt::format("{}-key-{}", name, n));
        for (size_t n = 0; n < trie.size(); ++n) {
            std::vector<std::string> alts;
            if (!trie[n].terminal) alts.push_back("\"\\\"\"");
            std::vector<CharRange> used;
            for (const auto& [c, child] : trie[n].kids) {
                used.push_back({c, c});
                std::string ch;
                utf8::append_codepoint(ch, c);
                if (c < 0x20 || c == '"' || c == '\\' || c == 0x7F) continue;  // needs escaping: never written
                alts.push_back(gbnf_literal(ch) + " " + names[child]);
            }
            normalize_ranges(used);
            std::vector<CharRange> other;
            for (const CharRange& r : key_chars) {
                // key_chars minus used
                uint32_t lo = r.lo;
                for (const CharRange& u : used) {
                    if (u.hi < lo || u.lo > r.hi) continue;
                    if (u.lo > lo) other.push_back({lo, u.lo - 1});
                    lo = u.hi + 1;
                }
                if (lo <= r.hi) other.push_back({lo, r.hi});
            }
            if (!other.empty()) alts.push_back(gbnf_class(other) + " " + tail);
            std::string b;
            for (size_t i = 0; i < alts.size(); ++i) b += (i ? " | " : "") + alts[i];
            define(names[n], b);
        }
        return "\"\\\"\" " + names[0];
    }

    std::string object_body(const json& s, const std::string& name, const std::string& ptr, int depth) {
        struct Prop {
            std::string key;
            json schema;
            std::string ptr;
            bool required = false;
        };
        std::vector<Prop> props;
        if (s.contains("properties")) {
            if (!s["properties"].is_object()) fail("{}/properties: expected an object", ptr);
            for (const auto& [k, v] : s["properties"].items())
                props.push_back({k, v, ptr + "/properties/" + pointer_token(k)});
        }
        if (s.contains("required")) {
            if (!s["required"].is_array()) fail("{}/required: expected an array of names", ptr);
            for (const auto& r : s["required"]) {
                if (!r.is_string()) fail("{}/required: expected an array of names", ptr);
                auto it = std::find_if(props.begin(), props.end(), [&](const Prop& p) { return p.key == r; });
                if (it == props.end()) props.push_back({r.get<std::string>(), json(true), ptr + "/required", true});
                else it->required = true;
            }
        }
        // Extra keys: as the schema says; when it says nothing, only for objects without named properties.
        std::string extra_value;
        if (!s.contains("additionalProperties")) {
            if (props.empty()) extra_value = prim("value");
        } else if (const json& ap = s["additionalProperties"]; !(ap.is_boolean() && !ap.get<bool>())) {
            extra_value = rule(ap, name + "-additional", ptr + "/additionalProperties", depth + 1);
        }
        const std::string sp = prim("space");
        const std::string comma = "\",\" " + sp + " ";
        std::string extra_kv;
        if (!extra_value.empty()) {
            std::vector<std::string> keys;
            for (const auto& p : props) keys.push_back(p.key);
            const std::string key = keys.empty() ? prim("string") : key_not_in(keys, name);
            extra_kv = add_rule(name + "-additional-kv", key + " \":\" " + sp + " " + extra_value);
        }
        std::vector<std::string> kv(props.size());
        for (size_t i = 0; i < props.size(); ++i) {
            const std::string value = rule(props[i].schema, name + "-" + props[i].key, props[i].ptr, depth + 1);
            kv[i] = add_rule(name + "-" + props[i].key + "-kv", literal(json(props[i].key)) + " \":\" " + sp + " " + value);
        }
        // Members in schema order, each optional one present or not, commas only between members.
        // rest[i]: what may follow once a member was written, from property i on, then the extra keys.
        // firsts: the choices for the first member written: property j (the optional ones before it absent,
        // so j runs up to the first required one), or an extra key when nothing is required.
        const size_t n = props.size();
        size_t first_required = n;
        for (size_t i = 0; i < n && first_required == n; ++i)
            if (props[i].required) first_required = i;
        std::vector<std::string> rest(n + 1);
        rest[n] = extra_kv.empty() ? "" : "(" + comma + extra_kv + ")*";
        for (size_t i = n; i-- > 1;) {
            const std::string piece = props[i].required ? comma + kv[i] : "(" + comma + kv[i] + ")?";
            const std::string flat = rest[i + 1].empty() ? piece : piece + " " + rest[i + 1];
            // Referenced twice (by rest[i - 1] and by the alternative starting at i - 1): a rule.
            rest[i] = i <= first_required ? add_rule(fmt::format("{}-rest-{}", name, i), flat) : flat;
        }
        std::vector<std::string> firsts;
        for (size_t j = 0; j < n && j <= first_required; ++j)
            firsts.push_back(j + 1 <= n && !rest[j + 1].empty() ? kv[j] + " " + rest[j + 1] : kv[j]);
        if (first_required == n && !extra_kv.empty()) firsts.push_back(extra_kv + (rest[n].empty() ? "" : " " + rest[n]));
        std::string inner;
        for (size_t i = 0; i < firsts.size(); ++i) inner += (i ? " | " : "") + firsts[i];
        // Whitespace after "{", ",", ":" and before "}" (where pretty printers put it), never before "," or ":".
        std::string b = "\"{\" " + sp + " ";
        if (!inner.empty()) {
            const std::string members = "(" + inner + ") " + sp;
            b += first_required == n ? "(" + members + ")? " : members + " ";
        }
        return b + "\"}\"";
    }

    std::string array_body(const json& s, const std::string& name, const std::string& ptr, int depth) {
        std::vector<std::pair<json, std::string>> prefix;
        json items = json(true);  // schema of the items after the prefix
        bool more_items = true;
        if (s.contains("prefixItems")) {
            if (!s["prefixItems"].is_array()) fail("{}/prefixItems: expected an array", ptr);
            for (size_t i = 0; i < s["prefixItems"].size(); ++i)
                prefix.push_back({s["prefixItems"][i], fmt::format("{}/prefixItems/{}", ptr, i)});
            // Extra items beyond the tuple only when `items` asks for them.
            more_items = s.contains("items");
            if (more_items) items = s["items"];
        } else if (s.contains("items") && s["items"].is_array()) {  // draft 4-7 tuple form
            for (size_t i = 0; i < s["items"].size(); ++i) prefix.push_back({s["items"][i], fmt::format("{}/items/{}", ptr, i)});
            more_items = s.contains("additionalItems");
            if (more_items) items = s["additionalItems"];
        } else if (s.contains("items")) {
            items = s["items"];
        }
        if (items.is_boolean() && !items.get<bool>()) more_items = false;
        const uint64_t min_items = count(s, "minItems", ptr).value_or(0);
        std::optional<uint64_t> max_items = count(s, "maxItems", ptr);
        if (!more_items) max_items = std::min<uint64_t>(max_items.value_or(prefix.size()), prefix.size());
        if (max_items && min_items > *max_items) fail("{}: minItems is above what maxItems and the items allow", where(ptr));
        if (max_items && prefix.size() > *max_items) prefix.resize(*max_items);
        const std::string sp = prim("space");
        const std::string comma = "\",\" " + sp + " ";
        std::string item;
        if (more_items && (!max_items || *max_items > prefix.size()))
            item = rule(items, name + "-item", ptr + (s.contains("prefixItems") || prefix.empty() ? "/items" : "/additionalItems"), depth + 1);
        // Items after the prefix: count in [lo, hi] (hi absent = unbounded), each after a comma unless first.
        const size_t L = prefix.size();
        const uint64_t lo = min_items > L ? min_items - L : 0;
        std::optional<uint64_t> hi;
        if (max_items) hi = *max_items - L;
        // `seq` is the items when there is at least one (the empty array is the outer option below).
        std::string tail;
        if (!item.empty() && (!hi || *hi > 0)) {
            if (L > 0) tail = repeat(comma + item, lo, hi);
            else if (hi && *hi == 1) tail = item;
            else tail = item + " " + repeat(comma + item, lo > 0 ? lo - 1 : 0, hi ? std::optional<uint64_t>(*hi - 1) : std::nullopt);
        }
        // The prefix, innermost last: element i > 0 is optional when i >= minItems.
        std::string seq = tail;
        for (size_t i = L; i-- > 0;) {
            const std::string e = rule(prefix[i].first, fmt::format("{}-{}", name, i), prefix[i].second, depth + 1);
            const std::string part = (i > 0 ? comma : "") + e + (seq.empty() ? "" : " " + seq);
            seq = i == 0 || i < min_items ? part : "(" + part + ")?";
        }
        if (seq.empty()) return "\"[\" " + sp + " \"]\"";
        // Whitespace before "]" goes with the items, so an empty array has one place for it.
        return "\"[\" " + sp + " (" + seq + " " + sp + ")" + (min_items == 0 ? "?" : "") + " \"]\"";
    }

    const json& root_;
    JsonSchemaOptions opts_;
    std::vector<std::pair<std::string, std::string>> rules_;  // in output order
    std::unordered_map<std::string, size_t> rule_index_;
    std::unordered_map<std::string, std::string> body_rules_;
    std::map<std::string, std::string> prims_;
    std::unordered_map<std::string, std::string> ref_rules_;
};

}  // namespace

Expected<std::string> json_schema_value_to_gbnf(const nlohmann::ordered_json& schema, const JsonSchemaOptions& opts) {
    try {
        return SchemaCompiler(schema, opts).run();
    } catch (const schema_detail::SchemaError& e) {
        return Status::error(e.message);
    } catch (const std::exception& e) {  // nlohmann errors (e.g. invalid UTF-8 in a value being written)
        return error("{}", e.what());
    }
}

Expected<std::string> json_schema_to_gbnf(std::string_view text, const JsonSchemaOptions& opts) {
    nlohmann::ordered_json schema;
    try {
        schema = nlohmann::ordered_json::parse(text);
    } catch (const std::exception& e) {
        return error("not valid JSON: {}", e.what());
    }
    return json_schema_value_to_gbnf(schema, opts);
}

}  // namespace llm
