/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A snapshot's files, as containerd's overlay snapshotter lays them out: ROOT/snapshots/ID/fs
 * (the upper layer, or a committed layer's contents) and ROOT/snapshots/ID/work (overlayfs's
 * work dir, active snapshots only); and the mounts that give containerd a snapshot's tree.
 */
#pragma once
#include <stdint.h>

#include "store.h"

/* One mount(2) as containerd takes it. */
struct layout_mount {
	const char *type;
	char *source;
	char **options; /* NULL-terminated */
};

void layout_mount_done(struct layout_mount *m);

/* Create ROOT/snapshots/ID with fs/ (and work/ for an active one); a leftover is replaced. */
int layout_create(struct store *store, uint64_t id, enum snap_kind kind);
/* Remove ROOT/snapshots/ID (renamed aside first, so a crash leaves only a leftover). */
int layout_remove(struct store *store, uint64_t id);
/* Remove every directory under ROOT/snapshots that no snapshot holds. */
int layout_cleanup(struct store *store);
/* Bytes (allocated blocks) and inodes under ROOT/snapshots/ID/fs, hard links counted once. */
int layout_usage(struct store *store, uint64_t id, int64_t *ret_size, int64_t *ret_inodes);
/* The mount of an active or view snapshot (bind with no parent, else overlay). */
int layout_mount(struct store *store, const struct snap *snap, struct layout_mount *ret);
