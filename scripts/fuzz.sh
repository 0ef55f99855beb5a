#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz/: clang, ASan + UBSan, leak detection) and runs each on a working copy of
# its seed corpus (tests/fuzz/corpus/<target>, and build-fuzz/seeds/<target> made by tests/fuzz/make_seeds.py) plus its regression inputs (tests/fuzz/regressions/<target>), then
# prints one line per target: seconds, executions, coverage, corpus size and crashes. Crash inputs land in
# build-fuzz/crashes/<target>/: add each to tests/fuzz/regressions/<target>/ with its fix.
#   scripts/fuzz.sh                       every target for FUZZ_SECONDS of CPU time (default 1800 = 30 CPU-minutes) each
#   FUZZ_SECONDS=20 scripts/fuzz.sh gguf  one target, 20 s
#   scripts/fuzz.sh --regress             only replay the seeds and regression inputs (no fuzzing)
#   scripts/fuzz.sh --merge gguf          after a run: merge what it found, minimized, into the seed corpus
# FUZZ_JOBS (default 1) targets run at once. Figures go to build-fuzz/fuzz-report.txt too.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=fuzz
if [[ "${1:-}" == --regress ]]; then mode=regress; shift; fi
if [[ "${1:-}" == --merge ]]; then mode=merge; shift; fi
seconds=${FUZZ_SECONDS:-1800}
jobs=${FUZZ_JOBS:-1}

all=()
for f in tests/fuzz/fuzz_*.cpp; do n=$(basename "$f" .cpp); all+=("${n#fuzz_}"); done
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ -f tests/fuzz/fuzz_$t.cpp ]] || { echo "fuzz.sh: no target '$t' (known: ${all[*]})" >&2; exit 2; }
done

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found (Debian: apt-get install clang libclang-rt-dev)" >&2
  exit 2
fi
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLM_FUZZ=ON -DLLM_BUILD_TESTS=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

# The GGUF and safetensors seeds are made here, not kept in the repository (tests/fuzz/make_seeds.py).
python3 tests/fuzz/make_seeds.py --generated build-fuzz/seeds
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The tokenizer target reads the fixture vocabularies.
export LLM_FIXTURES=${LLM_FIXTURES:-$(cd .. && pwd)/shared/fixtures}

dict_for() {  # the dictionary of a target, if any
  case $1 in
    chat_template) echo tests/fuzz/fuzz_chat_template.dict ;;
    hf_config|safetensors_index|tokenizer_files|hub|safetensors|tool_parser) echo tests/fuzz/json.dict ;;
    json_schema) echo tests/fuzz/json_schema.dict ;;
    server_request) echo tests/fuzz/server_request.dict ;;
  esac
}

run_one() {
  local t=$1 corpus=build-fuzz/corpus/$t crashes=build-fuzz/crashes/$t log=build-fuzz/logs/$t.log
  mkdir -p "$corpus" "$crashes" build-fuzz/logs
  local dict args=(-rss_limit_mb=2048 -timeout=20 -max_len=16384 -print_final_stats=1 -artifact_prefix="$crashes/")
  dict=$(dict_for "$t")
  [[ -n $dict ]] && args+=(-dict="$dict")
  local inputs=()
  [[ -d tests/fuzz/corpus/$t ]] && inputs+=(tests/fuzz/corpus/"$t"/*)
  [[ -d build-fuzz/seeds/$t ]] && inputs+=(build-fuzz/seeds/"$t"/*)
  [[ -d tests/fuzz/regressions/$t ]] && inputs+=(tests/fuzz/regressions/"$t"/*)
  local start=$SECONDS rc=0
  if [[ $mode == regress ]]; then
    # Each input once: a crash, leak, sanitizer report or timeout fails.
    ((${#inputs[@]})) || { echo "$t: no inputs"; return 0; }
    ./build-fuzz/fuzz_"$t" "${args[@]}" -runs=1 "${inputs[@]}" >"$log" 2>&1 || rc=$?
    if ((rc)); then echo "$t: FAILED on a seed or regression input (log: $log)"; tail -30 "$log"; return 1; fi
    echo "$t: ${#inputs[@]} inputs replayed, ok"
    return 0
  fi
  ((${#inputs[@]})) && cp -n "${inputs[@]}" "$corpus"/ 2>/dev/null || true
  # FUZZ_SECONDS is CPU time: libFuzzer's -max_total_time counts wall time, so on a shared machine the target runs
  # again on its grown corpus until its user + system time reaches it (or it finds a crash).
  local cpu_ms=0 used TIMEFORMAT='%3U %3S' times_file=build-fuzz/logs/$t.times
  : >"$log"
  while ((rc == 0 && cpu_ms < seconds * 1000)); do
    local left=$(((seconds * 1000 - cpu_ms + 999) / 1000))
    { time ./build-fuzz/fuzz_"$t" "${args[@]}" -max_total_time="$left" "$corpus" >>"$log" 2>&1; } 2>"$times_file" || rc=$?
    used=$(awk '{printf "%d", ($1 + $2) * 1000}' "$times_file")
    cpu_ms=$((cpu_ms + used))
    ((used > 0)) || break
  done
  local execs cov ft size n_crash
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{n += $2} END {print n}')
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  ft=$(grep -Eo 'ft: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  size=$(find "$corpus" -type f | wc -l)
  n_crash=$(find "$crashes" -type f | wc -l)
  printf '%-18s %6ss wall %6ss cpu %12s execs  cov %6s  ft %7s  corpus %6s  crashes %s%s\n' "$t" $((SECONDS - start)) \
    $((cpu_ms / 1000)) "${execs:-?}" "${cov:-?}" "${ft:-?}" "$size" "$n_crash" "$( ((rc)) && echo "  (exit $rc, log: $log)")" \
    | tee -a build-fuzz/fuzz-report.txt
  return $rc
}

if [[ $mode == merge ]]; then
  for t in "${targets[@]}"; do
    mkdir -p tests/fuzz/corpus/"$t"
    ./build-fuzz/fuzz_"$t" -merge=1 -max_len=16384 tests/fuzz/corpus/"$t" build-fuzz/corpus/"$t"
  done
  exit 0
fi

[[ $mode == fuzz ]] && echo "== $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null) ${seconds}s per target" \
  >>build-fuzz/fuzz-report.txt
status=0
if ((jobs > 1)); then
  pids=()
  for t in "${targets[@]}"; do
    run_one "$t" & pids+=($!)
    while (($(jobs -rp | wc -l) >= jobs)); do wait -n || status=1; done
  done
  wait || status=1
else
  for t in "${targets[@]}"; do run_one "$t" || status=1; done
fi
exit $status
