/* SPDX-License-Identifier: Apache-2.0 */
/* OCI hooks: the container state on stdin, args/env as given, a timeout that kills the hook. */
#pragma once

#include "spec.h"

/* Run every hook of one kind in order; stops at the first failure and returns its error. */
int hooks_run(const struct spec_hooks *hooks, const char *kind, const char *state_json);
