/* SPDX-License-Identifier: Apache-2.0 */
/* User namespaces that carry the id mapping of an idmapped mount. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "spec.h"

/* UID_GID_MAP_MAX_EXTENTS: lines of one uid_map/gid_map (Linux >= 4.15; 5 before). */
#define IDMAP_MAX_EXTENTS 340

/* Bytes of M[N] as uid_map/gid_map text, "ID ID COUNT\n" a line. */
size_t idmap_text_size(const struct spec_id_map *m, size_t n);
/* The most bytes the kernel takes in the one write of a map: less than a page. */
size_t idmap_write_max(void);
/*
 * Whether the kernel could take M[N] at all (line count and size); else logs an error that
 * names FIELD ("linux.uidMappings") and returns -E2BIG. No silent truncation anywhere.
 */
int idmap_check(const struct spec_id_map *m, size_t n, const char *field);
/*
 * Write M[N] to /proc/PID/FILE ("uid_map", "gid_map") in one write(2), which is all the
 * kernel takes: containerID hostID size a line. -E2BIG when it cannot fit, else -errno of
 * the write.
 */
int idmap_write(pid_t pid, const char *file, const struct spec_id_map *m, size_t n);

/*
 * The idmapped bind mount M as a detached mount: a clone of M's source tree that shows its
 * files through M's uidMappings/gidMappings, for the container's init to move_mount() onto
 * its target. Made by the runtime before it clones the init; logs what failed.
 */
int idmap_mount_open(const struct spec_mount *m, int *ret_fd);
