#!/usr/bin/env bash
# The long test tier: what does not fit in scripts/test.sh's 30 minutes. Each stage prints its run time; the
# summary goes to build-long/report.txt (quote it in an issue's closing note: "the long tier passed, N min").
#   asan   the whole suite (every ctest test, Vulkan on lavapipe included) under AddressSanitizer + UBSan, leaks
#          checked (build-asan/, gcc; system-library leaks in tests/sanitizers/lsan.supp)
#   tsan   the engine and server suites (test_engine, test_server: concurrent submissions, cancellation,
#          disconnects) under ThreadSanitizer (build-tsan/, clang). OpenMP: LLVM's libomp with its Archer tool
#          (OMP_TOOL_LIBRARIES), so TSan understands OpenMP's barriers and the kernels stay multi-threaded.
#          TSAN_TESTS="test_x test_y" picks other suites.
#   fuzz   every fuzz target for FUZZ_SECONDS (default 1800: 30 CPU-minutes each), FUZZ_JOBS at once
#   schemas the validity run of issue 15 on the whole schema set (255 schemas x greedy and seeded, SmolLM2, 512
#          new tokens, 16 runs at once through the serving engine; about 13 min on 2 cores): every output that
#          ended must validate with Python's jsonschema, every cut one must be a JSON prefix; the ended share goes to the report (bench/schema_validity_run.sh); and
#          SmolLM2's forced tool calls on all 50 prompts (the test command runs every 5th)
#   server the server suites (ctest -L server) with LLM_TEST_LONG=1: the tests kept out of the test command's budget
#          (Claude Code's recorded requests replayed, Claude Code-like turns on its real system prompt, the stop's
#          drain, second signal and --shutdown-timeout on SmolLM2) and a 60 s smoke soak inside the conformance run
#   soak   the server soak (scripts/soak.sh, with the server issues) when it exists
#   arm64  the ARM64 emulated run (scripts/test-arm64.sh) when it exists
#   noomp  the build without OpenMP (-DLLM_OPENMP=OFF, what a compiler without it, such as Apple's clang, builds;
#          build-noomp/): the CPU kernels' and the models' suites, every parallel region on one thread
#   claude the real Claude Code CLI against llm-serve on SmolLM2 (8k context), then on Gemma 3 270M with a 32k
#          context (its prompt with tools fits; a base model that does not stop writes CLAUDE_CODE_MAX_OUTPUT_TOKENS)
#   scripts/test-long.sh                 every stage
#   scripts/test-long.sh asan tsan       some stages
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
venv_bin="${LLM_CACHE:-$HOME/.cache/llm}/venv-test/bin"
[[ -x "$venv_bin/python3" ]] && export PATH="$venv_bin:$PATH"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
stages=("$@")
((${#stages[@]})) || stages=(asan tsan fuzz schemas server soak arm64 noomp claude)
mkdir -p build-long
report=build-long/report.txt
echo "== $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null) on $(nproc) cores: ${stages[*]}" >>"$report"
status=0

record() {  # stage, start, result
  local line
  line=$(printf '%-6s %-7s %5d min %02d s' "$1" "$3" $(((SECONDS - $2) / 60)) $(((SECONDS - $2) % 60)))
  echo "==> $line"
  echo "$line" >>"$report"
  [[ $3 == passed || $3 == skipped ]] || status=1
}

# Targets of the Release build in build/ (scripts/test.sh's), configured first when this checkout has none yet.
release_build() {
  { [[ -f build/build.ninja ]] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null; } &&
    cmake --build build -j"$jobs" --target "$@"
}

stage_asan() {
  local t0=$SECONDS rc=0
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLM_SANITIZE=ON "${launcher[@]}" >/dev/null &&
    cmake --build build-asan -j"$jobs" || { record asan $t0 "build-failed"; return; }
  # Sanitized code runs 2-5x slower: a longer per-test timeout than the main suite's.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1 \
  LSAN_OPTIONS=suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" --timeout 3600 | tee build-long/asan-ctest.txt || rc=1
  record asan $t0 "$( ((rc)) && echo failed || echo passed)"
}

stage_tsan() {
  local t0=$SECONDS rc=0
  if ! command -v clang++ >/dev/null; then record tsan $t0 skipped; echo "tsan: no clang++"; return; fi
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLM_TSAN=ON -DLLM_VULKAN=OFF \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" >/dev/null || { record tsan $t0 build-failed; return; }
  local wanted=(${TSAN_TESTS:-test_engine test_server}) present=()
  for t in "${wanted[@]}"; do
    compgen -G "tests/${t#test_}/*_test.cpp" >/dev/null && present+=("$t")
  done
  if ((${#present[@]} == 0)); then
    echo "tsan: none of ${wanted[*]} exists yet"
    record tsan $t0 skipped
    return
  fi
  cmake --build build-tsan -j"$jobs" --target "${present[@]}" || { record tsan $t0 build-failed; return; }
  local archer
  archer=$(ls /usr/lib/llvm-*/lib/libarcher.so 2>/dev/null | sort -V | tail -1)
  [[ -z $archer ]] && echo "tsan: libarcher.so not found (Debian: libomp-dev); OpenMP regions may report false races"
  for t in "${present[@]}"; do
    echo "==> $t under ThreadSanitizer"
    OMP_TOOL_LIBRARIES=$archer OMP_WAIT_POLICY=passive \
    TSAN_OPTIONS="ignore_noninstrumented_modules=1:halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/sanitizers/tsan.supp" \
      ./build-tsan/"$t" --gtest_brief=1 || rc=1
  done
  record tsan $t0 "$( ((rc)) && echo failed || echo passed)"
}

stage_fuzz() {
  local t0=$SECONDS rc=0
  FUZZ_SECONDS=${FUZZ_SECONDS:-1800} FUZZ_JOBS=${FUZZ_JOBS:-$jobs} scripts/fuzz.sh || rc=1
  cat build-fuzz/fuzz-report.txt 2>/dev/null | tail -n 20 >>"$report"
  record fuzz $t0 "$( ((rc)) && echo failed || echo passed)"
}

stage_schemas() {
  local t0=$SECONDS rc=0 tools_rc=0
  release_build schema_validity test_constrain || { record schemas $t0 build-failed; return; }
  LLM_TOOL_PROMPTS_EVERY=1 OMP_WAIT_POLICY=passive build/test_constrain --gtest_filter='ToolModel.*' || tools_rc=1
  bench/schema_validity_run.sh build build-long/schema_validity.jsonl --every 1 --threads 2 --parallel 16 \
    | tee build-long/schemas.txt
  rc=${PIPESTATUS[0]}
  grep -E '^(schemas|greedy|seeded|ended)' build-long/schemas.txt >>"$report"
  ((tools_rc)) && { echo "schemas: forced tool calls on the 50 prompts failed" | tee -a "$report"; rc=1; }
  record schemas $t0 "$( ((rc == 77)) && echo skipped || { ((rc)) && echo failed || echo passed; })"
}

stage_server() {
  local t0=$SECONDS rc=0
  release_build llm-serve llm-run test_server || { record server $t0 build-failed; return; }
  LLM_TEST_LONG=1 LLM_SOAK_S=60 ctest --test-dir build -L server --output-on-failure -j"$jobs" --timeout 1800 || rc=1
  record server $t0 "$( ((rc)) && echo failed || echo passed)"
}

stage_hook() {  # soak / arm64: scripts that later issues add
  local t0=$SECONDS rc=0 script=$2
  if [[ ! -x $script ]]; then echo "$1: $script does not exist yet"; record "$1" $t0 skipped; return; fi
  "$script" || rc=1
  record "$1" $t0 "$( ((rc)) && echo failed || echo passed)"
}

stage_noomp() {
  local t0=$SECONDS rc=0
  cmake -S . -B build-noomp -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLM_OPENMP=OFF -DLLM_VULKAN=OFF "${launcher[@]}" \
    >/dev/null && cmake --build build-noomp -j"$jobs" --target test_cpu test_models llm-run ||
    { record noomp $t0 build-failed; return; }
  build-noomp/llm-run --list-devices | head -1
  for t in test_cpu test_models; do build-noomp/$t --gtest_brief=1 || rc=1; done
  record noomp $t0 "$( ((rc)) && echo failed || echo passed)"
}

stage_claude() {
  local t0=$SECONDS rc=0 gemma
  gemma=$(scripts/fetch-gemma3.sh) && scripts/fetch-claude-code.sh >/dev/null &&
    release_build llm-serve || { record claude $t0 build-failed; return; }
  # SmolLM2 with an 8k context (what ctest's server.claude_code ran before it moved here), then Gemma 3 with 32k.
  OMP_WAIT_POLICY=passive python3 tests/server/claude_code_e2e.py --serve build/llm-serve || rc=$?
  ((rc == 0 || rc == 77)) && { OMP_WAIT_POLICY=passive python3 tests/server/claude_code_e2e.py --serve build/llm-serve \
    --model "$gemma" --ctx 32768 --max-output 64 --timeout 3600 || rc=$?; }
  record claude $t0 "$( ((rc == 77)) && echo skipped || { ((rc)) && echo failed || echo passed; })"
}

for s in "${stages[@]}"; do
  case $s in
    asan) stage_asan ;;
    tsan) stage_tsan ;;
    fuzz) stage_fuzz ;;
    schemas) stage_schemas ;;
    server) stage_server ;;
    soak) stage_hook soak scripts/soak.sh ;;
    arm64) stage_hook arm64 scripts/test-arm64.sh ;;
    noomp) stage_noomp ;;
    claude) stage_claude ;;
    *) echo "test-long.sh: unknown stage '$s' (asan tsan fuzz schemas server soak arm64 noomp claude)" >&2; exit 2 ;;
  esac
done
echo "==> long tier $( ((status)) && echo FAILED || echo passed) (report: $report)"
exit $status
