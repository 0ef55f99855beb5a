#!/usr/bin/env bash
# Time to first token of one long prompt (default 16384 tokens on Gemma 3 270M, issue 17): llm-bench against
# llama.cpp's llama-bench on the same model, threads and machine, runs interleaved (the engines alternate who goes
# first each round), then the median time per engine and the ratio ours / llama.cpp (below 1: ours is faster).
#   bench/long_prompt_ttft.sh [model.gguf]      (default: scripts/fetch-gemma3.sh's Gemma 3 270M Q4_K_M)
# Env: PROMPT (16384), ROUNDS (1), THREADS (2), NUMERICS (llm-bench modes, space-separated: "invariant exact";
# invariant is llm-serve's default, exact llm-run's), FA (llama-bench -fa: auto, the default, picks flash attention
# on the CPU), LLM_BUILD_DIR (build), LLAMA_BENCH (default: build-native of the llama.cpp sources under
# $LLM_CACHE/src). No warm-up runs: one 16k prompt is minutes on 2 cores. Set OMP_WAIT_POLICY=passive on a shared
# machine (both engines use OpenMP); the script does.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${LLM_CACHE:-$HOME/.cache/llm}"
build="${LLM_BUILD_DIR:-$repo/build}"
prompt="${PROMPT:-16384}" rounds="${ROUNDS:-1}" threads="${THREADS:-2}" fa="${FA:-auto}"
read -r -a modes <<<"${NUMERICS:-invariant exact}"
lbench="${LLAMA_BENCH:-$(ls -d "$cache"/src/llama_cpp_python-*/vendor/llama.cpp/build-native/bin/llama-bench 2>/dev/null | tail -1)}"
[[ -x "$lbench" ]] || { echo "long_prompt_ttft: no llama-bench (set LLAMA_BENCH)" >&2; exit 1; }
[[ -x "$build/llm-bench" ]] || { echo "long_prompt_ttft: no $build/llm-bench (build it or set LLM_BUILD_DIR)" >&2; exit 1; }
model="${1:-$("$repo/scripts/fetch-gemma3.sh")}"
export OMP_WAIT_POLICY=passive

out="$cache/bench/long-prompt-$(date -u +%Y%m%d-%H%M%S).jsonl"
mkdir -p "$(dirname "$out")"
echo "long_prompt_ttft: $model, $prompt tokens, $threads threads, $rounds round(s); results -> $out" >&2
echo "long_prompt_ttft: load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

run_llama() {
    "$lbench" -m "$model" -p "$prompt" -n 0 -r 1 -t "$threads" -fa "$fa" --no-warmup -o jsonl |
        sed 's/^{/{"engine":"llama.cpp",/' >>"$out"
}
run_ours() {
    "$build/llm-bench" -m "$model" -p "$prompt" -n 0 -r 1 -t "$threads" --numerics "$1" --no-warmup --mem-bw 1 \
        -o jsonl 2>/dev/null | sed 's/^{/{"engine":"llm",/' >>"$out"
}
for ((round = 0; round < rounds; ++round)); do
    if ((round % 2 == 0)); then run_llama; for m in "${modes[@]}"; do run_ours "$m"; done
    else for m in "${modes[@]}"; do run_ours "$m"; done; run_llama; fi
    echo "long_prompt_ttft: round $((round + 1)) done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done

python3 - "$out" "$prompt" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    key = "llama.cpp (fa %s)" % r.get("flash_attn", r.get("fa", "?")) if r["engine"] == "llama.cpp" else "llm " + r["numerics"]
    by.setdefault(key, []).append(r["avg_ns"] / 1e9)
ref = next((statistics.median(v) for k, v in by.items() if k.startswith("llama.cpp")), None)
print(f"| engine | runs | time to first token, {sys.argv[2]} tokens (median s) | tokens/s | / llama.cpp |")
print("| --- | ---: | ---: | ---: | ---: |")
for k, v in by.items():
    t = statistics.median(v)
    print(f"| {k} | {len(v)} | {t:.1f} | {int(sys.argv[2]) / t:.1f} | {t / ref:.2f}x |" if ref else f"| {k} | {len(v)} | {t:.1f} | | |")
EOF
echo "long_prompt_ttft: load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
