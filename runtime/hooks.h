/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI hooks: the container state on stdin, args/env as given, a timeout that kills the hook
 * and every process it started (see kill_tree() in hooks.c for how far that goes).
 */
#pragma once

#include "spec.h"

/*
 * Run every hook of one kind in order; stops at the first failure and returns its error.
 * Only the hook itself is waited for: what it leaves running when it exits in time is its
 * business, as in runc.
 */
int hooks_run(const struct spec_hooks *hooks, const char *kind, const char *state_json);
