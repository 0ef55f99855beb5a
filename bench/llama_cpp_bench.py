#!/usr/bin/env python3
"""llama.cpp timings through llama-cpp-python's low-level API, measured the way llama-bench measures them.

pp<N>: one N-token batch (n_batch = n_ubatch >= N) decoded from an empty KV cache; tg<N>: N single-token decodes
from an empty cache. One warm-up (the prompt, then one token), then -r timed repetitions. Prints one JSON object per
test (JSONL) with llm-bench's / llama-bench's field names, so bench/compare_llama_cpp.sh can join both engines.
  llama_cpp_bench.py -m model.gguf [-m ...] -p 512 -n 128 -r 5 -t 2
  llama_cpp_bench.py --summarize results.jsonl   (markdown ratio table of llm-bench vs llama.cpp records)
"""
import argparse
import ctypes
import json
import os
import random
import statistics
import sys
import time

lc = None  # llama_cpp, imported in main() so --summarize works without it
_log_cb = None


def clear_cache(ctx):
    if hasattr(lc, "llama_get_memory") and hasattr(lc, "llama_memory_clear"):
        lc.llama_memory_clear(lc.llama_get_memory(ctx), True)
    elif hasattr(lc, "llama_kv_self_clear"):
        lc.llama_kv_self_clear(ctx)
    else:
        lc.llama_kv_cache_clear(ctx)


def decode(ctx, batch, tokens, pos0):
    batch.n_tokens = len(tokens)
    for i, t in enumerate(tokens):
        batch.token[i] = t
        batch.pos[i] = pos0 + i
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = i == len(tokens) - 1
    rc = lc.llama_decode(ctx, batch)
    if rc != 0:
        sys.exit(f"llama_cpp_bench: llama_decode returned {rc}")
    lc.llama_synchronize(ctx)


def bench_model(path, tests, reps, n_threads, n_batch, flash_attn, seed):
    mparams = lc.llama_model_default_params()
    t0 = time.perf_counter()
    model = lc.llama_model_load_from_file(path.encode(), mparams)
    load_ms = (time.perf_counter() - t0) * 1e3
    if not model:
        sys.exit(f"llama_cpp_bench: cannot load {path}")
    vocab = lc.llama_model_get_vocab(model)
    n_vocab = lc.llama_vocab_n_tokens(vocab)
    desc = ctypes.create_string_buffer(256)
    lc.llama_model_desc(model, desc, len(desc))
    n_ctx = max(p + n for p, n in tests)
    cparams = lc.llama_context_default_params()
    cparams.n_ctx = n_ctx
    cparams.n_batch = max(n_batch, max(p for p, _ in tests))
    cparams.n_ubatch = cparams.n_batch
    cparams.n_threads = n_threads
    cparams.n_threads_batch = n_threads
    cparams.no_perf = True
    if hasattr(cparams, "flash_attn_type"):
        cparams.flash_attn_type = lc.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attn else lc.LLAMA_FLASH_ATTN_TYPE_DISABLED
    ctx = lc.llama_init_from_model(model, cparams)
    if not ctx:
        sys.exit(f"llama_cpp_bench: cannot create a context for {path}")
    batch = lc.llama_batch_init(cparams.n_batch, 0, 1)
    rng = random.Random(seed)
    out = []
    for n_prompt, n_gen in tests:
        samples_ns = []
        for rep in range(-1, reps):  # rep -1: warm-up
            clear_cache(ctx)
            prompt = [rng.randrange(n_vocab) for _ in range(n_prompt)]
            gen = [rng.randrange(n_vocab) for _ in range(min(n_gen, 1) if rep < 0 else n_gen)]
            start = time.perf_counter_ns()
            for i in range(0, n_prompt, cparams.n_batch):
                decode(ctx, batch, prompt[i:i + cparams.n_batch], i)
            for i, t in enumerate(gen):
                decode(ctx, batch, [t], n_prompt + i)
            ns = time.perf_counter_ns() - start
            if rep >= 0:
                samples_ns.append(ns)
        ts = [(n_prompt + n_gen) / (ns * 1e-9) for ns in samples_ns]
        rec = {
            "engine": "llama.cpp",
            "build_commit": f"llama-cpp-python {lc.__version__}" if hasattr(lc, "__version__") else "llama-cpp-python",
            "model_filename": path,
            "model_type": desc.value.decode(errors="replace"),
            "model_size": lc.llama_model_size(model),
            "model_n_params": lc.llama_model_n_params(model),
            "n_batch": cparams.n_batch,
            "n_ubatch": cparams.n_ubatch,
            "n_threads": n_threads,
            "type_k": "f16",
            "type_v": "f16",
            "flash_attn": bool(flash_attn),
            "n_prompt": n_prompt,
            "n_gen": n_gen,
            "n_depth": 0,
            "test_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "avg_ns": int(statistics.mean(samples_ns)),
            "stddev_ns": int(statistics.stdev(samples_ns)) if len(samples_ns) > 1 else 0,
            "avg_ts": statistics.mean(ts),
            "stddev_ts": statistics.stdev(ts) if len(ts) > 1 else 0.0,
            "median_ts": statistics.median(ts),
            "samples_ns": samples_ns,
            "samples_ts": ts,
            "load_ms": load_ms,
        }
        print(json.dumps(rec), flush=True)
        print(f"llama_cpp_bench: {os.path.basename(path)} {'pp%d' % n_prompt if n_prompt else 'tg%d' % n_gen}: "
              f"{rec['avg_ts']:.2f} ± {rec['stddev_ts']:.2f} t/s", file=sys.stderr, flush=True)
        out.append(rec)
    lc.llama_batch_free(batch)
    lc.llama_free(ctx)
    lc.llama_model_free(model)
    return out


def summarize(path):
    """Markdown table: per model and test, medians over all samples of each engine, and their ratio."""
    recs = [json.loads(line) for line in open(path) if line.startswith("{")]
    key = lambda r: (r["model_filename"], r["n_prompt"], r["n_gen"])
    groups = {}
    for r in recs:
        eng = r.get("engine", "llm")
        groups.setdefault(key(r), {}).setdefault(eng, []).append(r)
    versions = {}
    for r in recs:
        eng = r.get("engine", "llm")
        versions.setdefault(eng, r.get("build_commit", "?") + (f" ({r['isa']})" if "isa" in r else ""))
    print(f"llm: build {versions.get('llm', '?')}; llama.cpp: {versions.get('llama.cpp', '?')}; "
          f"threads {recs[0]['n_threads'] if recs else '?'}\n")
    print("| model | test | llm t/s (median) | llama.cpp t/s (median) | llm / llama.cpp | llm weights GB/s "
          "| % of mem bw | % of int8 peak | samples (llm, llama.cpp) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (model, p, n), g in groups.items():
        def med(eng):
            xs = [x for r in g.get(eng, []) for x in r["samples_ts"]]
            return (statistics.median(xs), len(xs)) if xs else (float("nan"), 0)
        (a, na), (b, nb) = med("llm"), med("llama.cpp")
        extra = ["-", "-", "-"]
        if g.get("llm"):
            r = g["llm"][0]
            if n and not p:
                gbps = r.get("weight_bytes", r["model_size"]) * a / 1e9
                extra[0], extra[1] = f"{gbps:.1f}", f"{100 * gbps / r['mem_bw_gbps']:.0f}"
            if p and not n:
                extra[2] = f"{100 * a * r['model_n_params'] / (r['peak_gops_per_core'] * 1e9 * r['n_threads']):.1f}"
        test = f"pp{p}" if p and not n else f"tg{n}" if n and not p else f"pp{p}+tg{n}"
        ratio = a / b if b == b and b > 0 else float("nan")
        print(f"| {os.path.basename(model)} | {test} | {a:.2f} | {b:.2f} | {ratio:.2f}x | {extra[0]} | {extra[1]} "
              f"| {extra[2]} | {na}, {nb} |")


def main():
    global lc
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", action="append", help="GGUF file (repeat or comma-separate)")
    ap.add_argument("--summarize", metavar="JSONL", help="print the comparison table of a results file and exit")
    ap.add_argument("-p", "--n-prompt", default="512", help="prompt lengths, comma-separated (0: none)")
    ap.add_argument("-n", "--n-gen", default="128", help="generation lengths, comma-separated (0: none)")
    ap.add_argument("-r", "--repetitions", type=int, default=5)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-b", "--batch-size", type=int, default=512, help="n_batch = n_ubatch (at least the prompt)")
    ap.add_argument("--flash-attn", action="store_true", help="enable flash attention (llama-bench -fa 1)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--version", action="store_true", help="print the llama-cpp-python version and system info")
    args = ap.parse_args()
    if args.summarize:
        summarize(args.summarize)
        return
    import llama_cpp
    lc = llama_cpp
    global _log_cb  # must outlive every llama.cpp call: a collected callback crashes the next log line
    _log_cb = lc.llama_log_callback(lambda level, text, user: None)
    lc.llama_log_set(_log_cb, ctypes.c_void_p(0))
    lc.llama_backend_init()
    if args.version:
        print(getattr(lc, "__version__", "?"), lc.llama_print_system_info().decode().strip())
        return
    if not args.model:
        ap.error("-m is required")
    tests = [(int(p), 0) for p in args.n_prompt.split(",") if int(p) > 0]
    tests += [(0, int(n)) for n in args.n_gen.split(",") if int(n) > 0]
    for m in [x for item in args.model for x in item.split(",") if x]:
        bench_model(m, tests, args.repetitions, args.threads, args.batch_size, args.flash_attn, args.seed)


if __name__ == "__main__":
    main()
