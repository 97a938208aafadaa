/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checkpoint and restore of a container, behind the `brisk checkpoint` and `brisk restore`
 * commands (which only parse their options): checkpoint.c and restore.c.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "snapshot/snapshot.h"

struct runtime_ctx;

struct checkpoint_args {
	const char *image_path, *work_path;
	struct snapshot_opts so;
	bool pre_dump, lazy, help;
	unsigned cuda_timeout_ms;
};

/* Dump the container ID into A->image_path (and, unless --leave-running, delete it, as runc
 * does). Logs its errors. */
int container_checkpoint(struct runtime_ctx *rt, struct checkpoint_args *a, const char *id);

struct restore_args {
	const char *image_path, *work_path, *bundle, *pid_file, *console_socket, *id;
	bool detach, no_subreaper, help;
	struct snapshot_opts so;
};

/*
 * Restore A->image_path as the container A->id from the bundle A->bundle: created, running,
 * its state committed; *RET_PID its init. On failure nothing is left (no state, mount, cgroup
 * or process). Logs its errors.
 */
int container_restore(struct runtime_ctx *rt, struct restore_args *a, pid_t *ret_pid);
