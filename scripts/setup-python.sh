#!/usr/bin/env bash
# The Python packages the tests compare against (official API SDKs, jsonschema, jinja2, huggingface_hub, gguf),
# in a virtual environment outside the repository: ${LLM_CACHE:-~/.cache/llm}/venv-test. Prints its bin folder.
# scripts/test.sh puts that folder first on PATH, so tests that call `python3` find these packages; tests skip
# (saying which package is missing) where they are absent.
set -euo pipefail
cache="${LLM_CACHE:-$HOME/.cache/llm}"
venv="$cache/venv-test"
packages=(openai==3.51.0 anthropic==2.10.0 jsonschema==4.26.0 jinja2==3.1.6 huggingface_hub==2.4.0
          numpy==2.3.5 gguf==0.19.0)
stamp="$venv/.packages"
if [[ ! -x "$venv/bin/python3" ]] || [[ "$(cat "$stamp" 2>/dev/null)" != "${packages[*]}" ]]; then
  echo "==> Python test packages into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "${packages[@]}" >&2
  echo "${packages[*]}" >"$stamp"
fi
echo "$venv/bin"
