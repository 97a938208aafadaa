/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshotter's metadata: every snapshot's key, parent, kind, labels, times and (once
 * committed) usage, held in memory and written whole to ROOT/metadata.json after each change
 * (temp file, fsync, rename, fsync of ROOT), so that a crash leaves either the old or the new
 * state and containerd's view and ours agree after a restart. A snapshot's files live in
 * ROOT/snapshots/ID (layout.c); a directory there with no record is a leftover of a crash.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

/* the numbers are containerd's Kind enum */
enum snap_kind {
	SNAP_VIEW = 1,
	SNAP_ACTIVE = 2,
	SNAP_COMMITTED = 3,
};

struct snap {
	uint64_t id;
	char *key;
	char *parent; /* key of the parent (always committed), or NULL */
	enum snap_kind kind;
	struct json_object *labels; /* object of strings, never NULL */
	struct timespec created, updated;
	int64_t size, inodes; /* of its own directory, measured at commit */
	char *lazy_store;     /* a brisk image mounted lazily on fs/ (lazy.h), or NULL */
	char *lazy_index;
	/* a layer of a brisk image above its mount: nothing of its own, so an overlay on it leaves
	 * its fs/ out of lowerdir (committed snapshots only) */
	bool empty;
};

struct store {
	int root_fd;
	int lock_fd;
	char *root;
	struct snap **snaps;
	size_t n_snaps;
	uint64_t next_id;
};

/* Open (creating) ROOT, lock it against a second daemon, and load the metadata. */
int store_open(const char *root, struct store **ret);
struct store *store_free(struct store *store);
struct snap *snap_free(struct snap *snap);

struct snap *store_find(const struct store *store, const char *key);
bool store_has_children(const struct store *store, const char *key);
/* Write the whole state durably. */
int store_save(struct store *store);
/* Append SNAP (taken over on success) and save; on failure the store is as before. */
int store_add(struct store *store, struct snap *snap);
/* Drop SNAP and save; on failure the store is as before. Its files are the caller's. */
int store_remove(struct store *store, struct snap *snap);
/* Whether a snapshot holds ID (for the leftover directories). */
bool store_has_id(const struct store *store, uint64_t id);
const char *snap_kind_name(enum snap_kind kind);
