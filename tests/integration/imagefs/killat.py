#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Kill a brisk command with SIGKILL some time after one pass of its fault points.

  killat.py TRACE N MS COMMAND...

Runs COMMAND with BRISK_FAULT_TRACE=TRACE: each pass through a fault point appends
"POINT COUNT" to it. Once pass N is there, waits MS milliseconds and kills COMMAND, wherever it
is then (in the step after pass N, or later). Exit 0 when it killed it, 1 when it ended first.
(To kill exactly at a pass, before its step runs, strace's syscall fault injection does it:
integrity.bats.)
"""
import os
import signal
import subprocess
import sys
import time


def passes(path):
    try:
        with open(path) as f:
            return f.read().count("\n")
    except OSError:
        return 0


def main():
    trace, n, ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    p = subprocess.Popen(sys.argv[4:], env=dict(os.environ, BRISK_FAULT_TRACE=trace),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    pid = p.pid
    deadline = time.monotonic() + 30
    while passes(trace) < n:
        if p.poll() is not None or time.monotonic() > deadline:
            print("ended before pass %d" % n)
            sys.exit(1)
        time.sleep(0.0002)
    time.sleep(ms / 1000)
    if p.poll() is not None:
        print("ended before %d ms after pass %d" % (ms, n))
        sys.exit(1)
    os.kill(pid, signal.SIGKILL)
    p.wait()
    print("killed %d ms after pass %d" % (ms, n))


if __name__ == "__main__":
    main()
