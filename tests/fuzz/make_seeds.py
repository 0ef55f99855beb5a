#!/usr/bin/env python3
"""Writes the small seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/ (each file < 8 KiB).
The GGUF and safetensors seeds (tiny model-format files) are not kept in the repository: with --generated DIR they
are written into DIR/<target>/ instead (scripts/fuzz.sh does that into build-fuzz/seeds before every run).

Seeds are valid or nearly valid inputs of each parser, built here by hand (GGUF, safetensors, SentencePiece
protobuf, tokenizer.json) or copied from the repository's test data (chat templates, JSON schemas) and the
fixtures' small files (config.json). Run from the repository root; re-running rewrites the seeds (regression
inputs found by fuzzing live in tests/fuzz/regressions/ and are never touched here).
"""
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
GENERATED = os.path.join(ROOT, "build-fuzz", "seeds")  # model-format seeds (--generated DIR)
FIXTURES = os.path.join(os.path.dirname(ROOT), "shared", "fixtures")


def put(target, name, data):
    generated = name.endswith((".gguf", ".safetensors"))
    d = os.path.join(GENERATED if generated else OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    assert len(data) < 8192, (target, name, len(data))
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- GGUF: header, key/values of several types, tensor infos, aligned data ----------------------------------
def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf(kvs, tensors, align=32):
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, vtype, payload in kvs:
        out += gguf_string(key) + struct.pack("<I", vtype) + payload
    offset = 0
    data = b""
    for name, dims, ttype, raw in tensors:
        out += gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ttype, offset)
        data += raw + b"\0" * ((-len(raw)) % align)
        offset = len(data)
    out += b"\0" * ((-len(out)) % align)
    return out + data


def make_gguf():
    u32 = lambda v: struct.pack("<I", v)
    arr_str = lambda xs: struct.pack("<IQ", 8, len(xs)) + b"".join(gguf_string(x) for x in xs)
    arr_f32 = lambda xs: struct.pack("<IQ", 6, len(xs)) + b"".join(struct.pack("<f", x) for x in xs)
    kvs = [("general.architecture", 8, gguf_string("llama")),
           ("llama.block_count", 4, u32(1)), ("llama.embedding_length", 4, u32(8)),
           ("general.alignment", 4, u32(32)),
           ("tokenizer.ggml.model", 8, gguf_string("llama")),
           ("tokenizer.ggml.tokens", 9, arr_str(["<unk>", "<s>", "</s>", "a", "b"])),
           ("tokenizer.ggml.scores", 9, arr_f32([0, 0, 0, -1, -2]))]
    f32 = struct.pack("<8f", *range(8))
    put("gguf", "small_f32.gguf", gguf(kvs, [("token_embd.weight", [8, 1], 0, f32)]))
    q8 = struct.pack("<e", 0.5) + bytes(range(32))  # one Q8_0 block
    put("gguf", "q8_0.gguf", gguf(kvs[:2], [("w", [32], 8, q8), ("n", [2, 2], 0, struct.pack("<4f", 1, 2, 3, 4))]))
    put("gguf", "empty.gguf", gguf([], []))


# ---- safetensors: u64 header length, JSON header, data ----------------------------------------------------
def safetensors(tensors, meta=None):
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if meta:
        header["__metadata__"] = meta
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def make_safetensors():
    put("safetensors", "f32.safetensors", safetensors([("a", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4))],
                                                       {"format": "pt"}))
    put("safetensors", "mixed.safetensors", safetensors([("x", "BF16", [3], b"\x80\x3f" * 3),
                                                         ("y", "F16", [1, 2], b"\x00\x3c" * 2),
                                                         ("z", "F32", [0], b"")]))
    put("safetensors_index", "index.json", json.dumps({"metadata": {"total_size": 16}, "weight_map": {
        "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
        "lm_head.weight": "model-00002-of-00002.safetensors"}}))
    put("safetensors_index", "bad_shard.json", json.dumps({"weight_map": {"a": "../x.safetensors"}}))


# ---- config.json ---------------------------------------------------------------------------------------------
def make_hf_config():
    for m in ("llama-mha", "mistral-gqa", "phi3"):
        p = os.path.join(FIXTURES, "models", m, "hf", "config.json")
        if os.path.exists(p):
            put("hf_config", m + ".json", open(p, "rb").read())
    put("hf_config", "llama3.json", json.dumps({
        "architectures": ["LlamaForCausalLM"], "vocab_size": 128, "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 128, "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0, "max_position_embeddings": 8192, "tie_word_embeddings": True,
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8192}}))


# ---- tokenizer files ----------------------------------------------------------------------------------------
def varint(v):
    o = b""
    while v >= 0x80:
        o += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return o + bytes([v])


def field(num, b):
    return varint(num << 3 | 2) + varint(len(b)) + b


def make_tokenizer_files():
    byte_level = {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġa": 4, "<|endoftext|>": 5},
                            "merges": ["a b", ["Ġ", "a"]]},
                  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                      {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": False},
                      {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}]},
                  "decoder": {"type": "ByteLevel"}, "normalizer": {"type": "NFC"},
                  "added_tokens": [{"id": 5, "content": "<|endoftext|>", "special": True}],
                  "post_processor": {"type": "TemplateProcessing", "single": [
                      {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]}}
    metaspace = {"model": {"type": "BPE", "byte_fallback": True, "unk_token": "<unk>",
                           "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x0A>": 3, "▁": 4, "a": 5, "▁a": 6},
                           "merges": ["▁ a"]},
                 "normalizer": {"type": "Sequence", "normalizers": [
                     {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
                 "added_tokens": [{"id": 1, "content": "<s>", "special": True, "lstrip": False, "rstrip": False}]}
    put("tokenizer_files", "json_bytelevel", b"\x00" + json.dumps(byte_level).encode())
    put("tokenizer_files", "json_metaspace", b"\x00" + json.dumps(metaspace, ensure_ascii=False).encode())
    pieces = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3), ("<0x41>", 0.0, 6), ("▁", -1.0, 1),
              ("a", -2.0, 1), ("▁a", -3.0, 1)]
    proto = b""
    for text, score, ptype in pieces:
        p = field(1, text.encode()) + varint(2 << 3 | 5) + struct.pack("<f", score) + varint(3 << 3) + varint(ptype)
        proto += field(1, p)
    proto += field(2, varint(3 << 3) + varint(2) + varint(35 << 3) + varint(1))  # BPE, byte_fallback
    proto += field(3, varint(3 << 3) + varint(1))                                 # add_dummy_prefix
    put("tokenizer_files", "sentencepiece_model", b"\x01" + proto)
    put("tokenizer_files", "tokenizer_config", b"\x02" + json.dumps({
        "bos_token": {"content": "<s>"}, "eos_token": "<|endoftext|>", "add_bos_token": True,
        "clean_up_tokenization_spaces": False, "chat_template": [{"name": "default", "template": "{{ x }}"}]}).encode())
    put("tokenizer_files", "generation_config", b"\x03" + json.dumps({"eos_token_id": [5, 2], "bos_token_id": 1}).encode())


def make_text_targets():
    for i, text in enumerate(["Hello world", "  leading spaces\n\ttabs", "<s>[INST] hi [/INST]",
                              "数字 123456 ÄÖÜ \xe9", "A" * 300, "'s 're 've ll don't"]):
        put("tokenizer", f"text{i}", bytes([i * 5 % 16]) + text.encode("utf-8", "surrogateescape"))
    tdir = os.path.join(ROOT, "tests", "chat", "data", "templates")
    for n in ("chatml.jinja", "llama2_chat.jinja", "llama3_instruct.jinja", "mistral_instruct_v0.3.jinja",
              "phi3_mini_4k_128k.jinja", "zephyr.jinja", "smollm2_instruct.jinja"):
        p = os.path.join(tdir, n)
        if os.path.exists(p):
            put("chat_template", n, b"\x03" + open(p, "rb").read())
    put("chat_template", "loops.jinja", b"\x02{% set ns = namespace(n=0) %}{% for m in messages|reverse %}"
        b"{{ loop.index }}:{{ m.role|upper }}{% if not loop.last %},{% endif %}{% set ns.n = ns.n + 1 %}"
        b"{% endfor %}{{ ns.n }}{{ messages[0]['content'][:3]|tojson }}{{ 'x' * 3 }}{% macro f(a, b=2) %}"
        b"{{ a ~ b }}{% endmacro %}{{ f(1) }}{{ raise_exception('no') if false }}")


def make_grammar():
    gbnf = ['root ::= "yes" | "no"\n',
            'root ::= object\nobject ::= "{" ws (pair ("," ws pair)*)? "}"\npair ::= [a-z]+ ":" ws value\n'
            'value ::= [0-9]+ | "\\"" [^"\\\\]* "\\""\nws ::= [ \\t\\n]*\n',
            'root ::= x{2,5} y? [^\\x00-\\x1F]+\nx ::= "a" | [b-dX]\ny ::= ("q" x)*\n']
    for i, g in enumerate(gbnf):
        put("grammar", f"gbnf{i}", b"\x00" + g.encode())
    schemas = json.load(open(os.path.join(ROOT, "tests", "constrain", "data", "schemas.json")))
    for i, s in enumerate(schemas[:12]):
        put("grammar", f"schema{i}", b"\x01" + json.dumps(s["schema"]).encode())
    for i, r in enumerate(["^[a-z]+@[a-z]+\\.com$", "(ab|cd){2,3}x?", "\\d{3}-\\d{4}", "[^\\s]+ \\w*"]):
        put("grammar", f"regex{i}", b"\x02" + r.encode())


def make_json_schema():
    # Every 8th schema of the validity corpus (small ones), the options byte cycling through compact x bounds.
    schemas = json.load(open(os.path.join(ROOT, "tests", "constrain", "data", "validity_schemas.json")))["schemas"]
    kept = [s for s in schemas[::8] if len(json.dumps(s["schema"])) < 4000]
    for i, s in enumerate(kept):
        put("json_schema", f"schema{i}", bytes([i % 8]) + json.dumps(s["schema"]).encode())
    recursive = {"$defs": {"n": {"type": "object", "properties": {"k": {"$ref": "#/$defs/n"}}, "required": ["k"]}},
                 "$ref": "#/$defs/n"}
    put("json_schema", "required_recursion", b"\x00" + json.dumps(recursive).encode())


def make_tool_parser():
    # The recorded outputs of the tool-call tests, each in its format (byte 0: format | names known | chunking).
    formats = {"generic": 0, "llama3": 1, "hermes": 2, "mistral": 3}
    cases = json.load(open(os.path.join(ROOT, "tests", "constrain", "data", "tool_outputs.json")))["cases"]
    for i, c in enumerate(cases):
        put("tool_parser", f"case{i}", bytes([formats[c["format"]] | 4 | ((i % 32) << 3)]) + c["text"].encode())


def make_hub():
    for i, r in enumerate(["hf:bartowski/SmolLM2-135M-Instruct-GGUF:Q4_K_M",
                           "hf:owner/repo/sub/dir/model-q8_0.gguf@v1.0",
                           "hf:Org.Name/model-7B@0123456789abcdef0123456789abcdef01234567", "hf:a/b"]):
        put("hub", f"ref{i}", b"\x00" + r.encode())
    info = {"sha": "0123456789abcdef0123456789abcdef01234567", "siblings": [
        {"rfilename": "config.json", "size": 600, "blobId": "ab" * 20},
        {"rfilename": "model-Q4_K_M-00001-of-00002.gguf", "size": 10, "lfs": {"sha256": "cd" * 32, "size": 10}},
        {"rfilename": "model-Q4_K_M-00002-of-00002.gguf", "size": 10},
        {"rfilename": "model.Q8_0.gguf"}, {"rfilename": "../escape.gguf"}, {"rfilename": 5}]}
    put("hub", "repo_info", b"\x01" + json.dumps(info).encode())
    put("hub", "index", b"\x02" + json.dumps({"weight_map": {
        "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}).encode())
    put("hub", "names", b"\x03" + b"Q4_K_M\nmodel-Q4_K_M.gguf\nmmproj-f16.gguf\nx/Model-IQ4_XS-00001-of-00003.gguf\n"
        b"x/Model-IQ4_XS-00002-of-00003.gguf\nimatrix.gguf\nmodel.q8_0.gguf\n")


def make_server_request():
    # Request bodies of both APIs (byte 0: body limits, 0 = llm-serve's defaults): plain chats, tools and tool
    # history, response formats, completions and embeddings, Anthropic's system blocks, tool_use / tool_result,
    # and Claude Code's first request cut to fit (its system blocks shortened, three of its tools).
    weather = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
               "required": ["city"]}
    oa_tool = {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": weather}}
    bodies = {
        "chat": {"model": "m", "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}],
                 "temperature": 0.7, "top_p": 0.9, "max_tokens": 32, "stop": ["\n\n"], "seed": 7, "stream": True,
                 "stream_options": {"include_usage": True}, "logprobs": True, "top_logprobs": 2},
        "chat_parts": {"messages": [{"role": "developer", "content": [{"type": "text", "text": "A"}]},
                                    {"role": "user", "content": [{"type": "text", "text": "B"}, {"type": "text", "text": "C"}]}],
                       "max_completion_tokens": 5, "user": "u1", "prompt_cache_key": "k"},
        "chat_tools": {"messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": [oa_tool],
                       "tool_choice": {"type": "function", "function": {"name": "get_weather"}}, "parallel_tool_calls": False},
        "chat_tool_history": {"messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
                "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}], "tools": [oa_tool], "tool_choice": "auto"},
        "chat_schema": {"messages": [{"role": "user", "content": "JSON"}], "response_format": {
            "type": "json_schema", "json_schema": {"name": "w", "strict": True, "schema": weather}}},
        "chat_json_object": {"messages": [{"role": "user", "content": "JSON"}], "response_format": {"type": "json_object"},
                             "frequency_penalty": 0.5, "presence_penalty": -0.5, "n": 1, "logit_bias": {"15": -100}},
        "completion": {"model": "m", "prompt": "Once upon a time", "max_tokens": 16, "echo": True, "logprobs": 3},
        "completion_tokens": {"prompt": [[1, 15043, 29892]], "max_tokens": 4, "ignore_eos": True},
        "embeddings": {"model": "m", "input": ["a", "b"], "encoding_format": "base64"},
        "embeddings_tokens": {"input": [[1, 2, 3]]},
        "messages": {"model": "claude-x", "max_tokens": 64, "system": [{"type": "text", "text": "Be terse.",
                     "cache_control": {"type": "ephemeral"}}], "messages": [{"role": "user", "content": "Hi"}],
                     "temperature": 0, "top_k": 40, "stop_sequences": ["END"], "stream": True,
                     "metadata": {"user_id": "session-1"}, "thinking": {"type": "disabled"}},
        "messages_tools": {"model": "claude-x", "max_tokens": 200, "tools": [
            {"name": "get_weather", "description": "Weather", "input_schema": weather}],
            "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
            "messages": [{"role": "user", "content": "Weather in Paris?"},
                         {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"},
                                                           {"type": "text", "text": "Checking."},
                                                           {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                                            "input": {"city": "Paris"}}]},
                         {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True,
                                                       "content": [{"type": "text", "text": "timeout"}]}]},
                         {"role": "system", "content": "Reminder."}]},
    }
    for name, body in bodies.items():
        put("server_request", name, b"\x00" + json.dumps(body).encode())
    cc = json.load(open(os.path.join(ROOT, "tests", "server", "data", "claude_code_requests.json")))["requests"][0]["body"]
    cc["tools"] = cc.get("tools", [])[:3]
    for t in cc["tools"]:
        t["description"] = t.get("description", "")[:200]
    for block in cc.get("system", []):
        block["text"] = block["text"][:300]
    for m in cc["messages"]:
        if isinstance(m["content"], list):
            for block in m["content"]:
                if "text" in block:
                    block["text"] = block["text"][:300]
    data = json.dumps(cc).encode()
    if len(data) >= 8000:  # tool schemas too long: keep one
        cc["tools"] = cc["tools"][:1]
        data = json.dumps(cc).encode()
    put("server_request", "claude_code", b"\x00" + data)
    put("server_request", "deep_limits", b"\x03" + b'{"messages": [{"role": "user", "content": [[[[[[[[[["x"]]]]]]]]]]}]}')


def main():
    global GENERATED
    if len(sys.argv) == 3 and sys.argv[1] == "--generated":  # only the model-format seeds, into DIR
        GENERATED = os.path.abspath(sys.argv[2])
        make_gguf()
        make_safetensors()
        return
    make_gguf()
    make_safetensors()
    make_hf_config()
    make_tokenizer_files()
    make_text_targets()
    make_grammar()
    make_json_schema()
    make_tool_parser()
    make_hub()
    make_server_request()
    total = sum(len(files) for _, _, files in os.walk(OUT))
    print(f"{total} seed files under {os.path.relpath(OUT, ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
