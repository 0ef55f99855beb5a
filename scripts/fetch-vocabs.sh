#!/usr/bin/env bash
# Fetches llama.cpp's tokenizer test vectors that are too large for the repository (ggml-vocab-qwen2.gguf, 5.9 MB,
# and ggml-vocab-llama-bpe.gguf, 7.8 MB, with their .inp/.out) from the llama-cpp-python sdist on PyPI (its
# vendor/llama.cpp/models folder) into ${LLM_CACHE:-$HOME/.cache/llm}/vocab and prints that folder; also llama.cpp's
# example grammars (vendor/llama.cpp/grammars/*.gbnf, for the GBNF parser test) into $LLM_CACHE/grammars. Uses an
# already unpacked sdist under $LLM_CACHE/src when there is one. Idempotent.
set -euo pipefail
cache="${LLM_CACHE:-$HOME/.cache/llm}"
out="$cache/vocab"
names=(ggml-vocab-qwen2.gguf ggml-vocab-llama-bpe.gguf)
grammars="$cache/grammars"
have_all() {
    for n in "${names[@]}"; do for s in "" .inp .out; do [[ -f "$out/$n$s" ]] || return 1; done; done
    compgen -G "$grammars/*.gbnf" >/dev/null
}
if ! have_all; then
    mkdir -p "$out"
    mkdir -p "$grammars"
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
        tar -xzf "$sdist" -C "$tmp" --wildcards "$(basename "$sdist" .tar.gz)/vendor/llama.cpp/grammars/*.gbnf"
        src="$tmp/$(basename "$sdist" .tar.gz)/vendor/llama.cpp/models"
    fi
    for n in "${names[@]}"; do for s in "" .inp .out; do cp "$src/$n$s" "$out/"; done; done
    cp "$src"/../grammars/*.gbnf "$grammars/"
fi
echo "$out"
