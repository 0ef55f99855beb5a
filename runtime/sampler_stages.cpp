// The sampler stages on a TokenDataArray, with llama.cpp's semantics (src/llama-sampling.cpp), written
// so that no result depends on the standard library's sort algorithm or on unspecified tie order.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "runtime/sampler.hpp"

namespace llm {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The `sorted` order: logit descending, id ascending. A total order (logits hold no NaN).
bool before(const TokenData& a, const TokenData& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// Probability mass in units of 2^-52. Integer sums are exact and independent of summation order, so
// where top_p cuts cannot depend on how a selection algorithm happened to arrange the candidates.
uint64_t mass_units(float p) { return static_cast<uint64_t>(static_cast<double>(p) * 0x1.0p52); }

size_t keep_at_least(size_t min_keep) { return std::max<size_t>(min_keep, 1); }

// Makes data[0, m) the m first candidates in the sorted order, sorted, given that data[0, done) already
// is (0 <= done <= m <= size). data[0, m) is unique (total order), whatever algorithm finds it; the
// order of data[m, n) is canonical only on the heap path (nth_element leaves it unspecified).
void sort_prefix(TokenDataArray& c, size_t done, size_t m) {
    auto first = c.data.begin() + done, mid = c.data.begin() + m, last = c.data.end();
    const size_t want = m - done, rest = c.data.size() - done;
    if (want * 32 <= rest) {
        // Few wanted (top-k 40 of 150k): one scan against a heap of the best so far, whose top is the
        // worst kept; most candidates cost one comparison. About k ln(n/k) insertions for random order:
        // O(n + k log(n/k) log k).
        std::make_heap(first, mid, before);
        for (auto it = mid; it != last; ++it)
            if (before(*it, *first)) {
                // Swap, not overwrite: the evicted token (the unique worst of the heap) takes the
                // newcomer's slot, so data[m, n) stays a permutation in an order every library agrees on.
                std::pop_heap(first, mid, before);
                std::iter_swap(mid - 1, it);
                std::push_heap(first, mid, before);
            }
    } else if (mid != last) {
        std::nth_element(first, mid, last, before);
    }
    std::sort(first, mid, before);
}

}  // namespace

namespace {
float clean_logit(float l) {
    if (std::isnan(l)) return kNegInf;
    if (l == std::numeric_limits<float>::infinity()) return std::numeric_limits<float>::max();
    return l;
}
}  // namespace

void TokenDataArray::assign(std::span<const float> logits) {
    data.resize(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) data[i] = {static_cast<int32_t>(i), clean_logit(logits[i]), 0.0f};
    sorted = false;
}

void TokenDataArray::assign(std::span<const float> logits, std::span<const uint64_t> allowed) {
    data.clear();
    const size_t words = std::min(allowed.size(), (logits.size() + 63) / 64);
    for (size_t w = 0; w < words; ++w)
        for (uint64_t bits = allowed[w]; bits; bits &= bits - 1) {
            const size_t id = w * 64 + static_cast<size_t>(__builtin_ctzll(bits));
            if (id < logits.size()) data.push_back({static_cast<int32_t>(id), clean_logit(logits[id]), 0.0f});
        }
    sorted = false;
}

void sampler_mask(TokenDataArray& c, std::span<const uint64_t> allowed) {
    const size_t n_bits = allowed.size() * 64;
    // remove_if keeps the survivors' order, so `sorted` still holds if it did.
    c.data.erase(std::remove_if(c.data.begin(), c.data.end(),
                                [&](const TokenData& t) {
                                    const auto id = static_cast<size_t>(t.id);
                                    return id >= n_bits || !((allowed[id >> 6] >> (id & 63)) & 1);
                                }),
                 c.data.end());
}

void sampler_softmax(TokenDataArray& c) {
    if (c.data.empty()) return;
    float max_logit = kNegInf;
    for (const auto& t : c.data) max_logit = std::max(max_logit, t.logit);
    if (max_logit == kNegInf) {
        for (auto& t : c.data) t.p = 0.0f;
        return;
    }
    // exp in double, rounded once to float: glibc's exp variants (FMA or not) agree to far below a
    // float ulp, so the stored weights are the same on every x86 machine.
    double sum = 0.0;
    for (auto& t : c.data) {
        const double w = std::exp(static_cast<double>(t.logit) - max_logit);
        t.p = static_cast<float>(w);
        sum += w;
    }
    const double inv = 1.0 / sum;
    for (auto& t : c.data) t.p = static_cast<float>(t.p * inv);
}

void sampler_sort(TokenDataArray& c) {
    if (c.sorted) return;
    std::sort(c.data.begin(), c.data.end(), before);
    c.sorted = true;
}

void sampler_logit_bias(TokenDataArray& c, const std::map<int32_t, float>& bias) {
    if (bias.empty()) return;
    const size_t n = c.data.size();
    for (const auto& [id, b] : bias) {
        if (id < 0) continue;
        // Fast path: a fresh array holds token t at index t.
        if (static_cast<size_t>(id) < n && c.data[id].id == id) {
            c.data[id].logit += b;
            continue;
        }
        for (auto& t : c.data)
            if (t.id == id) {
                t.logit += b;
                break;
            }
    }
    c.sorted = false;
}

void sampler_penalties(TokenDataArray& c, std::span<const int32_t> recent, float repeat, float frequency,
                       float presence) {
    if (recent.empty() || c.data.empty() || (repeat == 1.0f && frequency == 0.0f && presence == 0.0f)) return;
    // Distinct tokens of the window with their counts, sorted by id.
    std::vector<int32_t> ids(recent.begin(), recent.end());
    std::sort(ids.begin(), ids.end());
    std::vector<std::pair<int32_t, int>> counts;
    for (int32_t id : ids) {
        if (!counts.empty() && counts.back().first == id) ++counts.back().second;
        else counts.push_back({id, 1});
    }
    auto penalize = [&](TokenData& t, int count) {
        // llama.cpp: `logit <= 0 ? logit * repeat : logit / repeat`, so a penalty > 1 always lowers it.
        if (t.logit <= 0.0f) t.logit *= repeat;
        else t.logit /= repeat;
        t.logit -= static_cast<float>(count) * frequency + static_cast<float>(count > 0) * presence;
    };
    const size_t n = c.data.size();
    bool all_direct = true;
    for (const auto& [id, count] : counts)
        if (id < 0 || static_cast<size_t>(id) >= n || c.data[id].id != id) all_direct = false;
    if (all_direct) {  // fresh, id-ordered array (penalties first in the chain): O(window)
        for (const auto& [id, count] : counts) penalize(c.data[id], count);
    } else {  // candidates already filtered or reordered: O(n log window)
        for (auto& t : c.data) {
            auto it = std::lower_bound(counts.begin(), counts.end(), std::pair<int32_t, int>{t.id, 0});
            if (it != counts.end() && it->first == t.id) penalize(t, it->second);
        }
    }
    c.sorted = false;
}

void sampler_top_k(TokenDataArray& c, int32_t k, size_t min_keep) {
    if (k <= 0) return;
    const size_t keep = std::max(static_cast<size_t>(k), keep_at_least(min_keep));
    if (keep >= c.data.size()) return;
    if (!c.sorted) sort_prefix(c, 0, keep);
    c.data.resize(keep);
    c.sorted = true;
}

void sampler_top_p(TokenDataArray& c, float p, size_t min_keep) {
    if (p >= 1.0f || c.data.empty()) return;
    sampler_softmax(c);
    const size_t n = c.data.size();
    const size_t keep_min = keep_at_least(min_keep);
    const uint64_t target = mass_units(p);
    // 1) Small or sorted arrays: sort (if needed) and scan. Large ones: the heap scan finds the top 256
    // sorted, which holds the answer for the peaked distributions language models usually give.
    const size_t m = (c.sorted || n <= 8192) ? n : 256;
    if (m == n) sampler_sort(c);
    else sort_prefix(c, 0, m);  // heap path (256 * 32 <= n): the rest keeps a canonical order
    uint64_t cum = 0;
    for (size_t i = 0; i < m; ++i) {
        cum += mass_units(c.data[i].p);
        if (cum >= target && i + 1 >= keep_min) {
            c.data.resize(i + 1);
            c.sorted = true;
            return;
        }
    }
    if (m == n) return;  // never reached p: keep all (sorted)
    // 2) Flat distributions: find the last kept token by a quickselect on mass over a copy (O(n)
    // expected instead of a full sort), then keep the survivors in their current, canonical order.
    // Invariant: s[0, lo) are the first lo tokens in sorted order with mass acc; s[hi, n) come after
    // everything in s[lo, hi); the answer lies in [lo, hi).
    std::vector<TokenData> s(c.data);
    size_t lo = m, hi = n;
    uint64_t acc = cum;
    while (hi - lo > 64) {
        const size_t mid = lo + (hi - lo) / 2;
        std::nth_element(s.begin() + lo, s.begin() + mid, s.begin() + hi, before);
        uint64_t left = 0;
        for (size_t i = lo; i <= mid; ++i) left += mass_units(s[i].p);
        if (acc + left >= target && mid + 1 >= keep_min) {
            hi = mid + 1;
        } else {
            acc += left;
            lo = mid + 1;
        }
    }
    std::sort(s.begin() + lo, s.begin() + hi, before);
    size_t cut = n;
    for (size_t i = lo; i < hi; ++i) {
        acc += mass_units(s[i].p);
        if (acc >= target && i + 1 >= keep_min) {
            cut = i;
            break;
        }
    }
    c.sorted = false;
    if (cut + 1 >= n) return;  // keep all
    const TokenData last = s[cut];
    c.data.erase(std::remove_if(c.data.begin(), c.data.end(), [&](const TokenData& t) { return before(last, t); }),
                 c.data.end());
}

void sampler_min_p(TokenDataArray& c, float p, size_t min_keep) {
    if (p <= 0.0f || c.data.empty()) return;
    float max_logit = kNegInf;
    for (const auto& t : c.data) max_logit = std::max(max_logit, t.logit);
    const float min_logit = max_logit + std::log(p);
    const size_t keep_min = keep_at_least(min_keep);
    const size_t passing = static_cast<size_t>(
        std::count_if(c.data.begin(), c.data.end(), [&](const TokenData& t) { return t.logit >= min_logit; }));
    if (passing >= keep_min) {
        // remove_if keeps the survivors' relative order, so `sorted` still holds if it did.
        c.data.erase(std::remove_if(c.data.begin(), c.data.end(),
                                    [&](const TokenData& t) { return t.logit < min_logit; }),
                     c.data.end());
    } else if (keep_min < c.data.size()) {
        if (!c.sorted) sort_prefix(c, 0, keep_min);
        c.data.resize(keep_min);
        c.sorted = true;
    }
}

void sampler_typical(TokenDataArray& c, float p, size_t min_keep) {
    if (p >= 1.0f || c.data.size() <= 1) return;
    sampler_softmax(c);
    double entropy = 0.0;
    for (const auto& t : c.data)
        if (t.p > 0.0f) entropy -= static_cast<double>(t.p) * std::log(static_cast<double>(t.p));
    std::vector<double> shifted(c.data.size());
    for (size_t i = 0; i < c.data.size(); ++i) {
        const double pi = c.data[i].p;
        shifted[i] = pi > 0.0 ? std::fabs(-std::log(pi) - entropy) : std::numeric_limits<double>::infinity();
    }
    std::vector<uint32_t> idx(c.data.size());
    std::iota(idx.begin(), idx.end(), 0u);
    std::sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) {
        if (shifted[a] != shifted[b]) return shifted[a] < shifted[b];
        return before(c.data[a], c.data[b]);
    });
    const size_t keep_min = keep_at_least(min_keep);
    size_t last = idx.size();
    double cum = 0.0;
    for (size_t i = 0; i < idx.size(); ++i) {
        cum += c.data[idx[i]].p;
        if (cum > p && i + 1 >= keep_min) {
            last = i + 1;
            break;
        }
    }
    std::vector<TokenData> kept(last);
    for (size_t i = 0; i < last; ++i) kept[i] = c.data[idx[i]];
    c.data = std::move(kept);
    c.sorted = false;
}

void sampler_temperature(TokenDataArray& c, float temp) {
    if (temp <= 0.0f) {
        sampler_greedy(c);
        return;
    }
    if (temp == 1.0f) return;
    // Division by a positive number keeps the order, so `sorted` stays valid.
    for (auto& t : c.data) t.logit /= temp;
}

void sampler_greedy(TokenDataArray& c) {
    if (c.data.size() <= 1) return;
    // Two plain passes (max logit, then the lowest id holding it) run faster than one pass with the
    // two-key comparison.
    float max_logit = kNegInf;
    for (const auto& t : c.data) max_logit = std::max(max_logit, t.logit);
    size_t best = c.data.size();
    for (size_t i = 0; i < c.data.size(); ++i)
        if (c.data[i].logit == max_logit && (best == c.data.size() || c.data[i].id < c.data[best].id)) best = i;
    c.data[0] = c.data[best];
    c.data.erase(c.data.begin() + 1, c.data.end());  // shrink; resize(1) trips GCC 12's -Warray-bounds
    c.sorted = true;
}

int32_t sampler_draw(const TokenDataArray& c, double u) {
    LLM_CHECK(!c.data.empty());
    double total = 0.0;
    for (const auto& t : c.data) total += t.p;
    if (!(total > 0.0)) {  // everything banned: deterministic fallback
        size_t best = 0;
        for (size_t i = 1; i < c.data.size(); ++i)
            if (before(c.data[i], c.data[best])) best = i;
        return c.data[best].id;
    }
    const double target = u * total;
    double cum = 0.0;
    size_t last_nonzero = 0;
    for (size_t i = 0; i < c.data.size(); ++i) {
        if (c.data[i].p <= 0.0f) continue;
        cum += c.data[i].p;
        last_nonzero = i;
        if (target < cum) return c.data[i].id;
    }
    return c.data[last_nonzero].id;  // u * total rounded up to the full sum
}

}  // namespace llm
