#!/usr/bin/env bash
# Makes the benchmark models (bench/make_models.py) into ${LLM_CACHE:-$HOME/.cache/llm}/bench: sets up a venv with
# the PyPI packages `gguf` + numpy outside the repository and builds llm-quantize if needed. Idempotent.
# Env: LLM_CACHE (cache root), LLM_BUILD_DIR (build folder holding llm-quantize; default build-bench).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${LLM_CACHE:-$HOME/.cache/llm}"
venv="$cache/venv"
build="${LLM_BUILD_DIR:-$repo/build-bench}"
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import gguf, numpy" 2>/dev/null; then
    "$venv/bin/pip" install --quiet numpy gguf
fi
if [[ ! -x "$build/llm-quantize" ]]; then
    cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    ninja -C "$build" -j2 llm-quantize
fi
exec "$venv/bin/python" "$repo/bench/make_models.py" --quantize "$build/llm-quantize" --out "$cache/bench" "$@"
