/* SPDX-License-Identifier: Apache-2.0 */
/* Waiting for a process that is not our child: through a pidfd (Linux 5.3). */
#pragma once

#include <sys/types.h>

/* A pidfd of process PID, or -errno. */
int pidfd_of(pid_t pid);
/* A pidfd of the process whose pid the file DIRFD/PATH holds, when its name (comm) is COMM:
 * -ESRCH when it is gone or another program now has that pid, -errno else. No request to any
 * filesystem the process serves, so a stuck daemon cannot block this. */
int pidfd_from_file(int dirfd, const char *path, const char *comm);
/* Wait until the process of PIDFD has exited: 0, or -ETIMEDOUT after TIMEOUT_MS. */
int pidfd_wait(int pidfd, int timeout_ms);
