#!/usr/bin/env bash
# llm-bench's serving-engine test (-npp/-ntg/-npl) against llama.cpp's llama-batched-bench, per x86 ISA level, one
# interleaved run (issue 12's figure); then a markdown table per model and ISA: S_TG and S of both, and ours/theirs.
#   native: llama.cpp built with -DGGML_NATIVE=ON (build-native/) vs llm-bench with every kernel this CPU has
#   avx2:   llama.cpp built with AVX-512 off (build-avx2/)       vs llm-bench with LLM_CPU=avx2
# Per (rep, model, ISA) the engines run back to back, llama.cpp first on even steps and last on odd ones, so neither
# always gets the cooler (or busier) slot. Each run's user+system CPU seconds are recorded beside its wall time: on a
# loaded machine compare the CPU-time columns (aggregate tokens per CPU second), not the t/s.
#   bench/compare_batched.sh
# Env: REPS (1), THREADS (2), NPP (128), NTG (128), NPL (1,2,4,8,16), ISAS ("native avx2"), NUMERICS (invariant;
# comma-separated llm-bench modes, each its own run), FA (llama-batched-bench -fa: auto, its default, which is on for
# the CPU; off for its non-flash attention), MODELS (space-separated .gguf paths; default the TinyLlama-shape Q4_0
# and Q4_K_M of bench/make_models.sh), LLAMA_CPP_DIR (llama.cpp tree with build-native/ and build-avx2/),
# LLM_BUILD_DIR (folder with llm-bench; default build), LLM_CACHE (~/.cache/llm). Raw results go to
# $LLM_CACHE/bench/compare-batched-<time>/.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${LLM_CACHE:-$HOME/.cache/llm}"
llama_dir="${LLAMA_CPP_DIR:-$cache/src/llama_cpp_python-0.3.36/vendor/llama.cpp}"
build="${LLM_BUILD_DIR:-build}"
[[ "$build" = /* ]] || build="$repo/$build"
reps="${REPS:-1}" threads="${THREADS:-2}" npp="${NPP:-128}" ntg="${NTG:-128}" npl="${NPL:-1,2,4,8,16}" fa="${FA:-auto}"
read -r -a isas <<<"${ISAS:-native avx2}"
IFS=, read -r -a modes <<<"${NUMERICS:-invariant}"
for isa in "${isas[@]}"; do
    case "$isa" in native | avx2) ;; *) echo "compare_batched: unknown ISA '$isa' (native, avx2)" >&2; exit 1 ;; esac
    [[ -x "$llama_dir/build-$isa/bin/llama-batched-bench" ]] || {
        echo "compare_batched: $llama_dir/build-$isa/bin/llama-batched-bench is missing (see bench/compare_isa.sh" \
            "for the CMake options; then ninja -C $llama_dir/build-$isa llama-batched-bench)" >&2; exit 1; }
done
[[ -x "$build/llm-bench" ]] || { echo "compare_batched: no $build/llm-bench (cmake --build $build --target llm-bench)" >&2; exit 1; }
if [[ -n "${MODELS:-}" ]]; then
    read -r -a models <<<"$MODELS"
else
    models=("$cache/bench/tinyllama-1.1b-shape.Q4_0.gguf" "$cache/bench/tinyllama-1.1b-shape.Q4_K_M.gguf")
fi
for m in "${models[@]}"; do [[ -f "$m" ]] || { echo "compare_batched: no such model: $m (bench/make_models.sh)" >&2; exit 1; }; done

out="$cache/bench/compare-batched-$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$out"
echo "compare_batched: raw results -> $out" >&2
{ grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'; uptime; } >"$out/machine.txt"

# One engine run: jsonl rows to $out/<n>.jsonl, stderr to .log, "user sys wall" seconds to .time; manifest line
# (model, isa, engine, file base).
n=0
run() { # engine(llama.cpp | mode) isa model
    local engine=$1 isa=$2 model=$3 base="$out/$n"
    n=$((n + 1))
    local -a cmd
    if [[ $engine == llama.cpp ]]; then
        cmd=(env -u LLM_CPU "$llama_dir/build-$isa/bin/llama-batched-bench" -m "$model" -c 4096 -b 2048 -ub 512
             -npp "$npp" -ntg "$ntg" -npl "$npl" -t "$threads" -fa "$fa" --output-format jsonl)
    else
        local -a cpu=(env -u LLM_CPU)
        [[ $isa == native ]] || cpu=(env "LLM_CPU=$isa")
        cmd=("${cpu[@]}" "$build/llm-bench" -m "$model" -npp "$npp" -ntg "$ntg" -npl "$npl" -t "$threads"
             --numerics "$engine" -o jsonl)
    fi
    printf '%s\t%s\t%s\t%s\n' "$model" "$isa" "$engine" "$base" >>"$out/manifest.tsv"
    echo "compare_batched: [$isa] $engine $(basename "$model")" >&2
    if ! /usr/bin/time -f '%U %S %e' -o "$base.time" "${cmd[@]}" >"$base.out" 2>"$base.log"; then
        echo "compare_batched: FAILED: ${cmd[*]} (see $base.log)" >&2
    fi
    grep '^{' "$base.out" >"$base.jsonl" || true
}

step=0
for ((r = 0; r < reps; ++r)); do
    for model in "${models[@]}"; do
        for isa in "${isas[@]}"; do
            if ((step % 2 == 0)); then run llama.cpp "$isa" "$model"; fi
            for mode in "${modes[@]}"; do run "$mode" "$isa" "$model"; done
            if ((step % 2 == 1)); then run llama.cpp "$isa" "$model"; fi
            step=$((step + 1))
        done
    done
done

python3 - "$out" <<'PY'
import collections, json, os, statistics, sys
out = sys.argv[1]
rows = collections.defaultdict(list)   # (model, isa, engine, pl) -> [(speed_tg, speed)]
cpu = collections.defaultdict(list)    # (model, isa, engine) -> [cpu seconds / wall seconds]
for line in open(os.path.join(out, "manifest.tsv")):
    model, isa, engine, base = line.rstrip("\n").split("\t")
    model = os.path.basename(model)
    try:
        u, s, e = open(base + ".time").read().split()[-3:]
        cpu[(model, isa, engine)].append((float(u) + float(s), float(e)))
    except (OSError, ValueError):
        pass
    for l in open(base + ".jsonl"):
        j = json.loads(l)
        rows[(model, isa, engine, int(j["pl"]))].append((float(j["speed_tg"]), float(j["speed"])))
med = lambda v: statistics.median(v) if v else float("nan")
print(open(os.path.join(out, "machine.txt")).read().strip())
keys = sorted({(m, i) for (m, i, _, _) in rows})
for model, isa in keys:
    engines = sorted({e for (m, i, e, _) in rows if (m, i) == (model, isa)}, key=lambda e: (e != "llama.cpp", e))
    ours = [e for e in engines if e != "llama.cpp"]
    print(f"\n{model}, {isa}: S_TG / S in t/s (median of runs), ours / llama.cpp")
    head = "| npl | llama.cpp S_TG | llama.cpp S |" + "".join(f" {e} S_TG | {e} S | S_TG ratio | S ratio |" for e in ours)
    print(head)
    print("|" + "---:|" * (head.count("|") - 1))
    for pl in sorted({p for (m, i, _, p) in rows if (m, i) == (model, isa)}):
        ref = rows.get((model, isa, "llama.cpp", pl), [])
        rtg, rs = med([x[0] for x in ref]), med([x[1] for x in ref])
        line = f"| {pl} | {rtg:.1f} | {rs:.1f} |"
        for e in ours:
            v = rows.get((model, isa, e, pl), [])
            tg, s = med([x[0] for x in v]), med([x[1] for x in v])
            line += f" {tg:.1f} | {s:.1f} | {tg / rtg:.2f} | {s / rs:.2f} |"
        print(line)
    for e in engines:
        c = cpu.get((model, isa, e), [])
        if c:
            print(f"  {e}: CPU {sum(x[0] for x in c):.1f} s over {sum(x[1] for x in c):.1f} s wall")
PY
