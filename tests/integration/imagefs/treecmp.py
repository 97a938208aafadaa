#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Compare two directory trees: paths, types, modes, owners, xattrs, device numbers, symlink
targets, sizes, content sha256, hard-link groups, and (files, symlinks) mtimes.
  treecmp.py A B    exit 0 when equal, else print the differences and exit 1"""
import hashlib
import os
import stat
import sys


def describe(root):
    out, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            d = {"type": stat.S_IFMT(st.st_mode), "mode": oct(stat.S_IMODE(st.st_mode)),
                 "uid": st.st_uid, "gid": st.st_gid}
            try:
                d["xattrs"] = sorted((k, os.getxattr(p, k, follow_symlinks=False))
                                     for k in os.listxattr(p, follow_symlinks=False))
            except OSError:
                d["xattrs"] = "unsupported"
            if stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for b in iter(lambda: f.read(1 << 20), b""):
                        h.update(b)
                d["size"] = st.st_size
                d["sha256"] = h.hexdigest()
                d["mtime"] = int(st.st_mtime)
                if st.st_nlink > 1:
                    inodes.setdefault(st.st_ino, []).append(rel)
            elif stat.S_ISLNK(st.st_mode):
                d["target"] = os.readlink(p)
                d["mtime"] = int(st.st_mtime)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                d["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
            out[rel] = d
    for group in inodes.values():
        for rel in group:
            out[rel]["links"] = sorted(group)
    return out


def main():
    a, b = describe(sys.argv[1]), describe(sys.argv[2])
    bad = 0
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            print(f"{k}: only in {'B' if k in b else 'A'}")
            bad += 1
        elif a[k] != b[k]:
            diff = {f: (a[k].get(f), b[k].get(f)) for f in set(a[k]) | set(b[k])
                    if a[k].get(f) != b[k].get(f)}
            print(f"{k}: {diff}")
            bad += 1
    print(f"{len(a)} entries compared, {bad} differences")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
