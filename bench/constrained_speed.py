#!/usr/bin/env python3
"""Constrained against unconstrained generation, ours and llama.cpp's, measured the same way: greedy
generation of N tokens from the same chat prompt with SmolLM2, once without a constraint and once under a JSON
schema, ms per generated token; the runs alternate (ours, ours+schema, llama.cpp, llama.cpp+grammar) so that
a loaded machine slows them alike. Ours through llm-run --json (its generate_ms), llama.cpp through
llama-cpp-python (create_completion with LlamaGrammar.from_json_schema; wall time of the generation after a
prompt-only warm call).

usage: LLAMA_CPP_LIB_PATH=.../build-native/bin ~/.cache/llm/venv-llama-cpp-lib/bin/python bench/constrained_speed.py \
           MODEL.gguf [rounds=3] [tokens=96]
"""
import json
import os
import statistics
import subprocess
import sys
import time

SCHEMA = {"type": "object", "properties": {
    "title": {"type": "string", "maxLength": 50}, "servings": {"type": "integer", "minimum": 1, "maximum": 20},
    "ingredients": {"type": "array", "items": {"type": "object", "properties": {"item": {"type": "string", "maxLength": 30},
                    "quantity": {"type": "number", "minimum": 0}}, "required": ["item", "quantity"]}, "minItems": 6, "maxItems": 20},
    "steps": {"type": "array", "items": {"type": "string", "maxLength": 120}, "minItems": 6, "maxItems": 12}},
    "required": ["title", "servings", "ingredients", "steps"]}
PROMPT = "Write a detailed recipe for a vegetable soup as JSON."


def ours(model, n, schema):
    cmd = ["./build/llm-run", "-m", model, "-t", "2", "--temp", "0", "-n", str(n), "--json", "-p", PROMPT]
    if schema:
        cmd += ["--schema", json.dumps(SCHEMA)]
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    r = json.loads(out[out.index("{"):])
    return r["generate_ms"] / max(1, r["generated_tokens"]), r["generated_tokens"]


def main():
    model = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 96
    from llama_cpp import Llama, LlamaGrammar
    llm = Llama(model_path=model, n_threads=2, n_ctx=1024, verbose=False)
    grammar = LlamaGrammar.from_json_schema(json.dumps(SCHEMA), verbose=False)
    messages = [{"role": "user", "content": PROMPT}]

    def theirs(constrained):
        llm.reset()
        t = time.perf_counter()
        r = llm.create_chat_completion(messages, max_tokens=n, temperature=0.0, grammar=grammar if constrained else None)
        dt = time.perf_counter() - t
        k = r["usage"]["completion_tokens"]
        return dt * 1000 / max(1, k), k

    res = {k: [] for k in ("ours", "ours+schema", "llama.cpp", "llama.cpp+grammar")}
    for _ in range(rounds):
        res["ours"].append(ours(model, n, False))
        res["ours+schema"].append(ours(model, n, True))
        res["llama.cpp"].append(theirs(False))
        res["llama.cpp+grammar"].append(theirs(True))
    med = {k: statistics.median(x[0] for x in v) for k, v in res.items()}
    for k, v in res.items():
        print(f"{k:18s} ms/token median {med[k]:7.2f}  runs {[round(x[0], 2) for x in v]}  tokens {[x[1] for x in v]}")
    print(f"ours: constrained speed {100 * med['ours'] / med['ours+schema']:.0f}% of unconstrained, +{med['ours+schema'] - med['ours']:.2f} ms/token")
    print(f"llama.cpp: constrained speed {100 * med['llama.cpp'] / med['llama.cpp+grammar']:.0f}% of unconstrained, "
          f"+{med['llama.cpp+grammar'] - med['llama.cpp']:.2f} ms/token")


if __name__ == "__main__":
    main()
