#!/usr/bin/env python3
"""Benchmark models with real shapes and random weights, written outside the repository.

Each shape is written as an F16 GGUF with the PyPI `gguf` package (one tensor at a time, so memory stays at the
largest tensor), then quantized by our own `llm-quantize`. A synthetic SentencePiece vocab is included so llama.cpp
loads the files too.
  tinyllama-1.1b-shape  llama: d_model 2048, 22 layers, 32 heads / 4 KV heads, d_ff 5632, vocab 32000
                        -> F16 (kept: it is benchmarked), Q4_0, Q4_K_M, Q8_0
  phi3-mini-4k-shape    phi3 as convert_hf_to_gguf writes Phi-3-mini-4k: d_model 3072, 32 layers, 32 heads (no GQA),
                        head_dim 96, d_ff 8192, vocab 32064, fused attn_qkv and ffn_up (gate rows, then up rows),
                        context 4096, sliding_window 2047, no LongRoPE
                        -> Q4_0, Q4_K_M (the 7.6 GB F16 intermediate is deleted after quantizing)
Idempotent: existing files are kept. Usage: make_models.py --quantize build/llm-quantize [--out DIR] [--shapes ...]
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

# Phi-3's added tokens (ids 32000...; CONTROL) after the 32000 SentencePiece pieces; the converter pads the rest of
# the vocab with [PADi] (UNUSED). llama.cpp requires <|endoftext|> when the model name contains "phi3".
PHI3_ADDED_TOKENS = ["<|endoftext|>", "<|assistant|>", "<|placeholder1|>", "<|placeholder2|>", "<|placeholder3|>",
                     "<|placeholder4|>", "<|system|>", "<|end|>", "<|placeholder5|>", "<|placeholder6|>", "<|user|>"]

# name: hyper-parameters, the quantized types made from the F16 file, and whether the F16 file is kept afterwards.
SHAPES = {
    "tinyllama-1.1b-shape": dict(arch="llama", d_model=2048, n_layers=22, n_heads=32, n_kv_heads=4, d_ff=5632,
                                 n_vocab=32000, n_ctx_train=2048, rope_theta=10000.0, rms_eps=1e-5,
                                 types=["Q4_0", "Q4_K_M", "Q8_0"], keep_f16=True),
    "phi3-mini-4k-shape": dict(arch="phi3", d_model=3072, n_layers=32, n_heads=32, n_kv_heads=32, d_ff=8192,
                               n_vocab=32064, n_ctx_train=4096, rope_theta=10000.0, rms_eps=1e-5, sliding_window=2047,
                               added_tokens=PHI3_ADDED_TOKENS, eos_id=32000, types=["Q4_0", "Q4_K_M"], keep_f16=False),
}


def synthetic_spm_vocab(n_vocab, added=()):
    """<unk>, <s>, </s>, 256 byte tokens, then distinct '▁'-prefixed pieces with decreasing scores; with `added`:
    pieces up to id 32000, then the added (CONTROL) tokens, then [PADi] (UNUSED) up to n_vocab."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256  # UNKNOWN, CONTROL, CONTROL, BYTE...
    letters = "abcdefghijklmnopqrstuvwxyz"
    n_pieces = 32000 if added else n_vocab
    i = 0
    while len(tokens) < n_pieces:
        s, k = "", i
        while True:
            s = letters[k % 26] + s
            k = k // 26 - 1
            if k < 0:
                break
        tokens.append(("\u2581" if i % 2 == 0 else "") + s)
        types.append(1)
        i += 1
    scores = [0.0] * 259 + [-float(j) for j in range(n_pieces - 259)]
    for j in range(n_pieces, n_vocab):
        k = j - n_pieces
        tokens.append(added[k] if k < len(added) else f"[PAD{j}]")
        types.append(3 if k < len(added) else 5)  # CONTROL, UNUSED
        scores.append(0.0 if k < len(added) else -10000.0)
    return tokens, scores, types


def tensor_list(hp):
    """[(name, numpy shape (rows, row length) = GGUF ne reversed, kind, std)] in file order; kind: 'mat' or 'norm'."""
    d, dff, nv, arch = hp["d_model"], hp["d_ff"], hp["n_vocab"], hp["arch"]
    head_dim = d // hp["n_heads"]
    q, kv = hp["n_heads"] * head_dim, hp["n_kv_heads"] * head_dim
    std = 0.02
    out = [("token_embd.weight", (nv, d), "mat", std)]
    for i in range(hp["n_layers"]):
        p = f"blk.{i}."
        out.append((p + "attn_norm.weight", (d,), "norm", 0))
        if arch == "phi3":  # llama.cpp's phi3 loader: fused Q|K|V rows, and ffn_up = gate rows then up rows
            out.append((p + "attn_qkv.weight", (q + 2 * kv, d), "mat", std))
            out.append((p + "attn_output.weight", (d, q), "mat", std))
            out.append((p + "ffn_norm.weight", (d,), "norm", 0))
            out.append((p + "ffn_up.weight", (2 * dff, d), "mat", std))
        else:
            out += [(p + "attn_q.weight", (q, d), "mat", std), (p + "attn_k.weight", (kv, d), "mat", std),
                    (p + "attn_v.weight", (kv, d), "mat", std), (p + "attn_output.weight", (d, q), "mat", std),
                    (p + "ffn_norm.weight", (d,), "norm", 0), (p + "ffn_gate.weight", (dff, d), "mat", std),
                    (p + "ffn_up.weight", (dff, d), "mat", std)]
        out.append((p + "ffn_down.weight", (d, dff), "mat", std))
    out.append(("output_norm.weight", (d,), "norm", 0))
    out.append(("output.weight", (nv, d), "mat", 3.0 / np.sqrt(d)))
    return out


def write_f16(path, name, hp, seed=1234):
    rng = np.random.default_rng(seed)
    arch, d = hp["arch"], hp["d_model"]
    head_dim = d // hp["n_heads"]
    w = gguf.GGUFWriter(path + ".tmp", arch)
    w.add_name(name)
    w.add_context_length(hp["n_ctx_train"])
    if arch == "phi3":
        w.add_rope_scaling_orig_ctx_len(hp["n_ctx_train"])
    w.add_embedding_length(d)
    w.add_block_count(hp["n_layers"])
    w.add_feed_forward_length(hp["d_ff"])
    w.add_head_count(hp["n_heads"])
    w.add_head_count_kv(hp["n_kv_heads"])
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(hp["rope_theta"])
    w.add_layer_norm_rms_eps(hp["rms_eps"])
    w.add_file_type(1)  # MOSTLY_F16
    if "sliding_window" in hp:
        w.add_sliding_window(hp["sliding_window"])
    w.add_vocab_size(hp["n_vocab"])
    tokens, scores, types = synthetic_spm_vocab(hp["n_vocab"], hp.get("added_tokens", ()))
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(hp.get("eos_id", 2))
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)

    # Declare every tensor, write the header, then generate and write the tensors one at a time.
    tensors = tensor_list(hp)
    for tname, shape, kind, _ in tensors:
        dtype = np.float16 if kind == "mat" else np.float32
        w.add_tensor_info(tname, shape, np.dtype(dtype), int(np.prod(shape)) * np.dtype(dtype).itemsize)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for tname, shape, kind, std in tensors:
        if kind == "mat":
            t = (rng.standard_normal(shape, dtype=np.float32) * std).astype(np.float16)
        else:
            t = (1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
        w.write_tensor_data(t)
        del t
    w.close()
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quantize", required=True, help="path of the llm-quantize executable")
    ap.add_argument("--out", default=os.path.join(os.environ.get("LLM_CACHE", os.path.expanduser("~/.cache/llm")),
                                                  "bench"))
    ap.add_argument("--shapes", default=",".join(SHAPES), help="shapes to make (comma-separated)")
    ap.add_argument("--types", help="quantized types to make for every shape (default: each shape's list)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name in [x for x in args.shapes.split(",") if x]:
        if name not in SHAPES:
            sys.exit(f"make_models.py: unknown shape '{name}' (known: {', '.join(SHAPES)})")
        hp = SHAPES[name]
        qtypes = [x for x in (args.types.split(",") if args.types else hp["types"]) if x]
        f16 = os.path.join(args.out, f"{name}.F16.gguf")
        outs = {t: os.path.join(args.out, f"{name}.{t}.gguf") for t in qtypes}
        missing = [t for t, p in outs.items() if not os.path.exists(p)]
        for t, p in outs.items():
            if t not in missing:
                print(f"exists: {p}")
        if os.path.exists(f16):
            print(f"exists: {f16}")
        elif hp["keep_f16"] or missing:
            t0 = time.time()
            print(f"writing {f16} ...", flush=True)
            write_f16(f16, name, hp)
            print(f"wrote {f16} ({os.path.getsize(f16) / 2**30:.2f} GiB, {time.time() - t0:.0f} s)", flush=True)
        for t in missing:
            t0 = time.time()
            subprocess.run([args.quantize, "--quiet", f16, outs[t], t], check=True)
            print(f"wrote {outs[t]} ({os.path.getsize(outs[t]) / 2**20:.0f} MiB, {time.time() - t0:.0f} s)",
                  flush=True)
        if not hp["keep_f16"] and os.path.exists(f16):
            os.remove(f16)
            print(f"removed {f16} (intermediate only)", flush=True)


if __name__ == "__main__":
    main()
