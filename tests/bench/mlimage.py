#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generate an ML-like OCI image layout for the lazy-image benchmark:
  mlimage.py SIZE_MB LAYOUT
busybox (layer 1); a site-packages tree of small Python-like files and shared-library-like
files (layer 2); two large weight files (layer 3). /app/start.sh reads what a start-up reads
(about 40% of the Python files, a few libraries, the header of each weight file; under 10% of
the bytes) and prints "ready". Deterministic for a given size."""
import os
import random
import sys
import tarfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration",
                                "imagefs"))
import mkimage  # noqa: E402

WORDS = ("import def return self class for in if else elif while try except with as from "
         "numpy array tensor model layer weight bias forward backward grad optim loss batch "
         "config dtype shape device cuda float int None True False").split()


def randbytes(rng, n):
    """The bytes rng.randbytes(n) gives, for any n (it takes at most 256 MiB at once)."""
    step = 1 << 26
    return b"".join(rng.randbytes(min(step, n - i)) for i in range(0, n, step))


def pyfile(rng, size):
    out, n = [], 0
    while n < size:
        line = "    " * rng.randrange(3) + " ".join(rng.choice(WORDS) for _ in range(rng.randrange(3, 12)))
        out.append(line)
        n += len(line) + 1
    return ("\n".join(out) + "\n").encode()[:size]


def main():
    size = int(sys.argv[1]) << 20
    layout = sys.argv[2]
    rng = random.Random(7)
    py_budget, so_budget = size * 8 // 100, size * 20 // 100
    w_budget = size - py_budget - so_budget
    l2 = mkimage.Layer()
    for d in ["app", "usr", "usr/lib", "usr/lib/python3", "usr/lib/python3/site-packages"]:
        l2.dir(d)
    startup, n, i = [], 0, 0
    pkgs = max(4, size // (40 << 20))
    for p in range(pkgs):
        l2.dir("usr/lib/python3/site-packages/pkg%02d" % p)
    while n < py_budget:
        fsz = rng.randrange(512, 16384)
        path = "usr/lib/python3/site-packages/pkg%02d/mod%05d.py" % (i % pkgs, i)
        l2.add(path, data=pyfile(rng, fsz))
        if rng.random() < 0.4:
            startup.append("/" + path)
        n += fsz
        i += 1
    nso = 20
    for s in range(nso):
        fsz = so_budget // nso
        half = rng.randbytes(fsz // 2)
        l2.add("usr/lib/libml%02d.so" % s, data=half + bytes(fsz - len(half)), mode=0o755)
        if s < 4:
            startup.append("/usr/lib/libml%02d.so" % s)
    l3 = mkimage.Layer()
    l3.dir("models")
    for w in range(2):
        l3.add("models/weights-%d.bin" % w, data=randbytes(rng, w_budget // 2))
    script = ("#!/bin/sh\ncat $(cat /app/startup.list) >/dev/null\n"
              "for w in /models/weights-*.bin; do head -c 2097152 $w >/dev/null; done\n"
              "echo ready\n")
    l2.add("app/startup.list", data=("\n".join(startup) + "\n").encode())
    l2.add("app/start.sh", data=script.encode(), mode=0o755)
    print("%d python files (%d in the start-up set), %d libraries, 2 weight files of %d MiB"
          % (i, len(startup) - 4, nso, (w_budget // 2) >> 20), file=sys.stderr)
    m, tag = mkimage.write_layout(layout, [(mkimage.busybox_layer().raw(), mkimage.MT_TAR),
                                           (l2.raw(), mkimage.MT_TAR), (l3.raw(), mkimage.MT_TAR)])
    mkimage.finish(layout, m, tag)


if __name__ == "__main__":
    main()
