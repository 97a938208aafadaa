/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runtime's own binary as processes of a container may reach it (CVE-2019-5736).
 *
 * Until it execs the container's program, a process that brisk forks into a container runs
 * brisk's binary, so /proc/self/exe there (and /proc/PID/exe to its neighbours, and the
 * interpreter of a `#!/proc/self/exe` script) is a way to that file. Commands that enter a
 * container first re-execute brisk from a copy that cannot be opened for writing: a
 * detached read-only bind mount of the binary (free: the same inode and page cache), or, where
 * brisk may not mount (rootless), a sealed memfd copy.
 */
#pragma once

#include <stdbool.h>

/*
 * Unless this process already runs from a read-only mount or a write-sealed memfd, re-execute
 * it (ARGV, the environment) from a read-only clone of its binary: returns only on failure,
 * with -errno. Returns 0 when the binary is already sealed.
 */
int sealed_exe_ensure(char **argv);
/* Whether /proc/self/exe can not be reopened for writing (read-only mount or sealed memfd). */
bool sealed_exe_is_sealed(void);
/* The binary's path on the host, as it was before the re-exec: common/fs.h's
 * self_exe_path(), which every module uses to find files installed beside brisk. */
