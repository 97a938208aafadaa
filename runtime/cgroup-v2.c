/* SPDX-License-Identifier: Apache-2.0 */
/* The cgroup v2 driver: one unified hierarchy; values converted from the v1-shaped spec as runc
 * does. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "cgroup-internal.h"

uint64_t cgroup_shares_to_weight(uint64_t shares)
{
	/* runc 1.1: [2, 262144] maps linearly onto [1, 10000]. */
	if (shares == 0)
		return 0;
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t cgroup_blkio_to_io_weight(uint64_t weight)
{
	/* [10, 1000] onto [1, 10000] */
	if (weight == 0)
		return 0;
	return 1 + (weight - 10) * 9999 / 990;
}

int cgroup_swap_to_v2(int64_t swap, int64_t limit, int64_t *ret)
{
	/* v1 swap is memory+swap; v2 memory.swap.max is swap alone. */
	if (limit == -1 && swap == 0) {
		*ret = -1;
		return 0;
	}
	if (swap == -1 || swap == 0) {
		*ret = swap;
		return 0;
	}
	if (limit == 0 || limit == -1)
		return log_error_errno(-EINVAL, "cannot set a swap limit without a memory limit");
	if (swap < limit)
		return log_error_errno(-EINVAL, "memory+swap limit should be >= memory limit");
	*ret = swap - limit;
	return 0;
}

static void num(char *buf, size_t size, int64_t v)
{
	if (v == -1)
		snprintf(buf, size, "max");
	else
		snprintf(buf, size, "%lld", (long long)v);
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

static int v2_memory(const char *dir, const struct cgroup_resources *r, bool update)
{
	char buf[32];
	int64_t swap;
	int k;

	if ((k = cgroup_swap_to_v2(r->mem_swap, r->mem_limit, &swap)) < 0)
		return k;
	/* memory.checkBeforeUpdate: v2 would OOM-kill instead of refusing, so refuse here. */
	if (update && r->check_before_update && r->mem_limit > 0) {
		uint64_t cur;

		if (cg_read_u64(dir, "memory.current", &cur) >= 0 && cur > (uint64_t)r->mem_limit)
			return log_error_errno(-EBUSY,
					       "memory limit %lld is below the current usage %llu",
					       (long long)r->mem_limit, (unsigned long long)cur);
	}
	if (swap != 0 || (r->mem_swap > 0 && r->mem_swap == r->mem_limit)) {
		num(buf, sizeof(buf), swap);
		k = cg_write(dir, "memory.swap.max", buf);
		/* Without swap accounting, "no limit" and "no swap" are what we have anyway. */
		if (k < 0 && !(k == -ENOENT && (swap == -1 || swap == 0)))
			return write_err(k, dir, "memory.swap.max");
	}
	if (r->mem_limit) {
		num(buf, sizeof(buf), r->mem_limit);
		W(dir, "memory.max", "%s", buf);
	}
	if (r->mem_reservation) {
		num(buf, sizeof(buf), r->mem_reservation);
		W(dir, "memory.low", "%s", buf);
	}
	if (r->has_swappiness || r->has_disable_oom || r->has_use_hierarchy)
		log_debug(
		    "memory swappiness, disableOOMKiller and useHierarchy are v1 only, ignoring");
	return 0;
}

static int v2_cpu(const char *dir, const struct cgroup_resources *r)
{
	if (r->cpu_shares)
		W(dir, "cpu.weight", "%llu",
		  (unsigned long long)cgroup_shares_to_weight(r->cpu_shares));
	if (r->cpu_quota || r->cpu_period) {
		char q[32];

		num(q, sizeof(q), r->cpu_quota > 0 ? r->cpu_quota : -1);
		/* runc: the kernel's default period when none is given. */
		W(dir, "cpu.max", "%s %llu", q,
		  (unsigned long long)(r->cpu_period ? r->cpu_period : 100000));
	}
	if (r->has_cpu_burst)
		W(dir, "cpu.max.burst", "%llu", (unsigned long long)r->cpu_burst);
	if (r->has_cpu_idle)
		W(dir, "cpu.idle", "%lld", (long long)r->cpu_idle);
	return 0;
}

static int v2_io(const char *dir, const struct cgroup_resources *r)
{
	static const char *const keys[] = {"rbps", "wbps", "riops", "wiops"};
	bool bfq = (r->blkio_weight || r->n_weight_devices) && cg_exists(dir, "io.bfq.weight");

	/* BFQ takes blkio's own scale; io.weight is [1, 10000]. */
	if (r->blkio_weight && bfq)
		W(dir, "io.bfq.weight", "%u", r->blkio_weight);
	else if (r->blkio_weight)
		W(dir, "io.weight", "%llu",
		  (unsigned long long)cgroup_blkio_to_io_weight(r->blkio_weight));
	for (size_t i = 0; i < r->n_weight_devices; i++) {
		const struct cgroup_weight_device *d = &r->weight_devices[i];

		if (!bfq || !d->weight) {
			log_debug("per-device io weight needs BFQ, ignoring");
			continue;
		}
		W(dir, "io.bfq.weight", "%lld:%lld %u", (long long)d->major, (long long)d->minor,
		  d->weight);
	}
	for (int t = 0; t < CGROUP_THROTTLE_MAX; t++)
		for (size_t i = 0; i < r->n_throttle[t]; i++) {
			const struct cgroup_throttle_device *d = &r->throttle[t][i];

			W(dir, "io.max", "%lld:%lld %s=%llu", (long long)d->major,
			  (long long)d->minor, keys[t], (unsigned long long)d->rate);
		}
	return 0;
}

static int v2_hugetlb(const char *dir, const struct cgroup_resources *r)
{
	for (size_t i = 0; i < r->n_hugepages; i++) {
		const struct cgroup_hugepage *h = &r->hugepages[i];
		char file[64], rsvd[64];

		snprintf(file, sizeof(file), "hugetlb.%s.max", h->pagesize);
		snprintf(rsvd, sizeof(rsvd), "hugetlb.%s.rsvd.max", h->pagesize);
		int k = cg_writef(dir, file, "%llu", (unsigned long long)h->limit);

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

/* "mlx5_1 hca_handle=3 hca_object=max": the same line on v1 and v2. */
int cg_write_rdma(const char *dir, const struct cgroup_resources *r)
{
	for (size_t i = 0; i < r->n_rdma; i++) {
		const struct cgroup_rdma *e = &r->rdma[i];
		char line[512];
		int n = snprintf(line, sizeof(line), "%s", e->device);

		if (e->has_handles)
			n += snprintf(line + n, sizeof(line) - (size_t)n, " hca_handle=%u",
				      e->handles);
		if (e->has_objects)
			snprintf(line + n, sizeof(line) - (size_t)n, " hca_object=%u", e->objects);
		W(dir, "rdma.max", "%s", line);
	}
	return 0;
}

int cg_v2_apply_controller(const char *dir, const char *controller,
			   const struct cgroup_resources *r, bool update)
{
	if (strcmp(controller, "memory") == 0)
		return v2_memory(dir, r, update);
	if (strcmp(controller, "cpu") == 0)
		return v2_cpu(dir, r);
	if (strcmp(controller, "cpuset") == 0) {
		if (r->cpus)
			W(dir, "cpuset.cpus", "%s", r->cpus);
		if (r->mems)
			W(dir, "cpuset.mems", "%s", r->mems);
		return 0;
	}
	if (strcmp(controller, "io") == 0)
		return v2_io(dir, r);
	if (strcmp(controller, "pids") == 0) {
		if (r->pids_limit > 0)
			W(dir, "pids.max", "%lld", (long long)r->pids_limit);
		else if (r->pids_limit < 0)
			W(dir, "pids.max", "max");
		return 0;
	}
	if (strcmp(controller, "hugetlb") == 0)
		return v2_hugetlb(dir, r);
	if (strcmp(controller, "rdma") == 0)
		return cg_write_rdma(dir, r);
	return 0;
}

/* Keys of linux.resources.unified, last, so that they win (runc). */
int cg_v2_apply_unified(const char *dir, const struct cgroup_resources *r)
{
	for (size_t i = 0; i < r->n_unified; i++) {
		int k = cg_write(dir, r->unified[i].key, r->unified[i].value);

		if (k == -ENOENT || k == -EPERM || k == -EACCES)
			return log_error_errno(k,
					       "unified resource '%s' cannot be set (controller "
					       "not available?): %m",
					       r->unified[i].key);
		if (k < 0)
			return write_err(k, dir, r->unified[i].key);
	}
	return 0;
}

static bool events_frozen(int fd, bool frozen)
{
	char buf[512];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	const char *p;

	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (!(p = strstr(buf, "frozen ")))
		return false;
	return (p[7] == '1') == frozen;
}

int cg_v2_freeze(const char *dir, bool frozen)
{
	_cleanup_free_ char *ev = path_join(dir, "cgroup.events");
	_cleanup_close_ int fd = -EBADF;
	int k;

	if (!ev)
		return -ENOMEM;
	if ((k = cg_write(dir, "cgroup.freeze", frozen ? "1" : "0")) < 0)
		return write_err(k, dir, "cgroup.freeze");
	if ((fd = open(ev, O_RDONLY | O_CLOEXEC)) < 0)
		return log_error_errno(-errno, "open '%s': %m", ev);
	/* cgroup.events changes with a POLLPRI notification; give up after 10 s. */
	for (int i = 0; i < 100; i++) {
		if (events_frozen(fd, frozen))
			return 0;
		poll(&(struct pollfd){.fd = fd, .events = POLLPRI}, 1, 100);
	}
	return log_error_errno(-ETIMEDOUT, "%s cgroup '%s': timed out", frozen ? "freeze" : "thaw",
			       dir);
}

static struct cgroup_hier *unified(struct cgroup *cg)
{
	return cgroup_find_hier(cg, "");
}

static int v2_create(struct cgroup *cg)
{
	struct cgroup_hier *h = unified(cg);
	_cleanup_free_ char *list = NULL;
	const char *ctrls[32];
	size_t n = 0;
	int r;

	/* Every controller the root offers, as runc does. */
	if (cg_read(h->mount, "cgroup.controllers", &list) >= 0)
		for (char *t = strtok(list, " \n"); t && n < ELEMENTSOF(ctrls) - 1;
		     t = strtok(NULL, " \n"))
			ctrls[n++] = t;
	ctrls[n] = NULL;
	if ((r = cg_mkdir(h->mount, h->path, &h->created)) < 0) {
		if (cg->rootless)
			return log_warning_errno(r, "create cgroup '%s': %m, ignoring", h->path), 0;
		return log_error_errno(r, "create cgroup '%s': %m", h->path);
	}
	h->active = true;
	return cg_v2_enable_controllers(h->mount, h->path, ctrls);
}

static int v2_apply(struct cgroup *cg, const struct cgroup_resources *r, bool entering)
{
	static const char *const controllers[] = {"cpuset", "cpu",     "io",  "memory",
						  "pids",   "hugetlb", "rdma"};
	struct cgroup_hier *h = unified(cg);
	int k;

	if (!h->active)
		return 0;
	if (r->has_class_id || r->n_net_prios)
		log_warning("network classID and priorities need cgroup v1, ignoring");
	if (r->blkio_leaf_weight)
		log_warning("blockIO leafWeight needs cgroup v1, ignoring");
	for (size_t i = 0; i < ELEMENTSOF(controllers); i++)
		if ((k = cg_v2_apply_controller(h->path, controllers[i], r, !entering)) < 0)
			return k;
	if (r->has_devices &&
	    (k = cgroup_devices_apply_v2(h->path, r->devices, r->n_devices)) < 0) {
		if (!cg->rootless)
			return k;
		log_warning_errno(k, "device rules: %m, ignoring");
	}
	return cg_v2_apply_unified(h->path, r);
}

static int v2_freeze(struct cgroup *cg, bool frozen)
{
	return cg_v2_freeze(unified(cg)->path, frozen);
}

static int v2_is_frozen(struct cgroup *cg, bool *ret)
{
	uint64_t v;
	int r = cg_read_u64(unified(cg)->path, "cgroup.freeze", &v);

	if (r < 0)
		return log_error_errno(r, "read cgroup.freeze of '%s': %m", unified(cg)->path);
	*ret = v == 1;
	return 0;
}

int cg_v2_kill(const char *dir)
{
	/* cgroup.kill (Linux 5.14) kills the whole subtree at once, no race with fork. */
	int r = cg_write(dir, "cgroup.kill", "1");

	if (r == -ENOENT)
		return -EOPNOTSUPP;
	if (r < 0)
		return log_error_errno(r, "write cgroup.kill of '%s': %m", dir);
	return 0;
}

static int v2_kill(struct cgroup *cg, int sig)
{
	(void)sig;
	return cg_v2_kill(unified(cg)->path);
}

static int v2_stats(struct cgroup *cg, struct json_object *ret)
{
	return cgroup_stats_v2(unified(cg)->path, ret);
}

const struct cgroup_ops cgroup_v2_ops = {
    .create = v2_create,
    .apply = v2_apply,
    .freeze = v2_freeze,
    .is_frozen = v2_is_frozen,
    .kill = v2_kill,
    .stats = v2_stats,
};
