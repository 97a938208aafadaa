#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small OCI distribution registry on 127.0.0.1 for the tests that Debian's docker-registry
cannot do: token auth as real registries do it, and uploads that fail. Blobs and manifests live
under DATA (so a registry started again on the same DATA still has what was pushed before).
Prints its port, then serves.

  test-registry.py DATA [--token USER:PASS] [--fail-put N] [--die-put N]

--token: every /v2/ request needs "Authorization: Bearer T"; without one the answer is 401 with
  WWW-Authenticate: Bearer realm="http://127.0.0.1:PORT/token",service=...,scope=...; the token
  endpoint wants Basic USER:PASS and grants what the scope asks (pull, push).
--fail-put N: the Nth blob upload (PUT of an upload session) answers 500 with a spec error body.
--die-put N: the Nth blob upload reads part of the body, then the process exits (a crash).
GET /stats: counters (blob uploads completed, HEADs answered 200, tokens issued, 401s).
"""
import base64
import hashlib
import http.server
import json
import os
import secrets
import socketserver
import sys
import threading
import urllib.parse

data = sys.argv[1]
opts = {"token": None, "fail_put": 0, "die_put": 0}
args = sys.argv[2:]
while args:
    k, v = args[0], args[1]
    args = args[2:]
    if k == "--token":
        opts["token"] = v
    elif k == "--fail-put":
        opts["fail_put"] = int(v)
    elif k == "--die-put":
        opts["die_put"] = int(v)
    else:
        sys.exit("unknown option " + k)

lock = threading.Lock()
stats = {"uploads": 0, "put_attempts": 0, "head_hits": 0, "tokens": 0, "unauthorized": 0,
         "manifest_puts": 0}
tokens = {}  # token -> set of (repo, action)
uploads = {}  # uuid -> bytearray
os.makedirs(os.path.join(data, "blobs"), exist_ok=True)
os.makedirs(os.path.join(data, "manifests"), exist_ok=True)


def blob_path(digest):
    algo, _, hexd = digest.partition(":")
    if algo != "sha256" or len(hexd) != 64 or any(c not in "0123456789abcdef" for c in hexd):
        return None
    return os.path.join(data, "blobs", hexd)


def error_body(code, message):
    return json.dumps({"errors": [{"code": code, "message": message, "detail": None}]}).encode()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, body=b"", headers=(), ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self, limit=None):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n if limit is None else min(n, limit))

    # ---- auth -------------------------------------------------------------------------
    def token_endpoint(self, query):
        q = urllib.parse.parse_qs(query)
        user, _, pw = opts["token"].partition(":")
        want = "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
        if self.headers.get("Authorization") != want:
            with lock:
                stats["unauthorized"] += 1
            return self.reply(401, error_body("UNAUTHORIZED", "bad credentials for the token"),
                              [("WWW-Authenticate", 'Basic realm="test"')])
        grants = set()
        for scope in q.get("scope", []):
            parts = scope.split(":")
            if len(parts) == 3 and parts[0] == "repository":
                for action in parts[2].split(","):
                    grants.add((parts[1], action))
        tok = secrets.token_hex(16)
        with lock:
            tokens[tok] = grants
            stats["tokens"] += 1
        self.reply(200, json.dumps({"token": tok, "expires_in": 300}).encode())

    def authorized(self, repo, action):
        if not opts["token"]:
            return True
        h = self.headers.get("Authorization", "")
        with lock:
            grants = tokens.get(h[7:]) if h.startswith("Bearer ") else None
        if grants is not None and (repo, action) in grants:
            return True
        with lock:
            stats["unauthorized"] += 1
        realm = "http://127.0.0.1:%d/token" % self.server.server_address[1]
        scope = "repository:%s:%s" % (repo, "pull,push" if action == "push" else "pull")
        self.body()
        self.reply(401, error_body("UNAUTHORIZED", "authentication required"),
                   [("WWW-Authenticate",
                     'Bearer realm="%s",service="brisk-test",scope="%s"' % (realm, scope))])
        return False

    # ---- routing ----------------------------------------------------------------------
    def route(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/token" and opts["token"]:
            return self.token_endpoint(url.query)
        if url.path == "/stats":
            with lock:
                return self.reply(200, json.dumps(stats).encode())
        if url.path in ("/v2", "/v2/"):
            return self.authorized("", "pull") and self.reply(200, b"{}")
        p = url.path[len("/v2/"):] if url.path.startswith("/v2/") else None
        for kind in ("/blobs/uploads/", "/blobs/", "/manifests/"):
            if p and kind in p:
                repo, _, rest = p.partition(kind)
                write = self.command in ("POST", "PUT", "PATCH", "DELETE")
                if not self.authorized(repo, "push" if write else "pull"):
                    return None
                return getattr(self, kind.strip("/").replace("/", "_"))(repo, rest, url.query)
        self.body()
        return self.reply(404, error_body("NAME_UNKNOWN", "no such route"))

    def blobs(self, repo, digest, query):
        p = blob_path(digest)
        if not p or not os.path.exists(p):
            return self.reply(404, error_body("BLOB_UNKNOWN", "blob unknown to registry"))
        with open(p, "rb") as f:
            blob = f.read()
        if self.command == "HEAD":
            with lock:
                stats["head_hits"] += 1
        rng = self.headers.get("Range")
        if rng and self.command == "GET":
            a, b = rng.split("=", 1)[1].split("-")
            a, b = int(a), min(int(b), len(blob) - 1)
            return self.reply(206, blob[a:b + 1],
                              [("Content-Range", "bytes %d-%d/%d" % (a, b, len(blob)))],
                              "application/octet-stream")
        self.reply(200, blob, [("Docker-Content-Digest", digest)], "application/octet-stream")

    def blobs_uploads(self, repo, uuid, query):
        if self.command == "POST":
            self.body()
            u = secrets.token_hex(8)
            with lock:
                uploads[u] = bytearray()
            return self.reply(202, b"", [("Location", "/v2/%s/blobs/uploads/%s?state=x" % (repo, u)),
                                         ("Range", "0-0")])
        with lock:
            buf = uploads.get(uuid)
        if buf is None:
            self.body()
            return self.reply(404, error_body("BLOB_UPLOAD_UNKNOWN", "blob upload unknown"))
        if self.command == "PATCH":
            buf += self.body()
            return self.reply(202, b"", [("Range", "0-%d" % (len(buf) - 1))])
        if self.command != "PUT":
            return self.reply(405, error_body("UNSUPPORTED", "method"))
        with lock:
            stats["put_attempts"] += 1
            n = stats["put_attempts"]
        if n == opts["die_put"]:
            self.body(limit=max(1, int(self.headers.get("Content-Length") or 0) // 2))
            os._exit(3)  # a crash in the middle of an upload
        buf += self.body()
        if n == opts["fail_put"]:
            return self.reply(500, error_body("UNKNOWN", "storage backend failed (injected)"))
        digest = urllib.parse.parse_qs(query).get("digest", [""])[0]
        p = blob_path(digest)
        if not p or "sha256:" + hashlib.sha256(buf).hexdigest() != digest:
            return self.reply(400, error_body("DIGEST_INVALID", "content does not match digest"))
        with open(p + ".tmp", "wb") as f:
            f.write(buf)
        os.rename(p + ".tmp", p)
        with lock:
            stats["uploads"] += 1
            del uploads[uuid]
        self.reply(201, b"", [("Location", "/v2/%s/blobs/%s" % (repo, digest)),
                              ("Docker-Content-Digest", digest)])

    def manifests(self, repo, ref, query):
        name = hashlib.sha256(("%s@%s" % (repo, ref)).encode()).hexdigest()
        p = os.path.join(data, "manifests", name)
        if self.command == "PUT":
            m = self.body()
            try:
                for d in [json.loads(m)["config"]] + json.loads(m)["layers"]:
                    if not os.path.exists(blob_path(d["digest"]) or "/nonexistent"):
                        return self.reply(400, error_body("MANIFEST_BLOB_UNKNOWN",
                                                          "blob unknown: " + d["digest"]))
            except (ValueError, KeyError, TypeError):
                return self.reply(400, error_body("MANIFEST_INVALID", "manifest invalid"))
            with open(p, "wb") as f:
                f.write(m)
            with lock:
                stats["manifest_puts"] += 1
            return self.reply(201, b"")
        if not os.path.exists(p):
            return self.reply(404, error_body("MANIFEST_UNKNOWN", "manifest unknown"))
        with open(p, "rb") as f:
            m = f.read()
        self.reply(200, m, [], "application/vnd.oci.image.manifest.v1+json")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = route


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
