/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cgroup v1 driver, also used on hybrid hosts: one directory per mounted hierarchy, and on
 * hybrid hosts one in the cgroup2 hierarchy too (as runc does, so that systemd-style tooling
 * sees the container there). Controllers that exist only in cgroup2 on a hybrid host (often
 * hugetlb) are driven there, the v2 way.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "cgroup-internal.h"

static const char *dir_of(struct cgroup *cg, const char *controller)
{
	struct cgroup_hier *h = cgroup_find_hier(cg, controller);

	return h && h->active ? h->path : NULL;
}

static int write_err(int r, const char *dir, const char *file)
{
	return log_error_errno(r, "write '%s' of cgroup '%s': %m", file, dir);
}

#define W(dir, file, ...)                                   \
	do {                                                \
		int _k = cg_writef(dir, file, __VA_ARGS__); \
		if (_k < 0)                                 \
			return write_err(_k, dir, file);    \
	} while (0)

/* A new v1 cpuset is empty and takes no task: copy cpus and mems down from the parent. */
static int cpuset_fill(const char *mount, const char *dir)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	size_t n = strlen(mount);

	for (const char *p = dir + n; *p;) {
		p += strspn(p, "/");
		p += strcspn(p, "/");
		_cleanup_free_ char *sub = strndup(dir, (size_t)(p - dir)), *parent = NULL;

		if (!sub || !(parent = strdup(sub)))
			return -ENOMEM;
		*strrchr(parent, '/') = '\0';
		for (size_t i = 0; i < ELEMENTSOF(files); i++) {
			_cleanup_free_ char *cur = NULL, *up = NULL;
			int r;

			if (cg_read(sub, files[i], &cur) >= 0 && cur[strspn(cur, " \n")])
				continue;
			if ((r = cg_read(parent, files[i], &up)) < 0)
				return r;
			up[strcspn(up, "\n")] = '\0';
			if ((r = cg_write(sub, files[i], up)) < 0)
				return r;
		}
	}
	return 0;
}

static void add_need(const char **out, size_t *n, size_t max, const char *c)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(out[i], c) == 0)
			return;
	if (*n < max)
		out[(*n)++] = c;
}

/*
 * The cgroup2 controllers a hybrid host's resources need: those no v1 hierarchy has. Only
 * these get enabled, so the host's cgroup2 tree changes no more than it must. BUF holds the
 * names taken from linux.resources.unified keys.
 */
static void unified_needs(struct cgroup *cg, const char **out, size_t max, char (*buf)[32])
{
	const struct cgroup_resources *r = cg->resources;
	size_t n = 0;

	if (r->n_hugepages && !cgroup_find_hier(cg, "hugetlb"))
		add_need(out, &n, max, "hugetlb");
	if (r->n_rdma && !cgroup_find_hier(cg, "rdma"))
		add_need(out, &n, max, "rdma");
	if (r->pids_limit && !cgroup_find_hier(cg, "pids"))
		add_need(out, &n, max, "pids");
	for (size_t i = 0; i < r->n_unified && i < max; i++) {
		size_t len = strcspn(r->unified[i].key, ".");

		if (len >= 32 || strncmp(r->unified[i].key, "cgroup.", 7) == 0)
			continue;
		memcpy(buf[i], r->unified[i].key, len);
		buf[i][len] = '\0';
		add_need(out, &n, max, buf[i]);
	}
	out[n] = NULL;
}

static int v1_create(struct cgroup *cg)
{
	int r;

	for (size_t i = 0; i < cg->n_hiers; i++) {
		struct cgroup_hier *h = &cg->hiers[i];
		bool is_unified = !*h->controllers;

		r = cg_mkdir(h->mount, h->path, &h->created);
		if (r >= 0 && cgroup_hier_has(h, "cpuset") &&
		    (r = cpuset_fill(h->mount, h->path)) < 0)
			h->active = true; /* so that it is removed */
		if (r < 0) {
			/* The cgroup2 side of a hybrid host is a courtesy to tooling: never fatal.
			 */
			if (cg->rootless || is_unified) {
				log_warning_errno(r, "create cgroup '%s': %m, ignoring", h->path);
				continue;
			}
			return log_error_errno(r, "create cgroup '%s': %m", h->path);
		}
		h->active = true;
		if (is_unified) {
			const char *need[16];
			char buf[16][32];

			unified_needs(cg, need, ELEMENTSOF(need) - 1, buf);
			if ((r = cg_v2_enable_controllers(h->mount, h->path, need)) < 0)
				return r;
		}
	}
	return 0;
}

static int v1_memory(const char *dir, const struct cgroup_resources *r)
{
	int64_t limit = r->mem_limit, swap = r->mem_swap;
	bool swap_first = false;
	int k;

	/* runc: unlimited memory with no word on swap means unlimited swap too. */
	if (limit == -1 && swap == 0 && cg_exists(dir, "memory.memsw.limit_in_bytes"))
		swap = -1;
	/* memsw must stay >= limit at every step: raise swap first when it grows. */
	if (limit != 0 && swap != 0) {
		uint64_t cur;

		if ((k = cg_read_u64(dir, "memory.limit_in_bytes", &cur)) < 0)
			return log_error_errno(k, "read memory.limit_in_bytes of '%s': %m", dir);
		swap_first = swap == -1 || cur < (uint64_t)swap;
	}
	for (int step = 0; step < 2; step++) {
		bool do_swap = (step == 0) == swap_first;

		if (do_swap && swap != 0)
			W(dir, "memory.memsw.limit_in_bytes", "%lld", (long long)swap);
		if (!do_swap && limit != 0) {
			k = cg_writef(dir, "memory.limit_in_bytes", "%lld", (long long)limit);
			if (k == -EBUSY)
				return log_error_errno(k,
						       "memory limit %lld is below the current "
						       "usage of '%s'",
						       (long long)limit, dir);
			if (k < 0)
				return write_err(k, dir, "memory.limit_in_bytes");
		}
	}
	if (r->mem_reservation)
		W(dir, "memory.soft_limit_in_bytes", "%lld", (long long)r->mem_reservation);
	if (r->has_disable_oom && r->disable_oom)
		W(dir, "memory.oom_control", "1");
	if (r->has_swappiness)
		W(dir, "memory.swappiness", "%llu", (unsigned long long)r->swappiness);
	if (r->has_use_hierarchy)
		W(dir, "memory.use_hierarchy", "%d", r->use_hierarchy ? 1 : 0);
	return 0;
}

/* Real-time bandwidth first: a SCHED_RR task cannot join a cgroup with none. */
static int v1_cpu_rt(const char *dir, const struct cgroup_resources *r)
{
	if (r->cpu_rt_period)
		W(dir, "cpu.rt_period_us", "%llu", (unsigned long long)r->cpu_rt_period);
	if (r->cpu_rt_runtime)
		W(dir, "cpu.rt_runtime_us", "%lld", (long long)r->cpu_rt_runtime);
	return 0;
}

static int read_i64(const char *dir, const char *file, int64_t *ret)
{
	_cleanup_free_ char *s = NULL;
	char *end;
	int r = cg_read(dir, file, &s);

	if (r < 0)
		return r;
	errno = 0;
	*ret = strtoll(s, &end, 10);
	return errno || end == s ? -EINVAL : 0;
}

/* The realtime time PARENT has that none of its children but SELF holds, in SELF's period. */
static int rt_free(const char *parent, const char *self, int64_t period, int64_t *ret)
{
	_cleanup_closedir_ DIR *d = opendir(parent);
	int64_t rt, pp, free_us;
	struct dirent *de;
	int r;

	if (!d)
		return -errno;
	if ((r = read_i64(parent, "cpu.rt_runtime_us", &rt)) < 0 ||
	    (r = read_i64(parent, "cpu.rt_period_us", &pp)) < 0)
		return r;
	if (pp <= 0)
		return -EINVAL;
	/* -1: no limit (the root's with kernel.sched_rt_runtime_us = -1) */
	free_us = rt < 0 ? period : rt * period / pp;
	while ((de = readdir(d)) && free_us > 0) {
		_cleanup_free_ char *sib = NULL;
		int64_t srt, sp;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (!(sib = path_join(parent, de->d_name)))
			return -ENOMEM;
		if (strcmp(sib, self) == 0 || read_i64(sib, "cpu.rt_runtime_us", &srt) < 0 ||
		    read_i64(sib, "cpu.rt_period_us", &sp) < 0 || srt <= 0 || sp <= 0)
			continue;
		free_us -= srt * period / sp;
	}
	*ret = free_us;
	return 0;
}

/*
 * A SCHED_FIFO/SCHED_RR process needs realtime time in its cpu cgroup, and a new v1 cgroup has
 * none: give each directory from the top down to the container's, where it has none, what its
 * parent has left.
 */
static int v1_rt_budget(struct cgroup *cg)
{
	struct cgroup_hier *h = cgroup_find_hier(cg, "cpu");
	_cleanup_free_ char *p = NULL;
	size_t top;

	if (!h || !h->active || !cg_exists(h->path, "cpu.rt_runtime_us"))
		return 0;
	if (!(p = strdup(h->path)))
		return -ENOMEM;
	top = strlen(h->mount);
	for (size_t end = top + 1; end <= strlen(h->path); end++) {
		int64_t cur, period, free_us = 0;
		char *slash;
		int k;

		if (h->path[end] != '/' && h->path[end] != '\0')
			continue;
		p[end] = '\0';
		slash = strrchr(p, '/');
		if (read_i64(p, "cpu.rt_runtime_us", &cur) < 0 ||
		    read_i64(p, "cpu.rt_period_us", &period) < 0 || cur != 0 || !slash) {
			p[end] = h->path[end];
			continue;
		}
		*slash = '\0';
		k = rt_free(slash == p ? "/" : p, h->path, period, &free_us);
		*slash = '/';
		if (k >= 0 && free_us <= 0)
			return log_error_errno(-EPERM,
					       "process.scheduler: policy '%s' needs realtime cpu "
					       "time, and the parent "
					       "of cgroup '%s' has none left to give "
					       "(linux.resources.cpu.realtimeRuntime)",
					       cg->realtime_policy, p);
		if (k >= 0)
			k = cg_writef(p, "cpu.rt_runtime_us", "%lld", (long long)free_us);
		if (k < 0)
			return log_error_errno(
			    k,
			    "process.scheduler: policy '%s' needs realtime cpu time, and cgroup "
			    "'%s' gets none from its parent (linux.resources.cpu.realtimeRuntime): "
			    "%m",
			    cg->realtime_policy, p);
		p[end] = h->path[end];
	}
	return 0;
}

static int v1_cpu(const char *dir, const struct cgroup_resources *r)
{
	bool period_pending = false;
	int k;

	if (r->cpu_shares) {
		uint64_t got;

		W(dir, "cpu.shares", "%llu", (unsigned long long)r->cpu_shares);
		/* The kernel clamps; say so, as runc does. */
		if (cg_read_u64(dir, "cpu.shares", &got) >= 0 && got != r->cpu_shares)
			return log_error_errno(-EINVAL, "the %s allowed cpu-shares is %llu",
					       got < r->cpu_shares ? "maximum" : "minimum",
					       (unsigned long long)got);
	}
	if (r->cpu_period) {
		k = cg_writef(dir, "cpu.cfs_period_us", "%llu", (unsigned long long)r->cpu_period);
		/* A smaller period can be refused until the quota is lowered: retry after it. */
		if (k == -EINVAL && r->cpu_quota)
			period_pending = true;
		else if (k < 0)
			return write_err(k, dir, "cpu.cfs_period_us");
	}
	if (r->cpu_quota)
		W(dir, "cpu.cfs_quota_us", "%lld", (long long)r->cpu_quota);
	if (period_pending)
		W(dir, "cpu.cfs_period_us", "%llu", (unsigned long long)r->cpu_period);
	if (r->has_cpu_burst)
		W(dir, "cpu.cfs_burst_us", "%llu", (unsigned long long)r->cpu_burst);
	if (r->has_cpu_idle)
		W(dir, "cpu.idle", "%lld", (long long)r->cpu_idle);
	return v1_cpu_rt(dir, r);
}

static int v1_blkio(const char *dir, const struct cgroup_resources *r)
{
	static const char *const files[] = {
	    "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
	    "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"};
	bool bfq = cg_exists(dir, "blkio.bfq.weight");
	const char *weight = bfq ? "blkio.bfq.weight" : "blkio.weight";
	const char *weight_dev = bfq ? "blkio.bfq.weight_device" : "blkio.weight_device";

	if (r->blkio_weight)
		W(dir, weight, "%u", r->blkio_weight);
	if (r->blkio_leaf_weight)
		W(dir, "blkio.leaf_weight", "%u", r->blkio_leaf_weight);
	for (size_t i = 0; i < r->n_weight_devices; i++) {
		const struct cgroup_weight_device *d = &r->weight_devices[i];

		if (d->weight)
			W(dir, weight_dev, "%lld:%lld %u", (long long)d->major, (long long)d->minor,
			  d->weight);
		if (d->leaf_weight)
			W(dir, "blkio.leaf_weight_device", "%lld:%lld %u", (long long)d->major,
			  (long long)d->minor, d->leaf_weight);
	}
	for (int t = 0; t < CGROUP_THROTTLE_MAX; t++)
		for (size_t i = 0; i < r->n_throttle[t]; i++) {
			const struct cgroup_throttle_device *d = &r->throttle[t][i];

			W(dir, files[t], "%lld:%lld %llu", (long long)d->major, (long long)d->minor,
			  (unsigned long long)d->rate);
		}
	return 0;
}

static int v1_hugetlb(const char *dir, const struct cgroup_resources *r)
{
	for (size_t i = 0; i < r->n_hugepages; i++) {
		const struct cgroup_hugepage *h = &r->hugepages[i];
		char file[80], rsvd[80];
		int k;

		snprintf(file, sizeof(file), "hugetlb.%s.limit_in_bytes", h->pagesize);
		snprintf(rsvd, sizeof(rsvd), "hugetlb.%s.rsvd.limit_in_bytes", h->pagesize);
		k = cg_writef(dir, file, "%llu", (unsigned long long)h->limit);
		if (k == -ENOENT)
			return log_error_errno(-EINVAL, "hugepage size '%s' is not supported",
					       h->pagesize);
		if (k < 0)
			return write_err(k, dir, file);
		if (cg_exists(dir, rsvd))
			W(dir, rsvd, "%llu", (unsigned long long)h->limit);
	}
	return 0;
}

static int v1_pids(const char *dir, const struct cgroup_resources *r)
{
	if (r->pids_limit > 0)
		W(dir, "pids.max", "%lld", (long long)r->pids_limit);
	else if (r->pids_limit < 0)
		W(dir, "pids.max", "max");
	return 0;
}

static int v1_net(struct cgroup *cg, const struct cgroup_resources *r)
{
	const char *d;

	if (r->has_class_id && (d = dir_of(cg, "net_cls")))
		W(d, "net_cls.classid", "%u", r->class_id);
	if (r->n_net_prios && (d = dir_of(cg, "net_prio")))
		for (size_t i = 0; i < r->n_net_prios; i++)
			W(d, "net_prio.ifpriomap", "%s %u", r->net_prios[i].name,
			  r->net_prios[i].priority);
	return 0;
}

typedef int (*v1_writer)(const char *dir, const struct cgroup_resources *r);

/* A v1 controller's writer, or its cgroup2 twin on a hybrid host that has it only there. */
static int apply_one(struct cgroup *cg, const char *v1, const char *v2, v1_writer fn,
		     const struct cgroup_resources *r, bool entering)
{
	const char *d = dir_of(cg, v1);
	struct cgroup_hier *h;

	if (d)
		return fn(d, r);
	/* Even when its directory could not be made: a limit that was asked for then fails. */
	if (cg->mode == CGROUP_MODE_HYBRID && !cgroup_find_hier(cg, v1) &&
	    (h = cgroup_find_hier(cg, "")))
		return cg_v2_apply_controller(h->path, v2, r, !entering);
	return 0;
}

static int v1_cpuset(const char *dir, const struct cgroup_resources *r)
{
	if (r->cpus)
		W(dir, "cpuset.cpus", "%s", r->cpus);
	if (r->mems)
		W(dir, "cpuset.mems", "%s", r->mems);
	return 0;
}

static int v1_apply(struct cgroup *cg, const struct cgroup_resources *r, bool entering)
{
	const char *d;
	int k;

	if (entering && cg->realtime_policy && !r->cpu_rt_runtime && (k = v1_rt_budget(cg)) < 0)
		return k;
	if ((k = apply_one(cg, "cpuset", "cpuset", v1_cpuset, r, entering)) < 0 ||
	    (k = apply_one(cg, "cpu", "cpu", v1_cpu, r, entering)) < 0 ||
	    (k = apply_one(cg, "memory", "memory", v1_memory, r, entering)) < 0 ||
	    (k = apply_one(cg, "pids", "pids", v1_pids, r, entering)) < 0 ||
	    (k = apply_one(cg, "blkio", "io", v1_blkio, r, entering)) < 0 ||
	    (k = apply_one(cg, "hugetlb", "hugetlb", v1_hugetlb, r, entering)) < 0 ||
	    (k = apply_one(cg, "rdma", "rdma", cg_write_rdma, r, entering)) < 0 ||
	    (k = v1_net(cg, r)) < 0)
		return k;
	if (r->has_devices && (d = dir_of(cg, "devices"))) {
		k = cgroup_devices_apply_v1(d, r->devices, r->n_devices, !entering);
		/* As runc: device rules are not expected to work rootless. */
		if (k < 0 && !cg->rootless)
			return k;
	}
	if (r->n_unified && (d = dir_of(cg, "")))
		return cg_v2_apply_unified(d, r);
	if (r->n_unified)
		return log_error_errno(-EOPNOTSUPP,
				       "linux.resources.unified: no cgroup2 hierarchy");
	return 0;
}

static int v1_freeze(struct cgroup *cg, bool frozen)
{
	const char *d = dir_of(cg, "freezer");
	int k;

	if (!d && (d = dir_of(cg, "")))
		return cg_v2_freeze(d, frozen);
	if (!d)
		return log_error_errno(-EOPNOTSUPP, "no freezer cgroup");
	if (!frozen) {
		if ((k = cg_write(d, "freezer.state", "THAWED")) < 0)
			return write_err(k, d, "freezer.state");
		return 0;
	}
	/* FREEZING can stall on a task that is busy in the kernel: ask again until FROZEN. */
	for (int i = 0; i < 1000; i++) {
		_cleanup_free_ char *state = NULL;

		if (i % 50 == 0 && (k = cg_write(d, "freezer.state", "FROZEN")) < 0)
			return write_err(k, d, "freezer.state");
		if ((k = cg_read(d, "freezer.state", &state)) < 0)
			return log_error_errno(k, "read freezer.state of '%s': %m", d);
		if (strncmp(state, "FROZEN", 6) == 0)
			return 0;
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	}
	(void)cg_write(d, "freezer.state", "THAWED");
	return log_error_errno(-ETIMEDOUT, "freeze cgroup '%s': timed out", d);
}

static int v1_is_frozen(struct cgroup *cg, bool *ret)
{
	_cleanup_free_ char *state = NULL;
	const char *d = dir_of(cg, "freezer");
	uint64_t v;
	int k;

	if (!d && (d = dir_of(cg, ""))) {
		if ((k = cg_read_u64(d, "cgroup.freeze", &v)) < 0)
			return log_error_errno(k, "read cgroup.freeze of '%s': %m", d);
		*ret = v == 1;
		return 0;
	}
	if (!d) {
		*ret = false;
		return 0;
	}
	if ((k = cg_read(d, "freezer.state", &state)) < 0)
		return log_error_errno(k, "read freezer.state of '%s': %m", d);
	*ret = strncmp(state, "FROZEN", 6) == 0;
	return 0;
}

static int v1_kill(struct cgroup *cg, int sig)
{
	const char *d = dir_of(cg, "");

	(void)sig;
	/* On a hybrid host the cgroup2 directory has the same processes. */
	return d ? cg_v2_kill(d) : -EOPNOTSUPP;
}

const struct cgroup_ops cgroup_v1_ops = {
    .create = v1_create,
    .apply = v1_apply,
    .freeze = v1_freeze,
    .is_frozen = v1_is_frozen,
    .kill = v1_kill,
    .stats = cgroup_stats_v1,
};
