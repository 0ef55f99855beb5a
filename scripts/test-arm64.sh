#!/usr/bin/env bash
# The aarch64 build and its whole test suite under emulation (long test tier): installs Debian's cross toolchain,
# qemu-user and the arm64 -dev packages (multiarch) if missing, cross-builds into build-arm64/
# (cmake/aarch64-linux-gnu.cmake, no Vulkan) and runs ctest under qemu-aarch64: the whole suite at qemu's default
# CPU ("max": dotprod and i8mm), then the level-dependent suites (cpu, models, quant; LEVEL_LABELS) with LLM_CPU
# capping the kernels to neon and to scalar.
# Speed under emulation says nothing about an ARM CPU's: this checks results only.
#   scripts/test-arm64.sh                   build + every level
#   LEVELS="native" scripts/test-arm64.sh   only the emulator's full level (also: neon, scalar)
#   SKIP_APT=1 ...                          packages already installed
#   CTEST_ARGS="-R VecDot" ...              extra ctest arguments (a subset of the suite)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
jobs=$(nproc)
venv_bin="${LLM_CACHE:-$HOME/.cache/llm}/venv-test/bin"
[[ -x "$venv_bin/python3" ]] && export PATH="$venv_bin:$PATH"

PACKAGES=(crossbuild-essential-arm64 qemu-user libopenblas-dev:arm64 libfmt-dev:arm64 libgtest-dev:arm64
          libpcre2-dev:arm64 libutf8proc-dev:arm64 libcurl4-openssl-dev:arm64 libssl-dev:arm64 libcpp-httplib-dev:arm64 libgomp1:arm64 libc6:arm64)
if [[ "${SKIP_APT:-0}" != 1 ]]; then
  missing=()
  for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    echo "==> installing ${missing[*]}"
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

echo "==> cross build (build-arm64/)"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B build-arm64 -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" \
  -DLLM_VULKAN=OFF "${launcher[@]}" >/dev/null
cmake --build build-arm64 -j"$jobs"
built=$(date +%s)
echo "==> built in $((built - start)) s"

# No QEMU_LD_PREFIX: the arm64 libc is the multiarch one (see cmake/aarch64-linux-gnu.cmake).
unset QEMU_LD_PREFIX
status=0
summary=()
for level in ${LEVELS:-native neon scalar}; do
  t0=$(date +%s)
  echo "==> ctest under qemu-aarch64, kernels: $level"
  if [[ $level == native ]]; then
    env -u LLM_CPU ctest --test-dir build-arm64 -j"$jobs" --timeout 7200 --output-on-failure ${CTEST_ARGS:-} || status=1
  else  # the suites whose arithmetic depends on the kernel level (the rest ran at the native level)
    LLM_CPU=$level ctest --test-dir build-arm64 -j"$jobs" --timeout 7200 --output-on-failure \
      -L "${LEVEL_LABELS:-^(cpu|models|quant)\$}" ${CTEST_ARGS:-} || status=1
  fi
  summary+=("$level: $(($(date +%s) - t0)) s")
done
echo "==> arm64: build $((built - start)) s; tests ${summary[*]}; total $(($(date +%s) - start)) s"
exit $status
