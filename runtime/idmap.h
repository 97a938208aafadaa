/* SPDX-License-Identifier: Apache-2.0 */
/* User namespaces that carry the id mapping of an idmapped mount. */
#pragma once

#include "spec.h"

/*
 * A user namespace with M's uid/gid mappings, as an fd for mount_setattr(MOUNT_ATTR_IDMAP).
 * Made by the runtime before it clones the init: the maps are written through the
 * runtime's own /proc, whose pid numbers are its own.
 */
int idmap_userns_open(const struct spec_mount *m, int *ret_fd);
