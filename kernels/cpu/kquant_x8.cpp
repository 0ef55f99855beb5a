// Q4_K's 8-row interleaved panels: packing and unpacking (kquant_x8.hpp has the layout).
#include "kernels/cpu/kquant_x8.hpp"

#include <cstring>

#include "kernels/quant/blocks.hpp"

namespace llm::cpu {
namespace {

constexpr size_t kBlock = sizeof(BlockQ4_K), kGroupBlock = kQ4kX8Rows * kBlock;

// Row of half h's i-th 8-byte piece within a group (rows {0,1,4,5} then {2,3,6,7}).
constexpr int half_row(int h, int i) { return (i & 1) + 2 * h + 4 * (i >> 1); }
constexpr size_t qs_at(int h, int q, int p) { return 128 + (size_t)((h * 4 + q) * 4 + p) * 32; }

}  // namespace

bool q4_k_x8_supported(Isa isa) { return isa == Isa::Avx2; }

size_t q4_k_x8_bytes(const TensorView& w) {
    return (size_t)((w.ne[1] + kQ4kX8Rows - 1) / kQ4kX8Rows) * kQ4kX8Rows * w.row_size();
}

void q4_k_x8_pack(const TensorView& w, void* dst, int n_threads) {
    const int64_t nb = w.ne[0] / QK_K, n_out = w.ne[1], n_groups = (n_out + kQ4kX8Rows - 1) / kQ4kX8Rows;
    const size_t rb = w.row_size();
    static const BlockQ4_K zero{};
#pragma omp parallel for num_threads(n_threads > 0 ? n_threads : 1) schedule(static)
    for (int64_t g = 0; g < n_groups; ++g) {
        auto block = [&](int r, int64_t b) -> const BlockQ4_K& {
            const int64_t row = g * kQ4kX8Rows + r;
            return row < n_out ? reinterpret_cast<const BlockQ4_K*>(w.row(row))[b] : zero;
        };
        uint8_t* out = static_cast<uint8_t*>(dst) + (size_t)g * kQ4kX8Rows * rb;
        for (int64_t b = 0; b < nb; ++b, out += kGroupBlock) {
            for (int r = 0; r < kQ4kX8Rows; ++r) {
                const BlockQ4_K& x = block(r, b);
                std::memcpy(out + 2 * r, &x.d, 2);
                std::memcpy(out + 16 + 2 * r, &x.dmin, 2);
                for (int k = 0; k < 3; ++k) std::memcpy(out + 32 + (k * 8 + r) * 4, x.scales + 4 * k, 4);
            }
            for (int h = 0; h < 2; ++h)
                for (int q = 0; q < 4; ++q)
                    for (int p = 0; p < 4; ++p)
                        for (int i = 0; i < 4; ++i)
                            std::memcpy(out + qs_at(h, q, p) + 8 * i, block(half_row(h, i), b).qs + 32 * q + 8 * p, 8);
        }
    }
}

void q4_k_x8_rows(const void* panels, int64_t n_in, int64_t r0, int64_t n_rows, void* dst) {
    const int64_t nb = n_in / QK_K;
    const size_t rb = (size_t)nb * kBlock;
    for (int64_t j = 0; j < n_rows; ++j) {
        const int64_t row = r0 + j, g = row / kQ4kX8Rows;
        const int r = (int)(row % kQ4kX8Rows);
        // This row's place among its half's four: h = bit 1 of r, i = (bit 0) | (bit 2) << 1.
        const int h = (r >> 1) & 1, i = (r & 1) | ((r >> 2) << 1);
        const uint8_t* in = static_cast<const uint8_t*>(panels) + (size_t)g * kQ4kX8Rows * rb;
        auto* out = reinterpret_cast<BlockQ4_K*>(static_cast<uint8_t*>(dst) + (size_t)j * rb);
        for (int64_t b = 0; b < nb; ++b, in += kGroupBlock) {
            BlockQ4_K& x = out[b];
            std::memcpy(&x.d, in + 2 * r, 2);
            std::memcpy(&x.dmin, in + 16 + 2 * r, 2);
            for (int k = 0; k < 3; ++k) std::memcpy(x.scales + 4 * k, in + 32 + (k * 8 + r) * 4, 4);
            for (int q = 0; q < 4; ++q)
                for (int p = 0; p < 4; ++p) std::memcpy(x.qs + 32 * q + 8 * p, in + qs_at(h, q, p) + 8 * i, 8);
        }
    }
}

}  // namespace llm::cpu
