/* SPDX-License-Identifier: Apache-2.0 */
/* `exec`: a new process in every namespace, the cgroup and the confinement of a container. */
#pragma once

#include <stdbool.h>
#include <json-c/json.h>
#include "container.h"

struct exec_opts {
	const char *id;
	struct json_object *process; /* a runtime-spec process object */
	const char *pid_file;
	const char *console_socket;
	bool detach;
	bool ignore_paused;
	int preserve_fds;
	/* `--cgroup [CONTROLLER[,CONTROLLER...]:]PATH`: sub-cgroups of the container's to run in */
	const char *const *cgroups;
	size_t n_cgroups;
};

/* A deep copy of the container's config.json "process", the base of `exec ID ARGS...`. */
int exec_default_process(struct runtime_ctx *rt, const char *id, struct json_object **ret);
/* Run it; detached: returns 0 once the program runs, else its exit status (128 + signal). */
int container_exec(struct runtime_ctx *rt, const struct exec_opts *o);
