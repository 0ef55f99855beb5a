#!/usr/bin/env python3
"""llama.cpp's grammar sampler on the replay file of bench/grammar_compare (same schemas, same instances, same
vocabulary), measured the same way: the schema through llama-cpp-python's json_schema_to_gbnf (what
LlamaGrammar.from_json_schema uses), llama_sampler_init_grammar as compile time, then for each token of each
instance the time of llama_sampler_apply over the whole vocabulary (thread CPU time of the C call: the grammar
sampler computes the allowed tokens there), then llama_sampler_accept.

usage (llama-cpp-python without a build of its own):
  LLAMA_CPP_LIB_PATH=$HOME/.cache/llm/src/llama_cpp_python-0.3.36/vendor/llama.cpp/build-native/bin \
  ~/.cache/llm/venv-llama-cpp-lib/bin/python bench/grammar_vs_llama_cpp.py replay.json
"""
import ctypes
import json
import statistics
import sys
import time

import llama_cpp
from llama_cpp.llama_grammar import json_schema_to_gbnf


def stats(label, xs):
    if not xs:
        return
    xs = sorted(xs)
    print(f"  {label:8s} tokens {len(xs):5d}  median {xs[len(xs) // 2]:8.1f} us  p99 {xs[min(len(xs) - 1, len(xs) * 99 // 100)]:9.1f} us"
          f"  mean {statistics.fmean(xs):8.1f} us")


def main():
    replay = json.load(open(sys.argv[1], encoding="utf-8"))
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(replay["vocab"].encode(), params)
    if not model:
        sys.exit("cannot load " + replay["vocab"])
    vocab = llama_cpp.llama_model_get_vocab(model)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    data = (llama_cpp.llama_token_data * n_vocab)()
    fresh = (llama_cpp.llama_token_data * n_vocab)()
    for i in range(n_vocab):
        fresh[i].id, fresh[i].logit, fresh[i].p = i, 0.0, 0.0
    arr = llama_cpp.llama_token_data_array(data=data, size=n_vocab, selected=-1, sorted=False)
    toks = (llama_cpp.llama_token * 4096)()
    all_first, all_all, compiles = [], [], []
    for s in replay["schemas"]:
        t0 = time.thread_time_ns()
        try:
            gbnf = json_schema_to_gbnf(json.dumps(s["schema"]))
        except Exception as e:  # noqa: BLE001  (its converter raises KeyError on $defs references, for one)
            print(f"{s['name']}: llama-cpp-python's converter failed: {type(e).__name__} {e}")
            continue
        smpl = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode(), b"root")
        compile_us = (time.thread_time_ns() - t0) / 1000
        if not smpl:
            print(f"{s['name']}: llama.cpp could not build the grammar")
            continue
        compiles.append(compile_us)
        first, every = [], []
        rejected = 0
        for k, text in enumerate(s["texts"]):
            llama_cpp.llama_sampler_reset(smpl)
            b = text.encode()
            n = llama_cpp.llama_tokenize(vocab, b, len(b), toks, 4096, False, False)
            for j in range(n):
                tok = toks[j]
                ctypes.memmove(data, fresh, ctypes.sizeof(data))
                arr.size, arr.selected, arr.sorted = n_vocab, -1, False
                t = time.thread_time_ns()
                llama_cpp.llama_sampler_apply(smpl, ctypes.byref(arr))
                dt = (time.thread_time_ns() - t) / 1000
                if data[tok].logit == float("-inf"):
                    rejected += 1
                    break
                (first if k == 0 else every).append(dt)
                if k == 0:
                    every.append(dt)
                llama_cpp.llama_sampler_accept(smpl, tok)
        llama_cpp.llama_sampler_free(smpl)
        print(f"{s['name']}: compile {compile_us / 1000:.2f} ms" + (f"  ({rejected} instances rejected by llama.cpp's grammar)" if rejected else ""))
        stats("first", first)
        stats("all", every)
        all_first += first
        all_all += every
    compiles.sort()
    print(f"ALL llama.cpp {replay['vocab']} (n_vocab {n_vocab}): compile median {compiles[len(compiles) // 2] / 1000:.2f} ms max {compiles[-1] / 1000:.2f} ms")
    stats("first", all_first)
    stats("all", all_all)


if __name__ == "__main__":
    main()
