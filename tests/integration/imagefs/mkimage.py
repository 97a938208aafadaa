#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Build OCI image layouts for the imagefs tests, with no network.

  mkimage.py busybox DIR          busybox-static and its applet links, one gzip layer
  mkimage.py synthetic DIR        three layers (gzip, zstd, plain): whiteouts, opaque dirs, hard
                                  links, xattrs, device nodes, fifos, setuid, owners, sparse files
  mkimage.py synthetic-gzip DIR   the same image with every layer gzip (umoci 0.4 reads no zstd)
  mkimage.py bad KIND DIR         one broken image (KIND: dotdot, absolute, symlink-parent,
                                  hardlink-missing, hardlink-escape, truncated-gzip,
                                  corrupt-zstd, digest-mismatch, media-type)
  mkimage.py tree DIR SRC...      one gzip layer holding the directories SRC (for measurements)
  mkimage.py big-sparse DIR       one layer with a 5 GiB sparse file (two data regions)
  mkimage.py many-files DIR N     one plain layer of N small files, 100 to a directory

Every layout has the tag 'latest' and a config umoci accepts.
"""
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile

MT_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MT_TAR = "application/vnd.oci.image.layer.v1.tar"
MTIME = 1700000000


def put_blob(layout, data):
    d = hashlib.sha256(data).hexdigest()
    p = os.path.join(layout, "blobs", "sha256", d)
    with open(p, "wb") as f:
        f.write(data)
    return "sha256:" + d


def compress(raw, mt):
    if mt == MT_GZIP:
        return gzip.compress(raw, compresslevel=6, mtime=0)
    if mt == MT_ZSTD:
        return subprocess.run(["zstd", "-q", "-c"], input=raw, stdout=subprocess.PIPE,
                              check=True).stdout
    return raw


def write_layout(layout, layers, tag="latest", corrupt=None):
    """layers: list of (raw tar bytes, media type)."""
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    descs, diff_ids = [], []
    for raw, mt in layers:
        blob = compress(raw, mt)
        if corrupt:
            blob = corrupt(blob)
        descs.append({"mediaType": mt, "digest": put_blob(layout, blob), "size": len(blob)})
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": put_blob(layout, config), "size": len(config)},
        "layers": descs,
    }
    return manifest, tag


def finish(layout, manifest, tag):
    m = json.dumps(manifest).encode()
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": put_blob(layout, m), "size": len(m),
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)


class Layer:
    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)

    def add(self, name, type=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0, link="",
            xattrs=None, dev=(0, 0), mtime=MTIME):
        ti = tarfile.TarInfo(name)
        ti.type = type
        ti.mode = mode
        ti.uid, ti.gid = uid, gid
        ti.mtime = mtime
        ti.linkname = link
        ti.devmajor, ti.devminor = dev
        if xattrs:
            ti.pax_headers = {"SCHILY.xattr." + k: v for k, v in xattrs.items()}
        if type == tarfile.REGTYPE:
            ti.size = len(data)
            self.tar.addfile(ti, io.BytesIO(data))
        else:
            self.tar.addfile(ti)

    def dir(self, name, mode=0o755, **kw):
        self.add(name, tarfile.DIRTYPE, mode=mode, **kw)

    def raw(self):
        self.tar.close()
        return self.buf.getvalue()


def rnd(n, seed):
    return random.Random(seed).randbytes(n)


def busybox(layout):
    return write_layout(layout, [(busybox_layer().raw(), MT_GZIP)])


def busybox_layer():
    l = Layer()
    for d in ["bin", "etc", "tmp", "root", "usr", "usr/bin", "proc", "sys", "dev"]:
        l.dir(d, mode=0o1777 if d == "tmp" else 0o755)
    with open("/bin/busybox", "rb") as f:
        l.add("bin/busybox", data=f.read(), mode=0o755)
    for a in ["sh", "ls", "cat", "echo", "true", "false", "mkdir", "rm", "cp", "mv", "ln",
              "sleep", "hostname", "id", "env", "ps", "grep", "sed", "awk", "find", "stat"]:
        l.add("bin/" + a, tarfile.SYMTYPE, link="busybox", mode=0o777)
    l.add("etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    l.add("etc/group", data=b"root:x:0:\nnogroup:x:65534:\n")
    l.add("etc/hostname", data=b"busybox\n")
    return l


def sparse_layer(size, regions):
    """A plain tar with one GNU/PAX sparse file, made by GNU tar from a real sparse file."""
    with tempfile.TemporaryDirectory() as td:
        root = os.path.join(td, "root")
        os.makedirs(os.path.join(root, "data"))
        p = os.path.join(root, "data", "sparse.bin")
        with open(p, "wb") as f:
            f.truncate(size)
            for off, n, seed in regions:
                f.seek(off)
                f.write(rnd(n, seed))
        os.utime(p, (MTIME, MTIME))
        os.utime(os.path.join(root, "data"), (MTIME, MTIME))
        out = os.path.join(td, "layer.tar")
        subprocess.run(["tar", "--sparse", "--format=pax", "--numeric-owner", "--owner=0",
                        "--group=0", "-C", root, "-cf", out, "data"], check=True)
        with open(out, "rb") as f:
            return f.read()


def synthetic(layout, layer2_mt=MT_ZSTD):
    big = rnd(3 << 20, 1)
    l1 = Layer()
    for d in ["a", "a/b", "etc", "gone", "opq", "dev", "home", "home/user"]:
        l1.dir(d)
    l1.dir("home/user", uid=1000, gid=1000, mode=0o700)
    l1.add("a/empty")
    l1.add("a/tiny", data=b"hello\n")
    l1.add("a/b/medium", data=rnd(100000, 2), mode=0o600)
    l1.add("a/b/big", data=big, mode=0o755)
    l1.add("a/b/big-copy", data=big)  # same content: dedup
    l1.add("a/text", data=b"the quick brown fox jumps over the lazy dog\n" * 50000)
    l1.add("a/link", tarfile.SYMTYPE, link="b/medium", mode=0o777)
    l1.add("a/abs-link", tarfile.SYMTYPE, link="/etc/passwd", mode=0o777)
    l1.add("a/hard1", data=b"shared by two names\n" * 10)
    l1.add("a/b/hard2", tarfile.LNKTYPE, link="a/hard1")
    l1.add("a/setuid", data=b"#!/bin/sh\n", mode=0o4755)
    l1.add("a/cap", data=rnd(5000, 3), mode=0o755, xattrs={
        "security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                               "\x00\x00\x00\x00",
        "user.note": "a user xattr"})
    l1.add("etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\n")
    l1.add("dev/null", tarfile.CHRTYPE, dev=(1, 3), mode=0o666)
    l1.add("dev/loop0", tarfile.BLKTYPE, dev=(7, 0), mode=0o660, gid=6)
    l1.add("dev/fifo", tarfile.FIFOTYPE, mode=0o600)
    l1.add("home/user/.profile", data=b"export PS1='$ '\n", uid=1000, gid=1000)
    l1.add("gone/x", data=b"deleted later\n")
    l1.add("opq/old1", data=b"old1\n")
    l1.add("opq/old2", data=rnd(70000, 4))
    l1.add("a/replaced", data=b"version 1\n")

    l2 = Layer()
    l2.add(".wh.gone")
    l2.dir("opq")
    l2.add("opq/.wh..wh..opq")
    l2.add("opq/new", data=b"new in layer 2\n")
    l2.add("a/.wh.replaced")
    l2.add("a/replaced", data=rnd(2 << 20, 5))
    l2.add("a/b/.wh.big-copy")
    l2.add("a/again", data=big)  # dedup across layers
    l2.add("a/hard3", tarfile.LNKTYPE, link="a/hard1")  # link to a lower layer's file
    l2.add("a/dir-to-file", data=b"x")
    l2.dir("newdir", mode=0o750, uid=5, gid=6)

    l3 = sparse_layer(20 << 20, [(1 << 20, 4096, 6), (9 << 20, 3 << 20, 7)])
    return write_layout(layout, [(l1.raw(), MT_GZIP), (l2.raw(), layer2_mt), (l3, MT_TAR)])


def bad(kind, layout):
    l = Layer()
    mt = MT_GZIP
    corrupt = None
    l.dir("d")
    l.add("d/ok", data=b"fine\n")
    if kind == "dotdot":
        l.add("d/../../escape", data=b"x")
    elif kind == "absolute":
        l.add("/etc/evil", data=b"x")
    elif kind == "symlink-parent":
        l.add("lnk", tarfile.SYMTYPE, link="/etc")
        l.add("lnk/evil", data=b"x")
    elif kind == "hardlink-missing":
        l.add("d/h", tarfile.LNKTYPE, link="d/nothere")
    elif kind == "hardlink-escape":
        l.add("d/h", tarfile.LNKTYPE, link="../etc/shadow")
    elif kind == "truncated-gzip":
        l.add("d/big", data=rnd(1 << 20, 9))
        corrupt = lambda b: b[: len(b) // 2]
    elif kind == "corrupt-zstd":
        l.add("d/big", data=rnd(1 << 20, 9))
        mt = MT_ZSTD
        corrupt = lambda b: b[:100] + bytes(x ^ 0xFF for x in b[100:200]) + b[200:]
    elif kind == "digest-mismatch":
        pass
    elif kind == "media-type":
        mt = "application/vnd.example.unknown"
    else:
        sys.exit("unknown kind " + kind)
    raw = l.raw()
    if mt not in (MT_GZIP, MT_ZSTD, MT_TAR):
        os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
        m, tag = write_layout(layout, [(raw, MT_TAR)])
        m["layers"][0]["mediaType"] = mt
        return m, tag
    m, tag = write_layout(layout, [(raw, mt)], corrupt=corrupt)
    if kind == "digest-mismatch":
        # the manifest names a blob whose content has another digest
        d = m["layers"][0]["digest"][7:]
        p = os.path.join(layout, "blobs", "sha256", d)
        data = open(p, "rb").read()
        other = compress(Layer().raw(), MT_GZIP)
        open(p, "wb").write(other)
        m["layers"][0]["size"] = len(other)
        del data
    return m, tag


def lazy_data(layout):
    """busybox plus data for the lazy mount: a 24 MiB file, a 3 MiB one, 200 small ones"""
    l = Layer()
    l.dir("data")
    l.dir("data/small")
    l.add("data/big.bin", data=rnd(24 << 20, 21))
    l.add("data/mid.bin", data=rnd(3 << 20, 22))
    for i in range(200):
        l.add("data/small/f%03d" % i, data=rnd(2048 + 97 * i, 1000 + i))
    return write_layout(layout, [(busybox_layer().raw(), MT_GZIP), (l.raw(), MT_GZIP)])


def spec_data(layout):
    """for speculation: a package directory of 80 files of 40 KiB, a 6 MiB shared object and a
    40 MiB data file beside it, all incompressible"""
    l = Layer()
    l.dir("pkg")
    for i in range(80):
        l.add("pkg/m%02d.py" % i, data=rnd(40 << 10, 3000 + i))
    l.add("pkg/lib.so", data=rnd(6 << 20, 31))
    l.dir("data")
    l.add("data/weights.bin", data=rnd(40 << 20, 32))
    return write_layout(layout, [(l.raw(), MT_GZIP)])


def tree(layout, srcs):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for s in srcs:
            t.add(s, arcname=s.lstrip("/"))
    raw = buf.getvalue()
    return write_layout(layout, [(raw, MT_GZIP)])


def big_sparse(layout):
    raw = sparse_layer(5 << 30, [(0, 4096, 10), ((4 << 30) + 12345, 1 << 20, 11)])
    return write_layout(layout, [(raw, MT_TAR)])


def many_files(layout, n):
    l = Layer()
    l.dir("m")
    for i in range(n):
        if i % 100 == 0:
            l.dir("m/d%05d" % (i // 100))
        l.add("m/d%05d/f%02d" % (i // 100, i % 100), data=(b"%d\n" % i) * (i % 37))
    return write_layout(layout, [(l.raw(), MT_TAR)])


def main():
    kind = sys.argv[1]
    if kind == "bad":
        layout = sys.argv[3]
        os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
        m, tag = bad(sys.argv[2], layout)
    else:
        layout = sys.argv[2]
        if os.path.exists(layout):
            shutil.rmtree(layout)
        os.makedirs(os.path.join(layout, "blobs", "sha256"))
        if kind == "busybox":
            m, tag = busybox(layout)
        elif kind == "synthetic":
            m, tag = synthetic(layout)
        elif kind == "synthetic-gzip":  # the same, gzip only (umoci 0.4 reads no zstd)
            m, tag = synthetic(layout, MT_GZIP)
        elif kind == "lazy-data":
            m, tag = lazy_data(layout)
        elif kind == "spec-data":
            m, tag = spec_data(layout)
        elif kind == "tree":
            m, tag = tree(layout, sys.argv[3:])
        elif kind == "big-sparse":
            m, tag = big_sparse(layout)
        elif kind == "many-files":
            m, tag = many_files(layout, int(sys.argv[3]))
        else:
            sys.exit(__doc__)
    finish(layout, m, tag)


if __name__ == "__main__":
    main()
