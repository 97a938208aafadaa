#!/usr/bin/python3
# Read or edit a CRIU image with the pycriu of brisk's CRIU (tools/setup installs it; Debian's
# pycriu 3.17 drops the fields CRIU 4 writes):
#   criu-image.py show FILE          the entries as JSON
#   criu-image.py edit FILE CODE     run the Python CODE on each entry `e` (a dict), write it back;
#                                    an entry CODE sets e["_drop"] in is left out
# Exit 77 when that pycriu is missing.
import json
import os
import sys

sys.path.insert(0, os.environ.get("BRISK_PYCRIU_DIR", "/usr/local/lib/brisk/python"))
try:
    import pycriu.images
    import pycriu.version
except ImportError as e:
    print(f"pycriu of CRIU 4 is not installed (tools/setup installs it): {e}", file=sys.stderr)
    sys.exit(77)


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("show", "edit"):
        print(__doc__ or "usage: criu-image.py show FILE | edit FILE CODE", file=sys.stderr)
        return 2
    path = sys.argv[2]
    with open(path, "rb") as f:
        img = pycriu.images.load(f)
    if sys.argv[1] == "show":
        json.dump(img["entries"], sys.stdout, indent=1)
        print()
        return 0
    code = compile(sys.argv[3], "<edit>", "exec")
    for e in img["entries"]:
        exec(code, {}, {"e": e})
    img["entries"] = [e for e in img["entries"] if not e.get("_drop")]
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        pycriu.images.dump(img, f)
    os.rename(tmp, path)
    return 0


sys.exit(main())
