/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state store: one directory per container under the runtime root (--root, default
 * /run/brisk), holding state.json, config.json (a copy, for poststop hooks) and, while the
 * container is "created", the exec fifo its init blocks on.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <json-c/json.h>

enum container_status {
	STATUS_CREATING,
	STATUS_CREATED,
	STATUS_RUNNING,
	STATUS_PAUSED,
	STATUS_STOPPED,
};

struct container_state {
	char *id;
	pid_t pid;
	unsigned long long start_time; /* /proc/PID/stat field 22, guards against pid reuse */
	char *bundle;
	char *rootfs;
	char *created; /* RFC 3339 */
	uid_t owner;
	struct json_object *annotations; /* may be NULL */
	struct json_object *cgroup;	 /* serialised cgroup, may be NULL */
	struct json_object *extra; /* module data (lazy image mount, restore...), may be NULL */
	bool systemd_cgroup;
};

#define STATE_FILE "state.json"
#define EXEC_FIFO "exec.fifo"

/* Validate a container id: [A-Za-z0-9][A-Za-z0-9_.+-]*, at most 1024 bytes. */
int state_check_id(const char *id);
/* Open (creating with mode 0700 if needed) the runtime root directory. */
int state_open_root(const char *root, bool create, int *ret_fd);
/* The directory of ID under ROOTFD; -ENOENT names "does not exist" in the caller's message. */
int state_open_dir(int rootfd, const char *id, int *ret_fd);

int state_load(int rootfd, const char *id, struct container_state **ret);
int state_save(int dirfd, const struct container_state *st);
/* PID into PATH, digits only (containerd parses it with Atoi). */
int state_write_pid_file(const char *path, pid_t pid);
/*
 * The last step of create and restore: CONFIG as config.json (when not NULL: hooks that run
 * later need it), the state, then the pid file (when PID_FILE is not NULL).
 */
int state_commit(int dirfd, const struct container_state *st, struct json_object *config,
		 const char *pid_file);
/* Free what ST holds (not ST itself: one on the stack or inside another struct). */
void state_done(struct container_state *st);
struct container_state *state_free(struct container_state *st);
void state_freep(struct container_state **st);

/* From the process (pid + start time) and the exec fifo; "paused" is the caller's to add. */
int state_status(int rootfd, const struct container_state *st, enum container_status *ret);
const char *state_status_name(enum container_status s);
/* The OCI state document (ociVersion, id, status, pid, bundle, annotations, ...). */
int state_to_json(const struct container_state *st, enum container_status status,
		  struct json_object **ret);

/* /proc/PID/stat starttime, or -ESRCH; *ret_zombie set when the process has exited. */
int proc_start_time(pid_t pid, unsigned long long *ret, bool *ret_zombie);
/* Current time in RFC 3339 with nanoseconds. */
char *now_rfc3339(void);
