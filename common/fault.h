/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fault injection for tests, in debug builds only (meson's debug option; release builds
 * compile it out). Each risky step names a point ("mount", "cgroup-write", ...):
 *
 *   BRISK_FAULT=POINT[:N]     the Nth pass through POINT (default the first) fails
 *   BRISK_FAULT_TRACE=FILE    every pass appends "POINT N" to FILE
 *
 * Counts are per process: a forked child goes on from its parent's count. A test first
 * traces one good run, then replays it failing each traced pass in turn. An injected
 * failure looks like the step's own failure with errno EIO, so it takes the real error
 * path: the step's message, then the cleanup of everything done before it.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>

#include "config.h"

#if BRISK_FAULT_INJECTION
bool fault_hit(const char *point);
/* Read the environment again and forget the counts (for tests). */
void fault_reset(void);
#else
static inline bool fault_hit(const char *point)
{
	(void)point;
	return false;
}
#endif

/* EXPR, unless POINT is to fail now: then -1 with errno = EIO. For calls of the -1/errno kind. */
#define FAULT_OR(point, expr) (fault_hit(point) ? (errno = EIO, -1) : (expr))
