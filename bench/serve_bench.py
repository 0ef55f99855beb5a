#!/usr/bin/env python3
"""Load generator for OpenAI-compatible servers (llm-serve, llama.cpp's llama-server): N concurrent streaming
clients on loopback; reports time to first token and inter-token latency p50/p99 and aggregate tokens/s, as a
table and as JSON. Only the standard library (http.client), so it measures the servers, not an SDK.

  serve_bench.py --url http://127.0.0.1:8080 --clients 1,4,8,16 --prompt-tokens 128 --gen-tokens 128
  serve_bench.py ... --shared-prefix 1024        # every prompt starts with the same 1024-token system text
  serve_bench.py ... --multi-turn 5              # each client holds a conversation of 5 growing turns
  serve_bench.py ... --json out.json --label llm-serve

Comparison with llama.cpp (both servers started here, on the same model, threads and KV room; levels interleaved:
at each concurrency level one server runs, then the other, the order alternating from level to level):

  serve_bench.py --compare --llm-serve build/llm-serve --llama-server .../build-native/bin/llama-server \
      --model SmolLM2.gguf --model tinyllama-1.1b-shape.Q4_0.gguf --variants 0,1024 --clients 1,4,8,16 \
      --prompt-tokens 128 --gen-tokens 128 --threads 2 --json compare.json

llama-server runs with `-np 16 -c <16 x the per-request context> -cb` (its slots are not the limit); llm-serve
with `--parallel 16 --ctx <per-request context> --kv-pool <16 x it>`. A variant is the shared system prompt's
length (0 = none). On a machine busy with other work, run it with OMP_WAIT_POLICY=passive (both servers inherit
the environment): OpenMP workers spinning for a core they lost make the numbers meaningless.

Prompt lengths are approximate (words of a fixed vocabulary, about one token each with common tokenizers); the
servers' reported usage.prompt_tokens is recorded too. Generation ignores end-of-sequence (`ignore_eos`, which both
servers accept) so every request produces --gen-tokens tokens.
"""
import argparse
import http.client
import json
import random
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

WORDS = ("time year people way day man thing woman life child world school state family student group country "
         "problem hand part place case week company system program question work government number night point "
         "home water room mother area money story fact month lot right study book eye job word business issue side "
         "kind head house service friend father power hour game line end member law car city community name").split()


def words(n, rnd):
    return " ".join(rnd.choice(WORDS) for _ in range(n))


def percentile(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def stream_chat(url, messages, gen_tokens, api_key, timeout=600):
    """One streaming request; returns (ttft_s, [token arrival times], usage dict, end time)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    body = {"model": "bench", "messages": messages, "max_tokens": gen_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}, "ignore_eos": True}
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = "Bearer " + api_key
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers=headers)
    r = conn.getresponse()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {r.read()[:300]!r}")
    arrivals, usage, text, buf = [], {}, [], b""
    while True:
        chunk = r.read1(65536)
        if not chunk:
            break
        now = time.perf_counter()
        buf += chunk
        while b"\n\n" in buf:
            event, buf = buf.split(b"\n\n", 1)
            for line in event.split(b"\n"):
                if not line.startswith(b"data: "):
                    continue
                data = line[6:]
                if data == b"[DONE]":
                    continue
                j = json.loads(data)
                if j.get("usage"):
                    usage = j["usage"]
                for ch in j.get("choices", []):
                    c = (ch.get("delta") or {}).get("content")
                    if c:
                        arrivals.append(now)
                        text.append(c)
    conn.close()
    end = time.perf_counter()
    return (arrivals[0] - t0 if arrivals else float("nan")), [a - t0 for a in arrivals], usage, end - t0, "".join(text)


def run_level(args, n_clients):
    rnd = random.Random(1234 + n_clients)
    per_word = getattr(args, "tokens_per_word", 1.0)  # words for a prompt of N tokens: N / tokens per word
    shared = words(round(args.shared_prefix / per_word), random.Random(99)) if args.shared_prefix else ""
    results, errors, lock = [], [], threading.Lock()
    barrier = threading.Barrier(n_clients)

    def client(i):
        crnd = random.Random(rnd.random())
        messages = []
        if shared:
            messages.append({"role": "system", "content": shared})
        barrier.wait()
        for turn in range(max(1, args.multi_turn)):
            messages.append({"role": "user", "content": f"[{i}.{turn}] " + words(round(args.prompt_tokens / per_word), crnd)})
            try:
                ttft, arr, usage, total, text = stream_chat(args.url, messages, args.gen_tokens, args.api_key)
            except Exception as e:  # noqa: BLE001 - reported, not fatal
                with lock:
                    errors.append(str(e))
                return
            with lock:
                results.append({"client": i, "turn": turn, "ttft": ttft, "arrivals": arr, "usage": usage,
                                "total": total})
            messages.append({"role": "assistant", "content": text})

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n_clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    gen = sum(r["usage"].get("completion_tokens", len(r["arrivals"])) for r in results)
    ttfts = [r["ttft"] * 1000 for r in results]
    later_ttfts = [r["ttft"] * 1000 for r in results if r["turn"] > 0]
    itls = []
    for r in results:
        a = r["arrivals"]
        n = r["usage"].get("completion_tokens", len(a))
        if len(a) >= 2 and n >= 2:
            # Per-token gaps; a chunk carrying several tokens spreads its gap over them.
            itls.append((a[-1] - a[0]) * 1000 / (n - 1))
    return {
        "clients": n_clients, "requests": len(results), "errors": len(errors), "error_samples": errors[:3],
        "wall_s": wall, "generated_tokens": gen, "aggregate_tok_s": gen / wall if wall > 0 else 0,
        "prompt_tokens_mean": statistics.mean(r["usage"].get("prompt_tokens", 0) for r in results) if results else 0,
        "cached_tokens_mean": statistics.mean((r["usage"].get("prompt_tokens_details") or {}).get("cached_tokens", 0)
                                              for r in results) if results else 0,
        "ttft_ms_p50": percentile(ttfts, 50), "ttft_ms_p99": percentile(ttfts, 99),
        "ttft_ms_p50_later_turns": percentile(later_ttfts, 50) if later_ttfts else None,
        "itl_ms_p50": percentile(itls, 50), "itl_ms_p99": percentile(itls, 99),
    }


def free_port():
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


class Served:
    """A server process on a free loopback port, ready once GET /health answers 200."""

    def __init__(self, name, cmd, port, log_dir):
        self.name, self.url = name, f"http://127.0.0.1:{port}"
        self.log = open(os.path.join(log_dir, f"serve-bench-{name}-{port}.log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 600
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.proc.returncode}: see {self.log.name}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/health")
                ok = conn.getresponse().status == 200
                conn.close()
                if ok:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{name} did not become healthy: see {self.log.name}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def tokens_per_word(llm_serve, model):
    """The model's tokens per benchmark word (llm-tokenize beside llm-serve), so a 128-token prompt is 128 tokens
    with any tokenizer (the random-vocabulary bench models split these words into ~4.5 tokens)."""
    text = words(400, random.Random(7))
    tool = os.path.join(os.path.dirname(os.path.abspath(llm_serve)), "llm-tokenize")
    out = subprocess.run([tool, "-m", model, "--no-bos", "-p", text], capture_output=True, text=True, check=True)
    return max(1.0, len(out.stdout.split()) / 400)


def compare(args):
    """Both servers on each model and variant, levels interleaved; a table of ratios and the JSON of every level."""
    levels = [int(n) for n in args.clients.split(",")]
    n_slots = max(16, max(levels))
    runs = []
    os.makedirs(args.log_dir, exist_ok=True)
    for model in args.model:
        per_word = tokens_per_word(args.llm_serve, model)
        print(f"  {os.path.basename(model)}: {per_word:.2f} tokens per benchmark word", file=sys.stderr)
        for shared in (int(v) for v in args.variants.split(",")):
            # Prompts are sized in this model's tokens; leave room for the template and the client tags.
            ctx = (int(1.25 * (shared + args.prompt_tokens)) + args.gen_tokens + 128 + 255) // 256 * 256
            servers = []
            try:
                servers.append(Served("llm-serve", [args.llm_serve, "-m", model, "--port", str(p := free_port()),
                                                    "--ctx", str(ctx), "--parallel", str(n_slots), "--kv-pool",
                                                    str(n_slots * ctx), "-t", str(args.threads), "--max-queue",
                                                    "256", "--log-format", "off", *args.llm_serve_args.split()],
                                      p, args.log_dir))
                servers.append(Served("llama-server", [args.llama_server, "-m", model, "--host", "127.0.0.1",
                                                       "--port", str(p := free_port()), "-np", str(n_slots), "-c",
                                                       str(n_slots * ctx), "-cb", "-t", str(args.threads),
                                                       "--no-webui", *args.llama_server_args.split()],
                                      p, args.log_dir))
                for sv in servers:
                    for _ in range(args.warmup):
                        stream_chat(sv.url, [{"role": "user", "content": "warm up"}], 8, "")
                for i, n in enumerate(levels):
                    for sv in (servers if i % 2 == 0 else servers[::-1]):
                        la = argparse.Namespace(**vars(args))
                        la.url, la.shared_prefix, la.api_key = sv.url, shared, ""
                        la.tokens_per_word = per_word
                        lv = run_level(la, n)
                        runs.append({"model": os.path.basename(model), "shared_prefix": shared, "server": sv.name,
                                     "ctx_per_request": ctx, **lv})
                        print(f"  {os.path.basename(model)} shared={shared} clients={n} {sv.name}: "
                              f"{lv['aggregate_tok_s']:.1f} tok/s, TTFT p99 {lv['ttft_ms_p99']:.0f} ms, "
                              f"errors {lv['errors']}", file=sys.stderr, flush=True)
            finally:
                for sv in servers:
                    sv.stop()
    print(f"prompt ~{args.prompt_tokens} tok, {args.gen_tokens} new, threads {args.threads}; ratio = llm-serve / "
          f"llama-server (tok/s: higher is better; TTFT p99: lower is better)")
    print(f"{'model':<34} {'shared':>6} {'clients':>7} {'llm tok/s':>9} {'llama tok/s':>11} {'ratio':>6} "
          f"{'llm TTFT p50/p99':>17} {'llama TTFT p50/p99':>19}")
    key = lambda r: (r["model"], r["shared_prefix"], r["clients"])  # noqa: E731
    by = {(key(r), r["server"]): r for r in runs}
    for k in sorted({key(r) for r in runs}, key=lambda k: (k[0], k[1], k[2])):
        a, b = by.get((k, "llm-serve")), by.get((k, "llama-server"))
        if not a or not b:
            continue
        ratio = a["aggregate_tok_s"] / b["aggregate_tok_s"] if b["aggregate_tok_s"] else float("nan")
        print(f"{k[0]:<34} {k[1]:>6} {k[2]:>7} {a['aggregate_tok_s']:>9.1f} {b['aggregate_tok_s']:>11.1f} "
              f"{ratio:>6.2f} {a['ttft_ms_p50']:>7.0f}/{a['ttft_ms_p99']:<7.0f}ms "
              f"{b['ttft_ms_p50']:>8.0f}/{b['ttft_ms_p99']:<7.0f}ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"prompt_tokens": args.prompt_tokens, "gen_tokens": args.gen_tokens, "threads": args.threads,
                       "runs": runs}, f, indent=2)
    return 1 if any(r["errors"] for r in runs) else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--api-key", default="")
    ap.add_argument("--clients", default="1,4,8,16", help="comma-separated concurrency levels")
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--gen-tokens", type=int, default=128)
    ap.add_argument("--shared-prefix", type=int, default=0, help="tokens of a system prompt shared by all requests")
    ap.add_argument("--multi-turn", type=int, default=1, help="turns per client (conversation grows each turn)")
    ap.add_argument("--warmup", type=int, default=1, help="requests before measuring")
    ap.add_argument("--label", default="")
    ap.add_argument("--json", default="", help="write the results to this file ('-' = stdout)")
    cmp = ap.add_argument_group("comparison (--compare)")
    cmp.add_argument("--compare", action="store_true", help="start llm-serve and llama-server and compare them")
    cmp.add_argument("--llm-serve", default="build/llm-serve")
    cmp.add_argument("--llama-server", default=os.path.expanduser(
        "~/.cache/llm/src/llama_cpp_python-0.3.36/vendor/llama.cpp/build-native/bin/llama-server"))
    cmp.add_argument("--model", action="append", help="GGUF file (repeatable)")
    cmp.add_argument("--variants", default="0,1024", help="shared system prompt lengths, comma-separated")
    cmp.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    cmp.add_argument("--llm-serve-args", default="", help="extra llm-serve flags (e.g. '--numerics fast')")
    cmp.add_argument("--llama-server-args", default="", help="extra llama-server flags")
    cmp.add_argument("--log-dir", default=os.environ.get("TMPDIR", "/tmp"))
    args = ap.parse_args()
    if args.compare:
        if not args.model:
            ap.error("--compare needs --model")
        return compare(args)

    for _ in range(args.warmup):
        stream_chat(args.url, [{"role": "user", "content": "warm up"}], 8, args.api_key)
    levels = [run_level(args, int(n)) for n in args.clients.split(",")]
    out = {"label": args.label, "url": args.url, "prompt_tokens": args.prompt_tokens, "gen_tokens": args.gen_tokens,
           "shared_prefix": args.shared_prefix, "multi_turn": args.multi_turn, "levels": levels}
    print(f"{args.label or args.url}: prompt ~{args.prompt_tokens} tok, {args.gen_tokens} new, shared prefix "
          f"{args.shared_prefix}, turns {args.multi_turn}")
    print(f"{'clients':>7} {'reqs':>5} {'err':>4} {'tok/s':>8} {'TTFT p50':>9} {'TTFT p99':>9} {'ITL p50':>8} "
          f"{'ITL p99':>8} {'cached':>7}")
    for lv in levels:
        print(f"{lv['clients']:>7} {lv['requests']:>5} {lv['errors']:>4} {lv['aggregate_tok_s']:>8.1f} "
              f"{lv['ttft_ms_p50']:>7.0f}ms {lv['ttft_ms_p99']:>7.0f}ms {lv['itl_ms_p50']:>6.1f}ms "
              f"{lv['itl_ms_p99']:>6.1f}ms {lv['cached_tokens_mean']:>7.0f}")
    if args.json:
        text = json.dumps(out, indent=2)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w") as f:
                f.write(text)
    return 1 if any(lv["errors"] for lv in levels) else 0


if __name__ == "__main__":
    sys.exit(main())
