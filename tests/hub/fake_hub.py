#!/usr/bin/env python3
"""A Hugging Face hub look-alike on loopback for the hub tests (standard library only).

    fake_hub.py CONFIG.json    prints "READY <hub_port> <storage_port>" once both servers listen

Two servers, like the real hub and its CDN: the hub (API, resolve) and a storage server on another port
(another origin), which LFS files redirect to. Storage rejects requests carrying an Authorization header,
as signed-URL storage does, so a client leaking the token off the hub fails.

CONFIG: {"token": "hf_...", "repos": {"owner/name": {"private": false,
          "revisions": {"main": {"files": {"path/in/repo": {"file": "/abs/path"} | {"text": "..."}}}}}}}
A revision's commit is a sha1 of its content; files ending in .gguf/.safetensors/.bin or of 10 KiB and more
are LFS (ETag: sha256, via a redirect), the others are plain git blobs (ETag: git blob sha1).

Hub routes: GET /api/models/{repo}[/revision/{rev}][?blobs=true], GET /api/models/{repo}/tree/{rev}[/{path}],
HEAD|GET /{repo}/resolve/{rev}/{path}. Storage: HEAD|GET /blobs/{sha256} with Range.
Control: GET /_ctl/faults?set=<json list of rules>, GET /_ctl/stats, GET /_ctl/reset (stats and faults).
A rule: {"server": "hub"|"storage"|"*", "method": "GET"|"HEAD"|"*", "match": "<substring of the path>",
         "times": N (-1: always), "action": "status" (+"code", "retry_after") | "drop" (+"after": bytes sent
         before the connection is cut) | "corrupt" | "ignore_range" | "throttle" (+"bps") | "sleep" (+"seconds")
         | "header" (+"name", "value": that header of a reply with headers replaced)}
"""
import hashlib
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"faults": [], "requests": []}
LFS_EXT = (".gguf", ".safetensors", ".bin", ".pth")


class Repo:
    def __init__(self, name, spec):
        self.name = name
        self.private = bool(spec.get("private", False))
        self.revisions = {}  # rev name -> commit
        self.commits = {}  # commit -> {path: file entry}
        for rev, rspec in spec["revisions"].items():
            files = {}
            for path, src in sorted(rspec["files"].items()):
                if "file" in src:
                    with open(src["file"], "rb") as f:
                        data = f.read()
                else:
                    data = src["text"].encode()
                lfs = path.endswith(LFS_EXT) or len(data) >= 10240
                files[path] = {
                    "data": data,
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "git_sha1": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
                    "lfs": lfs,
                }
            h = hashlib.sha1(f"{name}@{rev}".encode())
            for path, e in files.items():
                h.update(f"{path}:{e['sha256']}".encode())
            commit = h.hexdigest()
            self.revisions[rev] = commit
            self.commits[commit] = files

    def commit_for(self, rev):
        if rev in self.commits:
            return rev
        return self.revisions.get(rev)


CONFIG = {}
REPOS = {}
BLOBS = {}  # sha256 -> data (storage server)
PORTS = {}


def take_fault(server, method, path, actions):
    """The first matching rule with one of `actions`, consuming one of its `times`."""
    with LOCK:
        for rule in STATE["faults"]:
            if rule.get("action") not in actions:
                continue
            if rule.get("server", "*") not in ("*", server) or rule.get("method", "*") not in ("*", method):
                continue
            if rule.get("match", "") not in path:
                continue
            times = rule.get("times", -1)
            if times == 0:
                continue
            if times > 0:
                rule["times"] = times - 1
            return rule
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_name = "hub"

    def log_message(self, *args):
        pass

    def record(self, status, sent):
        """Logs the request before its response goes out (a client reading the stats right after its response
        must see it); streamed bodies raise "sent" before each chunk is written."""
        entry = {
            "server": self.server_name, "method": self.command, "path": self.path,
            "range": self.headers.get("Range", ""), "auth": self.headers.get("Authorization", ""),
            "status": status, "sent": sent,
        }
        with LOCK:
            STATE["requests"].append(entry)
        return entry

    def reply(self, status, body=b"", headers=None, head=False):
        if isinstance(body, str):
            body = body.encode()
        self.record(status, 0 if head else len(body))
        self.send_response(status)
        rule = take_fault(self.server_name, self.command, self.path, ("header",)) if headers else None
        if rule and rule["name"] in headers:
            headers = {**headers, rule["name"]: rule["value"]}
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def error_json(self, status, message, code=None, extra=None, head=False):
        headers = {"Content-Type": "application/json", "X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        headers.update(extra or {})
        self.reply(status, json.dumps({"error": message}), headers, head)

    def injected_status(self, head):
        rule = take_fault(self.server_name, self.command, self.path, ("status",))
        if not rule:
            return False
        extra = {"Retry-After": str(rule["retry_after"])} if "retry_after" in rule else {}
        self.error_json(rule["code"], f"injected {rule['code']}", extra=extra, head=head)
        return True

    def do_GET(self):
        self.handle_any(head=False)

    def do_HEAD(self):
        self.handle_any(head=True)

    def handle_any(self, head):
        rule = take_fault(self.server_name, self.command, self.path, ("sleep",))
        if rule:
            time.sleep(rule["seconds"])
        if self.server_name == "hub" and self.path.startswith("/_ctl/"):
            return self.control()
        if self.injected_status(head):
            return
        if self.server_name == "storage":
            return self.storage(head)
        return self.hub(head)

    # ---- control -------------------------------------------------------------------------------
    def control(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        with LOCK:
            if url.path == "/_ctl/faults":
                STATE["faults"] = json.loads(q["set"][0])
                body = "{}"
            elif url.path == "/_ctl/reset":
                STATE["faults"], STATE["requests"] = [], []
                body = "{}"
            else:
                body = json.dumps({"requests": STATE["requests"]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    # ---- hub -----------------------------------------------------------------------------------
    def authorize(self, repo, head):
        """None when the request may see the repository, else the reply was sent."""
        auth = self.headers.get("Authorization", "")
        if auth and auth != f"Bearer {CONFIG.get('token', '')}":
            self.error_json(401, "Invalid username or password.", head=head)
            return False
        if repo.private and not auth:
            self.error_json(401, "Repository not found (or private)", "RepoNotFound", head=head)
            return False
        return True

    def find_repo(self, parts, head):
        name = "/".join(parts[:2])
        repo = REPOS.get(name)
        if repo is None:
            self.error_json(404, f"Repository {name} not found", "RepoNotFound", head=head)
        elif not self.authorize(repo, head):
            repo = None
        return repo

    def hub(self, head):
        url = urllib.parse.urlparse(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/")[1:]]
        query = urllib.parse.parse_qs(url.query)
        if len(parts) >= 4 and parts[0] == "api" and parts[1] == "models":
            repo = self.find_repo(parts[2:], head)
            if repo is None:
                return
            rest = parts[4:]
            if not rest or rest[0] == "revision":
                rev = rest[1] if len(rest) > 1 else "main"
                commit = repo.commit_for(rev)
                if commit is None:
                    return self.error_json(404, f"Invalid rev id: {rev}", "RevisionNotFound", head=head)
                blobs = query.get("blobs", ["false"])[0].lower() in ("1", "true")
                siblings = []
                for path, e in repo.commits[commit].items():
                    s = {"rfilename": path}
                    if blobs:
                        s.update({"size": e["size"], "blobId": e["git_sha1"]})
                        if e["lfs"]:
                            s["lfs"] = {"sha256": e["sha256"], "size": e["size"], "pointerSize": 134}
                    siblings.append(s)
                info = {"_id": commit[:24], "id": repo.name, "modelId": repo.name, "sha": commit,
                        "private": repo.private, "gated": False, "disabled": False, "siblings": siblings,
                        "lastModified": "2025-01-01T00:00:00.000Z", "tags": [], "downloads": 0, "likes": 0}
                return self.reply(200, json.dumps(info), {"Content-Type": "application/json"}, head)
            if rest[0] == "tree":
                commit = repo.commit_for(rest[1]) if len(rest) > 1 else None
                if commit is None:
                    return self.error_json(404, "Invalid rev id", "RevisionNotFound", head=head)
                prefix = "/".join(rest[2:])
                items, dirs = [], set()
                for path, e in repo.commits[commit].items():
                    if prefix and not path.startswith(prefix + "/"):
                        continue
                    segs = path.split("/")
                    for i in range(1, len(segs)):
                        dirs.add("/".join(segs[:i]))
                    item = {"type": "file", "oid": e["git_sha1"], "size": e["size"], "path": path}
                    if e["lfs"]:
                        item["lfs"] = {"oid": e["sha256"], "size": e["size"], "pointerSize": 134}
                    items.append(item)
                items += [{"type": "directory", "oid": "0" * 40, "size": 0, "path": d} for d in sorted(dirs)]
                return self.reply(200, json.dumps(items), {"Content-Type": "application/json"}, head)
            return self.error_json(404, "unknown API route", head=head)
        if len(parts) >= 5 and parts[2] == "resolve":
            repo = self.find_repo(parts, head)
            if repo is None:
                return
            commit = repo.commit_for(parts[3])
            if commit is None:
                return self.error_json(404, f"Invalid rev id: {parts[3]}", "RevisionNotFound", head=head)
            path = "/".join(parts[4:])
            e = repo.commits[commit].get(path)
            if e is None:
                return self.error_json(404, f"Entry not found: {path}", "EntryNotFound",
                                       {"X-Repo-Commit": commit}, head=head)
            if e["lfs"]:
                BLOBS[e["sha256"]] = e["data"]
                location = f"http://127.0.0.1:{PORTS['storage']}/blobs/{e['sha256']}?name={urllib.parse.quote(path)}"
                return self.reply(302, "", {"Location": location, "X-Repo-Commit": commit,
                                            "X-Linked-Etag": f'"{e["sha256"]}"', "X-Linked-Size": str(e["size"]),
                                            "ETag": f'"{e["git_sha1"]}"', "Accept-Ranges": "bytes"}, head)
            return self.send_content(e["data"], head, {"X-Repo-Commit": commit, "ETag": f'"{e["git_sha1"]}"'})
        return self.error_json(404, "not found", head=head)

    # ---- storage -------------------------------------------------------------------------------
    def storage(self, head):
        if self.headers.get("Authorization"):
            return self.error_json(400, "Only one auth mechanism allowed: the token must not reach storage", head=head)
        url = urllib.parse.urlparse(self.path)
        parts = url.path.split("/")
        data = BLOBS.get(parts[-1]) if len(parts) == 3 and parts[1] == "blobs" else None
        if data is None:
            return self.error_json(404, "no such blob", head=head)
        return self.send_content(data, head, {"ETag": f'"{parts[-1]}"'})

    def send_content(self, data, head, headers):
        total = len(data)
        start, end, status = 0, total, 200
        rng = self.headers.get("Range", "")
        if rng and not take_fault(self.server_name, self.command, self.path, ("ignore_range",)):
            spec = rng.replace("bytes=", "").split("-")
            start = int(spec[0] or 0)
            end = int(spec[1]) + 1 if spec[1] else total
            if start >= total:
                return self.reply(416, "", {"Content-Range": f"bytes */{total}"}, head)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{total}"
        body = bytearray(data[start:end])
        if self.command == "GET" and body and take_fault(self.server_name, "GET", self.path, ("corrupt",)):
            body[len(body) // 2] ^= 0xFF
        entry = self.record(status, 0)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        drop = take_fault(self.server_name, "GET", self.path, ("drop",))
        throttle = take_fault(self.server_name, "GET", self.path, ("throttle",))
        limit = min(drop["after"], len(body)) if drop else len(body)
        sent, chunk = 0, 16384
        try:
            while sent < limit:
                n = min(chunk, limit - sent)
                with LOCK:
                    entry["sent"] += n
                self.wfile.write(body[sent:sent + n])
                sent += n
                if throttle:
                    self.wfile.flush()
                    time.sleep(n / throttle["bps"])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        if drop:  # cut the connection mid-body: the client sees a short transfer
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class StorageHandler(Handler):
    server_name = "storage"


def main():
    global CONFIG
    with open(sys.argv[1]) as f:
        CONFIG = json.load(f)
    for name, spec in CONFIG["repos"].items():
        REPOS[name] = Repo(name, spec)
        for files in REPOS[name].commits.values():
            for e in files.values():
                if e["lfs"]:
                    BLOBS[e["sha256"]] = e["data"]
    ThreadingHTTPServer.daemon_threads = True
    hub = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    storage = ThreadingHTTPServer(("127.0.0.1", 0), StorageHandler)
    PORTS["hub"], PORTS["storage"] = hub.server_address[1], storage.server_address[1]
    threading.Thread(target=storage.serve_forever, daemon=True).start()
    print(f"READY {PORTS['hub']} {PORTS['storage']}", flush=True)
    hub.serve_forever()


if __name__ == "__main__":
    main()
