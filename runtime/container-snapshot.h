/* SPDX-License-Identifier: Apache-2.0 */
/* What checkpoint and restore share: a container's mounts and network namespace as CRIU sees
 * them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
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
/* Add KEY -> VALUE to the pairs (not to the keys kept in brisk-snapshot.json). */
int ext_mounts_add(struct ext_mounts *m, const char *key, const char *value);

/*
 * Masked directories (linux.maskedPaths) are empty read-only tmpfs mounts, which CRIU would
 * dump with tar and restore with tar, a run of each per mount. Dump: those of PID that are
 * still such mounts are added to M as external, under SNAPSHOT_MASKED_KEY. A restore maps
 * the key to an empty read-only tmpfs of its own, which CRIU binds in their place.
 */
int ext_mounts_add_masked(const struct spec *s, pid_t pid, struct ext_mounts *m);

/*
 * A network namespace that the runtime made (the spec names no path, and no user namespace)
 * and that holds only a loopback has nothing CRIU must save but the loopback's state, and
 * restoring it costs CRIU a dozen runs of ip and iptables: it is dumped as external instead
 * (net[INO]:SNAPSHOT_NETNS_KEY) and a restore gives CRIU a new one. Netfilter rules and net
 * sysctls set inside such a namespace are not kept.
 * *RET_STATE: SNAPSHOT_NETNS_LO_UP or _DOWN, and *RET_INO the namespace's inode; *RET_STATE
 * NULL (and 0) when the namespace of PID is not one of those.
 */
int netns_loopback_only(const struct spec *s, pid_t pid, const char **ret_state,
			unsigned long long *ret_ino);
/* A new network namespace with only its loopback, up when UP: its fd (close-on-exec). */
int netns_new_loopback(bool up, int *ret_fd);
