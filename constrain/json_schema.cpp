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
using namespace schema_detail;

class SchemaCompiler {
public:
    SchemaCompiler(const json& root, const JsonSchemaOptions& opts) : root_(root), opts_(opts) {}

    std::string run() {
        const std::string root = reserve("root");
        try {
            define(root, body(root_, root, "", 0));
        } catch (const Never& n) {
            fail("{}: a required part recurses through $ref deeper than {} (JsonSchemaOptions::max_recursion): no "
                 "output of bounded depth satisfies the schema", where(n.ptr), opts_.max_recursion);
        }
        // Parts abandoned by a Never leave rules nothing refers to (some undefined): keep what root reaches.
        std::vector<bool> reached(rules_.size());
        std::vector<size_t> work = {0};
        reached[0] = true;
        while (!work.empty()) {
            const size_t r = work.back();
            work.pop_back();
            for (const std::string& name : referenced_names(rules_[r].second)) {
                auto it = rule_index_.find(name);
                if (it != rule_index_.end() && !reached[it->second]) reached[it->second] = true, work.push_back(it->second);
            }
        }
        std::string out;
        for (size_t i = 0; i < rules_.size(); ++i)
            if (reached[i]) out += rules_[i].first + " ::= " + rules_[i].second + "\n";
        return out;
    }

private:
    // Thrown where a $ref would expand inside itself more than max_recursion times; caught where the part is
    // optional (an array item, an optional property, one alternative of several), which is then left out.
    struct Never {
        std::string ptr;
    };

    // A default bound from the options: nullopt when the option is 0 (unbounded), else at least `at_least`.
    static std::optional<uint64_t> cap(int v, uint64_t at_least = 0) {
        if (v <= 0) return std::nullopt;
        return std::max<uint64_t>(static_cast<uint64_t>(v), at_least);
    }

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
            b = "\"\\\"\" " + repeat(prim("char"), 0, cap(opts_.max_string_length)) + " \"\\\"\"";
        } else if (key == "integer") {
            b = "\"-\"? ([0] | [1-9] [0-9]{0,15})";
        } else if (key == "number") {
            b = "\"-\"? ([0] | [1-9] [0-9]{0,15}) (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?";
        } else if (key == "boolean") {
            b = "\"true\" | \"false\"";
        } else if (key == "null") {
            b = "\"null\"";
        } else if (key == "value") {
            return free_value(0);
        } else {
            fail("internal: unknown primitive '{}'", key);
        }
        const std::string name = reserve(key);
        prims_.emplace(key, name);
        define(name, std::move(b));
        return name;
    }

    // Free-form JSON nested `level` deep: objects and arrays hold values of level + 1 and are empty at
    // max_value_depth, so each level is its own rules (value, value-1, ...) and the nesting is bounded.
    std::string free_value(int level) {
        const std::string key = fmt::format("value@{}", level);
        if (auto it = prims_.find(key); it != prims_.end()) return it->second;
        const std::string name = reserve(level == 0 ? std::string("value") : fmt::format("value-{}", level));
        prims_.emplace(key, name);  // before the members: with max_value_depth 0 the value refers to itself
        const std::string sp = prim("space"), comma = "\",\" " + sp + " ";
        std::string object = "\"{\" " + sp + " \"}\"", array = "\"[\" " + sp + " \"]\"";
        if (opts_.max_value_depth <= 0 || level < opts_.max_value_depth) {
            const std::string inner = opts_.max_value_depth <= 0 ? name : free_value(level + 1);
            const std::string kv = add_rule(name + "-kv", prim("string") + " \":\" " + sp + " " + inner);
            const auto more_kv = cap(opts_.max_properties), more_items = cap(opts_.max_items);
            const std::string kvs = kv + " " + repeat(comma + kv, 0, more_kv ? std::optional<uint64_t>(*more_kv - 1) : std::nullopt);
            const std::string items = inner + " " + repeat(comma + inner, 0, more_items ? std::optional<uint64_t>(*more_items - 1) : std::nullopt);
            object = "\"{\" " + sp + " (" + kvs + " " + sp + ")? \"}\"";
            array = "\"[\" " + sp + " (" + items + " " + sp + ")? \"]\"";
        }
        define(name, add_rule(name + "-object", object) + " | " + add_rule(name + "-array", array) + " | " + prim("string") +
                         " | " + prim("number") + " | " + prim("boolean") + " | " + prim("null"));
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

    // A $ref is compiled once per recursion level (how many expansions of it enclose this use): level k's
    // rule refers to level k + 1's, and past max_recursion the reference is Never (the optional part that
    // holds it is left out), so recursive schemas generate outputs of bounded depth.
    std::string ref_rule(const std::string& ref, const std::string& ptr, int depth) {
        int& active = ref_active_[ref];
        const std::string key = opts_.max_recursion > 0 ? fmt::format("{}@{}", ref, active) : ref;
        auto it = ref_rules_.find(key);
        if (it != ref_rules_.end()) return it->second;
        if (opts_.max_recursion > 0 && active > opts_.max_recursion) throw Never{ptr};
        const json& target = resolve(ref, ptr);
        const size_t slash = ref.find_last_of('/');
        const std::string name = reserve(slash == std::string::npos || slash + 1 == ref.size() ? "root-ref" : ref.substr(slash + 1));
        ref_rules_.emplace(key, name);  // before compiling the target: unbounded recursion refers to itself
        ++active;
        try {
            define(name, body(target, name, ref.substr(1), depth + 1));
        } catch (const Never&) {
            --ref_active_[ref];
            ref_rules_.erase(key);
            throw;
        }
        --ref_active_[ref];
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
            std::optional<Never> never;  // alternatives past the recursion bound are left out
            for (size_t i = 0; i < alts.size(); ++i) {
                const std::string alt_ptr = fmt::format("{}/{}/{}", ptr, comb, i);
                const json alt = rest.empty() ? alts[i] : json{{"allOf", json::array({rest, alts[i]})}};
                try {
                    const std::string r = rule(alt, fmt::format("{}-{}", name, i), alt_ptr, depth + 1);
                    out += (out.empty() ? "" : " | ") + r;
                } catch (const Never& n) {
                    never = n;
                }
            }
            if (s.value("nullable", false)) out += (out.empty() ? "" : " | ") + prim("null");
            if (out.empty()) throw *never;
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
        if (s.contains("not")) types = types_without(types, s["not"], ptr);
        if (nullable && std::find(types.begin(), types.end(), "null") == types.end() && !types.empty())
            types.push_back("null");
        if (types.empty()) return prim("value");
        if (types.size() == 1) return type_body(types[0], s, name, ptr, depth);
        std::string out;
        std::optional<Never> never;
        for (const auto& t : types) {
            try {
                const std::string r = named(name + "-" + t, type_body(t, s, name + "-" + t, ptr, depth));
                out += (out.empty() ? "" : " | ") + r;
            } catch (const Never& n) {
                never = n;
            }
        }
        if (out.empty()) throw *never;
        return out;
    }

    std::string type_body(const std::string& t, const json& s, const std::string& name, const std::string& ptr, int depth) {
        if (t == "string") return string_body(s, ptr);
        if (t == "integer" || t == "number") return number_body(s, ptr, t == "integer");
        if (t == "boolean") return prim("boolean");
        if (t == "null") return prim("null");
        if (t == "object") return object_body(s, name, ptr, depth);
        return array_body(s, name, ptr, depth);
    }

    static std::string repeat(const std::string& item, uint64_t lo, std::optional<uint64_t> hi) {
        if (hi && *hi == 0) return "";
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
                auto e = regex_to_gbnf(v, static_cast<uint32_t>(std::max(0, opts_.max_string_length)));
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
        const auto hi = max_len ? max_len : cap(opts_.max_string_length, *min_len);
        return quote + " " + repeat(prim("char"), min_len.value_or(0), hi) + " " + quote;
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
        if (s.contains("multipleOf")) return multiple_of_body(s["multipleOf"], ptr, lo, hi);
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

    // multipleOf m: integers that are multiples of m's smallest integer multiple k (m is a double, a binary
    // fraction p / 2^e with p odd, so k = p): exact for an integer m, a subset for a fractional one (0.5: every
    // integer). At most 15 digits, so Python's jsonschema (instance / m in floats) divides exactly. Bounds:
    // only a minimum that leaves out negatives (or zero); no maximum.
    std::string multiple_of_body(const json& v, const std::string& ptr, std::optional<schema_detail::NumberBound> lo,
                                 std::optional<schema_detail::NumberBound> hi) {
        if (!v.is_number() || !(v.get<double>() > 0)) fail("{}/multipleOf: expected a number > 0", ptr);
        constexpr double kMaxStep = 64;  // rules: about 15 per remainder
        double p = v.get<double>();
        while (std::floor(p) != p && p <= kMaxStep) p *= 2;
        if (p > kMaxStep)
            fail("unsupported keyword 'multipleOf' at {}/multipleOf: {} (supported: integers up to {} and their "
                 "binary fractions, such as 0.5, 0.25 or 2.5)", ptr, v.dump(), kMaxStep);
        const auto k = static_cast<uint32_t>(p);
        if (hi) fail("unsupported keyword 'multipleOf' at {}/multipleOf: together with a maximum", ptr);
        bool sign = true, zero = true;
        if (lo) {
            const int64_t least = lo->value + (lo->exclusive ? 1 : 0);  // the smallest integer allowed
            if (least < 0 || least > k)
                fail("unsupported keyword 'multipleOf' at {}/multipleOf: together with a minimum other than 0 to {}", ptr, k);
            sign = false, zero = least == 0;
        }
        const std::string pos = schema_detail::positive_multiples_rule(
            k, 15, [&](std::string b) { return add_rule(fmt::format("multiple-of-{}", k), std::move(b)); });
        return "(" + std::string(zero ? "\"0\" | " : "") + (sign ? "\"-\"? " : "") + pos + ")";
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
        const std::string tail = add_rule(name + "-key-tail", repeat(gbnf_class(key_chars), 0, cap(opts_.max_string_length)) + " \"\\\"\"");
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
        // dependentRequired {"a": ["b"]}: generated as "b" always present (when "a" may be); a dependency the
        // grammar cannot write (no such property, no extra keys) leaves "a" out.
        std::vector<std::string> dependents;  // names extra keys must not take (they carry a dependency)
        if (s.contains("dependentRequired")) {
            const json& dr = s["dependentRequired"];
            if (!dr.is_object()) fail("{}/dependentRequired: expected an object", ptr);
            for (const auto& item : dr.items()) {
                const std::string k = item.key();  // a copy: clang cannot capture structured bindings
                const json& deps = item.value();
                if (!deps.is_array()) fail("{}/dependentRequired/{}: expected an array of names", ptr, pointer_token(k));
                dependents.push_back(k);
                auto trigger = std::find_if(props.begin(), props.end(), [&](const Prop& p) { return p.key == k; });
                if (trigger == props.end()) continue;  // never written
                bool writable = true;
                for (const auto& d : deps) {
                    if (!d.is_string()) fail("{}/dependentRequired/{}: expected an array of names", ptr, pointer_token(k));
                    auto it = std::find_if(props.begin(), props.end(), [&](const Prop& p) { return p.key == d; });
                    if (it == props.end()) writable = false;
                    else it->required = true;
                }
                if (!writable) {
                    if (trigger->required)
                        fail("{}/dependentRequired/{}: a required property depends on one the object cannot have (name it "
                             "in properties)", ptr, pointer_token(k));
                    props.erase(trigger);
                }
            }
        }
        // minProperties: optional properties become required in order until enough are; maxProperties: the
        // optional ones past the bound are left out (named properties come first, then extra keys).
        const auto min_props = count(s, "minProperties", ptr), max_props = count(s, "maxProperties", ptr);
        size_t n_required = static_cast<size_t>(std::count_if(props.begin(), props.end(), [](const Prop& p) { return p.required; }));
        if (max_props && n_required > *max_props)
            fail("{}/maxProperties: {} is below the {} required properties", ptr, *max_props, n_required);
        for (auto& p : props)
            if (min_props && n_required < *min_props && !p.required) p.required = true, ++n_required;
        if (max_props)
            for (size_t i = 0, kept = n_required; i < props.size();) {
                if (props[i].required || kept < *max_props) {
                    kept += !props[i].required;
                    ++i;
                } else {
                    props.erase(props.begin() + static_cast<std::ptrdiff_t>(i));
                }
            }
        // Extra keys: as the schema says; when it says nothing, only for objects without named properties.
        std::string extra_value;
        if (!s.contains("additionalProperties")) {
            if (props.empty()) extra_value = prim("value");
        } else if (const json& ap = s["additionalProperties"]; !(ap.is_boolean() && !ap.get<bool>())) {
            try {
                extra_value = rule(ap, name + "-additional", ptr + "/additionalProperties", depth + 1);
            } catch (const Never&) {  // past the recursion bound: no extra keys
            }
        }
        const std::string sp = prim("space");
        const std::string comma = "\",\" " + sp + " ";
        std::string extra_kv;
        if (s.contains("propertyNames") && (!props.empty() || !dependents.empty()))
            fail("unsupported keyword 'propertyNames' at {}/propertyNames (only for objects without named properties)", ptr);
        if (!extra_value.empty()) {
            std::vector<std::string> keys = dependents;
            for (const auto& p : props) keys.push_back(p.key);
            std::string key = keys.empty() ? prim("string") : key_not_in(keys, name);
            if (s.contains("propertyNames"))  // keys are strings: the names' schema as a string schema
                key = rule(json{{"allOf", json::array({json{{"type", "string"}}, s["propertyNames"]})}}, name + "-name",
                           ptr + "/propertyNames", depth + 1);
            extra_kv = add_rule(name + "-additional-kv", key + " \":\" " + sp + " " + extra_value);
        }
        std::vector<std::string> kv;
        for (size_t i = 0; i < props.size();) {
            std::string value;
            try {
                value = rule(props[i].schema, name + "-" + props[i].key, props[i].ptr, depth + 1);
            } catch (const Never&) {
                if (props[i].required) throw;
                props.erase(props.begin() + static_cast<std::ptrdiff_t>(i));  // past the recursion bound: left out
                continue;
            }
            kv.push_back(add_rule(name + "-" + props[i].key + "-kv", literal(json(props[i].key)) + " \":\" " + sp + " " + value));
            ++i;
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
        // Extra keys: at most max_properties (or what maxProperties leaves), at least what minProperties needs
        // beyond the named properties (only without named properties: then the object cannot be empty).
        std::optional<uint64_t> max_extra = cap(opts_.max_properties);
        if (max_props) max_extra = *max_props > n ? *max_props - n : 0;
        const uint64_t min_extra = min_props && *min_props > n ? *min_props - n : 0;
        if (min_extra > 0 && (extra_kv.empty() || n > 0 || (max_extra && *max_extra < min_extra)))
            fail("{}/minProperties: {} properties cannot be generated here (extra keys are needed and not supported "
                 "next to named properties)", ptr, *min_props);
        if (max_extra && *max_extra == 0) extra_kv.clear();
        if (max_extra && *max_extra < min_extra) max_extra = min_extra;
        rest[n] = extra_kv.empty() ? "" : repeat(comma + extra_kv, 0, max_extra);
        for (size_t i = n; i-- > 1;) {
            const std::string piece = props[i].required ? comma + kv[i] : "(" + comma + kv[i] + ")?";
            const std::string flat = rest[i + 1].empty() ? piece : piece + " " + rest[i + 1];
            // Referenced twice (by rest[i - 1] and by the alternative starting at i - 1): a rule.
            rest[i] = i <= first_required ? add_rule(fmt::format("{}-rest-{}", name, i), flat) : flat;
        }
        std::vector<std::string> firsts;
        for (size_t j = 0; j < n && j <= first_required; ++j)
            firsts.push_back(j + 1 <= n && !rest[j + 1].empty() ? kv[j] + " " + rest[j + 1] : kv[j]);
        if (first_required == n && !extra_kv.empty()) {
            const std::string more = repeat(comma + extra_kv, min_extra > 0 ? min_extra - 1 : 0,
                                            max_extra ? std::optional<uint64_t>(*max_extra - 1) : std::nullopt);
            firsts.push_back(extra_kv + (more.empty() ? "" : " " + more));
        }
        std::string inner;
        for (size_t i = 0; i < firsts.size(); ++i) inner += (i ? " | " : "") + firsts[i];
        // Whitespace after "{", ",", ":" and before "}" (where pretty printers put it), never before "," or ":".
        std::string b = "\"{\" " + sp + " ";
        if (!inner.empty()) {
            const std::string members = "(" + inner + ") " + sp;
            b += first_required == n && min_extra == 0 ? "(" + members + ")? " : members + " ";
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
        if (!max_items) max_items = cap(opts_.max_items, std::max<uint64_t>(min_items, prefix.size()));
        const std::string sp = prim("space");
        const std::string comma = "\",\" " + sp + " ";
        std::string item;
        if (more_items && (!max_items || *max_items > prefix.size())) {
            try {
                item = rule(items, name + "-item", ptr + (s.contains("prefixItems") || prefix.empty() ? "/items" : "/additionalItems"), depth + 1);
            } catch (const Never&) {  // past the recursion bound: no items after the prefix, if none are needed
                if (min_items > prefix.size()) throw;
            }
        }
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
    std::unordered_map<std::string, std::string> ref_rules_;  // $ref (@ recursion level) -> rule
    std::unordered_map<std::string, int> ref_active_;          // $ref -> expansions of it being compiled
};

}  // namespace

JsonSchemaOptions tool_arguments_schema_options() {
    JsonSchemaOptions o;
    o.max_string_length = 0;
    return o;
}

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
