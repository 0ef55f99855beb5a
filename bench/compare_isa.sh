#!/usr/bin/env bash
# llm-bench vs llama.cpp's own llama-bench, per x86 ISA level, pp512 and tg128, one interleaved run; then a markdown
# table (model, ISA, test, llama.cpp t/s, ours t/s, ratio) with the CPU model and both versions.
#   native: llama.cpp built with -DGGML_NATIVE=ON (build-native/) vs llm-bench with every kernel this CPU has
#   avx2:   llama.cpp built with AVX-512 off (build-avx2/)       vs llm-bench with LLM_CPU=avx2
# For each model and ISA both engines run back to back; which one goes first alternates from one (model, ISA) to the
# next, so neither always gets the cooler (or busier) slot. Flash attention off in both (llama-bench -fa 0; its
# default, auto, turns it on for the CPU). Ours runs in NUMERICS (default: llm-bench's, invariant; exact = llama.cpp's
# arithmetic, non-flash attention included).
#   bench/compare_isa.sh
# Env: REPS (5), THREADS (2), PROMPT (512), GEN (128), ISAS ("native avx2"), NUMERICS (invariant, exact or fast), MODELS (space-separated .gguf paths;
# default: the bench/make_models.sh models + SmolLM2-135M Q4_1), LLAMA_CPP_DIR (llama.cpp source tree holding
# build-native/ and build-avx2/), LLM_BUILD_DIR (build folder with llm-bench; default build-bench), LLM_CACHE
# (~/.cache/llm). On a machine shared with other jobs set OMP_WAIT_POLICY=passive (see compare_llama_cpp.sh).
# Raw JSON of every run goes to $LLM_CACHE/bench/compare-isa-<time>/.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${LLM_CACHE:-$HOME/.cache/llm}"
llama_dir="${LLAMA_CPP_DIR:-$cache/src/llama_cpp_python-0.3.36/vendor/llama.cpp}"
build="${LLM_BUILD_DIR:-build-bench}"
[[ "$build" = /* ]] || build="$repo/$build"
reps="${REPS:-5}" threads="${THREADS:-2}" prompt="${PROMPT:-512}" gen="${GEN:-128}"
numerics="${NUMERICS:-invariant}"
read -r -a isas <<<"${ISAS:-native avx2}"

for isa in "${isas[@]}"; do
    case "$isa" in native | avx2) ;; *) echo "compare_isa: unknown ISA '$isa' (native, avx2)" >&2; exit 1 ;; esac
    if [[ ! -x "$llama_dir/build-$isa/bin/llama-bench" ]]; then
        echo "compare_isa: $llama_dir/build-$isa/bin/llama-bench is missing; build it with" >&2
        echo "  cmake -S $llama_dir -B $llama_dir/build-$isa -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON" \
            "-DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
            "-DLLAMA_BUILD_SERVER=OFF and, for native, -DGGML_NATIVE=ON; for avx2, -DGGML_NATIVE=OFF -DGGML_AVX=ON" \
            "-DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF;" \
            "then ninja -C $llama_dir/build-$isa -j2 llama-bench" >&2
        exit 1
    fi
done
# Always bring llm-bench up to date with the working tree (a no-op when it is), so no stale binary gets measured.
[[ -f "$build/build.ninja" ]] || cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build" -j2 llm-bench llm-quantize >&2

if [[ -n "${MODELS:-}" ]]; then
    read -r -a models <<<"$MODELS"
else
    models=()
    for t in Q4_0 Q4_K_M Q8_0 F16; do models+=("$cache/bench/tinyllama-1.1b-shape.$t.gguf"); done
    for t in Q4_0 Q4_K_M; do models+=("$cache/bench/phi3-mini-4k-shape.$t.gguf"); done
    for m in "${models[@]}"; do
        [[ -f "$m" ]] || { LLM_BUILD_DIR="$build" "$repo/bench/make_models.sh" >&2; break; }
    done
    models+=("$("$repo/scripts/fetch-smollm2.sh")")
fi
for m in "${models[@]}"; do [[ -f "$m" ]] || { echo "compare_isa: no such model: $m" >&2; exit 1; }; done

out="$cache/bench/compare-isa-$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$out"
echo "compare_isa: raw results -> $out" >&2
# Measure the memory bandwidth once, so every llm-bench run reports against the same figure (not used in the table;
# 0: each run measures its own).
membw="$(cd "$repo" && "$build/llm-bench" -m "${models[0]}" -p 0 -n 1 -r 1 -t "$threads" -o json 2>/dev/null |
    python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)[0]["mem_bw_gbps"])' 2>/dev/null)" || membw=0

# One engine on one (model, ISA): JSON array to $out/<n>.<engine>.json, stderr to .log; a failure is reported
# and recorded (the table shows "failed"), the run goes on.
run() { # engine isa model n
    local engine=$1 isa=$2 model=$3 base="$out/$4.$1"
    local -a cmd
    if [[ $engine == llama.cpp ]]; then
        cmd=(env -u LLM_CPU "$llama_dir/build-$isa/bin/llama-bench" -m "$model" -t "$threads" -p "$prompt" -n "$gen"
             -r "$reps" -fa 0 -o json)
    else
        local -a cpu=(env -u LLM_CPU)
        [[ $isa == native ]] || cpu=(env "LLM_CPU=$isa")
        cmd=("${cpu[@]}" "$build/llm-bench" -m "$model" -t "$threads" -p "$prompt" -n "$gen" -r "$reps"
             --numerics "$numerics" --mem-bw "$membw" -o json)
    fi
    printf '%s\t%s\t%s\t%s\n' "$model" "$isa" "$engine" "$base.json" >>"$out/manifest.tsv"
    echo "compare_isa: [$isa] $engine $(basename "$model")" >&2
    if ! (cd "$repo" && "${cmd[@]}") >"$base.json" 2>"$base.log"; then
        echo "compare_isa: FAILED: ${cmd[*]} (see $base.log)" >&2
        rm -f "$base.json"
    fi
}
n=0
for ((mi = 0; mi < ${#models[@]}; ++mi)); do
    for ((ii = 0; ii < ${#isas[@]}; ++ii)); do
        m="${models[mi]}" isa="${isas[ii]}"
        if (((mi + ii) % 2 == 0)); then run llama.cpp "$isa" "$m" $n; run ours "$isa" "$m" $n
        else run ours "$isa" "$m" $n; run llama.cpp "$isa" "$m" $n; fi
        n=$((n + 1))
    done
done

ours_version="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git -C "$repo" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null || true)"
[[ -z "$dirty" ]] || ours_version+=" (uncommitted changes)"
echo
echo "CPU: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) logical CPUs"
echo "ours: llm-bench $ours_version ($build)"
echo "environment: OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}; $threads threads; $reps repetitions after a warm-up"
echo "commands: llama-bench -m MODEL -t $threads -p $prompt -n $gen -r $reps -fa 0 -o json;" \
    "[LLM_CPU=avx2] llm-bench -m MODEL -t $threads -p $prompt -n $gen -r $reps --numerics $numerics --mem-bw $membw -o json"
python3 - "$out/manifest.tsv" "$llama_dir" <<'EOF'
import json, os, sys
manifest, llama_dir = sys.argv[1], sys.argv[2]
rows, order, builds, our_isa = {}, [], {}, {}
for line in open(manifest):
    model, isa, engine, path = line.rstrip("\n").split("\t")
    key = (os.path.basename(model), isa)
    if key not in order:
        order.append(key)
    try:
        records = json.load(open(path))
    except (OSError, ValueError):
        continue  # failed run: shown as "failed"
    for r in records:
        test = f"pp{r['n_prompt']}" if r["n_prompt"] else f"tg{r['n_gen']}"
        rows.setdefault(key, {}).setdefault(test, {})[engine] = r
        if engine == "llama.cpp":
            builds[isa] = f"{r['build_commit']} (build {r['build_number']})"
        else:
            our_isa[isa] = r.get("isa", "?")
for isa, b in sorted(builds.items()):
    print(f"llama.cpp [{isa}]: llama-bench {b}, {llama_dir}/build-{isa}; ours [{isa}] ran {our_isa.get(isa, '?')} kernels")
print()
print("| model | ISA | test | llama.cpp t/s | ours t/s | ours / llama.cpp |")
print("| --- | --- | --- | ---: | ---: | ---: |")
fmt = lambda r: f"{r['avg_ts']:.2f} ± {r['stddev_ts']:.2f}" if r else "failed"
for key in order:
    tests = rows.get(key) or {"-": {}}
    for test in sorted(tests, key=lambda t: (not t.startswith("pp"), t)):
        a, b = tests[test].get("llama.cpp"), tests[test].get("ours")
        ratio = f"{b['avg_ts'] / a['avg_ts']:.2f}" if a and b and a["avg_ts"] > 0 else "-"
        print(f"| {key[0]} | {key[1]} | {test} | {fmt(a)} | {fmt(b)} | {ratio} |")
EOF
