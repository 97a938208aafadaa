#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Inputs for the integrity tests (integrity.bats), with no network.

  integrity.py longname DIR          one layer with a file whose name is 300 bytes long
  integrity.py special DIR           a /dev/mem look-alike (c 1,1, 0666), a block device, setuid,
                                     setgid and file-capability files, and plain files
  integrity.py content DIR SEED      one file 'f.bin' of 200000 random bytes (SEED)
  integrity.py lazy DIR              busybox, 'f.bin' (SEED 5) and 'big.bin' of 3 MiB (SEED 6)
  integrity.py bytes SEED [SIZE]     SIZE (200000) random bytes of SEED on stdout
  integrity.py poison STORE TAG NEWTAG SEED
                                     tag in the dir: store STORE, as NEWTAG, a copy of the index
                                     of TAG whose first chunk record claims the digest of the
                                     bytes of SEED: what a poisoned push leaves in a store
  integrity.py break-nlink STORE TAG NEWTAG
                                     tag as NEWTAG a copy of TAG's index whose last inode has a
                                     wrong link count: a structurally invalid index, digest right
"""
import hashlib
import json
import os
import struct
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mkimage  # noqa: E402

SIZE = 200000
# index header (imagefs/FORMAT.md): sections start at 40, {u64 offset; u64 count} each
SEC_INODES, SEC_CHUNKS = 0, 3
INODE_SIZE = 88


def content(seed, size=SIZE):
    return mkimage.rnd(size, seed)


def store_blob(store, data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(store, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return "sha256:" + d


def read_blob(store, digest):
    with open(os.path.join(store, "blobs", "sha256", digest[7:]), "rb") as f:
        return f.read()


def tagged(store, tag):
    with open(os.path.join(store, "index.json")) as f:
        idx = json.load(f)
    for m in idx["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return idx, json.loads(read_blob(store, m["digest"]))
    sys.exit("no tag " + tag)


def section(index, n):
    return struct.unpack_from("<QQ", index, 40 + 16 * n)


def retag(store, tag, newtag, change):
    """Tag NEWTAG: TAG's manifest with its index changed by CHANGE(bytearray)."""
    idx, manifest = tagged(store, tag)
    layer = next(l for l in manifest["layers"]
                 if l["mediaType"] in ("application/vnd.brisk.image.index.v1",
                                       "application/vnd.oci.image.layer.brisk.index.v1"))
    index = bytearray(read_blob(store, layer["digest"]))
    change(index)
    layer["digest"] = store_blob(store, bytes(index))
    layer["size"] = len(index)
    cfg = json.dumps({"format": 1, "index": layer["digest"],
                      "chunkSize": struct.unpack_from("<I", index, 24)[0]}).encode()
    manifest["config"] = {"mediaType": "application/vnd.brisk.image.config.v1+json",
                          "digest": store_blob(store, cfg), "size": len(cfg)}
    m = json.dumps(manifest).encode()
    idx["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                             "digest": store_blob(store, m), "size": len(m),
                             "artifactType": "application/vnd.brisk.image.v1",
                             "annotations": {"org.opencontainers.image.ref.name": newtag}})
    tmp = os.path.join(store, "index.json.tmp")
    with open(tmp, "w") as f:
        json.dump(idx, f)
    os.rename(tmp, os.path.join(store, "index.json"))
    print(layer["digest"])


def main():
    kind = sys.argv[1]
    if kind == "bytes":
        size = int(sys.argv[3]) if len(sys.argv) > 3 else SIZE
        sys.stdout.buffer.write(content(int(sys.argv[2]), size))
        return
    if kind == "poison":
        store, tag, newtag, seed = sys.argv[2:6]
        claim = hashlib.sha256(content(int(seed))).digest()

        def change(index):
            off, count = section(index, SEC_CHUNKS)
            assert count >= 1
            index[off:off + 32] = claim
        retag(store, tag, newtag, change)
        return
    if kind == "break-nlink":
        store, tag, newtag = sys.argv[2:5]

        def change(index):
            off, count = section(index, SEC_INODES)
            rec = off + INODE_SIZE * (count - 1)
            nlink = struct.unpack_from("<I", index, rec + 4)[0]
            struct.pack_into("<I", index, rec + 4, nlink + 6)
        retag(store, tag, newtag, change)
        return
    layout = sys.argv[2]
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    l = mkimage.Layer()
    if kind == "longname":
        l.dir("d")
        l.add("d/ok", data=b"fine\n")
        l.add("d/" + "n" * 300, data=b"a name of 300 bytes\n")
    elif kind == "special":
        for d in ["dev", "bin"]:
            l.dir(d)
        l.add("dev/mem", tarfile.CHRTYPE, dev=(1, 1), mode=0o666)
        l.add("dev/sda", tarfile.BLKTYPE, dev=(8, 0), mode=0o666)
        l.add("dev/fifo", tarfile.FIFOTYPE, mode=0o600)
        l.add("bin/suid", data=b"#!/bin/sh\nid\n", mode=0o4755)
        l.add("bin/sgid", data=b"#!/bin/sh\nid\n", mode=0o2755)
        l.add("bin/cap", data=b"#!/bin/sh\nid\n", mode=0o755, xattrs={
            "security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00"
                                   "\x00\x00\x00\x00\x00\x00",
            "user.note": "kept"})
        l.add("bin/plain", data=b"#!/bin/sh\necho plain\n", mode=0o755)
    elif kind == "content":
        l.add("f.bin", data=content(int(sys.argv[3])))
    elif kind == "lazy":
        l = mkimage.busybox_layer()
        l.add("f.bin", data=content(5))
        l.add("big.bin", data=content(6, 3 << 20))
    else:
        sys.exit(__doc__)
    m, tag = mkimage.write_layout(layout, [(l.raw(), mkimage.MT_GZIP)])
    mkimage.finish(layout, m, tag)


if __name__ == "__main__":
    main()
