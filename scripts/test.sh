#!/usr/bin/env bash
# The test command (CI runs it after scripts/setup.sh on a clean 2-core machine; it must stay under 30 minutes).
# Stages, each with a time budget in tests/budgets.txt next to the per-suite budgets:
#   asan  the parsers of untrusted input under AddressSanitizer + UBSan (build-asan/, gcc)
#   fuzz  every libFuzzer target: its seeds and regression inputs replayed, then FUZZ_SECONDS (15) of fuzzing each
#         (build-fuzz/, clang; skipped with a note when clang++ is missing)
#   main  the whole suite with ctest (build/); each suite's time is ctest's label time summary
# A stage or suite over its budget is reported by name (LLM_BUDGETS_STRICT=1 makes that fail the command): move the
# suite to scripts/test-long.sh rather than raise the limit.
#   scripts/test.sh               everything
#   SKIP_ASAN=1 SKIP_FUZZ=1 scripts/test.sh   only the main suite
# The long tier (whole suite under ASan + UBSan, TSan, long fuzz runs): scripts/test-long.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
# The tests' `python3` is the virtual environment of scripts/setup-python.sh when it exists (the official SDKs,
# jsonschema, jinja2, huggingface_hub); tests that need a missing package skip and say so.
venv_bin="${LLM_CACHE:-$HOME/.cache/llm}/venv-test/bin"
[[ -x "$venv_bin/python3" ]] && export PATH="$venv_bin:$PATH"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)

declare -A took  # stage -> seconds
stage_start=0
begin() { echo "==> $1"; stage_start=$SECONDS; }
end() { took[$1]=$((SECONDS - stage_start)); echo "==> $1: ${took[$1]} s"; }

if [[ "${SKIP_ASAN:-0}" != 1 ]]; then
  begin "asan: parsers under ASan/UBSan (build-asan/, -DLLM_SANITIZE=ON)"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLM_SANITIZE=ON "${launcher[@]}" >/dev/null
  targets=()
  # hub (cheap now: llm-pull and llm-models link only llm_hub) joins once it has passed under ASan: test-long.sh runs it.
  for area in formats tokenizer chat quant; do
    compgen -G "tests/$area/*_test.cpp" >/dev/null && targets+=("test_$area")
  done
  cmake --build build-asan -j"$jobs" --target "${targets[@]}"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  for t in "${targets[@]}"; do
    echo "==> $t under ASan/UBSan"
    ./build-asan/"$t" --gtest_brief=1
  done
  unset ASAN_OPTIONS UBSAN_OPTIONS
  end asan
fi

if [[ "${SKIP_FUZZ:-0}" != 1 ]]; then
  if command -v clang++ >/dev/null; then
    begin "fuzz: seeds and regression inputs, then ${FUZZ_SECONDS:-15} s of each target (build-fuzz/)"
    scripts/fuzz.sh --regress
    FUZZ_SECONDS=${FUZZ_SECONDS:-15} scripts/fuzz.sh
    end fuzz
  else
    echo "==> fuzz: skipped (no clang++; scripts/setup.sh installs clang and libclang-rt-dev)"
  fi
fi

begin "main suite (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build build -j"$jobs"
status=0
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 900 | tee build/ctest-summary.txt || status=1
end main

# Budgets: stages by wall time, suites by ctest's "Label Time Summary" (seconds of test time summed over the
# suite's tests, as ctest reports them).
over=()
while read -r name budget _; do
  [[ -z $name || $name == \#* ]] && continue
  case $name in
    stage:*)
      s=${name#stage:}
      [[ -n ${took[$s]:-} ]] && ((took[$s] > budget)) && over+=("stage $s: ${took[$s]} s > $budget s")
      ;;
    *)
      t=$(awk -v l="$name" '$1 == l && $2 == "=" {print int($3 + 0.5)}' build/ctest-summary.txt)
      [[ -n $t ]] && ((t > budget)) && over+=("suite $name: $t s > $budget s")
      ;;
  esac
done <tests/budgets.txt
if ((${#over[@]})); then
  printf 'OVER BUDGET (tests/budgets.txt): %s\n' "${over[@]}"
  [[ "${LLM_BUDGETS_STRICT:-0}" == 1 ]] && status=1
else
  echo "==> every stage and suite within its budget (tests/budgets.txt)"
fi
exit $status
