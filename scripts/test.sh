#!/usr/bin/env bash
# The test command. Runs the parsers of untrusted input (GGUF, safetensors, tokenizer, chat templates,
# quant formats) under AddressSanitizer + UBSan (build-asan/), then the whole suite with ctest (build/).
#   scripts/test.sh               everything
#   SKIP_ASAN=1 scripts/test.sh   only the main suite
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
# The tests' `python3` is the virtual environment of scripts/setup-python.sh when it exists (the official SDKs,
# jsonschema, jinja2, huggingface_hub); tests that need a missing package skip and say so.
venv_bin="${LLM_CACHE:-$HOME/.cache/llm}/venv-test/bin"
[[ -x "$venv_bin/python3" ]] && export PATH="$venv_bin:$PATH"

if [[ "${SKIP_ASAN:-0}" != 1 ]]; then
  echo "==> sanitizer build (build-asan/: -DLLM_SANITIZE=ON, ASan + UBSan)"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLM_SANITIZE=ON >/dev/null
  targets=()
  for area in formats tokenizer chat quant; do
    compgen -G "tests/$area/*_test.cpp" >/dev/null && targets+=("test_$area")
  done
  cmake --build build-asan -j"$jobs" --target "${targets[@]}"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  for t in "${targets[@]}"; do
    echo "==> $t under ASan/UBSan"
    ./build-asan/"$t" --gtest_brief=1
  done
fi

echo "==> main suite (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 900
