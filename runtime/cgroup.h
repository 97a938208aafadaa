/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container cgroups on v1, v2 and hybrid hosts (runtime-internal).
 *
 * Paths follow runc's cgroupfs driver: an absolute linux.cgroupsPath is taken below each
 * hierarchy's mountpoint; a relative one (and the default, which is the container id) is taken
 * below the caller's own cgroup in that hierarchy (on cgroup v2: below the parent of the
 * caller's cgroup, which may not hold processes and enable controllers at once).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <json-c/json.h>

struct cgroup;

struct cgroup_opts {
	/* cgroupfs root, normally "/sys/fs/cgroup" (NULL: that) */
	const char *root;
	/* linux.cgroupsPath, or NULL for the default (the container id, relative) */
	const char *path;
	/* container id */
	const char *id;
	/* linux.resources from config.json, may be NULL */
	struct json_object *resources;
	/* failures to create cgroups are warnings, not errors */
	bool rootless;
	/* process.scheduler's policy when it is SCHED_FIFO or SCHED_RR, else NULL: on v1 the
	 * cpu cgroup then needs realtime time, taken from its parent's when resources set none */
	const char *realtime_policy;
};

enum cgroup_mode {
	CGROUP_MODE_V1 = 1,
	CGROUP_MODE_V2 = 2,
	CGROUP_MODE_HYBRID = 3,
};

int cgroup_new(const struct cgroup_opts *opts, struct cgroup **ret);
/* Create the cgroup in every hierarchy, apply resources, move PID (none when PID <= 0). */
int cgroup_enter(struct cgroup *cg, pid_t pid);
/* Move PID into the existing cgroup, every hierarchy (`exec`). Logs its errors. */
int cgroup_add_pid(struct cgroup *cg, pid_t pid);
/* `exec --cgroup [CONTROLLER[,CONTROLLER...]:]PATH`: later cgroup_add_pid() calls move into the
 * existing PATH below the container's cgroup, in CONTROLLERs' hierarchies (all without). */
int cgroup_use_sub(struct cgroup *cg, const char *spec);
/* `update`: apply the limits that RESOURCES sets, leaving the others as they are. */
int cgroup_update(struct cgroup *cg, struct json_object *resources);
int cgroup_freeze(struct cgroup *cg, bool frozen);
int cgroup_is_frozen(struct cgroup *cg, bool *ret);
/* Every pid in the cgroup and its descendants. */
int cgroup_get_pids(struct cgroup *cg, pid_t **ret, size_t *ret_n);
int cgroup_kill_all(struct cgroup *cg, int sig);
/* Remove every directory the cgroup created, in every hierarchy. */
int cgroup_destroy(struct cgroup *cg);
int cgroup_serialize(struct cgroup *cg, struct json_object **ret);
/*
 * Before cgroup_enter: the cgroup as it will be once entered (the hierarchies where it is
 * new marked active, with the directories it will create), so that a runtime killed while
 * entering leaves a state from which `delete --force` removes whatever was made, and nothing
 * that was there before.
 */
int cgroup_serialize_planned(struct cgroup *cg, struct json_object **ret);
int cgroup_deserialize(struct json_object *o, struct cgroup **ret);
/* The "data" of runc's `events --stats`: cpu, memory, pids, blkio, hugetlb. */
int cgroup_stats(struct cgroup *cg, struct json_object **ret);
struct cgroup *cgroup_free(struct cgroup *cg);
void cgroup_freep(struct cgroup **cg);

/* Additions. */
enum cgroup_mode cgroup_get_mode(const struct cgroup *cg);
/* The container's directory in the hierarchy of CONTROLLER ("memory"; "" for cgroup2), or NULL. */
const char *cgroup_get_path(const struct cgroup *cg, const char *controller);
/* Whether the host's cgroupfs at ROOT (NULL: /sys/fs/cgroup) is v1, v2 or hybrid. */
int cgroup_detect_mode(const char *root, enum cgroup_mode *ret);
