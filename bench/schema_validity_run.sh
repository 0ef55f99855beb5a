#!/usr/bin/env bash
# The validity run in one command: BUILD/schema_validity generates (SmolLM2), bench/schema_validity.py validates
# every ended output with Python's jsonschema and prints the ended share; fails on any invalid output.
#   bench/schema_validity_run.sh BUILD OUT.jsonl [schema_validity options: --every K --modes greedy --max-tokens N]
# Exit 77 (skipped) without SmolLM2 or without Python's jsonschema. Run from anywhere.
set -uo pipefail
build=$(cd "$1" && pwd) out=$2
shift 2
cd "$(dirname "$0")/.."
python3 -c 'import jsonschema' 2>/dev/null || { echo "schema_validity_run: no Python jsonschema (skipped)"; exit 77; }
OMP_WAIT_POLICY=passive "$build"/schema_validity --out "$out" "$@" >"$out.log" 2>&1
rc=$?
((rc == 77)) && { echo "schema_validity_run: no SmolLM2 (skipped; scripts/fetch-smollm2.sh)"; exit 77; }
((rc)) && { echo "schema_validity_run: schema_validity failed ($rc):"; tail -5 "$out.log"; exit 1; }
python3 bench/schema_validity.py "$out"
