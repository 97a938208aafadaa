#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A read-only registry that ignores Range headers (always answers 200 with the whole blob),
serving the blobs and tags of a brisk dir: store. Prints its port, then serves.
  norange-registry.py STORE_DIR"""
import http.server
import json
import os
import sys

store = sys.argv[1]


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, data, ctype="application/octet-stream"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        parts = self.path.split("/")
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
        self.send(open(p, "rb").read())

    do_HEAD = do_GET


srv = http.server.HTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
