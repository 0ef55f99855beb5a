#!/usr/bin/env python3
"""Checks the include direction of docs/LAYOUT.md: a source folder includes only from folders of its layer or below.
Usage: scripts/check_layout.py [repo root]. Prints each upward include and exits 1 if there is any."""
import pathlib
import re
import sys

# Layer of each folder (docs/LAYOUT.md's order); the longest matching prefix wins. include/llm is the public surface:
# its headers stand alone (they include only each other), so it is the bottom layer every folder may include.
LAYERS = {
    "include/llm": 0,
    "core": 1, "kernels/quant": 2, "kernels/cpu": 3, "formats": 4, "tokenizer/chat": 5, "tokenizer": 5, "hub": 5,
    "models": 6, "kernels/vulkan": 7, "quantize": 8, "runtime": 9, "constrain": 9, "engine": 10,
    "capi": 11, "server": 12, "tools": 12, "bench": 12, "tests": 13,
}


def folder(path: str):
    best = None
    for name in LAYERS:
        if path == name or path.startswith(name + "/"):
            if best is None or len(name) > len(best):
                best = name
    return best


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
    bad = []
    for src in sorted(root.rglob("*")):
        rel = src.relative_to(root).as_posix()
        if src.suffix not in (".cpp", ".hpp", ".h", ".c") or rel.startswith(("build", ".")):
            continue
        here = folder(rel)
        if here is None:
            continue
        for n, line in enumerate(src.read_text(errors="replace").splitlines(), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            target = m.group(1)
            there = folder("include/" + target if target.startswith("llm/") else target)
            if there and LAYERS[there] > LAYERS[here]:
                bad.append(f"{rel}:{n}: {here}/ includes {target} ({there}/ is a later layer: docs/LAYOUT.md)")
    print("\n".join(bad) if bad else "layout: no upward include")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
