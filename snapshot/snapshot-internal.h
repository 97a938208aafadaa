/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the files of snapshot/ and its tests; nothing else includes it. */
#pragma once

#include "snapshot.h"

/* 0 when CRIU and the kernel can restore with lazy pages (userfaultfd), else -EOPNOTSUPP. */
int snapshot_lazy_supported(const struct snapshot_opts *o);

/* In a forked child about to exec criu: the environment brisk runs it with. */
void snapshot_criu_env(void);

/*
 * Where /run is not a tmpfs, keep CRIU's kernel feature cache (/run/criu.kdat) on a tmpfs of
 * brisk's, so that CRIU runs do not probe the kernel each time (see kdat.c). Once per
 * process; errors only cost the cache.
 */
int snapshot_kdat_cache(const char *criu_path);
