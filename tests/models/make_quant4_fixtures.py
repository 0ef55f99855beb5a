#!/usr/bin/env python3
"""Packed quantized safetensors folders (MLX affine 4/8-bit, GPTQ int4) made from the shared fixtures' llama-mha and
phi3 weights (numpy only, deterministic: no randomness beyond the fixtures' own seeds), each with the logits of a
float64 numpy forward pass on the dequantized weights of its own file (ref.logits.bin, float32 [32][1024], the
shared fixtures' 32-token sequence), plus broken folders for the loader's error messages.

    python3 tests/models/make_quant4_fixtures.py OUT_DIR

Folders: llama-mlx4 (group 64, every matrix and the embeddings packed, bf16 scales/biases), llama-mlx8 (group 32),
phi3-mlx4 (fused qkv_proj / gate_up_proj, LongRoPE short factors), llama-gptq (asymmetric, group 64, v1 zero points,
config.json quantization_config), llama-gptq-sym (symmetric, group 128, quantize_config.json), llama-gptq-v2
(checkpoint_format gptq_v2, group 32, zero points 0..15 stored as they are), llama-mlx-mixed (per-module entries
in quantization: 8-bit, 4-bit group 32, false); bad-* folders.
"""
import json
import os
import shutil
import struct
import sys

import numpy as np

FIXTURES = os.environ.get("LLM_FIXTURES_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                           "..", "shared", "fixtures"))
MODELS = os.path.join(FIXTURES, "models")
LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "qkv_proj", "gate_proj", "up_proj", "gate_up_proj", "down_proj")


def bf16_round(a):
    """Round-to-nearest-even to bfloat16, returned as float32."""
    u = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16
    return u.astype(np.uint32).view(np.float32)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = data[b:end]
        if e["dtype"] == "BF16":
            a = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif e["dtype"] == "F16":
            a = np.frombuffer(raw, np.float16).astype(np.float32)
        else:
            a = np.frombuffer(raw, np.float32)
        out[name] = a.reshape(e["shape"])
    return out


def write_safetensors(path, tensors):
    """tensors: name -> (safetensors dtype, numpy array already in that dtype's storage type)."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        dt, a = tensors[name]
        b = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


def as_bf16(a):
    return ("BF16", (bf16_round(a).view(np.uint32) >> 16).astype(np.uint16))


def pack_u32(q, bits):
    """[rows, n] values < 2**bits -> [rows, n*bits/32] uint32, first value in the lowest bits (MLX)."""
    per = 32 // bits
    q = q.astype(np.uint64).reshape(q.shape[0], -1, per)
    return (q << (np.arange(per, dtype=np.uint64) * bits)).sum(axis=2).astype(np.uint32)


def mlx_quantize(w, bits, group):
    """MLX affine quantization of [out, in]: packed uint32, bf16 scales and biases, and the dequantized weights."""
    levels = 2 ** bits - 1
    g = w.reshape(w.shape[0], -1, group).astype(np.float64)
    lo, hi = g.min(axis=2), g.max(axis=2)
    scale = bf16_round(np.maximum((hi - lo) / levels, 1e-8)).astype(np.float64)
    bias = bf16_round(lo).astype(np.float64)
    q = np.clip(np.rint((g - bias[..., None]) / scale[..., None]), 0, levels)
    deq = (scale[..., None] * q + bias[..., None]).reshape(w.shape)
    return pack_u32(q.reshape(w.shape).astype(np.uint32), bits), scale, bias, deq


def gptq_quantize(w, group, sym, v2=False):
    """GPTQ int4 of [out, in] (v1 files: qzeros store zero - 1; v2: zero): qweight [in/8, out], qzeros, fp16 scales,
    deq."""
    g = w.reshape(w.shape[0], -1, group).astype(np.float64)
    lo, hi = np.minimum(g.min(axis=2), 0), np.maximum(g.max(axis=2), 0)
    if sym:
        scale = np.maximum(np.abs(lo), hi) * 2 / 15
        zero = np.full(scale.shape, 8.0)
    else:
        scale = (hi - lo) / 15
        zero = np.clip(np.rint(-lo / np.maximum(scale, 1e-8)), 0 if v2 else 1, 15)  # v1 cannot store 0
    scale = np.maximum(scale, 1e-6).astype(np.float16).astype(np.float64)
    q = np.clip(np.rint(g / scale[..., None]) + zero[..., None], 0, 15)
    deq = (scale[..., None] * (q - zero[..., None])).reshape(w.shape)
    q = q.reshape(w.shape).astype(np.uint32)                        # [out, in]
    qweight = pack_u32(q.T.reshape(-1, 8, w.shape[0]).transpose(0, 2, 1).reshape(-1, 8), 4)  # [in/8 * out, 1]
    qweight = qweight.reshape(w.shape[1] // 8, w.shape[0]).view(np.int32)
    qzeros = pack_u32((zero.T - (0 if v2 else 1)).astype(np.uint32), 4).view(np.int32)  # [groups, out/8]
    return qweight, qzeros, scale.T.astype(np.float16), deq


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * w


def rope_cos_sin(cfg, n_pos, head_dim):
    inv = 1.0 / cfg["rope_theta"] ** (np.arange(0, head_dim, 2) / head_dim)
    factor = 1.0
    rs = cfg.get("rope_scaling")
    if rs and rs.get("type", rs.get("rope_type")) == "longrope":  # n_ctx <= original: the short factors
        inv = inv / np.asarray(rs["short_factor"], dtype=np.float64)
        scale = cfg["max_position_embeddings"] / cfg["original_max_position_embeddings"]
        factor = np.sqrt(1 + np.log(scale) / np.log(cfg["original_max_position_embeddings"]))
    ang = np.arange(n_pos)[:, None] * inv[None, :]
    ang = np.concatenate([ang, ang], axis=1)
    return np.cos(ang) * factor, np.sin(ang) * factor


def forward(cfg, w, tokens):
    """float64 HF forward (rotate-half RoPE, causal attention, SiLU-gated MLP) on float weights w (HF names)."""
    D, H, KV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    HD = cfg.get("head_dim") or D // H
    eps, n = cfg["rms_norm_eps"], len(tokens)
    cos, sin = rope_cos_sin(cfg, n, HD)

    def rope(x):  # [heads, n, HD]
        half = HD // 2
        rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
        return x * cos + rot * sin

    x = w["model.embed_tokens.weight"][tokens].astype(np.float64)
    for il in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{il}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        if p + "self_attn.qkv_proj.weight" in w:
            q, k, v = np.split(h @ w[p + "self_attn.qkv_proj.weight"].T, [H * HD, H * HD + KV * HD], axis=1)
        else:
            q, k, v = (h @ w[p + f"self_attn.{t}_proj.weight"].T for t in "qkv")
        q = rope(q.reshape(n, H, HD).transpose(1, 0, 2))
        k = np.repeat(rope(k.reshape(n, KV, HD).transpose(1, 0, 2)), H // KV, axis=0)
        v = np.repeat(v.reshape(n, KV, HD).transpose(1, 0, 2), H // KV, axis=0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(HD) + np.triu(np.full((n, n), -np.inf), 1)
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        a = (s / s.sum(axis=-1, keepdims=True)) @ v
        x = x + a.transpose(1, 0, 2).reshape(n, H * HD) @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        if p + "mlp.gate_up_proj.weight" in w:
            gate, up = np.split(h @ w[p + "mlp.gate_up_proj.weight"].T, 2, axis=1)
        else:
            gate, up = h @ w[p + "mlp.gate_proj.weight"].T, h @ w[p + "mlp.up_proj.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    return x @ w.get("lm_head.weight", w["model.embed_tokens.weight"]).T


def is_linear(name):
    return name.endswith(".weight") and name.split(".")[-2] in LINEARS


def make_mlx(src, out, bits, group):
    cfg = json.load(open(os.path.join(MODELS, src, "hf", "config.json")))
    w = read_safetensors(os.path.join(MODELS, src, "hf", "model.safetensors"))
    tensors, deq = {}, {}
    for name, a in w.items():
        if is_linear(name) or name in ("model.embed_tokens.weight", "lm_head.weight"):
            packed, scale, bias, deq[name] = mlx_quantize(a, bits, group)
            prefix = name[:-len(".weight")]
            tensors[name] = ("U32", packed)
            tensors[prefix + ".scales"] = as_bf16(scale)
            tensors[prefix + ".biases"] = as_bf16(bias)
        else:
            tensors[name], deq[name] = as_bf16(a), a.astype(np.float64)
    cfg["quantization"] = {"group_size": group, "bits": bits}
    return cfg, tensors, deq


def make_mlx_mixed(src):
    """MLX 4-bit group 64 with per-module entries in config.json's quantization (as mlx_lm's mixed recipes write):
    one linear 8-bit group 32, one 4-bit group 32, one left in bf16 (false)."""
    cfg = json.load(open(os.path.join(MODELS, src, "hf", "config.json")))
    w = read_safetensors(os.path.join(MODELS, src, "hf", "model.safetensors"))
    special = {"model.layers.0.mlp.down_proj": {"bits": 8, "group_size": 32},
               "model.layers.1.self_attn.q_proj": {"bits": 4, "group_size": 32},
               "model.layers.1.mlp.gate_proj": False}
    tensors, deq = {}, {}
    for name, a in w.items():
        prefix = name[:-len(".weight")]
        p = special.get(prefix, {"bits": 4, "group_size": 64})
        if (is_linear(name) or name in ("model.embed_tokens.weight", "lm_head.weight")) and p:
            packed, scale, bias, deq[name] = mlx_quantize(a, p["bits"], p["group_size"])
            tensors[name] = ("U32", packed)
            tensors[prefix + ".scales"] = as_bf16(scale)
            tensors[prefix + ".biases"] = as_bf16(bias)
        else:
            tensors[name], deq[name] = as_bf16(a), bf16_round(a).astype(np.float64)
    cfg["quantization"] = {"group_size": 64, "bits": 4, **special}
    return cfg, tensors, deq


def make_gptq(src, out, group, sym, v2=False):
    cfg = json.load(open(os.path.join(MODELS, src, "hf", "config.json")))
    w = read_safetensors(os.path.join(MODELS, src, "hf", "model.safetensors"))
    tensors, deq = {}, {}
    for name, a in w.items():
        if is_linear(name):
            if v2:  # every 16th row all >= 0 and the next all <= 0: zero points 0 and 15, the ends of v2's range
                a = a.astype(np.float64).copy()
                a[0::16] = np.abs(a[0::16])
                a[1::16] = -np.abs(a[1::16])
            qweight, qzeros, scales, deq[name] = gptq_quantize(a, group, sym, v2)
            prefix = name[:-len(".weight")]
            tensors[prefix + ".qweight"] = ("I32", qweight)
            tensors[prefix + ".qzeros"] = ("I32", qzeros)
            tensors[prefix + ".scales"] = ("F16", scales)
            tensors[prefix + ".g_idx"] = ("I32", (np.arange(a.shape[1]) // group).astype(np.int32))
        else:
            h = a.astype(np.float16)
            tensors[name], deq[name] = ("F16", h), h.astype(np.float64)
    cfg["torch_dtype"] = "float16"
    return cfg, tensors, deq


# Linears whose dequantized values a folder also keeps (ref.<name>.bin, float32 [out, in]): the test compares them
# with the converted block matrix, which the logits alone bound only loosely.
CHECKED = {"llama-gptq-v2": ["model.layers.0.mlp.up_proj.weight"],
           "llama-mlx-mixed": ["model.layers.0.mlp.down_proj.weight", "model.layers.1.self_attn.q_proj.weight"]}


def save(out, cfg, tensors, deq=None, quantize_config=None):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    if quantize_config:
        with open(os.path.join(out, "quantize_config.json"), "w") as f:
            json.dump(quantize_config, f, indent=1)
    write_safetensors(os.path.join(out, "model.safetensors"), tensors)
    if deq is not None:
        tokens = json.load(open(os.path.join(MODELS, "manifest.json")))["sequence"]["tokens"]
        forward(cfg, deq, tokens).astype(np.float32).tofile(os.path.join(out, "ref.logits.bin"))
        for name in CHECKED.get(os.path.basename(out), []):
            deq[name].astype(np.float32).tofile(os.path.join(out, f"ref.{name}.bin"))


def main():
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__)
    root = sys.argv[1]
    shutil.rmtree(root, ignore_errors=True)
    for name, src, bits, group in (("llama-mlx4", "llama-mha", 4, 64), ("llama-mlx8", "llama-mha", 8, 32),
                                   ("phi3-mlx4", "phi3", 4, 64)):
        save(os.path.join(root, name), *make_mlx(src, name, bits, group))
    cfg, t, deq = make_gptq("llama-mha", "llama-gptq", 64, sym=False)
    cfg["quantization_config"] = {"quant_method": "gptq", "bits": 4, "group_size": 64, "desc_act": False,
                                  "sym": False, "checkpoint_format": "gptq"}
    save(os.path.join(root, "llama-gptq"), cfg, t, deq)
    cfg, t, deq = make_gptq("llama-mha", "llama-gptq-v2", 32, sym=False, v2=True)
    cfg["quantization_config"] = {"quant_method": "gptq", "bits": 4, "group_size": 32, "desc_act": False,
                                  "sym": False, "checkpoint_format": "gptq_v2"}
    save(os.path.join(root, "llama-gptq-v2"), cfg, t, deq)
    save(os.path.join(root, "llama-mlx-mixed"), *make_mlx_mixed("llama-mha"))
    qc = {"bits": 4, "group_size": 128, "desc_act": False, "sym": True}
    cfg, t, deq = make_gptq("llama-mha", "llama-gptq-sym", 128, sym=True)
    save(os.path.join(root, "llama-gptq-sym"), cfg, t, deq, quantize_config=qc)

    # Broken folders: each names what the loader must name.
    cfg, t, _ = make_mlx("llama-mha", "", 4, 64)
    no_scales = dict(t)
    del no_scales["model.layers.0.self_attn.k_proj.scales"]
    save(os.path.join(root, "bad-mlx-noscales"), cfg, no_scales)
    short = dict(t)
    short["model.layers.1.mlp.up_proj.weight"] = ("U32", t["model.layers.1.mlp.up_proj.weight"][1][:, :-1].copy())
    save(os.path.join(root, "bad-mlx-shape"), cfg, short)
    save(os.path.join(root, "bad-mlx-bits"), dict(cfg, quantization={"group_size": 64, "bits": 3}), t)
    no_biases = dict(t)
    del no_biases["model.layers.1.mlp.down_proj.biases"]
    save(os.path.join(root, "bad-mlx-nobiases"), cfg, no_biases)
    excluded = dict(cfg, quantization={"group_size": 64, "bits": 4, "model.layers.0.self_attn.o_proj": False})
    save(os.path.join(root, "bad-mlx-excluded"), excluded, t)
    cfg, t, _ = make_gptq("llama-mha", "", 64, sym=False)
    cfg["quantization_config"] = {"quant_method": "gptq", "bits": 4, "group_size": 64, "desc_act": True}
    g_idx = np.roll(t["model.layers.0.mlp.down_proj.g_idx"][1], 5)
    t["model.layers.0.mlp.down_proj.g_idx"] = ("I32", g_idx)
    save(os.path.join(root, "bad-gptq-actorder"), cfg, t)
    cfg["quantization_config"]["desc_act"] = False
    t["model.layers.0.mlp.down_proj.g_idx"] = ("I32", np.roll(g_idx, -5))
    no_zeros = dict(t)
    del no_zeros["model.layers.1.self_attn.v_proj.qzeros"]
    save(os.path.join(root, "bad-gptq-noqzeros"), cfg, no_zeros)
    with open(os.path.join(root, "done"), "w") as f:
        f.write("ok\n")


if __name__ == "__main__":
    main()
