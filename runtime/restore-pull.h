/* SPDX-License-Identifier: Apache-2.0 */
/* A restore from a snapshot in a store, pulled while the restore gets ready (restore-pull.c). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct restore_pull {
	pid_t pid; /* brisk-image pull-snapshot, until waited for */
	char *dir; /* where it pulls to, the restore's own */
};

/* IMAGE_PATH names a snapshot in a store (registry:..., dir:...), not a directory. */
bool restore_pull_wanted(const char *image_path);
/* Start pulling REF into a new directory, P->dir. */
int restore_pull_start(const char *ref, struct restore_pull *p);
/* Wait for the pull: 0 when P->dir holds the snapshot; an error that names REF. */
int restore_pull_wait(struct restore_pull *p, const char *ref);
/* Stop a pull still running and remove its directory. */
void restore_pull_done(struct restore_pull *p);
