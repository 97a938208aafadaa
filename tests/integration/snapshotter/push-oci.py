#!/usr/bin/python3
# push-oci.py OCI_LAYOUT TAG REGISTRY REPO:TAG
# Push the OCI image TAG of OCI_LAYOUT to REGISTRY (http, loopback) as REPO:TAG, as it is: an
# ordinary image (the pod sandbox's), which containerd unpacks. Brisk images are pushed by
# brisk-image, whose manifest containerd reads as an image (imagefs/FORMAT.md).
import hashlib
import json
import os
import sys
import urllib.request


def blob(layout, digest):
    algo, hexd = digest.split(":")
    with open(os.path.join(layout, "blobs", algo, hexd), "rb") as f:
        return f.read()


def request(method, url, data=None, ctype=None):
    req = urllib.request.Request(url, data=data, method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    return urllib.request.urlopen(req, timeout=30)


def push_blob(registry, repo, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    loc = request("POST", "http://%s/v2/%s/blobs/uploads/" % (registry, repo)).headers["Location"]
    if loc.startswith("/"):
        loc = "http://" + registry + loc
    sep = "&" if "?" in loc else "?"
    request("PUT", loc + sep + "digest=" + digest, data, "application/octet-stream")
    return digest


def main():
    layout, tag, registry, target = sys.argv[1:5]
    repo, _, rtag = target.partition(":")
    with open(os.path.join(layout, "index.json")) as f:
        idx = json.load(f)
    desc = next(m for m in idx["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
    manifest = json.loads(blob(layout, desc["digest"]))
    push_blob(registry, repo, blob(layout, manifest["config"]["digest"]))
    for layer in manifest["layers"]:
        push_blob(registry, repo, blob(layout, layer["digest"]))
    body = json.dumps(manifest).encode()
    request("PUT", "http://%s/v2/%s/manifests/%s" % (registry, repo, rtag), body,
            manifest.get("mediaType", "application/vnd.oci.image.manifest.v1+json"))


if __name__ == "__main__":
    main()
