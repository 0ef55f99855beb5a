#!/usr/bin/env bash
# The installed package, as a user gets it: `cmake --install` of the build tree into a temporary prefix (nothing is
# rebuilt), then a separate CMake project (this folder) built with find_package(llm) and the C example built with
# `pkg-config --cflags --libs llm`; the examples run on a fixture model and must generate llama.cpp's greedy tokens
# (the fixture's reference). Also checks the install tree, the SONAME, that libllm.so exports only the public API,
# and that the README's examples are these files.
# usage: run.sh BUILD_DIR SOURCE_DIR FIXTURES_DIR
set -euo pipefail
build=$1 src=$2 fixtures=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install test: $*" >&2; exit 1; }

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in include/llm/llm.hpp include/llm/llm.h include/llm/engine.hpp lib/libllm.a lib/libllm.so \
         lib/cmake/llm/llmConfig.cmake lib/cmake/llm/llmConfigVersion.cmake lib/pkgconfig/llm.pc bin/llm-run; do
  [[ -e $prefix/$f ]] || fail "missing $f in the install tree"
done
soname=$(objdump -p "$prefix/lib/libllm.so" | awk '/SONAME/ {print $2}')
[[ $soname == libllm.so.0 ]] || fail "SONAME is '$soname', expected libllm.so.0"
[[ -e $prefix/lib/$soname ]] || fail "no $soname link"

# Exports: the C API and the public C++ classes only (no loader, kernel, Vulkan or template-engine internals).
exports=$(nm -D --defined-only -C "$prefix/lib/libllm.so" | awk '{ $1 = ""; $2 = ""; print }')
for want in 'llm_model_load' 'llm_status_name' 'llm::Model::load' 'llm::Tokenizer::encode' 'llm::generate(' \
            'llm::Engine::create' 'llm::ChatTemplate::render'; do
  grep -qF "$want" <<<"$exports" || fail "libllm.so does not export $want"
done
leaked=$(grep -E '^ *(typeinfo for |vtable for )?llm::(GgufFile|MappedFile|KvCache|vk::|jinja::|detail::|matmul|forward|quantize_row)' <<<"$exports" | head -5 || true)
[[ -z $leaked ]] || fail "libllm.so exports internals: $leaked"

# The README shows these files verbatim.
for f in example.cpp example.c; do
  python3 - "$src/README.md" "$src/tests/install/$f" <<'PY' || fail "README.md's copy of tests/install/$f differs"
import sys
readme, path = open(sys.argv[1]).read(), sys.argv[2]
want = open(path).read()
marker = "<!-- " + path.split("/tests/install/")[1] + " -->"
at = readme.find(marker)
assert at >= 0, "no marker " + marker
body = readme[at:].split("```", 2)[1]
body = body.split("\n", 1)[1]  # drop the language tag
sys.exit(0 if body == want else 1)
PY
done

model=$fixtures/models/llama-mha/llama-mha.F32.gguf
ref=$fixtures/models/llama-mha/ref/llama-mha.F32.greedy.json
[[ -f $model && -f $ref ]] || { echo "install test: no fixture model ($model); skipped" >&2; exit 77; }
want_prompt=$(python3 -c "import json,sys; print(*json.load(open(sys.argv[1]))['prompt'])" "$ref")
want_gen=$(python3 -c "import json,sys; print(*json.load(open(sys.argv[1]))['generated'][:16])" "$ref")
check() {  # check NAME OUTPUT
  grep -qxF "prompt: $want_prompt" <<<"$2" || fail "$1: prompt ids differ from llama.cpp's: $2"
  grep -qxF "generated: $want_gen" <<<"$2" || fail "$1: greedy tokens differ from llama.cpp's: $2"
}

export CCACHE_DISABLE=1
# CC, CXX and LLM_CONSUMER_FLAGS (set by ctest): a sanitizer build's package needs the sanitizer runtimes linked.
# A cross build (LLM_TOOLCHAIN_FILE, LLM_EMULATOR) builds the consumer with its toolchain file and runs it under
# the emulator.
flags="-O0 ${LLM_CONSUMER_FLAGS:-}"
cc=${CC:-cc}
toolchain=()
[[ -n ${LLM_TOOLCHAIN_FILE:-} ]] && toolchain=(-DCMAKE_TOOLCHAIN_FILE="$LLM_TOOLCHAIN_FILE")
read -r -a emulator <<<"${LLM_EMULATOR:-}"
cmake -S "$src/tests/install" -B "$tmp/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE= \
      "${toolchain[@]}" -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
      -DCMAKE_EXE_LINKER_FLAGS="${LLM_CONSUMER_FLAGS:-}" >/dev/null ||
  fail "configuring a project with find_package(llm) failed"
cmake --build "$tmp/consumer" >/dev/null || fail "building the examples against the package failed"
out=$("${emulator[@]}" "$tmp/consumer/example_cpp" "$model" "Café au" 16) || fail "example_cpp failed: $out"
check example_cpp "$out"
grep -q '^model: llama, 2 layers, d_model 256' <<<"$out" || fail "example_cpp: model info: $out"
grep -q 'streamed text equals result text: yes' <<<"$out" || fail "example_cpp: streamed text: $out"
out=$("${emulator[@]}" "$tmp/consumer/example_c" "$model" "Café au" 16) || fail "example_c failed: $out"
check example_c "$out"
# Error codes, not guessed from messages: a missing file is not_found.
if out=$("${emulator[@]}" "$tmp/consumer/example_c" "$tmp/absent.gguf" "x" 2>&1); then fail "example_c loaded a missing file"; fi
grep -q '^error (not_found): ' <<<"$out" || fail "example_c on a missing file: $out"

# pkg-config: the C example against libllm.so.
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
$cc $flags -o "$tmp/example_pc" "$src/tests/install/example.c" $(pkg-config --cflags --libs llm) \
  || fail "building example.c with pkg-config --cflags --libs llm failed"
out=$(LD_LIBRARY_PATH=$prefix/lib "${emulator[@]}" "$tmp/example_pc" "$model" "Café au" 16) || fail "example_pc failed: $out"
check example_pc "$out"
echo "install test: ok (prefix layout, SONAME $soname, exports, find_package(llm) static + shared, pkg-config)"
