// Shared helpers: exact half/bfloat16 <-> float conversions (bit-identical to core/fp16.hpp) and a
// 2D -> 1D workgroup index for grids wider than the 65535-group limit of one dimension.
#ifndef LLM_COMMON_GLSL
#define LLM_COMMON_GLSL

// IEEE half bits -> float, exact for every input (subnormal halves become normal floats).
float half_to_float(uint h) {
    const uint s = (h & 0x8000u) << 16;
    const uint e = (h >> 10) & 0x1Fu;
    const uint m = h & 0x3FFu;
    if (e == 0u) {
        const float v = float(m) * (1.0 / 16777216.0);  // m * 2^-24, exact
        return s != 0u ? -v : v;
    }
    if (e == 31u) return uintBitsToFloat(s | 0x7F800000u | (m << 13));
    return uintBitsToFloat(s | ((e + 112u) << 23) | (m << 13));
}

float bf16_to_float(uint h) { return uintBitsToFloat(h << 16); }

// Float -> half bits, round to nearest even; NaN -> sign | 0x7E00 (as fp32_to_fp16 on the CPU).
uint float_to_half(float f) {
    uint x = floatBitsToUint(f);
    const uint sign = (x >> 16) & 0x8000u;
    uint ax = x & 0x7FFFFFFFu;
    if (ax > 0x7F800000u) return sign | 0x7E00u;
    if (ax >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520 rounds to infinity
    if (ax < 0x38800000u) {                         // below 2^-14: a half subnormal (or zero)
        return sign | uint(roundEven(uintBitsToFloat(ax) * 16777216.0));
    }
    ax += 0xC8000FFFu + ((ax >> 13) & 1u);  // rebias the exponent by -112 and round to nearest even
    return sign | (ax >> 13);
}

// "Minus infinity" for running maxima and masked scores: finite, because drivers may compile without
// IEEE infinities (no SignedZeroInfNanPreserve); exp(NEG_BIG - m) is still exactly 0.
const float NEG_BIG = -3.0e38;

// Flattened workgroup index of a grid dispatched as (min(n, 65535), ceil(n / 65535)).
uint flat_group() { return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x; }

#endif
