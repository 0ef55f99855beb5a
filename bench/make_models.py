#!/usr/bin/env python3
"""Benchmark models with real shapes and random weights, written outside the repository.

TinyLlama-1.1B shape (llama arch: d_model 2048, 22 layers, 32 heads / 4 KV heads, d_ff 5632, vocab 32000) as an F16
GGUF written with the PyPI `gguf` package, then quantized by our own `llm-quantize` to Q4_0, Q4_K_M and Q8_0.
A synthetic SentencePiece vocab (32000 pieces) is included so llama.cpp loads the files too.
Idempotent: existing files are kept. Usage: make_models.py --quantize build/llm-quantize [--out DIR]
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

try:
    import gguf
except ImportError:
    sys.exit("make_models.py: the PyPI package 'gguf' is missing (bench/make_models.sh sets up a venv with it)")

# name: (hyper-parameters, quantized types made from the F16 file)
SHAPES = {
    "tinyllama-1.1b-shape": dict(d_model=2048, n_layers=22, n_heads=32, n_kv_heads=4, d_ff=5632, n_vocab=32000,
                                 n_ctx_train=2048, rope_theta=10000.0, rms_eps=1e-5),
}
QUANT_TYPES = ["Q4_0", "Q4_K_M", "Q8_0"]


def synthetic_spm_vocab(n_vocab):
    """<unk>, <s>, </s>, 256 byte tokens, then distinct '▁'-prefixed pieces with decreasing scores."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256  # UNKNOWN, CONTROL, CONTROL, BYTE...
    letters = "abcdefghijklmnopqrstuvwxyz"
    i = 0
    while len(tokens) < n_vocab:
        s, k = "", i
        while True:
            s = letters[k % 26] + s
            k = k // 26 - 1
            if k < 0:
                break
        tokens.append(("\u2581" if i % 2 == 0 else "") + s)
        types.append(1)
        i += 1
    scores = [0.0] * 259 + [-float(j) for j in range(n_vocab - 259)]
    return tokens, scores, types


def write_f16(path, name, hp, seed=1234):
    rng = np.random.default_rng(seed)
    d, dff, nv = hp["d_model"], hp["d_ff"], hp["n_vocab"]
    head_dim = d // hp["n_heads"]
    kv = hp["n_kv_heads"] * head_dim
    w = gguf.GGUFWriter(path + ".tmp", "llama")
    w.add_name(name)
    w.add_context_length(hp["n_ctx_train"])
    w.add_embedding_length(d)
    w.add_block_count(hp["n_layers"])
    w.add_feed_forward_length(dff)
    w.add_head_count(hp["n_heads"])
    w.add_head_count_kv(hp["n_kv_heads"])
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(hp["rope_theta"])
    w.add_layer_norm_rms_eps(hp["rms_eps"])
    w.add_file_type(1)  # MOSTLY_F16
    w.add_vocab_size(nv)
    tokens, scores, types = synthetic_spm_vocab(nv)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)

    def mat(n_out, n_in, std):
        # numpy shape (rows, row length) = GGUF ne (n_in, n_out)
        return (rng.standard_normal((n_out, n_in), dtype=np.float32) * std).astype(np.float16)

    def norm():
        return (1.0 + 0.1 * rng.standard_normal(d, dtype=np.float32)).astype(np.float32)

    std = 0.02
    w.add_tensor("token_embd.weight", mat(nv, d, std))
    for i in range(hp["n_layers"]):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", norm())
        w.add_tensor(p + "attn_q.weight", mat(d, d, std))
        w.add_tensor(p + "attn_k.weight", mat(kv, d, std))
        w.add_tensor(p + "attn_v.weight", mat(kv, d, std))
        w.add_tensor(p + "attn_output.weight", mat(d, d, std))
        w.add_tensor(p + "ffn_norm.weight", norm())
        w.add_tensor(p + "ffn_gate.weight", mat(dff, d, std))
        w.add_tensor(p + "ffn_up.weight", mat(dff, d, std))
        w.add_tensor(p + "ffn_down.weight", mat(d, dff, std))
    w.add_tensor("output_norm.weight", norm())
    w.add_tensor("output.weight", mat(nv, d, 3.0 / np.sqrt(d)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quantize", required=True, help="path of the llm-quantize executable")
    ap.add_argument("--out", default=os.path.join(os.environ.get("LLM_CACHE", os.path.expanduser("~/.cache/llm")),
                                                  "bench"))
    ap.add_argument("--types", default=",".join(QUANT_TYPES), help="quantized types to make (comma-separated)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, hp in SHAPES.items():
        f16 = os.path.join(args.out, f"{name}.F16.gguf")
        if os.path.exists(f16):
            print(f"exists: {f16}")
        else:
            t0 = time.time()
            print(f"writing {f16} ...", flush=True)
            write_f16(f16, name, hp)
            print(f"wrote {f16} ({os.path.getsize(f16) / 2**30:.2f} GiB, {time.time() - t0:.0f} s)", flush=True)
        for t in [x for x in args.types.split(",") if x]:
            out = os.path.join(args.out, f"{name}.{t}.gguf")
            if os.path.exists(out):
                print(f"exists: {out}")
                continue
            subprocess.run([args.quantize, "--quiet", f16, out, t], check=True)
            print(f"wrote {out} ({os.path.getsize(out) / 2**20:.0f} MiB)", flush=True)


if __name__ == "__main__":
    main()
