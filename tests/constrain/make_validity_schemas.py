#!/usr/bin/env python3
"""Writes tests/constrain/data/validity_schemas.json: the JSON Schemas of the validity run (issue 15) -
real-world shapes: API payloads, configuration files, nested objects and arrays, enums, recursive $ref,
patterns, formats, the 12 tools Claude Code sends, and schemas with keywords a grammar cannot enforce (the
compiler must name them). Hand-written bases plus the envelopes APIs wrap them in (a page of items, a
nullable result, a batch request), so every base is also seen nested.

Usage: python3 tests/constrain/make_validity_schemas.py
"""
import copy
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data", "validity_schemas.json")

S = {"type": "string"}
I = {"type": "integer"}
N = {"type": "number"}
B = {"type": "boolean"}


def s(**kw):
    return {"type": "string", **kw}


def i(**kw):
    return {"type": "integer", **kw}


def n(**kw):
    return {"type": "number", **kw}


def arr(items, **kw):
    return {"type": "array", "items": items, **kw}


def obj(props, required=None, extra=False, **kw):
    o = {"type": "object", "properties": props}
    if required is None:
        required = list(props)
    if required:
        o["required"] = required
    if extra is not None:
        o["additionalProperties"] = extra
    o.update(kw)
    return o


def enum(*vals):
    return {"enum": list(vals)}


D7 = "http://json-schema.org/draft-07/schema#"

# The 12 tools Claude Code 2.x sends (input_schema of each), transcribed from public captures of its requests
# (zod-generated: draft-07, additionalProperties false). Descriptions shortened.
CLAUDE_CODE = {
    "Task": obj({"description": s(description="A short (3-5 word) description of the task"),
                 "prompt": s(description="The task for the agent to perform"),
                 "subagent_type": s(description="The type of specialized agent to use for this task")},
                **{"$schema": D7}),
    "Bash": obj({"command": s(description="The command to execute"),
                 "timeout": n(description="Optional timeout in milliseconds (max 600000)"),
                 "description": s(description="Clear, concise description of what this command does in 5-10 words"),
                 "run_in_background": B, "dangerouslyDisableSandbox": B},
                ["command"], **{"$schema": D7}),
    "Glob": obj({"pattern": s(description="The glob pattern to match files against"),
                 "path": s(description="The directory to search in")}, ["pattern"], **{"$schema": D7}),
    "Grep": obj({"pattern": s(description="The regular expression pattern to search for in file contents"),
                 "path": S, "glob": S,
                 "output_mode": {"type": "string", "enum": ["content", "files_with_matches", "count"]},
                 "-B": N, "-A": N, "-C": N, "-n": B, "-i": B, "type": S, "head_limit": N, "offset": N, "multiline": B},
                ["pattern"], **{"$schema": D7}),
    "ExitPlanMode": obj({"plan": s(description="The plan you came up with")}, **{"$schema": D7}),
    "Read": obj({"file_path": s(description="The absolute path to the file to read"), "offset": N, "limit": N},
                ["file_path"], **{"$schema": D7}),
    "Edit": obj({"file_path": S, "old_string": S, "new_string": S, "replace_all": {"type": "boolean", "default": False}},
                ["file_path", "old_string", "new_string"], **{"$schema": D7}),
    "Write": obj({"file_path": S, "content": S}, **{"$schema": D7}),
    "NotebookEdit": obj({"notebook_path": S, "cell_id": S, "new_source": S,
                         "cell_type": {"type": "string", "enum": ["code", "markdown"]},
                         "edit_mode": {"type": "string", "enum": ["replace", "insert", "delete"]}},
                        ["notebook_path", "new_source"], **{"$schema": D7}),
    "WebFetch": obj({"url": s(format="uri"), "prompt": S}, **{"$schema": D7}),
    "TodoWrite": obj({"todos": arr(obj({"content": s(minLength=1),
                                         "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
                                         "activeForm": s(minLength=1)}), description="The updated todo list")},
                     **{"$schema": D7}),
    "WebSearch": obj({"query": s(minLength=2), "allowed_domains": arr(S), "blocked_domains": arr(S)},
                     ["query"], **{"$schema": D7}),
}

ADDRESS = obj({"street": s(maxLength=60), "city": s(maxLength=40), "postal_code": s(pattern="^[0-9]{5}(-[0-9]{4})?$"),
               "country": s(pattern="^[A-Z]{2}$")}, ["street", "city", "country"])
MONEY = obj({"amount": n(minimum=0), "currency": enum("USD", "EUR", "GBP", "JPY", "CHF")})
TREE = {"$defs": {"node": obj({"name": s(maxLength=20), "children": arr({"$ref": "#/$defs/node"}, maxItems=3)}, ["name"])},
        "$ref": "#/$defs/node"}

K8S_CONTAINERS = arr(obj({"name": s(pattern="^[a-z0-9-]{1,30}$"), "image": s(maxLength=60),
                          "ports": arr(obj({"containerPort": i(minimum=1, maximum=65535)}), maxItems=2),
                          "resources": obj({"limits": obj({"cpu": s(pattern="^[0-9]+m?$"), "memory": s(pattern="^[0-9]+(Mi|Gi)$")})}, [])},
                         ["name", "image"]), minItems=1, maxItems=2)

BASES = {
    # ---- API payloads ----
    "user_profile": obj({"id": s(format="uuid"), "username": s(pattern="^[a-z0-9_]{3,16}$"), "email": s(format="email"),
                         "display_name": s(maxLength=40), "age": i(minimum=13, maximum=120), "verified": B,
                         "created_at": s(format="date-time")}, ["id", "username", "email", "created_at"]),
    "login_request": obj({"username": s(minLength=3, maxLength=32), "password": s(minLength=8, maxLength=64), "remember_me": B}, ["username", "password"]),
    "token_response": obj({"access_token": s(maxLength=80), "token_type": {"const": "Bearer"}, "expires_in": i(minimum=1),
                           "refresh_token": s(maxLength=80), "scope": s(maxLength=60)}, ["access_token", "token_type", "expires_in"]),
    "error_response": obj({"error": obj({"code": i(minimum=400, maximum=599), "type": enum("invalid_request", "not_found", "rate_limited", "server_error"),
                                          "message": s(maxLength=120), "param": {"type": ["string", "null"]}}, ["code", "type", "message"])}),
    "order": obj({"order_id": s(pattern="^ORD-[0-9]{6}$"), "customer": obj({"name": s(maxLength=40), "email": s(format="email")}),
                  "items": arr(obj({"sku": s(pattern="^[A-Z]{3}-[0-9]{4}$"), "quantity": i(minimum=1, maximum=99), "unit_price": n(minimum=0)}), minItems=1, maxItems=5),
                  "status": enum("pending", "paid", "shipped", "delivered", "cancelled"), "shipping_address": ADDRESS}),
    "payment_intent": obj({"id": s(pattern="^pi_[A-Za-z0-9]{8,24}$"), "amount": i(minimum=50), "currency": s(pattern="^[a-z]{3}$"),
                           "status": enum("requires_payment_method", "processing", "succeeded", "canceled"), "metadata": {"type": "object", "additionalProperties": S}},
                          ["id", "amount", "currency", "status"]),
    "github_issue": obj({"number": i(minimum=1), "title": s(maxLength=100), "state": enum("open", "closed"), "labels": arr(obj({"name": s(maxLength=30), "color": s(pattern="^[0-9a-f]{6}$")}), maxItems=4),
                         "assignee": {"anyOf": [obj({"login": s(maxLength=39)}), {"type": "null"}]}, "body": {"type": ["string", "null"], "maxLength": 300}},
                        ["number", "title", "state", "labels"]),
    "github_pull_request": obj({"title": s(maxLength=80), "head": s(maxLength=40), "base": s(maxLength=40), "draft": B, "body": s(maxLength=300),
                                "reviewers": arr(s(maxLength=39), maxItems=3)}, ["title", "head", "base"]),
    "slack_message": obj({"channel": s(pattern="^[CD][A-Z0-9]{8,10}$"), "text": s(maxLength=200), "thread_ts": s(pattern="^[0-9]{10}\\.[0-9]{6}$"),
                          "blocks": arr(obj({"type": enum("section", "divider", "header"), "text": obj({"type": enum("mrkdwn", "plain_text"), "text": s(maxLength=100)})}, ["type"]), maxItems=3)},
                         ["channel", "text"]),
    "weather_response": obj({"location": obj({"name": s(maxLength=40), "lat": n(minimum=-90, maximum=90), "lon": n(minimum=-180, maximum=180)}),
                             "current": obj({"temp_c": n(minimum=-90, maximum=60), "condition": enum("sunny", "cloudy", "rain", "snow", "fog", "storm"),
                                             "humidity": i(minimum=0, maximum=100), "wind_kph": n(minimum=0)}),
                             "forecast": arr(obj({"date": s(format="date"), "min_c": n(), "max_c": n()}), maxItems=3)}, ["location", "current"]),
    "search_request": obj({"query": s(minLength=1, maxLength=80), "filters": obj({"category": enum("books", "music", "movies", "games"),
                            "min_price": n(minimum=0), "max_price": n(minimum=0), "in_stock": B}, []), "sort": enum("relevance", "price_asc", "price_desc", "newest"),
                           "page": i(minimum=1, maximum=100), "page_size": i(minimum=1, maximum=50)}, ["query"]),
    "chat_completion_request": obj({"model": s(maxLength=40), "messages": arr(obj({"role": enum("system", "user", "assistant"), "content": s(maxLength=200)}), minItems=1, maxItems=4),
                                    "temperature": n(minimum=0, maximum=2), "max_tokens": i(minimum=1, maximum=4096), "stream": B}, ["model", "messages"]),
    "webhook_event": obj({"id": s(format="uuid"), "type": enum("user.created", "user.deleted", "invoice.paid", "invoice.failed"), "created": i(minimum=0),
                          "data": obj({"object_id": s(maxLength=40), "previous_attributes": {"type": "object"}}, ["object_id"])}),
    "product": obj({"id": i(minimum=1), "name": s(maxLength=60), "price": MONEY, "tags": arr(s(maxLength=15), maxItems=5), "dimensions": obj({"width": n(minimum=0), "height": n(minimum=0), "depth": n(minimum=0)}),
                    "rating": n(minimum=0, maximum=5)}, ["id", "name", "price"]),
    "invoice": obj({"invoice_number": s(pattern="^INV-[0-9]{4}-[0-9]{4}$"), "issue_date": s(format="date"), "due_date": s(format="date"),
                    "lines": arr(obj({"description": s(maxLength=60), "hours": n(minimum=0, maximum=200), "rate": n(minimum=0)}), minItems=1, maxItems=4),
                    "total": n(minimum=0), "paid": B}),
    "geojson_point": obj({"type": {"const": "Feature"}, "geometry": obj({"type": {"const": "Point"}, "coordinates": {"type": "array", "prefixItems": [n(minimum=-180, maximum=180), n(minimum=-90, maximum=90)], "minItems": 2, "maxItems": 2}}),
                          "properties": obj({"name": s(maxLength=40), "population": i(minimum=0)}, ["name"])}),
    "calendar_event": obj({"summary": s(maxLength=60), "start": obj({"dateTime": s(format="date-time"), "timeZone": s(maxLength=30)}, ["dateTime"]),
                           "end": obj({"dateTime": s(format="date-time"), "timeZone": s(maxLength=30)}, ["dateTime"]),
                           "attendees": arr(obj({"email": s(format="email"), "optional": B}, ["email"]), maxItems=4), "recurrence": arr(s(pattern="^RRULE:FREQ=(DAILY|WEEKLY|MONTHLY);COUNT=[0-9]{1,2}$"), maxItems=1)},
                          ["summary", "start", "end"]),
    "rest_pagination": obj({"data": arr(obj({"id": i(), "name": s(maxLength=30)}), maxItems=5), "has_more": B, "next_cursor": {"type": ["string", "null"], "maxLength": 40}, "total": i(minimum=0)}),
    "sentiment_result": obj({"label": enum("positive", "negative", "neutral"), "score": n(minimum=0, maximum=1), "aspects": arr(obj({"aspect": s(maxLength=20), "label": enum("positive", "negative", "neutral")}), maxItems=4)}),
    "ner_result": obj({"entities": arr(obj({"text": s(maxLength=40), "type": enum("PERSON", "ORG", "LOCATION", "DATE", "MONEY"), "start": i(minimum=0), "end": i(minimum=0)}), maxItems=6)}),
    "classification": obj({"category": enum("billing", "technical", "account", "feedback", "other"), "priority": enum("low", "medium", "high", "urgent"), "confidence": n(minimum=0, maximum=1),
                           "needs_human": B}),
    "extraction_resume": obj({"name": s(maxLength=40), "email": s(format="email"), "phone": s(pattern="^\\+?[0-9 ()-]{7,20}$"),
                              "skills": arr(s(maxLength=20), minItems=1, maxItems=8), "experience": arr(obj({"company": s(maxLength=40), "title": s(maxLength=40), "start_year": i(minimum=1950, maximum=2030), "end_year": {"type": ["integer", "null"], "minimum": 1950, "maximum": 2030}}), maxItems=3),
                              "education": arr(obj({"school": s(maxLength=50), "degree": enum("BSc", "MSc", "PhD", "BA", "MA", "other")}), maxItems=2)}, ["name", "skills"]),
    "recipe": obj({"title": s(maxLength=50), "servings": i(minimum=1, maximum=20), "prep_minutes": i(minimum=0, maximum=600), "difficulty": enum("easy", "medium", "hard"),
                   "ingredients": arr(obj({"item": s(maxLength=30), "quantity": n(minimum=0), "unit": enum("g", "kg", "ml", "l", "cup", "tbsp", "tsp", "piece")}), minItems=1, maxItems=8),
                   "steps": arr(s(maxLength=120), minItems=1, maxItems=6), "vegetarian": B}),
    "movie": obj({"title": s(maxLength=60), "year": i(minimum=1888, maximum=2030), "genres": arr(enum("action", "comedy", "drama", "horror", "sci-fi", "romance", "documentary"), minItems=1, maxItems=3),
                  "director": s(maxLength=40), "cast": arr(obj({"actor": s(maxLength=40), "role": s(maxLength=40)}), maxItems=4), "imdb_rating": n(minimum=0, maximum=10)}, ["title", "year", "genres"]),
    "book": obj({"isbn": s(pattern="^97[89][0-9]{10}$"), "title": s(maxLength=80), "authors": arr(s(maxLength=40), minItems=1, maxItems=3), "published": s(format="date"),
                 "pages": i(minimum=1, maximum=5000), "language": s(pattern="^[a-z]{2}$")}, ["isbn", "title", "authors"]),
    "transaction": obj({"id": s(format="uuid"), "from_account": s(pattern="^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,20}$"), "to_account": s(pattern="^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,20}$"),
                        "amount": MONEY, "timestamp": s(format="date-time"), "memo": s(maxLength=80)}, ["id", "from_account", "to_account", "amount", "timestamp"]),
    "log_entry": obj({"timestamp": s(format="date-time"), "level": enum("DEBUG", "INFO", "WARN", "ERROR", "FATAL"), "service": s(pattern="^[a-z][a-z0-9-]{1,30}$"),
                      "message": s(maxLength=150), "trace_id": s(pattern="^[0-9a-f]{32}$"), "context": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}},
                     ["timestamp", "level", "message"]),
    "metric_point": obj({"name": s(pattern="^[a-z_][a-z0-9_.]{0,40}$"), "value": n(), "unit": enum("ms", "bytes", "count", "percent"), "tags": {"type": "object", "additionalProperties": s(maxLength=30)}, "ts": i(minimum=0)}, ["name", "value", "ts"]),
    "jsonrpc_request": obj({"jsonrpc": {"const": "2.0"}, "method": s(pattern="^[a-zA-Z_/.]{1,40}$"), "params": {"type": "object"}, "id": {"type": ["integer", "string"]}}, ["jsonrpc", "method", "id"]),
    "jsonrpc_response": {"oneOf": [obj({"jsonrpc": {"const": "2.0"}, "result": {}, "id": {"type": ["integer", "string", "null"]}}),
                                   obj({"jsonrpc": {"const": "2.0"}, "error": obj({"code": i(), "message": s(maxLength=80), "data": {}}, ["code", "message"]), "id": {"type": ["integer", "string", "null"]}})]},
    "mcp_tool_call": obj({"name": s(pattern="^[a-zA-Z0-9_-]{1,64}$"), "arguments": {"type": "object", "additionalProperties": True}}, ["name"]),
    "openai_function": obj({"type": {"const": "function"}, "function": obj({"name": s(pattern="^[a-zA-Z0-9_-]{1,64}$"), "arguments": s(maxLength=200)})}),
    "address": ADDRESS,
    "money": MONEY,
    "contact_form": obj({"name": s(minLength=1, maxLength=50), "email": s(format="email"), "subject": enum("sales", "support", "press", "other"), "message": s(minLength=10, maxLength=300), "newsletter": B}, ["name", "email", "message"]),
    "survey_answer": obj({"respondent": s(format="uuid"), "answers": arr(obj({"question_id": i(minimum=1, maximum=50), "choice": {"anyOf": [i(minimum=1, maximum=5), s(maxLength=60)]}}), minItems=1, maxItems=6), "completed_at": s(format="date-time")}),
    "flight_search": obj({"origin": s(pattern="^[A-Z]{3}$"), "destination": s(pattern="^[A-Z]{3}$"), "depart": s(format="date"), "return": s(format="date"), "passengers": obj({"adults": i(minimum=1, maximum=9), "children": i(minimum=0, maximum=8)}), "cabin": enum("economy", "premium", "business", "first")}, ["origin", "destination", "depart", "passengers"]),
    "hotel_booking": obj({"hotel_id": i(minimum=1), "check_in": s(format="date"), "check_out": s(format="date"), "guests": i(minimum=1, maximum=8), "room": enum("single", "double", "suite"), "guest": obj({"first_name": s(maxLength=30), "last_name": s(maxLength=30), "email": s(format="email")}), "special_requests": s(maxLength=200)}, ["hotel_id", "check_in", "check_out", "guests", "guest"]),
    "time_range": obj({"start": s(format="time"), "end": s(format="time"), "timezone": s(pattern="^[A-Za-z]+/[A-Za-z_]+$")}),
    "ip_rule": obj({"action": enum("allow", "deny"), "source": s(format="ipv4"), "port": i(minimum=1, maximum=65535), "protocol": enum("tcp", "udp", "icmp"), "comment": s(maxLength=60)}, ["action", "source", "protocol"]),
    "semver_release": obj({"version": s(pattern="^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$"), "date": s(format="date"), "changes": arr(obj({"type": enum("added", "changed", "fixed", "removed", "security"), "text": s(maxLength=100)}), minItems=1, maxItems=5), "breaking": B}),
    "color_palette": obj({"name": s(maxLength=30), "colors": arr(s(pattern="^#[0-9a-fA-F]{6}$"), minItems=2, maxItems=6)}),
    "quiz": obj({"question": s(maxLength=120), "options": arr(s(maxLength=40), minItems=2, maxItems=4), "answer_index": i(minimum=0, maximum=3), "explanation": s(maxLength=150)}),
    "translation": obj({"source_lang": s(pattern="^[a-z]{2}$"), "target_lang": s(pattern="^[a-z]{2}$"), "text": s(maxLength=150), "translation": s(maxLength=200)}),
    "summary": obj({"title": s(maxLength=60), "bullets": arr(s(maxLength=100), minItems=1, maxItems=5), "word_count": i(minimum=0)}),
    "key_value_list": arr(obj({"key": s(pattern="^[A-Z_][A-Z0-9_]*$"), "value": s(maxLength=60)}), maxItems=6),
    "string_list": arr(s(maxLength=30), minItems=1, maxItems=10),
    "integer_matrix": arr(arr(i(minimum=-100, maximum=100), minItems=3, maxItems=3), minItems=3, maxItems=3),
    "tuple_record": {"type": "array", "prefixItems": [s(maxLength=20), i(minimum=0), B, {"type": "null"}], "minItems": 4, "maxItems": 4},
    "nullable_fields": obj({"a": {"type": ["string", "null"], "maxLength": 20}, "b": {"type": "integer", "nullable": True}, "c": {"anyOf": [n(), {"type": "null"}]}}),
    "boolean_flags": obj({k: B for k in ["read", "write", "execute", "admin", "audit"]}),
    "enum_mixed": obj({"level": enum(1, 2, 3, "max"), "mode": enum("on", "off", None, True)}),
    "const_discriminated": {"oneOf": [obj({"kind": {"const": "circle"}, "radius": n(minimum=0)}), obj({"kind": {"const": "rect"}, "width": n(minimum=0), "height": n(minimum=0)}),
                                      obj({"kind": {"const": "triangle"}, "sides": {"type": "array", "items": n(minimum=0), "minItems": 3, "maxItems": 3}})]},
    "allof_merge": {"allOf": [obj({"id": i(minimum=1)}, ["id"], None), obj({"name": s(maxLength=30), "active": B}, ["name"], None)], "type": "object"},
    "ref_reuse": {"$defs": {"person": obj({"name": s(maxLength=30), "email": s(format="email")})}, "type": "object",
                  "properties": {"author": {"$ref": "#/$defs/person"}, "reviewers": arr({"$ref": "#/$defs/person"}, maxItems=3)}, "required": ["author"], "additionalProperties": False},
    # ---- recursive ----
    "tree": TREE,
    "linked_list": {"definitions": {"node": obj({"value": i(), "next": {"anyOf": [{"$ref": "#/definitions/node"}, {"type": "null"}]}})}, "$ref": "#/definitions/node"},
    "file_system": {"$defs": {"entry": {"oneOf": [obj({"type": {"const": "file"}, "name": s(maxLength=30), "size": i(minimum=0)}),
                                                  obj({"type": {"const": "dir"}, "name": s(maxLength=30), "entries": arr({"$ref": "#/$defs/entry"}, maxItems=3)})]}},
                    "$ref": "#/$defs/entry"},
    "comment_thread": {"$defs": {"comment": obj({"author": s(maxLength=20), "text": s(maxLength=100), "replies": arr({"$ref": "#/$defs/comment"}, maxItems=2)}, ["author", "text"])},
                       "type": "object", "properties": {"post_id": i(minimum=1), "comments": arr({"$ref": "#/$defs/comment"}, maxItems=3)}, "required": ["post_id", "comments"], "additionalProperties": False},
    "expression_ast": {"$defs": {"expr": {"anyOf": [obj({"num": n()}), obj({"op": enum("+", "-", "*", "/"), "left": {"$ref": "#/$defs/expr"}, "right": {"$ref": "#/$defs/expr"}})]}}, "$ref": "#/$defs/expr"},
    "org_chart": {"$defs": {"employee": obj({"name": s(maxLength=30), "title": s(maxLength=30), "reports": arr({"$ref": "#/$defs/employee"}, maxItems=3)}, ["name", "title"])}, "$ref": "#/$defs/employee"},
    "json_value": {"$defs": {"v": {"anyOf": [{"type": "null"}, B, N, s(maxLength=20), arr({"$ref": "#/$defs/v"}, maxItems=3), {"type": "object", "additionalProperties": {"$ref": "#/$defs/v"}, "maxProperties": 3}]}}, "$ref": "#/$defs/v"},
    # ---- configuration files ----
    "package_json": obj({"name": s(pattern="^(@[a-z0-9-]+/)?[a-z0-9-]+$"), "version": s(pattern="^[0-9]+\\.[0-9]+\\.[0-9]+$"), "description": s(maxLength=100), "main": s(maxLength=40),
                         "scripts": {"type": "object", "additionalProperties": s(maxLength=60)}, "dependencies": {"type": "object", "additionalProperties": s(pattern="^[\\^~]?[0-9]+\\.[0-9]+\\.[0-9]+$")},
                         "license": enum("MIT", "Apache-2.0", "BSD-3-Clause", "GPL-3.0", "ISC"), "private": B}, ["name", "version"]),
    "tsconfig": obj({"compilerOptions": obj({"target": enum("ES2017", "ES2020", "ES2022", "ESNext"), "module": enum("commonjs", "esnext", "nodenext"), "strict": B, "outDir": s(maxLength=30),
                                             "paths": {"type": "object", "additionalProperties": arr(s(maxLength=40), maxItems=2)}, "lib": arr(s(maxLength=12), maxItems=4)}, []),
                     "include": arr(s(maxLength=30), maxItems=4), "exclude": arr(s(maxLength=30), maxItems=4)}, ["compilerOptions"]),
    "docker_compose_service": obj({"image": s(pattern="^[a-z0-9./-]+(:[a-zA-Z0-9._-]+)?$"), "ports": arr(s(pattern="^[0-9]{2,5}:[0-9]{2,5}$"), maxItems=3), "environment": {"type": "object", "additionalProperties": s(maxLength=40)},
                                   "volumes": arr(s(maxLength=60), maxItems=3), "restart": enum("no", "always", "on-failure", "unless-stopped"), "depends_on": arr(s(maxLength=20), maxItems=3)}, ["image"]),
    "k8s_deployment": obj({"apiVersion": {"const": "apps/v1"}, "kind": {"const": "Deployment"},
                           "metadata": obj({"name": s(pattern="^[a-z0-9-]{1,40}$"), "labels": {"type": "object", "additionalProperties": s(maxLength=30)}}, ["name"]),
                           "spec": obj({"replicas": i(minimum=0, maximum=20), "template": obj({"spec": obj({"containers": K8S_CONTAINERS})})})}),
    "github_actions_job": obj({"runs-on": enum("ubuntu-latest", "macos-latest", "windows-latest"), "timeout-minutes": i(minimum=1, maximum=360),
                               "steps": arr({"anyOf": [obj({"uses": s(pattern="^[a-z0-9-]+/[a-z0-9-]+@v[0-9]+$"), "with": {"type": "object", "additionalProperties": S}}, ["uses"]), obj({"name": s(maxLength=40), "run": s(maxLength=100)}, ["run"])]}, minItems=1, maxItems=4)},
                              ["runs-on", "steps"]),
    "eslint_config": obj({"root": B, "env": obj({"browser": B, "node": B, "es2022": B}, []), "extends": arr(s(maxLength=40), maxItems=3),
                          "rules": {"type": "object", "additionalProperties": {"anyOf": [enum("off", "warn", "error"), enum(0, 1, 2)]}}}, []),
    "vscode_settings": obj({"editor.fontSize": i(minimum=6, maximum=40), "editor.tabSize": i(minimum=1, maximum=8), "editor.formatOnSave": B, "files.exclude": {"type": "object", "additionalProperties": B},
                            "workbench.colorTheme": s(maxLength=40)}, []),
    "nginx_server": obj({"listen": i(minimum=1, maximum=65535), "server_name": arr(s(pattern="^[a-z0-9.*-]+$"), minItems=1, maxItems=3), "root": s(maxLength=40), "ssl": B,
                         "locations": arr(obj({"path": s(pattern="^/[a-zA-Z0-9/_-]*$"), "proxy_pass": s(format="uri")}, ["path"]), maxItems=3)}, ["listen", "server_name"]),
    "app_config": obj({"server": obj({"host": s(maxLength=40), "port": i(minimum=1, maximum=65535), "tls": obj({"enabled": B, "cert_file": s(maxLength=60), "key_file": s(maxLength=60)}, ["enabled"])}),
                       "database": obj({"url": s(pattern="^(postgres|mysql|sqlite)://[^ ]{1,80}$"), "pool_size": i(minimum=1, maximum=100), "timeout_ms": i(minimum=0, maximum=60000)}),
                       "log_level": enum("trace", "debug", "info", "warn", "error"), "features": {"type": "object", "additionalProperties": B}}, ["server", "database"]),
    "cron_jobs": obj({"jobs": arr(obj({"name": s(pattern="^[a-z0-9-]{1,30}$"), "schedule": s(pattern="^([0-9*/,-]+ ){4}[0-9*/,-]+$"), "command": s(maxLength=80), "enabled": B}), minItems=1, maxItems=4)}),
    "feature_flags": obj({"flags": arr(obj({"key": s(pattern="^[a-z][a-z0-9_]{0,30}$"), "enabled": B, "rollout_percent": i(minimum=0, maximum=100), "variants": arr(enum("control", "treatment_a", "treatment_b"), maxItems=3)}, ["key", "enabled"]), maxItems=5)}),
    "pyproject": obj({"project": obj({"name": s(pattern="^[a-z0-9_-]{1,40}$"), "version": s(pattern="^[0-9]+\\.[0-9]+(\\.[0-9]+)?$"), "requires-python": s(pattern="^>=3\\.[0-9]{1,2}$"),
                                      "dependencies": arr(s(maxLength=40), maxItems=5), "authors": arr(obj({"name": s(maxLength=30), "email": s(format="email")}, ["name"]), maxItems=2)}, ["name", "version"])}),
    "terraform_variable": obj({"name": s(pattern="^[a-z_][a-z0-9_]{0,40}$"), "type": enum("string", "number", "bool", "list(string)", "map(string)"), "default": {"type": ["string", "number", "boolean", "null"]}, "description": s(maxLength=80), "sensitive": B}, ["name", "type"]),
    "prometheus_alert": obj({"alert": s(pattern="^[A-Z][A-Za-z0-9]{1,40}$"), "expr": s(maxLength=100), "for": s(pattern="^[0-9]+(s|m|h)$"), "labels": obj({"severity": enum("info", "warning", "critical")}), "annotations": obj({"summary": s(maxLength=80)})}),
    "openapi_parameter": obj({"name": s(maxLength=30), "in": enum("query", "header", "path", "cookie"), "required": B, "schema": obj({"type": enum("string", "integer", "boolean", "number"), "format": s(maxLength=20)}, ["type"]), "description": s(maxLength=80)}, ["name", "in", "schema"]),
    "i18n_messages": obj({"locale": s(pattern="^[a-z]{2}(-[A-Z]{2})?$"), "messages": {"type": "object", "additionalProperties": s(maxLength=80), "propertyNames": s(pattern="^[a-z.]+$")}}),
    "game_save": obj({"player": obj({"name": s(maxLength=20), "level": i(minimum=1, maximum=99), "hp": i(minimum=0, maximum=9999), "position": {"type": "array", "prefixItems": [n(), n(), n()], "minItems": 3, "maxItems": 3}}),
                      "inventory": arr(obj({"item": s(maxLength=20), "count": i(minimum=1, maximum=99)}), maxItems=6), "quests": arr(obj({"id": i(minimum=1), "done": B}), maxItems=4)}),
    # ---- keywords a grammar cannot enforce: must be errors naming them ----
    "unique_tags": obj({"tags": arr(s(maxLength=10), uniqueItems=True)}),
    "pattern_properties": {"type": "object", "patternProperties": {"^x-": S}},
    "not_keyword": obj({"value": {"not": {"type": "null"}}}),
    "if_then_else": {"type": "object", "properties": {"country": S, "zip": S}, "if": {"properties": {"country": {"const": "US"}}}, "then": {"required": ["zip"]}},
    "multiple_of": obj({"quantity": n(multipleOf=0.5)}),
    "dependent_required": {"type": "object", "properties": {"card": S, "billing": S}, "dependentRequired": {"card": ["billing"]}},
}

ENVELOPES = {
    "page_of": lambda b: {"$defs": b.pop("$defs", {}), "type": "object", "properties": {"items": {"type": "array", "items": b, "maxItems": 2}, "next_page": {"type": ["integer", "null"], "minimum": 1}}, "required": ["items", "next_page"], "additionalProperties": False},
    "result_or_error": lambda b: {"$defs": b.pop("$defs", {}), "type": "object", "properties": {"ok": B, "result": {"anyOf": [b, {"type": "null"}]}, "error": {"type": ["string", "null"], "maxLength": 60}}, "required": ["ok", "result"], "additionalProperties": False},
}


def rebase(schema, prefix):
    """Moves local refs when a schema is nested: '#/$defs/x' keeps working because $defs are hoisted to the root."""
    if isinstance(schema, dict):
        out = {}
        for k, v in schema.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/definitions/"):
                out[k] = "#/$defs/" + v[len("#/definitions/"):]
            else:
                out[k] = rebase(v, prefix)
        return out
    if isinstance(schema, list):
        return [rebase(x, prefix) for x in schema]
    return schema


def main():
    out = []
    for name, sch in CLAUDE_CODE.items():
        out.append({"name": "claude_code/" + name, "group": "claude_code", "schema": sch})
    for name, sch in BASES.items():
        out.append({"name": name, "group": "base", "schema": sch})
    for env_name, wrap in ENVELOPES.items():
        for name, sch in BASES.items():
            if name in ("unique_tags", "pattern_properties", "not_keyword", "if_then_else", "multiple_of", "dependent_required"):
                continue
            b = copy.deepcopy(sch)
            if "definitions" in b:
                b["$defs"] = b.pop("definitions")
            b = rebase(b, "")
            if "$ref" in b and "$defs" in b and len(b) == 2:  # a bare reference: nest the reference itself
                pass
            out.append({"name": f"{env_name}/{name}", "group": env_name, "schema": wrap(b)})
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"generator": "tests/constrain/make_validity_schemas.py", "schemas": out}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(out)} schemas to {OUT}")


if __name__ == "__main__":
    main()
