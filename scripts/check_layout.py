#!/usr/bin/env python3
"""Checks the include direction of docs/LAYOUT.md: a source folder includes only from folders of its layer or below;
and that every ISA kernel entry point declared in generic code has its stand-in in the other architecture's
kernels/cpu/absent_<arch>_kernels.cpp (else the other build fails to link: docs/ARM64.md).
Usage: scripts/check_layout.py [repo root]. Prints each upward include and missing stand-in; exits 1 if any."""
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


# The ISA levels of each architecture (a name segment of a kernel entry point: gemv_multi_avx2, register_neon, ...),
# the file that stands in for them in the other architecture's build, and the file-name mark of ISA-only sources.
ISA_STANDINS = {"kernels/cpu/absent_x86_kernels.cpp": ("avx2", "avxvnni", "avx512"),
                "kernels/cpu/absent_arm_kernels.cpp": ("neon", "dotprod", "i8mm")}
ISA_FILE = re.compile(r"_(avx2|avxvnni|avx512|x86|neon|dotprod|i8mm|arm)(_|\.|$)")
DECLARATION = re.compile(r"^[ \t]*((?:[\w:<>]+[ \t*&]+)+)(\w+)[ \t]*\(([^;{}()]|\([^;{}()]*\))*\)[ \t]*;", re.M)


def missing_standins(root: pathlib.Path):
    """Functions declared in sources every build compiles whose name names an ISA level, missing from the stand-in
    file of that level's architecture."""
    defined = {f: (root / f).read_text() for f in ISA_STANDINS}
    bad = []
    for src in sorted(root.glob("kernels/**/*")) + sorted(root.glob("core/**/*")):
        if src.suffix not in (".cpp", ".hpp") or ISA_FILE.search(src.name) or src.name.startswith("absent_"):
            continue
        for m in DECLARATION.finditer(src.read_text(errors="replace")):
            if m.group(1).split()[0] in ("return", "else"):
                continue
            for standin, levels in ISA_STANDINS.items():
                if set(m.group(2).split("_")) & set(levels) and not re.search(rf"\b{m.group(2)}\(", defined[standin]):
                    bad.append(f"{src.relative_to(root).as_posix()}: {m.group(2)} has no stand-in in {standin}")
    return bad


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
    bad += missing_standins(root)
    print("\n".join(bad) if bad else "layout: no upward include, every ISA entry point has its stand-in")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
