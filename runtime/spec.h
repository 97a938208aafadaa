/* SPDX-License-Identifier: Apache-2.0 */
/* config.json (OCI runtime-spec 1.2) parsed into the shapes the runtime works with. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>

struct spec_id_map {
	uint32_t container_id, host_id, size;
};

struct spec_rlimit {
	int resource;
	uint64_t soft, hard;
};

struct spec_process {
	bool terminal;
	unsigned console_height, console_width;
	uid_t uid;
	gid_t gid;
	bool has_umask;
	mode_t umask;
	gid_t *additional_gids;
	size_t n_additional_gids;
	char **args;
	char **env;
	char *cwd;
	struct json_object *capabilities; /* may be NULL */
	struct spec_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;
	char *apparmor_profile;
	char *selinux_label;
	bool has_io_priority;
	int io_priority_class, io_priority;
	struct json_object *scheduler;	 /* may be NULL */
	char *exec_cpu_affinity_initial; /* cpu list */
	char *exec_cpu_affinity_final;
};

enum {
	MOUNT_BIND = 1 << 0,
	MOUNT_RECURSIVE = 1 << 1,
	MOUNT_IDMAP = 1 << 2,
};

struct spec_mount {
	char *destination;
	char *type;
	char *source;
	unsigned long flags;	     /* MS_* to mount with */
	unsigned long propagation;   /* MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC) */
	uint64_t attr_set, attr_clr; /* recursive MOUNT_ATTR_* ("rro", "rnosuid", ...) */
	int kind;		     /* MOUNT_* */
	char *data;		     /* options the kernel parses (mode=755, size=...) */
	struct spec_id_map *uid_maps, *gid_maps;
	size_t n_uid_maps, n_gid_maps;
	int idmap_fd; /* idmapped: its detached mount, made by the runtime */
};

struct spec_namespace {
	int type;   /* CLONE_NEW* */
	char *path; /* join this one, or NULL to create */
};

struct spec_device {
	char *path;
	char type; /* c, b, u, p */
	int64_t major, minor;
	bool has_mode;
	mode_t mode;
	bool has_uid, has_gid;
	uid_t uid;
	gid_t gid;
};

struct spec_hook {
	char *path;
	char **args;
	char **env;
	int timeout; /* seconds, 0 = none */
};

struct spec_hooks {
	struct spec_hook *v;
	size_t n;
};

enum spec_hook_kind {
	HOOK_PRESTART,
	HOOK_CREATE_RUNTIME,
	HOOK_CREATE_CONTAINER,
	HOOK_START_CONTAINER,
	HOOK_POSTSTART,
	HOOK_POSTSTOP,
	_HOOK_MAX,
};

struct spec {
	struct json_object *json; /* the whole document, kept for subtrees */
	char *oci_version;
	struct spec_process process;
	bool has_process;
	char *root_path; /* as written (relative to the bundle, or absolute) */
	bool root_readonly;
	char *hostname, *domainname;
	struct spec_mount *mounts;
	size_t n_mounts;
	struct spec_hooks hooks[_HOOK_MAX];
	struct json_object *annotations; /* may be NULL */

	/* linux */
	struct spec_namespace *namespaces;
	size_t n_namespaces;
	struct spec_id_map *uid_maps, *gid_maps;
	size_t n_uid_maps, n_gid_maps;
	int64_t time_offsets[2][2]; /* [monotonic, boottime][secs, nanosecs] */
	bool has_time_offsets;
	struct spec_device *devices;
	size_t n_devices;
	char *cgroups_path;
	struct json_object *resources;	  /* may be NULL */
	struct json_object *sysctl;	  /* may be NULL */
	struct json_object *seccomp;	  /* may be NULL */
	unsigned long rootfs_propagation; /* 0: default (rslave) */
	char **masked_paths, **readonly_paths;
	char *mount_label;
	bool has_personality;
	unsigned long personality;
	bool has_intel_rdt;
};

/*
 * Give every key of DOC that names a runtime-spec field case-insensitively (as Go's decoder
 * in runc matches them) that field's spelling, and device rule access strings the r, w, m
 * they name (spec-keys.c). spec_parse() does this first; spec_parse_process() does the
 * second for a process object.
 */
int spec_fold_keys(struct json_object *doc);
int spec_fold_process_keys(struct json_object *process);
/* Parse a config.json document; errors name the field ("process.args: ..."). */
int spec_parse(struct json_object *doc, struct spec **ret);
int spec_load(const char *bundle, struct spec **ret);
/* Parse a process object (config.json "process", or an exec --process file). */
int spec_parse_process(struct json_object *o, struct spec_process *ret);
void spec_process_done(struct spec_process *p);
struct spec *spec_free(struct spec *s);
void spec_freep(struct spec **s);

const char *spec_hook_name(enum spec_hook_kind k);
/* CLONE_NEW* for a namespace type name ("pid", "network", ...), or -EINVAL. */
int spec_namespace_from_name(const char *name);
const char *spec_namespace_name(int type);
/* The namespace of TYPE in the spec, or NULL. */
const struct spec_namespace *spec_find_namespace(const struct spec *s, int type);
/* Parse one mount option into M; returns 0 for a kernel data option (appended to m->data). */
int spec_mount_option(struct spec_mount *m, const char *opt);
/* Known mount option names (for `features`). */
extern const char *const spec_mount_option_names[];
/* RLIMIT_* by name ("RLIMIT_NOFILE"), or -EINVAL. */
int spec_rlimit_from_name(const char *name);
/* The CRIU configuration file of the annotation org.criu.config, as runc reads it; NULL where
 * it is absent or empty. */
const char *spec_criu_config(const struct spec *s);
/* The name of RLIMIT_* RESOURCE, or NULL. */
const char *spec_rlimit_name(int resource);
/* Is M a tmpfs mount of the spec's own (not a bind, not read-only)? */
bool spec_mount_is_tmpfs(const struct spec_mount *m);
/*
 * Is M a cgroup mount that brisk makes as a tmpfs of cgroup v1 mounts (a v1 or hybrid host)?
 * That tmpfs holds only a directory per hierarchy of the host and the co-mount symlinks.
 */
bool spec_mount_is_cgroup_tmpfs(const struct spec_mount *m);
