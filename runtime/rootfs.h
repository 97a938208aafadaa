/* SPDX-License-Identifier: Apache-2.0 */
/* The container's filesystem view, set up by its init in the new mount namespace. */
#pragma once

#include <stdbool.h>
#include "spec.h"

struct rootfs_ctx {
	const struct spec *spec;
	const char *rootfs; /* absolute host path */
	bool userns;	    /* inside a new user namespace: devices are bind mounted */
	bool no_pivot;
	int rootfd; /* O_PATH of the bind-mounted rootfs, set by rootfs_prepare */
	/* per mount of the spec: its bind source opened by the runtime, or -1 (NULL: none) */
	const int *bind_fds;
	/* called between the other mounts and the cgroup mounts (may be NULL) */
	int (*before_cgroup_mounts)(void *userdata);
	void *userdata;
};

/* Propagation, the rootfs bind mount, every mount of the spec, /dev. Before pivot_root. */
int rootfs_prepare(struct rootfs_ctx *c);
/* pivot_root (or MS_MOVE + chroot with no_pivot) into the rootfs. */
int rootfs_pivot(struct rootfs_ctx *c);
/* After pivot: masked and read-only paths, root read-only, rootfsPropagation. */
int rootfs_finalize(struct rootfs_ctx *c);
/* Make PATH (and missing parents) inside ROOTFD: a directory, or an empty file if IS_FILE. */
int mkdir_in_root(int rootfd, const char *path, bool is_file);
