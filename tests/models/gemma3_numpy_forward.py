#!/usr/bin/env python3
"""A float64 numpy forward pass of Gemma 3 on a GGUF's dequantized weights (gguf's own dequantizers), adding
"numpy" logits (same kept ids) to the llama.cpp reference of make_gemma3_logits_reference.py: the weights'
exact values with unrounded activations, the arithmetic the Vulkan shaders aim at, so the test can tell the
shaders' error from llama.cpp's own (it rounds activations to 8 bits before each quantized matmul).
    ~/.cache/llm/venv-test/bin/python tests/models/gemma3_numpy_forward.py MODEL.gguf tests/models/data/gemma3_logits_reference.json
Only short prompts (no sliding-window masking: every prompt here is shorter than the window).
"""
import json
import sys

import gguf
import gguf.quants
import numpy as np


def main(path: str, ref_path: str) -> None:
    r = gguf.GGUFReader(path)
    meta = {k: r.fields[k].parts[-1][0] for k in r.fields if k.startswith("gemma3.")}
    t = {x.name: x for x in r.tensors}

    def w(name, dtype=np.float64):
        x = t[name]
        a = gguf.quants.dequantize(x.data, x.tensor_type)
        return a.reshape([int(d) for d in reversed(x.shape)]).astype(dtype)

    d_model, n_layer = int(meta["gemma3.embedding_length"]), int(meta["gemma3.block_count"])
    n_head, n_kv = int(meta["gemma3.attention.head_count"]), int(meta["gemma3.attention.head_count_kv"])
    hd, eps = int(meta["gemma3.attention.key_length"]), float(meta["gemma3.attention.layer_norm_rms_epsilon"])
    base_global, base_local = float(meta["gemma3.rope.freq_base"]), 10000.0
    swa_pattern = 6  # layers 5, 11, 17 are global (llama.cpp's gemma3 default)
    emb = w("token_embd.weight", np.float32)  # [n_vocab, d_model]
    layers = [{k: w(f"blk.{i}.{k}.weight") for k in ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_q_norm",
                                                       "attn_k_norm", "attn_output", "post_attention_norm", "ffn_norm",
                                                       "ffn_gate", "ffn_up", "ffn_down", "post_ffw_norm")}
              for i in range(n_layer)]
    out_norm = w("output_norm.weight")

    def norm(x, g):  # the GGUF gains already hold 1 + w
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g

    def rope(x, base):  # NEOX halves; x [n, heads, hd]
        n = x.shape[0]
        inv = base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
        ang = np.arange(n, dtype=np.float64)[:, None] * inv[None, :]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        a, b = x[..., : hd // 2], x[..., hd // 2:]
        return np.concatenate([a * c - b * s, a * s + b * c], axis=-1)

    def forward(ids):
        n = len(ids)
        x = emb[ids].astype(np.float64) * np.sqrt(d_model)
        mask = np.triu(np.full((n, n), -np.inf), 1)
        for i, L in enumerate(layers):
            base = base_global if (i + 1) % swa_pattern == 0 else base_local
            h = norm(x, L["attn_norm"])
            q = norm((h @ L["attn_q"].T).reshape(n, n_head, hd), L["attn_q_norm"])
            k = norm((h @ L["attn_k"].T).reshape(n, n_kv, hd), L["attn_k_norm"])
            v = (h @ L["attn_v"].T).reshape(n, n_kv, hd)
            q, k = rope(q, base), rope(k, base)
            k, v = np.repeat(k, n_head // n_kv, axis=1), np.repeat(v, n_head // n_kv, axis=1)
            s = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(hd) + mask  # query_pre_attn_scalar = head_dim
            p = np.exp(s - s.max(axis=-1, keepdims=True))
            p /= p.sum(axis=-1, keepdims=True)
            o = np.einsum("hqk,khd->qhd", p, v).reshape(n, n_head * hd)
            x = x + norm(o @ L["attn_output"].T, L["post_attention_norm"])
            h = norm(x, L["ffn_norm"])
            g = h @ L["ffn_gate"].T
            gelu = 0.5 * g * (1 + np.tanh(np.sqrt(2 / np.pi) * (g + 0.044715 * g ** 3)))
            x = x + norm((gelu * (h @ L["ffn_up"].T)) @ L["ffn_down"].T, L["post_ffw_norm"])
        return (emb.astype(np.float64) @ norm(x[-1], out_norm)).astype(np.float64)

    with open(ref_path, encoding="utf-8") as f:
        ref = json.load(f)
    stride = ref["stride"]
    for c in ref["cases"]:
        logits = forward(c["prompt_ids"])
        c["numpy_top_logits"] = [round(float(logits[i]), 5) for i in c["top_ids"]]
        c["numpy_strided_logits"] = [round(float(x), 5) for x in logits[::stride]]
        kept = np.array(c["top_logits"] + c["strided_logits"])
        mine = np.array(c["numpy_top_logits"] + c["numpy_strided_logits"])
        print(f"{c['prompt']!r}: llama.cpp vs numpy max abs {np.abs(kept - mine).max():.4f} "
              f"rms {np.sqrt(np.mean((kept - mine) ** 2)):.4f}", file=sys.stderr)
    ref["numpy"] = "float64 forward pass on the dequantized weights (tests/models/gemma3_numpy_forward.py)"
    with open(ref_path, "w", encoding="utf-8") as f:
        json.dump(ref, f, indent=None, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: gemma3_numpy_forward.py MODEL.gguf REFERENCE.json")
    main(sys.argv[1], sys.argv[2])
