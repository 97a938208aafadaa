/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between cgroup.c (dispatch), cgroup-v1.c, cgroup-v2.c, the devices and stats code. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "cgroup.h"

#define CGROUP_WILDCARD (-1LL)

struct cgroup_device_rule {
	bool allow;
	char type;	      /* 'a', 'b' or 'c' */
	int64_t major, minor; /* CGROUP_WILDCARD for '*' */
	unsigned access;      /* CGROUP_DEV_* bits */
};

enum {
	CGROUP_DEV_MKNOD = 1 << 0,
	CGROUP_DEV_READ = 1 << 1,
	CGROUP_DEV_WRITE = 1 << 2,
	CGROUP_DEV_ALL = CGROUP_DEV_MKNOD | CGROUP_DEV_READ | CGROUP_DEV_WRITE,
};

struct cgroup_weight_device {
	int64_t major, minor;
	uint16_t weight, leaf_weight; /* 0: unset */
};

struct cgroup_throttle_device {
	int64_t major, minor;
	uint64_t rate;
};

enum {
	CGROUP_THROTTLE_READ_BPS,
	CGROUP_THROTTLE_WRITE_BPS,
	CGROUP_THROTTLE_READ_IOPS,
	CGROUP_THROTTLE_WRITE_IOPS,
	CGROUP_THROTTLE_MAX,
};

struct cgroup_hugepage {
	char *pagesize; /* "2MB" */
	uint64_t limit;
};

struct cgroup_net_prio {
	char *name;
	uint32_t priority;
};

struct cgroup_rdma {
	char *device;
	bool has_handles, has_objects;
	uint32_t handles, objects;
};

struct cgroup_kv {
	char *key, *value;
};

/*
 * linux.resources, parsed and validated. As in runc, 0 means "not set" for the numeric limits
 * and -1 means unlimited where the spec allows it.
 */
struct cgroup_resources {
	int64_t mem_limit, mem_reservation, mem_swap;
	bool has_swappiness, has_disable_oom, has_use_hierarchy;
	uint64_t swappiness;
	bool disable_oom, use_hierarchy, check_before_update;

	uint64_t cpu_shares, cpu_period, cpu_rt_period;
	int64_t cpu_quota, cpu_rt_runtime;
	bool has_cpu_burst, has_cpu_idle;
	uint64_t cpu_burst;
	int64_t cpu_idle;
	char *cpus, *mems;

	int64_t pids_limit;

	uint16_t blkio_weight, blkio_leaf_weight;
	struct cgroup_weight_device *weight_devices;
	size_t n_weight_devices;
	struct cgroup_throttle_device *throttle[CGROUP_THROTTLE_MAX];
	size_t n_throttle[CGROUP_THROTTLE_MAX];

	struct cgroup_hugepage *hugepages;
	size_t n_hugepages;

	bool has_class_id;
	uint32_t class_id;
	struct cgroup_net_prio *net_prios;
	size_t n_net_prios;

	struct cgroup_rdma *rdma;
	size_t n_rdma;

	struct cgroup_kv *unified;
	size_t n_unified;

	bool has_devices;
	struct cgroup_device_rule *devices;
	size_t n_devices;
};

int cgroup_resources_parse(struct json_object *o, struct cgroup_resources **ret);
struct cgroup_resources *cgroup_resources_free(struct cgroup_resources *r);
void cgroup_resources_freep(struct cgroup_resources **r);

/* One mounted hierarchy and the container's directory in it. */
struct cgroup_hier {
	char *controllers; /* "cpu,cpuacct", "name=systemd"; "" for cgroup2 */
	char *mount;	   /* its mountpoint */
	char *path;	   /* the container's directory */
	char *created;	   /* the topmost directory this cgroup created, or NULL */
	bool active;	   /* the directory exists (created or joined) */
};

struct cgroup_ops {
	/* create the directories below every hierarchy */
	int (*create)(struct cgroup *cg);
	/* write the limits R sets; ENTERING: before any process has joined */
	int (*apply)(struct cgroup *cg, const struct cgroup_resources *r, bool entering);
	int (*freeze)(struct cgroup *cg, bool frozen);
	int (*is_frozen)(struct cgroup *cg, bool *ret);
	/* the fast way of killing everything (cgroup.kill), or -EOPNOTSUPP */
	int (*kill)(struct cgroup *cg, int sig);
	int (*stats)(struct cgroup *cg, struct json_object *ret);
};

struct cgroup {
	enum cgroup_mode mode;
	char *root;
	char *path; /* cleaned linux.cgroupsPath: "/a/b" absolute, "a/b" relative */
	char *id;
	bool rootless;
	char *realtime_policy; /* see cgroup_opts */
	struct cgroup_hier *hiers;
	size_t n_hiers;
	struct json_object *resources_json; /* as given, for the state file */
	struct cgroup_resources *resources;
	const struct cgroup_ops *ops;
};

extern const struct cgroup_ops cgroup_v1_ops;
extern const struct cgroup_ops cgroup_v2_ops;

/* The hierarchy that holds CONTROLLER ("" for cgroup2), or NULL. */
struct cgroup_hier *cgroup_find_hier(struct cgroup *cg, const char *controller);
bool cgroup_hier_has(const struct cgroup_hier *h, const char *controller);

/* Small file helpers on absolute paths; they log nothing. */
int cg_write(const char *dir, const char *file, const char *value);
int cg_writef(const char *dir, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cg_read(const char *dir, const char *file, char **ret);
int cg_read_u64(const char *dir, const char *file, uint64_t *ret);
bool cg_exists(const char *dir, const char *file);
/* Make DIR and the missing directories above it (down from TOP); *RET_CREATED: the topmost new one.
 */
int cg_mkdir(const char *top, const char *dir, char **ret_created);
/* The directory cg_mkdir(TOP, DIR) would report as created now: the topmost missing one (NULL:
 * none). */
int cg_first_missing(const char *top, const char *dir, char **ret);
/* rmdir DIR's descendants, then DIR, then its parents up to and including CREATED (if any). */
int cg_rmdir(const char *dir, const char *created);
/* Every pid in DIR and below it, appended to *PIDS. */
int cg_read_pids(const char *dir, pid_t **pids, size_t *n);
/* v2: write "+ctrl ..." into cgroup.subtree_control of every directory from MOUNT down to DIR's
 * parent. */
int cg_v2_enable_controllers(const char *mount, const char *dir, const char *const *controllers);
/* v2: apply the limits of CONTROLLER (a v2 name) in DIR. */
int cg_v2_apply_controller(const char *dir, const char *controller,
			   const struct cgroup_resources *r, bool update);
int cg_v2_freeze(const char *dir, bool frozen);
/* v2: the keys of linux.resources.unified */
int cg_v2_apply_unified(const char *dir, const struct cgroup_resources *r);
/* v2: cgroup.kill, or -EOPNOTSUPP where the kernel has none */
int cg_v2_kill(const char *dir);
/* rdma.max lines, the same on v1 and v2 */
int cg_write_rdma(const char *dir, const struct cgroup_resources *r);

/* devices: the runc device-rule emulator (v1 lists) and the eBPF program (v2). */
struct cgroup_dev_state {
	bool default_allow;
	struct cgroup_device_rule *rules;
	size_t n_rules;
};
int cgroup_devices_emulate(const struct cgroup_device_rule *rules, size_t n,
			   struct cgroup_dev_state *ret);
void cgroup_dev_state_done(struct cgroup_dev_state *s);
/* "c 1:3 rwm" */
void cgroup_device_rule_format(const struct cgroup_device_rule *rule, char *buf, size_t size);
/* UPDATE: the cgroup has processes; go from the current allow-list by difference */
int cgroup_devices_apply_v1(const char *dir, const struct cgroup_device_rule *rules, size_t n,
			    bool update);

struct bpf_insn;
int cgroup_devices_bpf_build(const struct cgroup_device_rule *rules, size_t n,
			     struct bpf_insn **ret, size_t *ret_n);
int cgroup_devices_apply_v2(const char *dir, const struct cgroup_device_rule *rules, size_t n);

int cgroup_stats_v1(struct cgroup *cg, struct json_object *ret);
int cgroup_stats_v2(const char *dir, struct json_object *ret);

/* runc's conversions */
uint64_t cgroup_shares_to_weight(uint64_t shares);
uint64_t cgroup_blkio_to_io_weight(uint64_t weight);
int cgroup_swap_to_v2(int64_t swap, int64_t limit, int64_t *ret);
