/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layers of brisk images, mounted lazily with brisk-imagefs instead of being unpacked. A
 * Prepare is for one when its labels name the image:
 *
 *   containerd.io/snapshot/brisk.store  registry:HOST[:PORT]/REPO (the only kind of store an
 *                                       image may name: a label must not open local paths)
 *   containerd.io/snapshot/brisk.index  sha256:HEX, the image's index digest
 *   containerd.io/snapshot.ref          the name to commit under (containerd's unpacker sets it)
 *
 * The snapshot's fs/ then is a brisk-imagefs mount (its own daemon, the node's shared chunk
 * cache ROOT/cache), recorded as committed; the Prepare answers AlreadyExists so that containerd
 * fetches nothing. Mounts outlive the snapshotter: a restart finds them, a reboot remounts.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "store.h"

#define LAZY_LABEL_STORE "containerd.io/snapshot/brisk.store"
#define LAZY_LABEL_INDEX "containerd.io/snapshot/brisk.index"
#define LAZY_LABEL_REF "containerd.io/snapshot.ref"

struct lazy_ref {
	const char *store; /* point into the labels */
	const char *index;
	const char *name;
};

/* The brisk-imagefs binary to run (default: "brisk-imagefs" on PATH). */
void lazy_set_imagefs(const char *path);
/* 0: LABELS name no brisk image; 1 and *RET: they do; -EINVAL with *RET_ERR: they do, badly. */
int lazy_from_labels(struct json_object *labels, struct lazy_ref *ret, char **ret_err);
/*
 * Start mounting on ROOT/snapshots/ID/fs, and go on: DONE(R, ERR, USERDATA) is called from the
 * server loop once brisk-imagefs is done, R < 0 with ERR (its own message, the callee's to free)
 * on failure. A start that fails returns -errno and calls nothing.
 */
typedef void (*lazy_done_fn)(int r, char *err, void *userdata);
int lazy_mount_start(struct store *store, uint64_t id, const char *store_spec, const char *index,
		     lazy_done_fn done, void *userdata);
/* Whether a mount in progress is on snapshot directory ID. */
bool lazy_pending_id(uint64_t id);
/* The same, waiting for it (at start, before the server runs); *RET_ERR as above. */
int lazy_mount(struct store *store, uint64_t id, const char *store_spec, const char *index,
	       char **ret_err);
/* Unmount ROOT/snapshots/ID/fs if it is mounted (-EBUSY while an overlay uses it). */
int lazy_umount(struct store *store, uint64_t id);
/* At start: remount every lazy snapshot whose mount is gone (a reboot); logs failures. */
int lazy_restore_mounts(struct store *store);
