// Grammar pieces for the JSON-schema compiler: escaped string characters, integer and number ranges as
// digit grammars, and the string formats.
#include <algorithm>
#include <functional>
#include <map>

#include "constrain/schema_internal.hpp"
#include "tokenizer/unicode.hpp"

namespace llm::schema_detail {

std::string json_char_expr(const std::vector<CharRange>& set) {
    std::vector<CharRange> safe;
    bool quote = false, backslash = false;
    std::vector<uint32_t> controls;
    for (const CharRange& r : set) {
        for (uint32_t c = r.lo; c <= std::min<uint32_t>(r.hi, 0x1F); ++c) controls.push_back(c);
        uint32_t lo = std::max<uint32_t>(r.lo, 0x20);
        if (lo > r.hi) continue;
        // Split out '"' (0x22) and '\' (0x5C).
        for (uint32_t special : {0x22u, 0x5Cu}) {
            if (lo <= special && special <= r.hi) {
                (special == 0x22 ? quote : backslash) = true;
                if (lo < special) safe.push_back({lo, special - 1});
                lo = special + 1;
            }
        }
        if (lo <= r.hi) safe.push_back({lo, r.hi});
    }
    normalize_ranges(safe);
    std::vector<std::string> parts;
    if (!safe.empty()) {
        std::string one;
        if (safe.size() == 1 && safe[0].lo == safe[0].hi) utf8::append_codepoint(one, safe[0].lo);
        parts.push_back(one.empty() ? gbnf_class(safe) : gbnf_literal(one));
    }
    if (quote) parts.push_back(gbnf_literal("\\\""));
    if (backslash) parts.push_back(gbnf_literal("\\\\"));
    // The short escapes a model is likely to write (\n rather than \u000a), as well as the \u00XX forms.
    std::string shorts;
    for (uint32_t c : controls) {
        const char* e = c == '\n' ? "n" : c == '\t' ? "t" : c == '\r' ? "r" : c == '\b' ? "b" : c == '\f' ? "f" : nullptr;
        if (e) shorts += e;
    }
    if (!shorts.empty()) parts.push_back(gbnf_literal("\\") + " [" + shorts + "]");
    // \u00XX grouped by the high hex digit: "\u000" [0-9A-Fa-f] style.
    for (uint32_t high = 0; high < 2; ++high) {
        std::vector<CharRange> lows;
        for (uint32_t c : controls) {
            if ((c >> 4) != high) continue;
            const uint32_t d = c & 15;
            if (d < 10) lows.push_back({'0' + d, '0' + d});
            else lows.push_back({'a' + d - 10, 'a' + d - 10}), lows.push_back({'A' + d - 10, 'A' + d - 10});
        }
        if (lows.empty()) continue;
        normalize_ranges(lows);
        parts.push_back(gbnf_literal(fmt::format("\\u00{}", high)) + " " + gbnf_class(lows));
    }
    if (parts.empty()) fail("empty character set");
    if (parts.size() == 1) return parts[0];
    std::string out = "(";
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? " | " : "") + parts[i];
    return out + ")";
}

namespace {

constexpr int kMaxDigits = 16;

std::string digit_class(char lo, char hi) {
    if (lo == hi) return fmt::format("\"{}\"", lo);
    return fmt::format("[{}-{}]", lo, hi);
}

std::string any_digits(size_t n) {
    if (n == 0) return "";
    if (n == 1) return "[0-9]";
    return fmt::format("[0-9]{{{}}}", n);
}

std::string join_seq(const std::string& a, const std::string& b) {
    if (a.empty()) return b;
    if (b.empty()) return a;
    return a + " " + b;
}

// Decimal strings of equal length with a <= b (leading zeros allowed inside; callers keep the first digit
// non-zero): every string between them, digit by digit.
std::string digits_between(const std::string& a, const std::string& b) {
    if (a.empty()) return "";
    if (a == b) return "\"" + a + "\"";
    const std::string at = a.substr(1), bt = b.substr(1);
    if (a[0] == b[0]) return join_seq(std::string("\"") + a[0] + "\"", digits_between(at, bt));
    const size_t rest = at.size();
    const bool a_low = at.find_first_not_of('0') == std::string::npos;
    const bool b_high = bt.find_first_not_of('9') == std::string::npos;
    std::vector<std::string> alts;
    char lo = a[0], hi = b[0];
    if (!a_low) alts.push_back(join_seq(digit_class(a[0], a[0]), digits_between(at, std::string(rest, '9')))), ++lo;
    std::string last;
    if (!b_high) last = join_seq(digit_class(b[0], b[0]), digits_between(std::string(rest, '0'), bt)), --hi;
    if (lo <= hi) alts.push_back(join_seq(digit_class(lo, hi), any_digits(rest)));
    if (!last.empty()) alts.push_back(last);
    if (alts.size() == 1) return alts[0];
    std::string out = "(";
    for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
    return out + ")";
}

uint64_t pow10(int n) {
    uint64_t p = 1;
    while (n-- > 0) p *= 10;
    return p;
}

// Non-negative integers in [lo, hi] (hi absent: up to kMaxDigits digits); "" when empty.
std::string uint_range(uint64_t lo, std::optional<uint64_t> hi) {
    const int la = static_cast<int>(std::to_string(lo).size());
    if (la > kMaxDigits || (hi && lo > *hi)) return "";
    std::vector<std::string> alts;
    if (!hi) {
        alts.push_back(digits_between(std::to_string(lo), std::string(la, '9')));
        if (la < kMaxDigits) alts.push_back(fmt::format("[1-9] [0-9]{{{},{}}}", la, kMaxDigits - 1));
    } else {
        const int lb = static_cast<int>(std::to_string(*hi).size());
        for (int len = la; len <= lb; ++len) {
            const uint64_t from = len == la ? lo : pow10(len - 1);
            const uint64_t to = len == lb ? *hi : pow10(len) - 1;
            if (from <= to) alts.push_back(digits_between(std::to_string(from), std::to_string(to)));
        }
    }
    if (alts.size() == 1) return alts[0];
    std::string out = "(";
    for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
    return out + ")";
}

std::string join_alts(const std::vector<std::string>& alts) {
    std::vector<std::string> nonempty;
    for (const auto& a : alts)
        if (!a.empty()) nonempty.push_back(a);
    if (nonempty.empty()) return "";
    if (nonempty.size() == 1) return nonempty[0];
    std::string out = "(";
    for (size_t i = 0; i < nonempty.size(); ++i) out += (i ? " | " : "") + nonempty[i];
    return out + ")";
}

const char* const kAnyFraction = "(\".\" [0-9]{1,16})?";
const char* const kNonZeroFraction = "\".\" \"0\"{0,14} [1-9] [0-9]{0,15}";

// Magnitudes m >= 0 with lo <= m (lo < m when lo_excl) and m <= hi (m < hi when hi_excl), written as an
// integer part and an optional fraction; "" when empty. Bounds are integers, so only the fraction of an
// integer part equal to a bound needs care.
std::string magnitude_range(uint64_t lo, bool lo_excl, std::optional<uint64_t> hi, bool hi_excl) {
    const std::string lo_frac = lo_excl ? kNonZeroFraction : kAnyFraction;
    if (!hi) return join_alts({join_seq(uint_range(lo, lo), lo_frac), join_seq(uint_range(lo + 1, std::nullopt), kAnyFraction)});
    if (lo > *hi) return "";
    if (lo == *hi) return lo_excl || hi_excl ? "" : uint_range(lo, lo);
    std::vector<std::string> alts{join_seq(uint_range(lo, lo), lo_frac)};
    if (lo + 1 <= *hi - 1) alts.push_back(join_seq(uint_range(lo + 1, *hi - 1), kAnyFraction));
    if (!hi_excl) alts.push_back(uint_range(*hi, *hi));
    return join_alts(alts);
}

}  // namespace

std::string integer_expr(std::optional<int64_t> lo, std::optional<int64_t> hi) {
    std::vector<std::string> alts;
    // Negative values -m with m in [max(1, -hi), -lo].
    if (!lo || *lo < 0) {
        const uint64_t m_lo = hi && *hi < 0 ? static_cast<uint64_t>(-*hi) : 1;
        std::optional<uint64_t> m_hi;
        if (lo) m_hi = static_cast<uint64_t>(-*lo);
        const std::string r = uint_range(m_lo, m_hi);
        if (!r.empty()) alts.push_back("\"-\" " + r);
    }
    if (!hi || *hi >= 0) {
        std::optional<uint64_t> h;
        if (hi) h = static_cast<uint64_t>(*hi);
        alts.push_back(uint_range(lo && *lo > 0 ? static_cast<uint64_t>(*lo) : 0, h));
    }
    const std::string e = join_alts(alts);
    if (e.empty()) fail("no integer lies within the bounds");
    return e;
}

std::string number_expr(std::optional<NumberBound> lo, std::optional<NumberBound> hi) {
    std::vector<std::string> alts;
    // Negative values -m, m > 0: x >= lo <=> m <= -lo; x <= hi <=> m >= -hi.
    if (!lo || lo->value < 0) {
        uint64_t m_lo = 0;
        bool m_lo_excl = true;  // m > 0: "-0" is not generated
        if (hi && hi->value < 0) m_lo = static_cast<uint64_t>(-hi->value), m_lo_excl = hi->exclusive;
        std::optional<uint64_t> m_hi;
        if (lo) m_hi = static_cast<uint64_t>(-lo->value);
        const std::string r = magnitude_range(m_lo, m_lo_excl, m_hi, lo && lo->exclusive);
        if (!r.empty()) alts.push_back("\"-\" " + r);
    }
    if (!hi || hi->value > 0 || (hi->value == 0 && !hi->exclusive)) {
        const bool from_lo = lo && lo->value >= 0;
        std::optional<uint64_t> h;
        if (hi) h = static_cast<uint64_t>(hi->value);
        alts.push_back(magnitude_range(from_lo ? static_cast<uint64_t>(lo->value) : 0, from_lo && lo->exclusive, h,
                                       hi && hi->exclusive));
    }
    const std::string e = join_alts(alts);
    if (e.empty()) fail("no number lies within the bounds");
    return e;
}

const std::vector<std::pair<std::string, std::string>>* format_rules(std::string_view format) {
    using Rules = std::vector<std::pair<std::string, std::string>>;
    static const std::map<std::string, Rules, std::less<>> kFormats = [] {
        const Rules date = {
            {"format-date",
             R"([1-9] [0-9]{3} "-" (("0" [13578] | "1" [02]) "-" format-day31 | ("0" [469] | "11") "-" format-day30 | "02" "-" format-day28))"},
            {"format-day31", R"(format-day30 | "31")"},
            {"format-day30", R"(format-day28 | "29" | "30")"},
            {"format-day28", R"("0" [1-9] | "1" [0-9] | "2" [0-8])"},
        };
        const Rules time = {
            {"format-time",
             R"(([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,6})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9]))"},
        };
        Rules date_time = {{"format-date-time", R"(format-date "T" format-time)"}};
        date_time.insert(date_time.end(), date.begin(), date.end());
        date_time.insert(date_time.end(), time.begin(), time.end());
        return std::map<std::string, Rules, std::less<>>{
            {"date", date},
            {"time", time},
            {"date-time", date_time},
            {"uuid", {{"format-uuid", R"([0-9a-f]{8} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{12})"}}},
            {"email",
             {{"format-email",
               R"([a-zA-Z0-9_+-] [a-zA-Z0-9._+-]{0,30} "@" [a-zA-Z0-9] [a-zA-Z0-9-]{0,30} ("." [a-zA-Z] [a-zA-Z0-9-]{0,30}){1,4})"}}},
            {"uri",
             {{"format-uri",
               R"([a-zA-Z] [a-zA-Z0-9+.-]{0,15} ":" ([a-zA-Z0-9._~:/?#@!$&'()*+,;=-] | "%" [0-9A-F] [0-9A-F]){1,200})"}}},
            {"ipv4",
             {{"format-ipv4", R"(format-octet "." format-octet "." format-octet "." format-octet)"},
              {"format-octet", R"("25" [0-5] | "2" [0-4] [0-9] | "1" [0-9] [0-9] | [1-9] [0-9] | [0-9])"}}},
        };
    }();
    auto it = kFormats.find(format);
    return it == kFormats.end() ? nullptr : &it->second;
}

std::string supported_formats() { return "date, time, date-time, uuid, email, uri, ipv4"; }

// A residue automaton over the decimal digits: state (i, n) = remainder i so far, at most n more digits. Only
// states that can still reach remainder 0 get a rule (live), so every prefix the grammar allows completes (the
// mask is never empty inside a number). (i, 0) is live for i = 0 only and needs no rule (the number ends).
// Rules are added in order of n, so each refers to ones already added.
std::string positive_multiples_rule(uint32_t k, int digits, const std::function<std::string(std::string)>& add) {
    if (k == 1) return add(fmt::format("[1-9] [0-9]{{0,{}}}", digits - 1));
    std::vector<std::vector<char>> live(digits, std::vector<char>(k, 0));  // live[n][i]
    std::vector<std::vector<std::string>> rule(digits, std::vector<std::string>(k));
    live[0][0] = 1;
    // State (i, n)'s body: the empty end when i == 0, then one digit class per live next state (j, n - 1).
    auto body_of = [&](uint32_t i, int n, int first_digit) {
        std::string body = i == 0 && first_digit == 0 ? "\"\"" : "";  // not before the first digit
        for (uint32_t j = 0; j < k; ++j) {
            if (!live[n - 1][j]) continue;
            std::string ds;
            for (int d = first_digit; d <= 9; ++d)
                if ((10ull * i + d) % k == j) ds += static_cast<char>('0' + d);
            if (ds.empty()) continue;
            body += (body.empty() ? "[" : " | [") + ds + "]" + (n - 1 == 0 ? "" : " " + rule[n - 1][j]);
        }
        return body;
    };
    for (int n = 1; n < digits; ++n)
        for (uint32_t i = 0; i < k; ++i) {
            std::string body = body_of(i, n, 0);
            if (body.empty()) continue;
            live[n][i] = 1;
            rule[n][i] = add(std::move(body));
        }
    return add(body_of(0, digits, 1));  // the first digit (1-9), then at most digits - 1 more
}

}  // namespace llm::schema_detail
