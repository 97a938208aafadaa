/* SPDX-License-Identifier: Apache-2.0 */
/* What checkpoint and restore share: a container's mounts as CRIU sees them. */
#pragma once

#include <stddef.h>
#include "snapshot/snapshot.h"
#include "spec.h"

struct ext_mounts {
	struct snapshot_pair *pairs;
	size_t n;
	char **keys; /* NULL-terminated, the destinations (for brisk-snapshot.json) */
};

/*
 * Bind mounts come from outside the container: CRIU dumps them as external, keyed by their
 * destination, and a restore maps each key to the source that the restoring bundle names.
 * RESTORE false: key -> key (dump); true: key -> the bundle's source.
 */
int ext_mounts_from_spec(const struct spec *s, bool restore, struct ext_mounts *ret);
void ext_mounts_done(struct ext_mounts *m);
