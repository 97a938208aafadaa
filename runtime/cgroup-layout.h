/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cgroup.h"

struct cgroup_layout_hier {
	char *controllers; /* "" for cgroup2 */
	char *mount;
	char *own; /* the caller's cgroup in it ("/" for a tree that is not mounted) */
	/* the caller's cgroup is not below the mount's root (a cgroup namespace rooted lower,
	 * a mount of another subtree): OWN is then not where the caller is */
	bool own_outside;
};

struct cgroup_layout {
	enum cgroup_mode mode;
	bool has_v1, has_unified;
	struct cgroup_layout_hier *h;
	size_t n;
};

/* -ENOMEDIUM: no cgroup hierarchy at ROOT. */
int cgroup_layout_read(const char *root, struct cgroup_layout *ret);
void cgroup_layout_done(struct cgroup_layout *l);
