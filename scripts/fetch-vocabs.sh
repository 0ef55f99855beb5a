#!/usr/bin/env bash
# Fetches llama.cpp's tokenizer test vectors that are too large for the repository (ggml-vocab-qwen2.gguf, 5.9 MB,
# and ggml-vocab-llama-bpe.gguf, 7.8 MB, with their .inp/.out) from the llama-cpp-python sdist on PyPI (its
# vendor/llama.cpp/models folder) into ${LLM_CACHE:-$HOME/.cache/llm}/vocab and prints that folder. Uses an
# already unpacked sdist under $LLM_CACHE/src when there is one. Idempotent.
set -euo pipefail
cache="${LLM_CACHE:-$HOME/.cache/llm}"
out="$cache/vocab"
names=(ggml-vocab-qwen2.gguf ggml-vocab-llama-bpe.gguf)
have_all() { for n in "${names[@]}"; do for s in "" .inp .out; do [[ -f "$out/$n$s" ]] || return 1; done; done; }
if ! have_all; then
    mkdir -p "$out"
    src="$(find "$cache/src" -maxdepth 4 -type d -path '*vendor/llama.cpp/models' 2>/dev/null | head -n 1 || true)"
    if [[ -z "$src" ]]; then
        tmp="$(mktemp -d)"
        trap 'rm -rf "$tmp"' EXIT
        python3 -m pip download --quiet --no-deps --no-binary :all: --dest "$tmp" llama-cpp-python==0.3.36 >&2
        sdist="$(find "$tmp" -name 'llama_cpp_python-*.tar.gz' | head -n 1)"
        [[ -n "$sdist" ]] || { echo "fetch-vocabs: pip download produced no sdist" >&2; exit 1; }
        members=()
        for n in "${names[@]}"; do for s in "" .inp .out; do
            members+=("${sdist##*/}"); members[-1]="$(basename "$sdist" .tar.gz)/vendor/llama.cpp/models/$n$s"
        done; done
        tar -xzf "$sdist" -C "$tmp" "${members[@]}"
        src="$tmp/$(basename "$sdist" .tar.gz)/vendor/llama.cpp/models"
    fi
    for n in "${names[@]}"; do for s in "" .inp .out; do cp "$src/$n$s" "$out/"; done; done
fi
echo "$out"
