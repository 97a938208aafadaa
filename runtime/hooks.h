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
 *
 * The runtime's hooks (prestart, createRuntime, poststart, poststop): in the bundle of the
 * state they are given, as runc's create and run (which work from there) run them; a hook
 * without env gets the runtime's environment, as runc's.
 */
int hooks_run(const struct spec_hooks *hooks, const char *kind, const char *state_json);
/*
 * The same in directory CWD (NULL: the current one), a hook without env getting ENV (NULL:
 * the runtime's environment). The container init's hooks: createContainer in the rootfs
 * before pivot_root, startContainer with the container process's env, as runc and crun.
 */
int hooks_run_in(const struct spec_hooks *hooks, const char *kind, const char *state_json,
		 const char *cwd, char *const *env);
