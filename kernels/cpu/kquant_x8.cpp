// Q4_K / Q5_K 8-row interleaved panels: packing and unpacking (kquant_x8.hpp has the layout).
#include "kernels/cpu/kquant_x8.hpp"

#include <cstring>
#include <type_traits>

#include "kernels/quant/blocks.hpp"

namespace llm::cpu {
namespace {

// Row of half h's i-th 8-byte piece within a group (rows {0,1,4,5} then {2,3,6,7}).
constexpr int half_row(int h, int i) { return (i & 1) + 2 * h + 4 * (i >> 1); }

template <typename Block>
void pack(const TensorView& w, void* dst, int n_threads) {
    constexpr bool kFive = std::is_same_v<Block, BlockQ5_K>;
    constexpr size_t kGroupBlock = kKquantX8Rows * sizeof(Block);
    const int64_t nb = w.ne[0] / QK_K, n_out = w.ne[1], n_groups = (n_out + kKquantX8Rows - 1) / kKquantX8Rows;
    const size_t rb = w.row_size();
    static const Block zero{};
#pragma omp parallel for num_threads(n_threads > 0 ? n_threads : 1) schedule(static)
    for (int64_t g = 0; g < n_groups; ++g) {
        auto block = [&](int r, int64_t b) -> const Block& {
            const int64_t row = g * kKquantX8Rows + r;
            return row < n_out ? reinterpret_cast<const Block*>(w.row(row))[b] : zero;
        };
        uint8_t* out = static_cast<uint8_t*>(dst) + (size_t)g * kKquantX8Rows * rb;
        for (int64_t b = 0; b < nb; ++b, out += kGroupBlock) {
            for (int r = 0; r < kKquantX8Rows; ++r) {
                const Block& x = block(r, b);
                std::memcpy(out + 2 * r, &x.d, 2);
                std::memcpy(out + 16 + 2 * r, &x.dmin, 2);
                for (int k = 0; k < 3; ++k) std::memcpy(out + 32 + (k * 8 + r) * 4, x.scales + 4 * k, 4);
            }
            for (int h = 0; h < 2; ++h)
                for (int i = 0; i < 4; ++i) {
                    const Block& x = block(half_row(h, i), b);
                    for (int q = 0; q < 4; ++q)
                        for (int p = 0; p < 4; ++p)
                            std::memcpy(out + kquant_x8_qs_at<kFive>(h, q, p) + 8 * i, x.qs + 32 * q + 8 * p, 8);
                    if constexpr (kFive)
                        for (int p = 0; p < 4; ++p) std::memcpy(out + kquant_x8_qh_at(h, p) + 8 * i, x.qh + 8 * p, 8);
                }
        }
    }
}

template <typename Block>
void rows(const void* panels, int64_t n_in, int64_t r0, int64_t n_rows, void* dst) {
    constexpr bool kFive = std::is_same_v<Block, BlockQ5_K>;
    constexpr size_t kGroupBlock = kKquantX8Rows * sizeof(Block);
    const int64_t nb = n_in / QK_K;
    const size_t rb = (size_t)nb * sizeof(Block);
    for (int64_t j = 0; j < n_rows; ++j) {
        const int64_t row = r0 + j, g = row / kKquantX8Rows;
        const int r = (int)(row % kKquantX8Rows);
        // This row's place among its half's four: h = bit 1 of r, i = (bit 0) | (bit 2) << 1.
        const int h = (r >> 1) & 1, i = (r & 1) | ((r >> 2) << 1);
        const uint8_t* in = static_cast<const uint8_t*>(panels) + (size_t)g * kKquantX8Rows * rb;
        auto* out = reinterpret_cast<Block*>(static_cast<uint8_t*>(dst) + (size_t)j * rb);
        for (int64_t b = 0; b < nb; ++b, in += kGroupBlock) {
            Block& x = out[b];
            std::memcpy(&x.d, in + 2 * r, 2);
            std::memcpy(&x.dmin, in + 16 + 2 * r, 2);
            for (int k = 0; k < 3; ++k) std::memcpy(x.scales + 4 * k, in + 32 + (k * 8 + r) * 4, 4);
            for (int q = 0; q < 4; ++q)
                for (int p = 0; p < 4; ++p)
                    std::memcpy(x.qs + 32 * q + 8 * p, in + kquant_x8_qs_at<kFive>(h, q, p) + 8 * i, 8);
            if constexpr (kFive)
                for (int p = 0; p < 4; ++p) std::memcpy(x.qh + 8 * p, in + kquant_x8_qh_at(h, p) + 8 * i, 8);
        }
    }
}

}  // namespace

bool kquant_x8_supported(Isa isa, DType type) {
    return isa == Isa::Avx2 && (type == DType::Q4_K || type == DType::Q5_K);
}

size_t kquant_x8_bytes(const TensorView& w) {
    return (size_t)((w.ne[1] + kKquantX8Rows - 1) / kKquantX8Rows) * kKquantX8Rows * w.row_size();
}

void kquant_x8_pack(const TensorView& w, void* dst, int n_threads) {
    if (w.type == DType::Q5_K) pack<BlockQ5_K>(w, dst, n_threads);
    else pack<BlockQ4_K>(w, dst, n_threads);
}

void kquant_x8_rows(DType type, const void* panels, int64_t n_in, int64_t r0, int64_t n_rows, void* dst) {
    if (type == DType::Q5_K) rows<BlockQ5_K>(panels, n_in, r0, n_rows, dst);
    else rows<BlockQ4_K>(panels, n_in, r0, n_rows, dst);
}

}  // namespace llm::cpu
