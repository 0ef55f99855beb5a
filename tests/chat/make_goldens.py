#!/usr/bin/env python3
"""Renders every tests/chat/data/templates/*.jinja with Python jinja2 the way Hugging Face transformers does
(ImmutableSandboxedEnvironment, trim_blocks=True, lstrip_blocks=True, raise_exception/strftime_now globals,
tojson without ASCII escaping) for several conversations, and writes tests/chat/data/goldens.json.

Usage: pip install jinja2 && python3 tests/chat/make_goldens.py
A case the template rejects (raise_exception) is recorded with "raises": true and the message.
"""
import json
import os
from datetime import datetime
import sys

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "data", "templates")
OUT = os.path.join(HERE, "data", "goldens.json")

# Special tokens per template family (the values from each model's tokenizer_config.json).
TOKENS = {
    "llama2_chat": ("<s>", "</s>"),
    "mistral_instruct_v0.1": ("<s>", "</s>"),
    "mistral_instruct_v0.2": ("<s>", "</s>"),
    "mistral_instruct_v0.2_legacy": ("<s>", "</s>"),
    "mistral_instruct_v0.3": ("<s>", "</s>"),
    "phi3_mini_4k_128k": ("<s>", "<|endoftext|>"),
    "phi3_mini_4k_2404": ("<s>", "<|endoftext|>"),
    "phi3_5_mini": ("<s>", "<|endoftext|>"),
    "llama3_instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama3_1_instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama3_2_instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "chatml": ("<s>", "<|im_end|>"),
    "smollm2_instruct": ("<|im_start|>", "<|im_end|>"),
    "zephyr": ("<s>", "</s>"),
    "gemma3_it": ("<bos>", "<eos>"),
    "qwen2_5_instruct": ("", "<|im_end|>"),
    "qwen3": ("", "<|im_end|>"),
}

# Extra string variables per template: Llama 3.2 would otherwise print today's date via strftime_now.
EXTRA_VARS = {
    "llama3_2_instruct": {"date_string": "26 Jul 2024"},
}


def m(role, content):
    return {"role": role, "content": content}


CONVERSATIONS = {
    "single_user": [m("user", "Hello!")],
    "system_user": [m("system", "You are a helpful assistant."), m("user", "What is 2+2?")],
    "multi_turn": [m("user", "Hi there"), m("assistant", "Hello! How can I help?"), m("user", "Tell me a joke.")],
    "system_multi_turn": [
        m("system", "  You are terse.\n"),
        m("user", "Who are you"),
        m("assistant", "   I am an assistant   "),
        m("user", "Another question"),
        m("assistant", "Sure."),
        m("user", "Last one?"),
    ],
    "ends_with_assistant": [m("user", "Say hi"), m("assistant", "hi")],
    "unicode_and_markup": [
        m("user", "  Ünïcödé 🎉 中文 {{ not a tag }} {% neither %} <|im_end|>\n\n  "),
    ],
    "two_users_in_a_row": [m("user", "first"), m("user", "second")],
    "empty_content": [m("system", ""), m("user", "")],
    "no_messages": [],
}


# Engine feature snippets: each is rendered against the "system_multi_turn" conversation (bos "<s>",
# eos "</s>", add_generation_prompt true). They pin down whitespace control, loops, scoping, filters,
# tests, methods, literals and error behaviour against jinja2 itself.
SNIPPETS = {
    "loop_vars": "{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}"
                 "{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}|{% endfor %}",
    "for_else": "{% for x in [] %}a{% else %}empty{% endfor %}{% for x in [1] %}{{ x }}{% else %}no{% endfor %}",
    "filtered_iterable": "{% for m in messages|selectattr('role', 'equalto', 'user') %}{{ m.content }};{% endfor %}",
    "loop_if_filter": "{% for m in messages if m.role != 'system' %}{{ loop.index }}/{{ loop.length }}:{{ m.role }} {% endfor %}",
    "namespace": "{% set ns = namespace(n=0, s='') %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
                 "{% set ns.s = ns.s ~ m.role[0] %}{% endfor %}{{ ns.n }} {{ ns.s }}",
    "macro": "{% macro fmt(m, sep=': ') %}{{ m.role|upper }}{{ sep }}{{ m.content|trim }}{% endmacro %}"
             "{% for m in messages %}{{ fmt(m) }}|{{ fmt(m, sep='=') }}\n{% endfor %}",
    "arithmetic": "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 8 }} {{ 1.5 * 2 }} "
                  "{{ 'ab' * 2 }} {{ [1] + [2] }} {{ 1 ~ 'x' ~ none }} {{ 10 / 4 }} {{ 0.1 + 0.2 }} {{ 1e20 }} "
                  "{{ 3 > 2 > 1 }} {{ 'a' in 'cat' }} {{ 'x' not in ['y'] }} {{ -(3) }} {{ 2 - 5 }} {{ 1_000 }} "
                  "{{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1 == 1.0 }} {{ true + 1 }} {{ 100000.0 }} {{ 1e-5 }} {{ 2 * 3 + 4 * 5 }}",
    "ternary_and_or": "{{ 'yes' if messages|length > 2 else 'no' }}|{{ 'a' if false }}|{{ none or 'b' }}|"
                      "{{ 'c' and 'd' }}|{{ 0 or [] }}|{{ not none }}|{{ not 1 == 2 }}",
    "slices": "{{ messages[1:]|length }} {{ messages[-1].content }} {{ 'hello'[1:3] }} {{ 'hello'[::-1] }} "
              "{{ 'h\u00e9llo w\u00f6rld'[1:4] }} {{ messages[::2]|map(attribute='role')|join(',') }} {{ 'abc'[-1] }} "
              "{{ [1,2,3,4,5][1:-1:2] }} {{ [1,2,3][5:] }} {{ 'abcdef'[-2:] }} {{ 'x'[:-1] }}|",
    "literals": "{% set d = {'a': 1, 'b': [1, 2.5, {'c': none}], \"q\": 'it\\'s', 'e': (1,), 't': true} %}"
                "{{ d }} {{ d.a }} {{ d['b'][2].c }} {{ d|tojson }} {{ d.b|tojson(indent=2) }} {{ d.get('z', 'dflt') }} "
                "{{ d.get('a') }} {{ d.get('zz') }} {{ d.keys()|list }} {% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} "
                "{{ d|items|list }} {{ (1, 2) }} {{ [] }} {{ {} }} {{ 'a' 'b' }} {{ \"x\\ty\\u00e9\" }}",
    "string_methods": "{% set s = '  Hello, World! ' %}[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}]"
                      "[{{ s.strip(' !H') }}] {{ s.strip().startswith('Hello') }} {{ s.strip().endswith(('x', '!')) }} "
                      "{{ s.split() }} {{ s.split(',') }} {{ 'a,b,,c'.split(',', 1) }} {{ s.upper() }} {{ s.lower() }} "
                      "{{ 'hello wORLD 1st'.title() }} {{ s.replace('l', 'L') }} {{ s.replace('l', 'L', 2) }} "
                      "{{ 'abc'.find('c') }} {{ ', '.join(['a', 'b']) }} {{ 'aXbXc'.split('X') }} {{ ' a  b '.split(' ') }}",
    "filters": "{{ '  x  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ messages|length }}|{{ 'h\u00e9llo'|length }}|"
               "{{ 'abc'|upper }}|{{ 'ABC'|lower }}|{{ undefined_thing|default('dflt') }}|{{ ''|default('e', true) }}|"
               "{{ ''|default('e') }}|{{ messages|first|tojson }}|{{ messages|last|string }}|{{ [1,2,3]|join('-') }}|"
               "{{ 'aaa'|replace('a', 'b') }}|{{ 42|string }}|{{ '12'|int + 1 }}|{{ 'x'|int }}|{{ 3.9|int }}|"
               "{{ 'abc'|list }}|{{ 'hello World'|capitalize }}|{{ 'hello-world foo(bar)'|title }}|"
               "{{ messages|rejectattr('role', 'equalto', 'user')|list|length }}|{{ [3, 1, 2]|sort }}|"
               "{{ [1, 1, 2]|unique|list }}|{{ [1, 2]|reverse|list }}|{{ [1, 2, 3]|sum }}|{{ [1, 5, 3]|max }}|"
               "{{ -3|abs }}|{{ 2.567|round(2) }}|{{ 2.5|round }}|{{ 3.5|round }}|{{ 2.4|round(0, 'ceil') }}|{{ 'a\nb\n\nc'|indent(2) }}|{{ [1, 'x', none, 0]|select|list }}|"
               "{{ messages|map(attribute='role')|list }}|{{ ['a', 'b']|map('upper')|list }}|{{ '3.5'|float }}|"
               "{{ messages|selectattr('role', 'in', ['system', 'assistant'])|list|length }}|{{ 'x'|safe }}|"
               "{{ messages|selectattr('content')|list|length }}|{{ 'a b  c'|wordcount }}|{{ ['b', 'A', 'c']|sort }}",
    "tests": "{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 'a' is string }} {{ 1 is number }} "
             "{{ 1.5 is number }} {{ {} is mapping }} {{ [] is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} "
             "{{ 2 is equalto 2 }} {{ 2 is equalto(3) }} {{ none is sameas none }} {{ 3 is odd }} {{ 4 is even }} "
             "{{ 9 is divisibleby 3 }} {{ messages[0] is mapping }} {{ 'x' is not none }} {{ messages[0].nope is defined }} "
             "{{ true is boolean }} {{ 1 is integer }} {{ 1.0 is float }} {{ 'abc' is lower }} {{ 2 is gt 1 }} "
             "{{ 'a' is in 'cat' }} {{ not x is defined }} {{ x is not defined and true }}",
    "tojson": "{{ {'k': '\u00e9 \"q\" \\\\ \n\t\x01', 'n': 1.0, 'i': 3, 'b': true, 'z': none, 'l': [], 'd': {}}|tojson }} "
              "{{ messages[:2]|tojson(indent=2) }} {{ 'x'|tojson }} {{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}",
    "set_block": "{% set x %}a{{ 1 + 1 }}b{% endset %}[{{ x }}]{% set a, b = 1, 2 %}{{ a }}{{ b }}",
    "loop_controls": "{% for i in range(10) %}{% if i == 7 %}{% break %}{% endif %}{% if i is odd %}{% continue %}{% endif %}"
                     "{{ i }}{% endfor %}|{{ range(3)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }}",
    "scoping": "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}"
               "{% if true %}{% set y = 5 %}{% endif %}{{ y }}{% for i in [1] %}{% set z = 3 %}{% endfor %}{{ z }}|"
               "{% set messages = messages[1:] %}{{ messages|length }}",
    "whitespace": "{%- for m in messages %}\n    {%- if m.role == 'user' %}\n    U: {{ m.content }}\n    {% else %}\n"
                  "  X: {{ m.content -}}\n    {% endif %}\n{# comment #}\n  {#- trimmed comment -#}\n"
                  "  text {%+ if true %}kept{% endif +%}\n after\n  {{- 'tight' -}}  \n  {{ 'loose' }}  \n{% endfor %}\nend\n",
    "whitespace_lstrip": "a\n  {% if true %}\n    b\n  {% endif %}\nc\n\t{# c #}\nd {% if true %} e {% endif %} f\n"
                         "  {%+ if true %}g{% endif %}\n{% if true -%}   \n  h{%- endif %}\n  {{ 'i' }}\n",
    "whitespace_crlf": "x\r\n{% if true %}\r\ny\r\n{% endif %}\r\nz\r\n",
    "nested_loops": "{% for m in messages %}{% for c in m.role %}{{ loop.index }}{% if loop.last %}:{{ c }}{% endif %}"
                    "{% endfor %}{{ loop.index }};{% endfor %}",
    "raise_custom": "{% if messages|length > 2 %}{{ raise_exception('too many: ' ~ messages|length) }}{% endif %}ok",
    "undefined_attr_error": "{{ undefined_var.attr }}",
    "missing_key_chain_error": "{{ messages[0].nope.deeper }}",
    "type_error": "{{ 'a' + 1 }}",
    "undefined_plus_error": "{{ nothing + 'x' }}",
    "undefined_prints_empty": "[{{ nothing }}][{{ messages[0].nope }}][{{ messages[99] }}][{% for x in nothing %}x{% endfor %}]",
    "dict_attribute_precedence": "{% set spec = {'type': 'array', 'items': {'type': 'string'}, 'name': 'n'} %}"
                                 "{{ spec.items is defined }} {{ spec['items'] }} {{ spec.items is callable }} "
                                 "{{ spec.name }} {{ spec.get('type') }} {{ spec.items.type is defined }}",
    "recursive_macro": "{%- macro py_type(spec) %}{%- set m = {'string': 'str', 'integer': 'int'} %}"
                       "{%- if m[spec.type] is defined %}{{- m[spec.type] }}"
                       "{%- elif spec.type == 'array' %}{{- 'List[' + py_type(spec['items']) + ']' }}"
                       "{%- elif spec.type is iterable and spec.type is not string %}{{- 'Union[' }}"
                       "{%- for t in spec.type %}{{- py_type({'type': t}) }}{%- if not loop.last %},{% endif %}{%- endfor %}]"
                       "{%- else %}Any{%- endif %}{%- endmacro %}"
                       "{{ py_type({'type': 'array', 'items': {'type': ['string', 'integer', 'x']}}) }} "
                       "{{ py_type({'type': 'array', 'items': {'type': 'integer'}}) }}",
    "generation_block": "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}"
                        "{% endif %}{% endfor %}",
}


def render_snippets(env):
    messages = CONVERSATIONS["system_multi_turn"]
    out = []
    for name, source in SNIPPETS.items():
        case = {"name": name, "source": source, "messages": messages, "bos_token": "<s>", "eos_token": "</s>",
                "add_generation_prompt": True}
        try:
            case["output"] = env.from_string(source).render(
                messages=messages, bos_token="<s>", eos_token="</s>", add_generation_prompt=True)
            case["raises"] = False
        except Exception as e:  # TypeError etc. count as raising too; messages are compared only for TemplateError
            case["raises"] = True
            case["error"] = str(e)
            case["error_type"] = type(e).__name__
        out.append(case)
    return out


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def strftime_now(format):
    return datetime.now().strftime(format)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers overrides jinja2's tojson so that non-ASCII text is not escaped and HTML is not escaped.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


class AssistantTracker(Extension):
    """transformers' {% generation %} block (marks assistant tokens); renders its body unchanged."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    env = make_env()
    cases = []
    for fname in sorted(os.listdir(TEMPLATES)):
        if not fname.endswith(".jinja"):
            continue
        name = fname[: -len(".jinja")]
        with open(os.path.join(TEMPLATES, fname), encoding="utf-8", newline="") as f:
            source = f.read()
        bos, eos = TOKENS.get(name, ("<s>", "</s>"))
        template = env.from_string(source)
        for conv_name, messages in CONVERSATIONS.items():
            for agp in (True, False):
                extra = EXTRA_VARS.get(name, {})
                case = {
                    "template": name,
                    "conversation": conv_name,
                    "bos_token": bos,
                    "eos_token": eos,
                    "add_generation_prompt": agp,
                    "extra_vars": extra,
                    "messages": messages,
                }
                try:
                    case["output"] = template.render(
                        messages=messages, bos_token=bos, eos_token=eos, add_generation_prompt=agp, **extra
                    )
                    case["raises"] = False
                except jinja2.exceptions.TemplateError as e:
                    case["raises"] = True
                    case["error"] = str(e)
                cases.append(case)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"generator": "tests/chat/make_goldens.py", "jinja2_version": jinja2.__version__, "cases": cases,
                   "snippets": render_snippets(env)},
                  f, ensure_ascii=False, indent=1)
        f.write("\n")
    n_raise = sum(c["raises"] for c in cases)
    print(f"wrote {len(cases)} cases ({n_raise} raise) to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
