#!/usr/bin/env python3
"""Produces tests/tokenizer/data/smollm2_reference.json once: reference token ids for the SmolLM2-135M-Instruct
GGUF (from scripts/fetch-smollm2.sh), computed by Hugging Face `tokenizers` (PyPI) built from the GGUF's own
vocabulary and merges with SmolLM2's pipeline: pre-tokenizer Sequence[Digits(individual_digits=True),
ByteLevel(add_prefix_space=False, use_regex=True)], BPE model, ByteLevel decoder, the control tokens as special
added tokens. Requires: pip install gguf tokenizers.

usage: make_smollm2_reference.py [path/to/SmolLM2.gguf]  (default: the output of scripts/fetch-smollm2.sh)
"""
import json
import os
import subprocess
import sys

import gguf
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data", "smollm2_reference.json")

TEXTS = [
    "Hello world",
    " Hello world",
    "Hello, world! How are you doing today?",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure they'll say it's fine, we've done it, you're right, he'd go, I don't know",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "#include <stdio.h>\nint main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
    "for (int i = 0; i < 10; ++i) { x[i] = y[i] * 2.5f; } // comment",
    "const x = {a: 1, 'b': [2, 3], \"c\": null};",
    "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name;",
    "🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ 👍🏽 🇫🇷",
    "I love 🍕 and 🍣!!! 😂😂😂",
    "你好，世界！我想在apple工作1314151天～",
    "日本語のテキスト、カタカナとひらがな。",
    "한국어 텍스트입니다.",
    "Привет, как дела? Ελληνικά! العربية עברית",
    "Tiếng Việt có dấu: Cửa hàng",
    "3", "33", "333", "3333", "12345678901234567890",
    "Pi is 3.14159, e is 2.71828; 1,000,000 and 1e-10 and 0x1F",
    "2024-01-15T10:30:00Z version 1.2.3-rc4",
    "   leading spaces",
    "trailing spaces   ",
    "a  b   c    d     e",
    "\n\n\nthree newlines\n\n\n",
    "\t\ttabs\tand\t spaces \t\n",
    " \n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n",
    "",
    " ",
    "mixed: Hello 世界 123 🌍 café naïve résumé Straße",
    "URL: https://example.com/path?query=1&b=2#frag and email@domain.org",
    "$100.00 + €50 = £? ¥ ₹ — “quoted” ‘single’ … •",
    "<|im_start|>user\nHi there<|im_end|>",
    "!!!!!!!!!!???...,,,;;;:::",
    "camelCaseIdentifier snake_case_name SCREAMING_CASE kebab-case",
]
# With parse_special: HF always splits on added (special) tokens; these check our parse_special=true path.
SPECIAL_TEXTS = [
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>text after<|endoftext|>",
]


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else subprocess.check_output(
        [os.path.join(HERE, "..", "..", "scripts", "fetch-smollm2.sh")], text=True).strip()
    r = gguf.GGUFReader(path)

    def field(name):
        return r.fields[name]

    def strings(name):
        f = field(name)
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    tokens = strings("tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in strings("tokenizer.ggml.merges")]
    ttype = field("tokenizer.ggml.token_type")
    types = [int(ttype.parts[i][0]) for i in ttype.data]
    assert bytes(field("tokenizer.ggml.pre").parts[-1]).decode() == "smollm"

    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3])

    cases = []
    for t in TEXTS:
        if "<|" in t:
            continue
        cases.append({"text": t, "parse_special": False, "ids": tok.encode(t, add_special_tokens=False).ids})
    for t in SPECIAL_TEXTS:
        cases.append({"text": t, "parse_special": True, "ids": tok.encode(t, add_special_tokens=False).ids})
    doc = {
        "model": os.path.basename(path),
        "reference": "HF tokenizers %s built from the GGUF vocab+merges (make_smollm2_reference.py)" % __import__("tokenizers").__version__,
        "add_special": False,
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        # One case per line keeps diffs readable.
        head = {k: v for k, v in doc.items() if k != "cases"}
        f.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases))
        f.write("\n]}\n")
    print("wrote %d cases to %s" % (len(cases), OUT))


if __name__ == "__main__":
    main()
