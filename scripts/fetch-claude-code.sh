#!/usr/bin/env bash
# Fetches the Claude Code CLI for the end-to-end test against llm-serve (scripts/test-long.sh claude): PyPI's
# claude-agent-sdk wheel bundles it as one self-contained x86-64 Linux executable (claude_agent_sdk/_bundled/claude,
# 400 MB; no Node.js needed, nothing else downloaded at run time), which this extracts into
# ${LLM_CACHE:-$HOME/.cache/llm}/claude-code/claude and prints the path of. Pinned: the wheel of Claude Code
# 2.1.332, the version tests/server/data/claude_code_requests.json was captured from. Idempotent.
set -euo pipefail
cache="${LLM_CACHE:-$HOME/.cache/llm}/claude-code"
version="0.2.189"
wheel_sha="b26a6a30a4e2cb025a6f5c95e1ce4469b38fcc51015c392f627bea7c948d67ad"
bin="$cache/claude"
if [[ ! -x "$bin" ]]; then
    [[ "$(uname -sm)" == "Linux x86_64" ]] || { echo "fetch-claude-code: the pinned wheel is for x86-64 Linux" >&2; exit 1; }
    mkdir -p "$cache"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "claude-agent-sdk==$version" >&2
    wheel="$(find "$tmp" -name "claude_agent_sdk-$version-*.whl" | head -n 1)"
    [[ -n "$wheel" ]] || { echo "fetch-claude-code: pip download produced no wheel" >&2; exit 1; }
    got="$(sha256sum "$wheel" | cut -d' ' -f1)"
    [[ "$got" == "$wheel_sha" ]] || { echo "fetch-claude-code: $wheel has sha256 $got, expected $wheel_sha" >&2; exit 1; }
    python3 - "$wheel" "$tmp/claude" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open("claude_agent_sdk/_bundled/claude") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    chmod +x "$tmp/claude"
    mv "$tmp/claude" "$bin"
fi
echo "$bin"
