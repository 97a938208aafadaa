/* SPDX-License-Identifier: Apache-2.0 */
/* Waiting for a process that is not our child: through a pidfd (Linux 5.3). */
#pragma once

/* A pidfd of the process whose pid is the value of extended attribute NAME of PATH (a
 * decimal number), or -errno. The daemon behind a FUSE mount names itself this way. */
int pidfd_from_xattr(const char *path, const char *name);
/* Wait until the process of PIDFD has exited: 0, or -ETIMEDOUT after TIMEOUT_MS. */
int pidfd_wait(int pidfd, int timeout_ms);
