#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A read-only registry serving the blobs and tags of a brisk dir: store, with faults injected
into blob Range requests (the lazy reader's chunk fetches; manifests and whole blobs are always
served correctly). Prints its port, then serves.
  faulty-registry.py STORE_DIR
Control: GET /fault?mode=MODE[&count=N][&delay=SECONDS] sets the fault for the next N range
requests (default: all), then it serves correctly again. GET /stats: the range requests seen.
Modes: ok, drop (close the connection without answering), delay (answer late), corrupt (flip
bytes of the body), full (200 with the whole blob instead of 206), short (a truncated body)."""
import http.server
import json
import os
import random
import socketserver
import sys
import threading
import time
import urllib.parse

store = sys.argv[1]
lock = threading.Lock()
fault = {"mode": "ok", "count": -1, "delay": 0.0}
stats = {"range": 0, "faulted": 0}


def take_fault():
    with lock:
        stats["range"] += 1
        if fault["mode"] == "ok" or fault["count"] == 0:
            return "ok", 0.0
        if fault["count"] > 0:
            fault["count"] -= 1
        stats["faulted"] += 1
        return fault["mode"], fault["delay"]


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, data, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def control(self, path, query):
        q = urllib.parse.parse_qs(query)
        if path == "/fault":
            with lock:
                fault["mode"] = q.get("mode", ["ok"])[0]
                fault["count"] = int(q.get("count", ["-1"])[0])
                fault["delay"] = float(q.get("delay", ["0"])[0])
            return self.reply(200, b"ok\n")
        with lock:
            return self.reply(200, json.dumps(stats).encode())

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path in ("/fault", "/stats"):
            return self.control(url.path, url.query)
        parts = url.path.split("/")
        if "blobs" in parts:
            p = os.path.join(store, "blobs", "sha256", parts[-1].split(":")[-1])
        elif "manifests" in parts:
            idx = json.load(open(os.path.join(store, "index.json")))
            m = [d for d in idx["manifests"]
                 if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == parts[-1]]
            if not m:
                return self.send_error(404)
            p = os.path.join(store, "blobs", "sha256", m[0]["digest"][7:])
        else:
            return self.send_error(404)
        if not os.path.exists(p):
            return self.send_error(404)
        data = open(p, "rb").read()
        rng = self.headers.get("Range")
        if not rng or "blobs" not in parts:
            return self.reply(200, data)
        a, b = rng.split("=")[1].split("-")
        body = data[int(a):int(b) + 1]
        mode, delay = take_fault()
        if mode == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if mode == "delay":
            time.sleep(delay)
        if mode == "corrupt":
            body = bytearray(body)
            for _ in range(8):
                i = random.randrange(len(body))
                body[i] ^= 0x5A
            body = bytes(body)
        if mode == "full":
            return self.reply(200, data)
        if mode == "short":
            self.send_response(206)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Range", "bytes %s-%s/%d" % (a, b, len(data)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.reply(206, body, [("Content-Range", "bytes %s-%s/%d" % (a, b, len(data)))])

    do_HEAD = do_GET


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
