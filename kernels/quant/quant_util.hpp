// Internal helpers shared by the scalar quantizers (not part of the public quant API).
// Everything here reproduces ggml's float evaluation order exactly; keep -ffp-contract=off.
#pragma once
#include <cstdint>
#include <cstring>

namespace llm::quant_detail {

// Round to nearest (ties to even) via the 1.5*2^23 magic constant, exactly as ggml's nearest_int.
// Valid for |fval| <= 4194303; other inputs give the same (garbage) bits as ggml.
inline int nearest_int(float fval) {
    float val = fval + 12582912.f;
    int32_t i;
    std::memcpy(&i, &val, sizeof(i));
    return (i & 0x007fffff) - 0x00400000;
}

template <typename T>
inline T min_of(T a, T b) { return a < b ? a : b; }
template <typename T>
inline T max_of(T a, T b) { return a > b ? a : b; }

// Threshold below which ggml treats a group as all zero.
constexpr float kGroupMaxEps = 1e-15f;

}  // namespace llm::quant_detail
