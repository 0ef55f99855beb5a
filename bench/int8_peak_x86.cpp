// Register-only peak of the int8 GEMM micro-kernels' instruction mixes on this core: tight loops of the same
// instructions as the kernels' inner loops (kernels/cpu/gemm_avx512.cpp, gemm_avx2.cpp) on independent
// accumulators with no memory operands, so the figure is the core's multiply-add throughput for that mix,
// the ceiling a GEMM on this CPU can approach. Prints GMAC/s per core (one thread) and MACs per cycle
// (the clock measured with a chain of dependent integer adds, one per cycle on every x86 core since P6).
// Times are thread CPU seconds.
// usage: int8_peak_x86 [seconds per mix, default 0.3]
#include <ctime>
#include <cstdio>
#include <cstdlib>

#include "core/cpu_features.hpp"

namespace {

// Thread CPU time: the figures stay meaningful on a machine shared with other work.
double now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Runs body(iterations) in doubling batches until it takes `secs`; returns iterations per second.
template <typename F>
double rate(F body, double secs) {
    body(1000);  // warm up (clock ramp, AVX frequency licence)
    long n = 1000;
    for (;;) {
        const double t0 = now();
        body(n);
        const double dt = now() - t0;
        if (dt >= secs) return (double)n / dt;
        n *= 2;
    }
}

// Core clock: 8 dependent adds per iteration, 1 cycle each.
double clock_hz(double secs) {
    const double it = rate(
        [](long n) {
            long x = 0;
            for (long i = 0; i < n; ++i)
                __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                                 "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
                                 : "+r"(x));
        },
        secs);
    return it * 8;
}

// The loops are inline assembly so that the instruction sequence is exactly the stated one (compiled
// intrinsics would be free to spill accumulators or hoist the loop-invariant multiplies). Each iteration
// runs the mix on 8 independent accumulators; operand values are irrelevant to throughput.

// AVX2, the small-u types (Q4_0, Q4_K, ...): weight vectors w0, w1 (8 rows each) x 4 tokens' broadcast
// activations, vpmaddubsw into int16 accumulators (vpaddw), as kernel_avx2's inner loop: 8 x 32 MACs.
long avx2_u16(long n) {
    __asm__ volatile(
        "vpxor %%ymm0, %%ymm0, %%ymm0\n\t"
        "1:\n\t"
        "vpmaddubsw %%ymm10, %%ymm8, %%ymm14\n\t vpaddw %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpmaddubsw %%ymm10, %%ymm9, %%ymm15\n\t vpaddw %%ymm15, %%ymm1, %%ymm1\n\t"
        "vpmaddubsw %%ymm11, %%ymm8, %%ymm14\n\t vpaddw %%ymm14, %%ymm2, %%ymm2\n\t"
        "vpmaddubsw %%ymm11, %%ymm9, %%ymm15\n\t vpaddw %%ymm15, %%ymm3, %%ymm3\n\t"
        "vpmaddubsw %%ymm12, %%ymm8, %%ymm14\n\t vpaddw %%ymm14, %%ymm4, %%ymm4\n\t"
        "vpmaddubsw %%ymm12, %%ymm9, %%ymm15\n\t vpaddw %%ymm15, %%ymm5, %%ymm5\n\t"
        "vpmaddubsw %%ymm13, %%ymm8, %%ymm14\n\t vpaddw %%ymm14, %%ymm6, %%ymm6\n\t"
        "vpmaddubsw %%ymm13, %%ymm9, %%ymm15\n\t vpaddw %%ymm15, %%ymm7, %%ymm7\n\t"
        "dec %0\n\t jnz 1b\n\t vzeroupper"
        : "+r"(n)::"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
    return n;
}

// AVX2, Q8_0 / IQ4 (u up to 255 would saturate vpmaddubsw): the wide formats, int16 weights x int16
// activation pairs by vpmaddwd, as kernel_avx2's Wide mode (2 weight vector pairs x 4 tokens): per 32 MACs
// two vpmaddwd, one vpaddd to combine them, one to accumulate: 8 x 32 MACs.
long avx2_wide(long n) {
    __asm__ volatile(
        "1:\n\t"
        "vpmaddwd %%ymm12, %%ymm8, %%ymm14\n\t vpmaddwd %%ymm13, %%ymm9, %%ymm15\n\t vpaddd %%ymm15, %%ymm14, %%ymm14\n\t vpaddd %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpmaddwd %%ymm12, %%ymm10, %%ymm14\n\t vpmaddwd %%ymm13, %%ymm11, %%ymm15\n\t vpaddd %%ymm15, %%ymm14, %%ymm14\n\t vpaddd %%ymm14, %%ymm1, %%ymm1\n\t"
        "vpmaddwd %%ymm13, %%ymm8, %%ymm14\n\t vpmaddwd %%ymm12, %%ymm9, %%ymm15\n\t vpaddd %%ymm15, %%ymm14, %%ymm14\n\t vpaddd %%ymm14, %%ymm2, %%ymm2\n\t"
        "vpmaddwd %%ymm13, %%ymm10, %%ymm14\n\t vpmaddwd %%ymm12, %%ymm11, %%ymm15\n\t vpaddd %%ymm15, %%ymm14, %%ymm14\n\t vpaddd %%ymm14, %%ymm3, %%ymm3\n\t"
        "vpmaddwd %%ymm12, %%ymm8, %%ymm14\n\t vpmaddwd %%ymm13, %%ymm9, %%ymm15\n\t vpaddd %%ymm15, %%ymm14, %%ymm14\n\t vpaddd %%ymm14, %%ymm4, %%ymm4\n\t"
        "vpmaddwd %%ymm12, %%ymm10, %%ymm14\n\t vpmaddwd %%ymm13, %%ymm11, %%ymm15\n\t vpaddd %%ymm15, %%ymm14, %%ymm14\n\t vpaddd %%ymm14, %%ymm5, %%ymm5\n\t"
        "vpmaddwd %%ymm13, %%ymm8, %%ymm14\n\t vpmaddwd %%ymm12, %%ymm9, %%ymm15\n\t vpaddd %%ymm15, %%ymm14, %%ymm14\n\t vpaddd %%ymm14, %%ymm6, %%ymm6\n\t"
        "vpmaddwd %%ymm13, %%ymm10, %%ymm14\n\t vpmaddwd %%ymm12, %%ymm11, %%ymm15\n\t vpaddd %%ymm15, %%ymm14, %%ymm14\n\t vpaddd %%ymm14, %%ymm7, %%ymm7\n\t"
        "dec %0\n\t jnz 1b\n\t vzeroupper"
        : "+r"(n)::"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
    return n;
}

// The sign trick for comparison (the usual AVX2 answer to saturation, as llama.cpp's Q8_0): |w| once per
// weight vector, then per token vpsignb, vpmaddubsw, vpmaddwd by ones, vpaddd: 8 x 32 MACs. On Zen 4 and
// Intel cores the three multiplies share two ports, hence kernel_avx2's Wide mode instead.
long avx2_sign(long n) {
    __asm__ volatile(
        "1:\n\t"
        "vpabsb %%ymm8, %%ymm10\n\t vpabsb %%ymm9, %%ymm11\n\t"
        "vpsignb %%ymm8, %%ymm12, %%ymm14\n\t vpmaddubsw %%ymm14, %%ymm10, %%ymm14\n\t vpmaddwd %%ymm13, %%ymm14, %%ymm14\n\t vpaddd %%ymm14, %%ymm0, %%ymm0\n\t"
        "vpsignb %%ymm9, %%ymm12, %%ymm15\n\t vpmaddubsw %%ymm15, %%ymm11, %%ymm15\n\t vpmaddwd %%ymm13, %%ymm15, %%ymm15\n\t vpaddd %%ymm15, %%ymm1, %%ymm1\n\t"
        "vpsignb %%ymm8, %%ymm12, %%ymm14\n\t vpmaddubsw %%ymm14, %%ymm10, %%ymm14\n\t vpmaddwd %%ymm13, %%ymm14, %%ymm14\n\t vpaddd %%ymm14, %%ymm2, %%ymm2\n\t"
        "vpsignb %%ymm9, %%ymm12, %%ymm15\n\t vpmaddubsw %%ymm15, %%ymm11, %%ymm15\n\t vpmaddwd %%ymm13, %%ymm15, %%ymm15\n\t vpaddd %%ymm15, %%ymm3, %%ymm3\n\t"
        "vpsignb %%ymm8, %%ymm12, %%ymm14\n\t vpmaddubsw %%ymm14, %%ymm10, %%ymm14\n\t vpmaddwd %%ymm13, %%ymm14, %%ymm14\n\t vpaddd %%ymm14, %%ymm4, %%ymm4\n\t"
        "vpsignb %%ymm9, %%ymm12, %%ymm15\n\t vpmaddubsw %%ymm15, %%ymm11, %%ymm15\n\t vpmaddwd %%ymm13, %%ymm15, %%ymm15\n\t vpaddd %%ymm15, %%ymm5, %%ymm5\n\t"
        "vpsignb %%ymm8, %%ymm12, %%ymm14\n\t vpmaddubsw %%ymm14, %%ymm10, %%ymm14\n\t vpmaddwd %%ymm13, %%ymm14, %%ymm14\n\t vpaddd %%ymm14, %%ymm6, %%ymm6\n\t"
        "vpsignb %%ymm9, %%ymm12, %%ymm15\n\t vpmaddubsw %%ymm15, %%ymm11, %%ymm15\n\t vpmaddwd %%ymm13, %%ymm15, %%ymm15\n\t vpaddd %%ymm15, %%ymm7, %%ymm7\n\t"
        "dec %0\n\t jnz 1b\n\t vzeroupper"
        : "+r"(n)::"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
    return n;
}

// AVX-VNNI: vpdpbusd (VEX) on ymm, 2 weight vectors x 4 tokens, as gemm_avxvnni.cpp: 8 x 32 MACs.
long avx_vnni(long n) {
    __asm__ volatile(
        "1:\n\t"
        "%{vex%} vpdpbusd %%ymm10, %%ymm8, %%ymm0\n\t %{vex%} vpdpbusd %%ymm10, %%ymm9, %%ymm1\n\t"
        "%{vex%} vpdpbusd %%ymm11, %%ymm8, %%ymm2\n\t %{vex%} vpdpbusd %%ymm11, %%ymm9, %%ymm3\n\t"
        "%{vex%} vpdpbusd %%ymm12, %%ymm8, %%ymm4\n\t %{vex%} vpdpbusd %%ymm12, %%ymm9, %%ymm5\n\t"
        "%{vex%} vpdpbusd %%ymm13, %%ymm8, %%ymm6\n\t %{vex%} vpdpbusd %%ymm13, %%ymm9, %%ymm7\n\t"
        "dec %0\n\t jnz 1b\n\t vzeroupper"
        : "+r"(n)::"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "cc");
    return n;
}

// AVX-512 VNNI: vpdpbusd, one weight vector (16 rows) x 8 tokens, as kernel_avx512: 8 x 64 MACs.
__attribute__((target("avx512f,avx512vnni"))) long avx512_vnni(long n) {
    __asm__ volatile(
        "1:\n\t"
        "vpdpbusd %%zmm9, %%zmm8, %%zmm0\n\t vpdpbusd %%zmm10, %%zmm8, %%zmm1\n\t"
        "vpdpbusd %%zmm11, %%zmm8, %%zmm2\n\t vpdpbusd %%zmm12, %%zmm8, %%zmm3\n\t"
        "vpdpbusd %%zmm13, %%zmm8, %%zmm4\n\t vpdpbusd %%zmm14, %%zmm8, %%zmm5\n\t"
        "vpdpbusd %%zmm15, %%zmm8, %%zmm6\n\t vpdpbusd %%zmm16, %%zmm8, %%zmm7\n\t"
        "dec %0\n\t jnz 1b\n\t vzeroupper"
        : "+r"(n)::"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "cc");
    return n;
}

volatile long g_sink;

void report(const char* name, double macs_per_iter, long (*fn)(long), double secs, double hz) {
    const double it = rate([fn](long n) { g_sink = fn(n); }, secs);
    const double gmac = it * macs_per_iter * 1e-9;
    std::printf("%-44s %8.1f GMAC/s per core  %6.1f MAC/cycle\n", name, gmac, gmac * 1e9 / hz);
}

}  // namespace

int main(int argc, char** argv) {
    const double secs = argc > 1 ? std::atof(argv[1]) : 0.3;
    const llm::CpuFeatures& f = llm::cpu_features();
    const double hz = clock_hz(secs);
    std::printf("cpu %s, clock %.2f GHz (dependent-add chain), one thread\n", llm::cpu_isa_name(), hz * 1e-9);
    if (f.avx2) {
        report("avx2 vpmaddubsw+vpaddw (Int16: Q4_*, K-quants)", 8 * 32, avx2_u16, secs, hz);
        report("avx2 vpmaddwd+vpaddd (Wide: Q8_0, IQ4_*)", 8 * 32, avx2_wide, secs, hz);
        report("avx2 sign trick (not used)", 8 * 32, avx2_sign, secs, hz);
    }
    if (f.avx_vnni) report("avx-vnni vpdpbusd ymm", 8 * 32, avx_vnni, secs, hz);
    if (f.avx512_vnni) report("avx512 vpdpbusd zmm", 8 * 64, avx512_vnni, secs, hz);
    if (!f.avx2) std::printf("no AVX2: nothing to measure\n");
    return 0;
}
