#!/usr/bin/env python3
"""Figures of the validity run: reads bench/schema_validity's JSON lines and the schemas, validates every
output that ended with Python's jsonschema (format checks on), checks that outputs cut by the token limit are
prefixes of JSON (an independent incremental scanner, not our matcher), and prints the summary that
docs/PERFORMANCE.md quotes.

usage: python3 bench/schema_validity.py schema_validity.jsonl [tests/constrain/data/validity_schemas.json]
"""
import json
import sys

import jsonschema


def openapi_nullable(s):
    if isinstance(s, dict):
        s = {k: openapi_nullable(v) for k, v in s.items()}
        if s.pop("nullable", False):
            if "type" in s:
                t = s["type"] if isinstance(s["type"], list) else [s["type"]]
                s["type"] = t + ["null"]
        return s
    if isinstance(s, list):
        return [openapi_nullable(x) for x in s]
    return s


def is_json_prefix(text):
    """True when text can be continued into a JSON value (strings, numbers, literals and nesting checked)."""
    stack, i, n = [], 0, len(text)
    expect_value = True
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if expect_value:
            if c in "{[":
                stack.append(c)
                i += 1
                if i < n and text[i:].lstrip()[:1] in ("}", "]") and text[i:].lstrip():
                    pass
                continue
            if c == '"':
                j = i + 1
                while j < n and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                if j >= n:
                    return True
                i = j + 1
                expect_value = False
                if stack and stack[-1] == "{k":
                    stack[-1] = "{"
                continue
            if c in "-0123456789":
                j = i
                while j < n and text[j] in "-+.eE0123456789":
                    j += 1
                i, expect_value = j, False
                continue
            for lit in ("true", "false", "null"):
                if lit.startswith(text[i:i + len(lit)]) and (text[i:i + len(lit)] == lit or i + len(lit) > n):
                    i += len(lit)
                    expect_value = False
                    break
            else:
                if c in "}]" and stack:
                    stack.pop()
                    i += 1
                    expect_value = False
                    continue
                return False
            continue
        if c in ",:":
            expect_value = True
            i += 1
            continue
        if c in "}]" and stack:
            stack.pop()
            i += 1
            continue
        return False
    return True


def main():
    runs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
    schemas_file = sys.argv[2] if len(sys.argv) > 2 else "tests/constrain/data/validity_schemas.json"
    schemas = {s["name"]: s["schema"] for s in json.load(open(schemas_file, encoding="utf-8"))["schemas"]}
    compile_errors = [r for r in runs if "compile_error" in r]
    gen = [r for r in runs if "compile_error" not in r]
    n_schemas = len({r["name"] for r in runs})
    bad, cut_bad, errors = [], [], []
    by_mode = {}
    for r in gen:
        m = by_mode.setdefault(r["mode"], {"runs": 0, "ended": 0, "valid": 0, "tokens": 0})
        m["runs"] += 1
        if "error" in r:
            errors.append(r)
            continue
        m["tokens"] += r["n_tokens"]
        if r["ended"]:
            m["ended"] += 1
            schema = openapi_nullable(schemas[r["name"]])
            cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
            try:
                inst = json.loads(r["text"])
                errs = list(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(inst))
            except ValueError as e:
                errs = [e]
            if errs:
                bad.append((r["name"], r["mode"], str(errs[0])[:200], r["text"][:200]))
            else:
                m["valid"] += 1
        elif not (r["prefix_ok"] and is_json_prefix(r["text"])):
            cut_bad.append((r["name"], r["mode"], r["text"][:200]))
    print(f"schemas: {n_schemas}; cannot compile: {len(compile_errors)} ({100.0 * len(compile_errors) / max(1, n_schemas):.1f}%)")
    for r in compile_errors:
        print(f"  {r['name']}: {r['compile_error']}")
    for mode, m in by_mode.items():
        print(f"{mode}: {m['runs']} runs, ended {m['ended']} ({100.0 * m['ended'] / max(1, m['runs']):.1f}%), "
              f"valid {m['valid']} of {m['ended']} ended, mean {m['tokens'] / max(1, m['runs']):.0f} tokens")
    print(f"ended but invalid: {len(bad)}; cut but not a valid prefix: {len(cut_bad)}; errors: {len(errors)}")
    for b in bad + cut_bad:
        print("  ", b)
    for e in errors:
        print("  error:", e["name"], e["mode"], e["error"])
    return 0 if not bad and not cut_bad and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
