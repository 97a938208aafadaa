# SPDX-License-Identifier: Apache-2.0
# The app of `brisk-bench coldstart` (run as python3 -c "<this file>" [once]): imports numpy,
# scipy.linalg and scipy.sparse, builds 100 MB of state, prints "ready", then answers each
# SIGUSR1 with "ok" after reading all its state (a signal: nothing for CRIU to reconnect).
# With "once" it answers one request at once and exits (recording the access profile).
import signal
import sys

import numpy
import scipy.linalg
import scipy.sparse

state = numpy.random.default_rng(1).random(100 * 2**20 // 8)
lu = scipy.linalg.lu_factor(numpy.eye(64) * 2.0)
eye = scipy.sparse.identity(64, format="csr")


def answer(*_):
    try:
        good = state.sum() > 0 and eye.nnz == 64 and lu[0][0, 0] == 2.0
        print("ok" if good else "bad", flush=True)
    except Exception as e:  # said on stdout: the harness reads only that
        print(f"bad: {e!r}", flush=True)


# The requests wait blocked, not in a handler: a handler's signal to a container's pid 1 that
# came in before the app slept in pause() ended it, now and then, without a word.
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
print("ready", flush=True)
if len(sys.argv) > 1 and sys.argv[1] == "once":
    answer()
    sys.exit(0)
while True:
    signal.sigwait({signal.SIGUSR1})
    answer()
