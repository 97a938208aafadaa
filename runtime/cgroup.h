/* SPDX-License-Identifier: Apache-2.0 */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include <json-c/json.h>
struct cgroup;
struct cgroup_opts {
	const char *root;
	const char *path;
	const char *id;
	struct json_object *resources;
	bool rootless;
};
int cgroup_new(const struct cgroup_opts *opts, struct cgroup **ret);
int cgroup_enter(struct cgroup *cg, pid_t pid);
int cgroup_update(struct cgroup *cg, struct json_object *resources);
int cgroup_freeze(struct cgroup *cg, bool frozen);
int cgroup_is_frozen(struct cgroup *cg, bool *ret);
int cgroup_get_pids(struct cgroup *cg, pid_t **ret, size_t *ret_n);
int cgroup_kill_all(struct cgroup *cg, int sig);
int cgroup_destroy(struct cgroup *cg);
int cgroup_serialize(struct cgroup *cg, struct json_object **ret);
int cgroup_deserialize(struct json_object *o, struct cgroup **ret);
int cgroup_stats(struct cgroup *cg, struct json_object **ret);
struct cgroup *cgroup_free(struct cgroup *cg);
void cgroup_freep(struct cgroup **cg);
