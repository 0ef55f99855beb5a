#!/usr/bin/env python3
"""Renders chat templates with tools through Python jinja2 the way transformers does (the environment of
tests/chat/make_goldens.py) and writes tests/constrain/data/tool_goldens.json, which
tests/constrain/tool_render_test.cpp compares with llm::render_tool_prompt byte for byte.

Native tool templates (Llama 3.1/3.2, Qwen 2.5, Hermes 3, Mistral v0.3, Mistral Nemo) get `tools` (OpenAI
shape) and earlier calls' arguments as objects, as transformers passes them. Templates without tool support
(SmolLM2, Phi-3, Llama 3.0, ChatML) get the generic treatment that constrain/tool_calls.hpp documents,
re-implemented here from that description: the tool list and call syntax appended to the system message,
earlier calls as assistant text, tool results as user messages.

Usage: python3 tests/constrain/make_tool_goldens.py   (needs jinja2; ~/.cache/llm/venv-test has it)
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "chat"))
import make_goldens  # noqa: E402  (the transformers-like jinja2 environment)

import jinja2  # noqa: E402

OUT = os.path.join(HERE, "data", "tool_goldens.json")

# template file -> (format, bos, eos, extra vars)
TEMPLATES = {
    "tests/chat/data/templates/llama3_1_instruct.jinja": ("llama3", "<|begin_of_text|>", "<|eot_id|>", {}),
    "tests/chat/data/templates/llama3_2_instruct.jinja": ("llama3", "<|begin_of_text|>", "<|eot_id|>", {"date_string": "26 Jul 2024"}),
    "tests/chat/data/templates/mistral_instruct_v0.3.jinja": ("mistral", "<s>", "</s>", {}),
    "tests/constrain/data/templates/mistral_nemo_instruct.jinja": ("mistral", "<s>", "</s>", {}),
    "tests/constrain/data/templates/qwen2_5_instruct.jinja": ("hermes", "", "<|im_end|>", {}),
    "tests/constrain/data/templates/hermes_3_llama_3_1.jinja": ("hermes", "<|begin_of_text|>", "<|im_end|>", {}),
    "tests/chat/data/templates/smollm2_instruct.jinja": ("generic", "<|im_start|>", "<|im_end|>", {}),
    "tests/chat/data/templates/phi3_5_mini.jinja": ("generic", "<s>", "<|endoftext|>", {}),
    "tests/chat/data/templates/phi3_mini_4k_128k.jinja": ("generic", "<s>", "<|endoftext|>", {}),
    "tests/chat/data/templates/llama3_instruct.jinja": ("generic", "<|begin_of_text|>", "<|eot_id|>", {}),
    "tests/chat/data/templates/chatml.jinja": ("generic", "<s>", "<|im_end|>", {}),
}

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {
            "location": {"type": "string", "description": "City name, e.g. Zürich"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["location"]}}},
    {"type": "function", "function": {
        "name": "search_files", "description": "Find files matching a glob pattern.",
        "parameters": {"type": "object", "properties": {
            "pattern": {"type": "string"}, "max_results": {"type": "integer", "minimum": 1, "maximum": 100},
            "include_hidden": {"type": "boolean", "default": False}}, "required": ["pattern"],
            "additionalProperties": False}}},
]


def user(text):
    return {"role": "user", "content": text}


CALL = {"id": "call0A1b2", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"location\": \"Paris\", \"unit\": \"celsius\"}"}}

CONVERSATIONS = {
    "ask": [user("What is the weather in Paris?")],
    "system_ask": [{"role": "system", "content": "You are a concise assistant."}, user("Find all *.md files.")],
    "parts_content": [{"role": "user", "content": [{"type": "text", "text": "Weather in "}, {"type": "text", "text": "Oslo?"}]}],
    "call_and_result": [
        user("What is the weather in Paris?"),
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call0A1b2", "content": "{\"temperature\": 21, \"sky\": \"clear\"}"},
        {"role": "assistant", "content": "It is 21 degrees and clear in Paris."},
        user("And in Rome?"),
    ],
}


def args_obj(a):
    if isinstance(a, str):
        try:
            return json.loads(a)
        except ValueError:
            return a
    return a


def flatten(c):
    if isinstance(c, list):
        return "".join(p["text"] for p in c if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str))
    return c


def content_text(c):
    c = flatten(c)
    if c is None:
        return ""
    return c if isinstance(c, str) else json.dumps(c, ensure_ascii=False)


def native_messages(messages):
    out = []
    for m in messages:
        m = dict(m)
        if "content" in m:
            m["content"] = flatten(m["content"])
        if isinstance(m.get("tool_calls"), list):
            calls = []
            for c in m["tool_calls"]:
                c = json.loads(json.dumps(c))
                if isinstance(c.get("function"), dict) and "arguments" in c["function"]:
                    c["function"]["arguments"] = args_obj(c["function"]["arguments"])
                calls.append(c)
            m["tool_calls"] = calls
        out.append(m)
    return out


def generic_instructions(tools):
    lst = []
    for t in tools:
        f = t["function"]
        j = {"name": f["name"]}
        if f.get("description"):
            j["description"] = f["description"]
        j["parameters"] = f["parameters"]
        lst.append(j)
    return ("You can call the following tools:\n" + json.dumps(lst, indent=2, ensure_ascii=False) +
            "\n\nTo call tools, reply with one JSON object and nothing else, in this form:\n"
            "{\"tool_calls\": [{\"name\": \"<tool name>\", \"arguments\": {<the arguments>}}]}\n"
            "Otherwise, answer the user in plain text.")


def generic_messages(messages, tools):
    names = {}
    out = []
    for m in native_messages(messages):
        for c in m.get("tool_calls") or []:
            names[c["id"]] = c["function"]["name"]
        if m["role"] == "assistant" and m.get("tool_calls"):
            calls = [{"name": c["function"]["name"], "arguments": c["function"].get("arguments", {})} for c in m["tool_calls"]]
            text = content_text(m.get("content"))
            if text:
                text += "\n"
            out.append({"role": "assistant", "content": text + json.dumps({"tool_calls": calls}, ensure_ascii=False)})
        elif m["role"] == "tool":
            resp = {}
            name = m.get("name") or names.get(m.get("tool_call_id"), "")
            if name:
                resp["name"] = name
            resp["content"] = content_text(m.get("content"))
            out.append({"role": "user", "content": json.dumps({"tool_response": resp}, ensure_ascii=False)})
        else:
            out.append({"role": m["role"], "content": content_text(m.get("content"))})
    text = generic_instructions(tools)
    if out and out[0]["role"] == "system":
        out[0]["content"] = text if not out[0]["content"] else out[0]["content"] + "\n\n" + text
    else:
        out.insert(0, {"role": "system", "content": text})
    return out


def main():
    env = make_goldens.make_env()
    cases = []
    for rel, (fmt, bos, eos, extra) in TEMPLATES.items():
        with open(os.path.join(ROOT, rel), encoding="utf-8", newline="") as f:
            template = env.from_string(f.read())
        for conv_name, messages in CONVERSATIONS.items():
            for agp in (True, False):
                case = {"template": rel, "format": fmt, "conversation": conv_name, "bos_token": bos, "eos_token": eos,
                        "add_generation_prompt": agp, "extra_vars": extra, "messages": messages, "tools": TOOLS}
                kwargs = dict(bos_token=bos, eos_token=eos, add_generation_prompt=agp, **extra)
                try:
                    if fmt == "generic":
                        case["output"] = template.render(messages=generic_messages(messages, TOOLS), **kwargs)
                    else:
                        case["output"] = template.render(messages=native_messages(messages), tools=TOOLS, **kwargs)
                    case["raises"] = False
                except jinja2.exceptions.TemplateError as e:
                    case["raises"] = True
                    case["error"] = str(e)
                cases.append(case)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"generator": "tests/constrain/make_tool_goldens.py", "jinja2_version": jinja2.__version__,
                   "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases ({sum(c['raises'] for c in cases)} raise) to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
