/* SPDX-License-Identifier: Apache-2.0 */
/* The container lifecycle on the runtime's side: create, start, kill, delete, status. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "state.h"

struct runtime_ctx {
	const char *root; /* --root */
	int rootfd;
	bool systemd_cgroup;
	bool rootless;
	const char *criu; /* --criu, NULL: "criu" from PATH */
};

struct create_opts {
	const char *id;
	const char *bundle;
	const char *pid_file;
	const char *console_socket;
	bool no_pivot;
	bool no_new_keyring;
	int preserve_fds;
	bool pty_to_parent; /* foreground run with a terminal and no console socket */
};

struct created {
	pid_t pid;
	int pty_master; /* with pty_to_parent, else -1 */
};

int container_create(struct runtime_ctx *rt, const struct create_opts *o, struct created *ret);
int container_start(struct runtime_ctx *rt, const char *id);
int container_kill(struct runtime_ctx *rt, const char *id, int sig, bool all);
int container_delete(struct runtime_ctx *rt, const char *id, bool force);
/* Load the state and work out the status, "paused" included. -ENOENT: no such container. */
int container_load(struct runtime_ctx *rt, const char *id, struct container_state **ret_state,
		   enum container_status *ret_status);
/* The message every command gives for a missing container. */
int container_not_found(const char *id);
struct seccomp_prog;
/* The seccomp agent at listenerPath (a path of the host: called by the runtime, outside)
 * gets the notify fd FD of process PID with the container's state ST as STATUS. */
int container_send_listener(const struct seccomp_prog *p, const struct container_state *st,
			    enum container_status status, pid_t pid, int fd);
struct spec;
/* linux.resources with the device rules every container gets (as create applies them). */
int container_effective_resources(const struct spec *s, struct json_object **ret);
/* Parse "KILL", "SIGKILL", "9". */
int signal_from_string(const char *s);
