#!/usr/bin/env bash
# llm-bench vs llama.cpp (through PyPI's llama-cpp-python, built from source with -DGGML_NATIVE=ON) on the same
# models, pp512 and tg128, interleaved model by model, then a markdown ratio table naming both versions.
#   bench/compare_llama_cpp.sh [model.gguf ...]     (default: bench models from make_models.sh + SmolLM2)
# Env: LLM_CACHE (default ~/.cache/llm), LLM_BUILD_DIR (default build-bench), REPS (5), THREADS (2), ROUNDS (1:
# engines alternate per model; more rounds interleave finer), PROMPT (512), GEN (128). On a machine shared with other
# jobs set OMP_WAIT_POLICY=passive: both engines use OpenMP, and spinning threads that lose their core stall every
# barrier (measured here under load: llama.cpp Q4_0 tg 0.5 t/s spinning vs 24 t/s passive; ours 2.5 vs 22).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${LLM_CACHE:-$HOME/.cache/llm}"
venv="$cache/venv-llama-cpp"
build="${LLM_BUILD_DIR:-$repo/build-bench}"
reps="${REPS:-5}" threads="${THREADS:-2}" rounds="${ROUNDS:-1}" prompt="${PROMPT:-512}" gen="${GEN:-128}"

# llama-cpp-python builds llama.cpp from source (takes a while on 2 cores); native CPU flags (AVX-512, VNNI, ...).
if ! "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
    echo "compare: installing llama-cpp-python into $venv (builds llama.cpp from source)" >&2
    python3 -m venv "$venv"
    CMAKE_ARGS="-DGGML_NATIVE=ON -DCMAKE_BUILD_TYPE=Release" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
        "$venv/bin/pip" install --quiet --no-cache-dir llama-cpp-python numpy >&2
fi
if [[ ! -x "$build/llm-bench" ]]; then
    cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    ninja -C "$build" -j2 llm-bench llm-quantize >&2
fi

models=("$@")
if [[ ${#models[@]} -eq 0 ]]; then
    "$repo/bench/make_models.sh" >&2
    for t in Q4_0 Q4_K_M Q8_0; do models+=("$cache/bench/tinyllama-1.1b-shape.$t.gguf"); done
    if [[ -x "$repo/scripts/fetch-smollm2.sh" ]] && smol="$("$repo/scripts/fetch-smollm2.sh")"; then
        models+=("$smol")
    else
        echo "compare: SmolLM2 not available (scripts/fetch-smollm2.sh failed); skipping it" >&2
    fi
fi

out="$cache/bench/compare-$(date -u +%Y%m%d-%H%M%S).jsonl"
mkdir -p "$(dirname "$out")"
echo "compare: results -> $out" >&2
# Measure the memory bandwidth once, so every llm-bench run reports against the same figure.
membw="$("$build/llm-bench" -m "${models[0]}" -p 0 -n 1 -r 1 -t "$threads" -o json 2>/dev/null |
    "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)[0]["mem_bw_gbps"])')"
echo "compare: memory bandwidth ${membw} GB/s" >&2

run_llama_cpp() {
    "$venv/bin/python" "$repo/bench/llama_cpp_bench.py" -m "$1" -p "$prompt" -n "$gen" -r "$reps" -t "$threads" >>"$out"
}
run_llm() {
    "$build/llm-bench" -m "$1" -p "$prompt" -n "$gen" -r "$reps" -t "$threads" --mem-bw "$membw" -o jsonl |
        sed 's/^{/{"engine":"llm",/' >>"$out"
}
i=0
for ((round = 0; round < rounds; ++round)); do
    for m in "${models[@]}"; do
        # Alternate which engine goes first so neither always gets the cooler (or busier) slot.
        if (( (i++ + round) % 2 == 0 )); then run_llama_cpp "$m"; run_llm "$m"; else run_llm "$m"; run_llama_cpp "$m"; fi
    done
done

echo
echo "llama.cpp: $("$venv/bin/python" "$repo/bench/llama_cpp_bench.py" --version)"
echo "environment: OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset} (passive is far steadier when other processes share the cores)"
echo "commands: llm-bench -m MODEL -p $prompt -n $gen -r $reps -t $threads --mem-bw $membw -o jsonl;" \
    "llama_cpp_bench.py -m MODEL -p $prompt -n $gen -r $reps -t $threads"
echo
"$venv/bin/python" "$repo/bench/llama_cpp_bench.py" --summarize "$out"
