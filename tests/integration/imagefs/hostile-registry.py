#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small registry on 127.0.0.1, in memory, that misbehaves on request, for
registry-faults.bats: push to it (monolithic uploads, manifests by tag), then turn a fault on.
Prints its port (then, with --tls, the port of its HTTPS side), then serves.

  hostile-registry.py [--tls CERT KEY]

GET /fault?mode=MODE[&length=0] sets the fault of every request that follows (until the next
/fault); GET /stats: counters. Every loop is bounded: a slow body stops after SLOW_MAX seconds,
a large one at 2 GiB, a redirect loop after REDIRECT_MAX redirects, and each stops when the
client goes away. Modes:
  ok             serve correctly, no authentication
  slow-token     /v2/ requests want a Bearer token (401, realm http://127.0.0.1:PORT/token), and
                 the token endpoint sends its answer at 1 byte/s
  slow-manifest  manifests are sent at 1 byte/s
  slow-index     the index and its zstd copy are sent at 1 byte/s
  big-index      whole GETs of the index and its zstd copy are answered with 2 GiB of zeros
  big-pack       the same for whole GETs of pack blobs (a pull)
                 (length=0: without a Content-Length, the body ends when the connection closes)
  redirect       every /v2/ GET is redirected to itself
  corrupt-range  range GETs of pack blobs are answered with every byte flipped
  fail-range     range GETs of pack blobs after the first are answered with 500
  tls-realm      /v2/ requests want a Bearer token whose realm is the HTTPS side
                 (https://127.0.0.1:TLSPORT/token), which redirects to the plain HTTP token
                 endpoint; that one grants tokens (counted as http_tokens)
"""
import hashlib
import http.server
import json
import secrets
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

SLOW_MAX = 120
BIG = 2 << 30
REDIRECT_MAX = 300
# brisk's own media types (snapshots, images written before), and the layer types of an image
MT_INDEX = ("application/vnd.brisk.image.index.v1", "application/vnd.brisk.image.index.v1+zstd",
            "application/vnd.oci.image.layer.brisk.index.v1",
            "application/vnd.oci.image.layer.brisk.index.v1+zstd")
MT_PACK = ("application/vnd.brisk.image.pack.v1", "application/vnd.oci.image.layer.brisk.pack.v1")

tls = sys.argv[2:4] if len(sys.argv) >= 4 and sys.argv[1] == "--tls" else None
lock = threading.Lock()
fault = {"mode": "ok", "length": True}
tokens = set()
blobs = {}  # digest -> bytes
manifests = {}  # (repo, tag) -> bytes
uploads = {}  # uuid -> True
stats = {"requests": 0, "redirects": 0, "big_bytes": 0, "slow_bytes": 0, "http_tokens": 0,
         "tls_requests": 0, "unauthorized": 0, "range": 0}
ports = {}


def count(key, n=1):
    with lock:
        stats[key] += n


def media_type(digest):
    """The mediaType the pushed manifests give DIGEST, or None."""
    with lock:
        ms = list(manifests.values())
    for m in ms:
        try:
            for layer in json.loads(m).get("layers", []):
                if layer.get("digest") == digest:
                    return layer.get("mediaType")
        except ValueError:
            pass
    return None


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, data=b"", extra=(), ctype="application/octet-stream"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def slow(self, data, ctype):
        """DATA at 1 byte/s, for at most SLOW_MAX s or until the client goes away."""
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.flush()
        start = time.monotonic()
        try:
            for i in range(len(data)):
                if time.monotonic() - start > SLOW_MAX:
                    break
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                count("slow_bytes")
                time.sleep(1)
        except OSError:
            pass
        self.close_connection = True

    def big(self, with_length):
        """2 GiB of zeros, 1 MiB at a time, until the client goes away."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if with_length:
            self.send_header("Content-Length", str(BIG))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        piece = bytes(1 << 20)
        try:
            for _ in range(BIG // len(piece)):
                self.wfile.write(piece)
                count("big_bytes", len(piece))
        except OSError:
            pass
        self.close_connection = True

    def want_token(self, realm):
        h = self.headers.get("Authorization", "")
        with lock:
            ok = h.startswith("Bearer ") and h[7:] in tokens
        if ok:
            return False
        count("unauthorized")
        self.body()
        self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"token wanted"}]}',
                   [("WWW-Authenticate",
                     'Bearer realm="%s",service="brisk-test",scope="repository:x:pull"' % realm)],
                   "application/json")
        return True

    def token(self, url, mode):
        if self.server.is_tls:
            # the HTTPS realm sends the client on to plain HTTP
            count("tls_requests")
            return self.reply(302, b"", [("Location", "http://127.0.0.1:%d/token?%s" %
                                          (ports["http"], url.query))])
        if mode == "slow-token":
            return self.slow(json.dumps({"token": "never-granted"}).encode(), "application/json")
        tok = secrets.token_hex(16)
        with lock:
            tokens.add(tok)
            stats["http_tokens"] += 1
        self.reply(200, json.dumps({"token": tok}).encode(), ctype="application/json")

    def control(self, url):
        if url.path == "/fault":
            q = urllib.parse.parse_qs(url.query)
            with lock:
                fault["mode"] = q.get("mode", ["ok"])[0]
                fault["length"] = q.get("length", ["1"])[0] != "0"
                stats["redirects"] = 0
            return self.reply(200, b"ok\n")
        with lock:
            return self.reply(200, json.dumps(stats).encode(), ctype="application/json")

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def write(self, path):
        """Uploads (POST, then one PUT with the whole blob) and manifest PUTs."""
        if "/blobs/uploads/" in path:
            repo, _, rest = path[len("/v2/"):].partition("/blobs/uploads/")
            if self.command == "POST":
                self.body()
                u = secrets.token_hex(8)
                with lock:
                    uploads[u] = True
                return self.reply(202, b"", [("Location", "/v2/%s/blobs/uploads/%s" % (repo, u))])
            data = self.body()
            digest = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)["digest"][0]
            if digest != "sha256:" + hashlib.sha256(data).hexdigest():
                return self.reply(400)
            with lock:
                blobs[digest] = data
            return self.reply(201, b"", [("Location", "/v2/%s/blobs/%s" % (repo, digest))])
        repo, _, tag = path[len("/v2/"):].partition("/manifests/")
        data = self.body()
        with lock:
            manifests[(repo, tag)] = data
        return self.reply(201)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path in ("/fault", "/stats"):
            return self.control(url)
        count("requests")
        with lock:
            mode, length = fault["mode"], fault["length"]
        if url.path == "/token":
            return self.token(url, mode)
        if mode == "slow-token" and self.want_token("http://127.0.0.1:%d/token" % ports["http"]):
            return None
        if mode == "tls-realm" and self.want_token("https://127.0.0.1:%d/token" % ports["tls"]):
            return None
        if self.command in ("POST", "PUT"):
            return self.write(url.path)
        if mode == "redirect" and self.command == "GET":
            with lock:
                stats["redirects"] += 1
                n = stats["redirects"]
            if n <= REDIRECT_MAX:
                return self.reply(302, b"", [("Location", self.path)])
            return self.reply(404)
        if "/manifests/" in url.path:
            repo, _, tag = url.path[len("/v2/"):].partition("/manifests/")
            with lock:
                data = manifests.get((repo, tag))
            if data is None:
                return self.reply(404)
            ctype = "application/vnd.oci.image.manifest.v1+json"
            if mode == "slow-manifest" and self.command == "GET":
                return self.slow(data, ctype)
            return self.reply(200, data, ctype=ctype)
        if "/blobs/" not in url.path:
            return self.reply(404 if url.path not in ("/v2", "/v2/") else 200)
        digest = url.path.rsplit("/", 1)[-1]
        with lock:
            data = blobs.get(digest)
        if data is None:
            return self.reply(404)
        rng = self.headers.get("Range")
        if rng and self.command == "GET":
            count("range")
            a, b = rng.split("=")[1].split("-")
            part = data[int(a):int(b) + 1]
            if mode == "corrupt-range" and media_type(digest) in MT_PACK:
                part = bytes(x ^ 0xFF for x in part)
            if mode == "fail-range" and media_type(digest) in MT_PACK:
                with lock:
                    stats["pack_ranges"] = stats.get("pack_ranges", 0) + 1
                    n = stats["pack_ranges"]
                if n > 1:
                    return self.reply(500, b"failing on purpose")
            return self.reply(206, part,
                              [("Content-Range", "bytes %s-%s/%d" % (a, b, len(data)))])
        if self.command == "GET":
            mt = media_type(digest)
            if mode == "slow-index" and mt in MT_INDEX:
                return self.slow(data, "application/octet-stream")
            if (mode == "big-index" and mt in MT_INDEX) or (mode == "big-pack" and mt in MT_PACK):
                return self.big(length)
        self.reply(200, data)

    do_HEAD = do_POST = do_PUT = do_GET


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    is_tls = False


srv = Server(("127.0.0.1", 0), H)
ports["http"] = srv.server_address[1]
print(ports["http"], flush=True)
if tls:
    tsrv = Server(("127.0.0.1", 0), H)
    tsrv.is_tls = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls[0], tls[1])
    tsrv.socket = ctx.wrap_socket(tsrv.socket, server_side=True)
    ports["tls"] = tsrv.server_address[1]
    print(ports["tls"], flush=True)
    threading.Thread(target=tsrv.serve_forever, daemon=True).start()
srv.serve_forever()
