#!/usr/bin/python3
# old-manifest.py REGISTRY REPO TAG NEWTAG
# Tag NEWTAG: TAG's image as brisk-image wrote images before their manifest became one that
# containerd reads as an image: brisk's own media types and config, no annotations.
import hashlib
import json
import sys
import urllib.request

OLD = {
    "application/vnd.oci.image.layer.brisk.index.v1": "application/vnd.brisk.image.index.v1",
    "application/vnd.oci.image.layer.brisk.index.v1+zstd":
        "application/vnd.brisk.image.index.v1+zstd",
    "application/vnd.oci.image.layer.brisk.pack.v1": "application/vnd.brisk.image.pack.v1",
}


def request(method, url, data=None, ctype=None, accept=None):
    req = urllib.request.Request(url, data=data, method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    if accept:
        req.add_header("Accept", accept)
    return urllib.request.urlopen(req, timeout=30)


def main():
    registry, repo, tag, newtag = sys.argv[1:5]
    base = "http://%s/v2/%s" % (registry, repo)
    mt = "application/vnd.oci.image.manifest.v1+json"
    m = json.loads(request("GET", "%s/manifests/%s" % (base, tag), accept=mt).read())
    cfg = json.loads(request("GET", "%s/blobs/%s" % (base, m["config"]["digest"])).read())
    old = json.dumps({"format": cfg["format"], "index": cfg["index"],
                      "chunkSize": cfg["chunkSize"]}, separators=(",", ":")).encode()
    digest = "sha256:" + hashlib.sha256(old).hexdigest()
    loc = request("POST", base + "/blobs/uploads/").headers["Location"]
    if loc.startswith("/"):
        loc = "http://" + registry + loc
    request("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + digest, old,
            "application/octet-stream")
    m["config"] = {"mediaType": "application/vnd.brisk.image.config.v1+json",
                   "digest": digest, "size": len(old)}
    for layer in m["layers"]:
        layer["mediaType"] = OLD[layer["mediaType"]]
        layer.pop("annotations", None)
    request("PUT", "%s/manifests/%s" % (base, newtag), json.dumps(m).encode(), mt)


if __name__ == "__main__":
    main()
