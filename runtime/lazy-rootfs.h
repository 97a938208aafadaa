/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Containers started from a lazy image. A bundle names one in its annotations:
 *   run.brisk.image   the image: a tag or sha256:HEX (its index digest)
 *   run.brisk.store   where it lives: dir:PATH or registry:HOST[:PORT]/REPO
 *   run.brisk.cache   the chunk cache (default /var/cache/brisk)
 *   run.brisk.prefetch  "false": no background prefetch of the image's access profile
 * The image is mounted once by brisk-imagefs and shared (reference counted) by every
 * container started (created or restored) from it; each container gets an overlayfs with the image
 * as its lower layer and a private upper layer, which becomes its rootfs. A bundle without these
 * annotations is untouched.
 */
#pragma once

#include <stdbool.h>

#include <json-c/json.h>

/* If ANNOTATIONS name a lazy image, set up the container's rootfs and return its path in
 * *RET_ROOTFS; what to undo is recorded in *EXTRA (created if NULL) under "lazyImage".
 * 0 and *RET_ROOTFS NULL when there is no lazy image. On failure nothing is left behind. */
int lazy_rootfs_setup(const char *state_root, const char *id, struct json_object *annotations,
		      bool prefetch, struct json_object **extra, char **ret_rootfs);
/* The container's rootfs, as a real path in *RET_ROOTFS: the lazy image's (set up by
 * lazy_rootfs_setup(), *RET_LAZY true; RET_LAZY may be NULL) or else ROOT_PATH, relative to
 * BUNDLE. PREFETCH: whether a new mount of the image replays its access profile when the
 * annotation run.brisk.prefetch does not say ("true" or "false"): a start reads what the
 * profile recorded, a restore does not (it reads what its snapshot mapped). */
int lazy_rootfs_resolve(const char *state_root, const char *id, struct json_object *annotations,
			bool prefetch, const char *root_path, const char *bundle,
			struct json_object **extra, char **ret_rootfs, bool *ret_lazy);
/* Undo what lazy_rootfs_setup() recorded in EXTRA (which may be NULL): unmount the overlay,
 * remove the private layer, drop the image reference and unmount the image when it was the
 * last. */
int lazy_rootfs_release(struct json_object *extra);
/* Undo what a lazy_rootfs_setup() of container ID under STATE_ROOT left when it was killed
 * before its caller saved EXTRA: found from the id alone (nothing there: 0). For `delete --force`
 * of a container without state. */
int lazy_rootfs_forget(const char *state_root, const char *id);
