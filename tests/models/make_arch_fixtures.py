#!/usr/bin/env python3
"""Tiny random-weight Qwen 2, Qwen 3 and Gemma 3 models (the architectures' knobs at small shapes), written
deterministically from fixed seeds into a cache outside the repository; the test checks each file's sha256
(tests/models/data/arch_fixtures/manifest.json) and compares our logits with llama.cpp's references there.

    python3 tests/models/make_arch_fixtures.py OUT_DIR      # the models (numpy + PyPI gguf only), sha256s printed
    LLAMA_CPP_LIB_PATH=... VENV/bin/python tests/models/make_arch_fixtures.py OUT_DIR --reference REF_DIR
        # llama.cpp's logits of the models already in OUT_DIR (llama-cpp-python as for
        # make_smollm2_greedy_reference.py; F16 KV cache, 1 thread, n_ctx 256) and REF_DIR/manifest.json

Per model: <name>.F16.gguf, .Q8_0.gguf, .Q4_0.gguf (matrices quantized by gguf-py's ggml-reference quantizers;
norms, biases and the tied embedding table's type as llama-quantize would leave them: F32 norms/biases) and
hf/ (config.json + model.safetensors in F16, Hugging Face names and conventions: un-permuted Q/K, Gemma's
norm weights without the + 1 that llama.cpp's converter adds). Weights are rounded to F16 so the F16 GGUF and
the safetensors twin hold the same values. Vocabulary: the shared fixtures' 1024-token SentencePiece vocab.
Q4_K_M is not made here: gguf-py has no K-quant quantizers (llama-quantize would be a second generator).
"""
import hashlib
import json
import os
import struct
import sys

import numpy as np

SEQ_LEN = 24
FIXTURES = os.environ.get("LLM_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared",
                                                           "fixtures"))
TYPES = ["F16", "Q8_0", "Q4_0"]

MODELS = {
    # QKV biases, GQA 8/2, NEOX rope, untied output.
    "qwen2": dict(arch="qwen2", hf_class="Qwen2ForCausalLM", model_type="qwen2", seed=2001, d_model=256, n_layers=2,
                  n_heads=8, n_kv_heads=2, head_dim=32, d_ff=512, theta=1e6, eps=1e-6, tied=False),
    # QK-norm, no bias, head_dim 64 != d_model / n_heads, tied embeddings.
    "qwen3": dict(arch="qwen3", hf_class="Qwen3ForCausalLM", model_type="qwen3", seed=2002, d_model=256, n_layers=2,
                  n_heads=4, n_kv_heads=2, head_dim=96, d_ff=512, theta=1e6, eps=1e-6, tied=True),
    # Post-norms, QK-norm, GEGLU, x sqrt(d_model), local layers 0 and 2 (window 8, rope 1e4) around a global
    # layer 1 (rope 1e6, linear scaling 8), query_pre_attn_scalar 64, tied embeddings.
    "gemma3": dict(arch="gemma3", hf_class="Gemma3ForCausalLM", model_type="gemma3_text", seed=2003, d_model=256,
                   n_layers=3, n_heads=4, n_kv_heads=1, head_dim=64, d_ff=512, theta=1e6, eps=1e-6, tied=True,
                   window=8, pattern=2, theta_swa=1e4, rope_linear=8.0),
}


def f16(a):
    return np.asarray(a, dtype=np.float32).astype(np.float16).astype(np.float32)


def make_weights(m, n_vocab):
    """HF-named float32 arrays (values exactly representable in F16), [out, in] like torch."""
    rng = np.random.default_rng(m["seed"])
    D, H, KV, HD, F = m["d_model"], m["n_heads"], m["n_kv_heads"], m["head_dim"], m["d_ff"]
    gemma = m["arch"] == "gemma3"

    def mat(n_out, n_in):
        return f16(rng.normal(0, 0.02 * np.sqrt(4096 / n_in), (n_out, n_in)))

    def norm(n):  # the value the model multiplies by; Gemma stores it minus 1
        return f16(rng.normal(0, 0.1, n) + (0.0 if gemma else 1.0))

    w = {}
    w["model.embed_tokens.weight"] = f16(rng.normal(0, 3 / np.sqrt(D) if m["tied"] else 0.5, (n_vocab, D)))
    if gemma:  # logits = E x: keep them at std ~3 after x sqrt(d_model) and the final norm
        w["model.embed_tokens.weight"] = f16(rng.normal(0, 3 / np.sqrt(D), (n_vocab, D)))
    for il in range(m["n_layers"]):
        p = f"model.layers.{il}."
        w[p + "input_layernorm.weight"] = norm(D)
        w[p + "self_attn.q_proj.weight"] = mat(H * HD, D)
        w[p + "self_attn.k_proj.weight"] = mat(KV * HD, D)
        w[p + "self_attn.v_proj.weight"] = mat(KV * HD, D)
        if m["arch"] == "qwen2":
            for n, k in (("q", H), ("k", KV), ("v", KV)):
                w[p + f"self_attn.{n}_proj.bias"] = f16(rng.normal(0, 0.5, k * HD))
        if m["arch"] in ("qwen3", "gemma3"):
            w[p + "self_attn.q_norm.weight"] = norm(HD)
            w[p + "self_attn.k_norm.weight"] = norm(HD)
        w[p + "self_attn.o_proj.weight"] = mat(D, H * HD)
        w[p + "post_attention_layernorm.weight"] = norm(D)  # Gemma: after attention; others: before the MLP
        if gemma:
            w[p + "pre_feedforward_layernorm.weight"] = norm(D)
            w[p + "post_feedforward_layernorm.weight"] = norm(D)
        w[p + "mlp.gate_proj.weight"] = mat(F, D)
        w[p + "mlp.up_proj.weight"] = mat(F, D)
        w[p + "mlp.down_proj.weight"] = mat(D, F)
    w["model.norm.weight"] = norm(D)
    if not m["tied"]:
        w["lm_head.weight"] = f16(rng.normal(0, 3 / np.sqrt(D), (n_vocab, D)))
    return w


def gguf_tensors(m, w):
    """llama.cpp names and conventions: Gemma norms + 1 (float32), no Q/K permutation (NEOX rope)."""
    gemma = m["arch"] == "gemma3"
    out = {}

    def gain(a):
        return (np.float32(1) + a).astype(np.float32) if gemma else a.astype(np.float32)

    out["token_embd.weight"] = w["model.embed_tokens.weight"]
    for il in range(m["n_layers"]):
        p, b = f"model.layers.{il}.", f"blk.{il}."
        out[b + "attn_norm.weight"] = gain(w[p + "input_layernorm.weight"])
        for n, g in (("q", "attn_q"), ("k", "attn_k"), ("v", "attn_v"), ("o", "attn_output")):
            out[b + g + ".weight"] = w[p + f"self_attn.{n}_proj.weight"]
            if p + f"self_attn.{n}_proj.bias" in w:
                out[b + g + ".bias"] = w[p + f"self_attn.{n}_proj.bias"].astype(np.float32)
        if p + "self_attn.q_norm.weight" in w:
            out[b + "attn_q_norm.weight"] = gain(w[p + "self_attn.q_norm.weight"])
            out[b + "attn_k_norm.weight"] = gain(w[p + "self_attn.k_norm.weight"])
        if gemma:
            out[b + "post_attention_norm.weight"] = gain(w[p + "post_attention_layernorm.weight"])
            out[b + "ffn_norm.weight"] = gain(w[p + "pre_feedforward_layernorm.weight"])
            out[b + "post_ffw_norm.weight"] = gain(w[p + "post_feedforward_layernorm.weight"])
        else:
            out[b + "ffn_norm.weight"] = gain(w[p + "post_attention_layernorm.weight"])
        out[b + "ffn_gate.weight"] = w[p + "mlp.gate_proj.weight"]
        out[b + "ffn_up.weight"] = w[p + "mlp.up_proj.weight"]
        out[b + "ffn_down.weight"] = w[p + "mlp.down_proj.weight"]
    out["output_norm.weight"] = gain(w["model.norm.weight"])
    if "lm_head.weight" in w:
        out["output.weight"] = w["lm_head.weight"]
    return out


def read_vocab():
    with open(os.path.join(FIXTURES, "models", "llama-mha", "hf", "tokenizer_vocab.json")) as f:
        return json.load(f)


def write_gguf(path, m, tensors, vocab, wtype):
    import gguf
    a = m["arch"]
    wr = gguf.GGUFWriter(path, a)
    wr.add_name(f"{a}-fixture")
    wr.add_context_length(256)
    wr.add_embedding_length(m["d_model"])
    wr.add_block_count(m["n_layers"])
    wr.add_feed_forward_length(m["d_ff"])
    wr.add_head_count(m["n_heads"])
    wr.add_head_count_kv(m["n_kv_heads"])
    wr.add_key_length(m["head_dim"])
    wr.add_value_length(m["head_dim"])
    wr.add_rope_dimension_count(m["head_dim"])
    wr.add_rope_freq_base(m["theta"])
    wr.add_layer_norm_rms_eps(m["eps"])
    if a == "gemma3":
        wr.add_sliding_window(m["window"])
        wr.add_uint32(f"{a}.attention.sliding_window_pattern", m["pattern"])
        wr.add_float32(f"{a}.rope.freq_base_swa", m["theta_swa"])
        wr.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        wr.add_rope_scaling_factor(m["rope_linear"])
    wr.add_tokenizer_model("llama")
    wr.add_tokenizer_pre("default")
    wr.add_token_list(vocab["tokens"])
    wr.add_token_scores(vocab["scores"])
    wr.add_token_types(vocab["types"])
    wr.add_bos_token_id(1)
    wr.add_eos_token_id(2)
    wr.add_unk_token_id(0)
    wr.add_add_bos_token(True)
    wr.add_add_eos_token(False)
    wr.add_add_space_prefix(True)
    qt = {"F16": gguf.GGMLQuantizationType.F16, "Q8_0": gguf.GGMLQuantizationType.Q8_0,
          "Q4_0": gguf.GGMLQuantizationType.Q4_0}[wtype]
    wr.add_file_type({"F16": 1, "Q8_0": 7, "Q4_0": 2}[wtype])
    for name, arr in tensors.items():
        if arr.ndim == 1:
            wr.add_tensor(name, arr.astype(np.float32))
        elif wtype == "F16":
            wr.add_tensor(name, arr.astype(np.float16))
        else:
            q = gguf.quants.quantize(arr.astype(np.float32), qt)
            wr.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qt)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()


def write_safetensors(path, w):
    header, blobs, off = {}, [], 0
    for name in sorted(w):
        b = w[name].astype(np.float16).tobytes()
        header[name] = {"dtype": "F16", "shape": list(w[name].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


def hf_config(m, n_vocab):
    c = {"architectures": [m["hf_class"]], "model_type": m["model_type"], "vocab_size": n_vocab,
         "hidden_size": m["d_model"], "num_hidden_layers": m["n_layers"], "num_attention_heads": m["n_heads"],
         "num_key_value_heads": m["n_kv_heads"], "head_dim": m["head_dim"], "intermediate_size": m["d_ff"],
         "max_position_embeddings": 256, "rms_norm_eps": m["eps"], "rope_theta": m["theta"],
         "tie_word_embeddings": m["tied"], "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float16"}
    if m["arch"] == "gemma3":
        c.update({"hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": m["head_dim"],
                  "sliding_window": m["window"], "rope_local_base_freq": m["theta_swa"],
                  "rope_scaling": {"rope_type": "linear", "factor": m["rope_linear"]},
                  "layer_types": ["sliding_attention" if il % m["pattern"] < m["pattern"] - 1 else "full_attention"
                                  for il in range(m["n_layers"])],
                  "final_logit_softcapping": None, "attn_logit_softcapping": None})
    else:
        c["hidden_act"] = "silu"
    return c


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_models(out_dir):
    vocab = read_vocab()
    n_vocab = len(vocab["tokens"])
    files = {}
    for name, m in MODELS.items():
        d = os.path.join(out_dir, name)
        os.makedirs(os.path.join(d, "hf"), exist_ok=True)
        w = make_weights(m, n_vocab)
        t = gguf_tensors(m, w)
        for wtype in TYPES:
            p = os.path.join(d, f"{name}.{wtype}.gguf")
            write_gguf(p, m, t, vocab, wtype)
            files[f"{name}/{name}.{wtype}.gguf"] = sha256(p)
        write_safetensors(os.path.join(d, "hf", "model.safetensors"), w)
        with open(os.path.join(d, "hf", "config.json"), "w") as f:
            json.dump(hf_config(m, n_vocab), f, indent=1)
        files[f"{name}/hf/model.safetensors"] = sha256(os.path.join(d, "hf", "model.safetensors"))
        files[f"{name}/hf/config.json"] = sha256(os.path.join(d, "hf", "config.json"))
    return files


def sequence():
    with open(os.path.join(FIXTURES, "models", "manifest.json")) as f:
        return json.load(f)["sequence"]["tokens"][:SEQ_LEN]


def make_references(out_dir, ref_dir, files):
    import llama_cpp
    llama_cpp.llama_backend_init()
    toks = sequence()
    os.makedirs(ref_dir, exist_ok=True)

    def logits(path, batch):
        model = llama_cpp.llama_model_load_from_file(path.encode(), llama_cpp.llama_model_default_params())
        n_vocab = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(model))
        cp = llama_cpp.llama_context_default_params()
        cp.n_ctx = cp.n_batch = cp.n_ubatch = 256
        cp.n_threads = cp.n_threads_batch = 1
        if hasattr(cp, "flash_attn_type"):
            cp.flash_attn_type = 0
        ctx = llama_cpp.llama_init_from_model(model, cp)
        rows = []
        if batch:
            b = llama_cpp.llama_batch_init(len(toks), 0, 1)
            for i, t in enumerate(toks):
                b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = t, i, 1, 1
                b.seq_id[i][0] = 0
            b.n_tokens = len(toks)
            assert llama_cpp.llama_decode(ctx, b) == 0
            for i in range(len(toks)):
                rows.append(np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, i), shape=(n_vocab,)).copy())
            llama_cpp.llama_batch_free(b)
        else:
            for t in toks:
                one = (llama_cpp.llama_token * 1)(t)
                assert llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(one, 1)) == 0
                rows.append(np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1), shape=(n_vocab,)).copy())
        llama_cpp.llama_free(ctx)
        llama_cpp.llama_model_free(model)
        return np.stack(rows).astype(np.float32)

    refs = {}
    for name in MODELS:
        for wtype in TYPES:
            path = os.path.join(out_dir, name, f"{name}.{wtype}.gguf")
            batch = logits(path, True)
            batch.tofile(os.path.join(ref_dir, f"{name}.{wtype}.logits.bin"))
            refs[f"{name}.{wtype}"] = {"batch": f"{name}.{wtype}.logits.bin"}
            if wtype == "F16":
                incr = logits(path, False)
                incr.tofile(os.path.join(ref_dir, f"{name}.{wtype}.incr.logits.bin"))
                refs[f"{name}.{wtype}"]["incr"] = f"{name}.{wtype}.incr.logits.bin"
                refs[f"{name}.{wtype}"]["batch_vs_incr_max_abs"] = float(np.abs(batch - incr).max())
    manifest = {"generator": "tests/models/make_arch_fixtures.py", "sequence": toks, "n_vocab": 1024,
                "reference": f"llama-cpp-python {llama_cpp.__version__}, F16 KV cache, no flash attention, "
                             "1 thread, n_ctx = n_batch = 256",
                "models": {k: {kk: vv for kk, vv in v.items()} for k, v in MODELS.items()},
                "files_sha256": files, "references": refs}
    with open(os.path.join(ref_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    out_dir = args[0]
    if len(args) == 3 and args[1] == "--reference":
        files = {}
        for name in MODELS:
            for rel in [f"{name}/{name}.{t}.gguf" for t in TYPES] + [f"{name}/hf/model.safetensors",
                                                                  f"{name}/hf/config.json"]:
                files[rel] = sha256(os.path.join(out_dir, rel))
        make_references(out_dir, args[2], files)
    else:
        for k, v in sorted(make_models(out_dir).items()):
            print(v, k)


if __name__ == "__main__":
    main()
