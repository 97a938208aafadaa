#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The demo's sample image, as an OCI image layout built with no network:
  appimage.py APP LAYOUT
busybox (layer 1) and the static program APP at /bin/bench-app (layer 2)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration",
                                "imagefs"))
import mkimage  # noqa: E402


def main():
    app, layout = sys.argv[1], sys.argv[2]
    layer = mkimage.Layer()
    with open(app, "rb") as f:
        layer.add("bin/bench-app", data=f.read(), mode=0o755)
    m, tag = mkimage.write_layout(layout, [(mkimage.busybox_layer().raw(), mkimage.MT_GZIP),
                                           (layer.raw(), mkimage.MT_GZIP)])
    mkimage.finish(layout, m, tag)


if __name__ == "__main__":
    main()
