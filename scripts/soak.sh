#!/usr/bin/env bash
# The server soak (scripts/test-long.sh soak): builds llm-serve (build/) and runs tests/server/soak.py against it on
# SmolLM2: SOAK_CLIENTS (32) clients for SOAK_SECONDS (600); zero 5xx, no crash, RSS flat, no fd or thread growth.
set -euo pipefail
cd "$(dirname "$0")/.."
venv_bin="${LLM_CACHE:-$HOME/.cache/llm}/venv-test/bin"
[[ -x "$venv_bin/python3" ]] && export PATH="$venv_bin:$PATH"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
[[ -f build/build.ninja ]] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build build -j"$(nproc)" --target llm-serve
OMP_WAIT_POLICY=passive python3 tests/server/soak.py --serve build/llm-serve --clients "${SOAK_CLIENTS:-32}" \
  --seconds "${SOAK_SECONDS:-600}"
