/* SPDX-License-Identifier: Apache-2.0 */
/* linux.resources (runtime-spec 1.2 config-linux.md) parsed and validated into a C struct. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "common/log.h"
#include "cgroup-internal.h"

/* Every known key of an object; anything else is an error, so typos are not silently dropped. */
static int check_keys(struct json_object *o, const char *what, const char *const *known)
{
	/* json-c's foreach dereferences the object's table: a number here would crash */
	if (!json_object_is_type(o, json_type_object))
		return log_error_errno(-EINVAL, "'linux.resources%s%s' must be an object",
				       *what ? "." : "", what);
	json_object_object_foreach(o, key, val)
	{
		bool ok = false;

		(void)val;
		for (const char *const *k = known; *k; k++)
			if (strcmp(*k, key) == 0)
				ok = true;
		if (!ok)
			return log_error_errno(-EINVAL, "unknown field '%s%s%s' in linux.resources",
					       what, *what ? "." : "", key);
	}
	return 0;
}

static int bad(const char *what, const char *key)
{
	return log_error_errno(-EINVAL, "invalid value of 'linux.resources.%s.%s'", what, key);
}

/* Optional getters: absent is fine, a wrong type is an error that names the field. */
#define GET_OPT(fn, o, what, key, ptr)                           \
	({                                                       \
		int _r = fn(o, key, ptr);                        \
		_r == -ENOENT ? 0 : _r < 0 ? bad(what, key) : 1; \
	})

static int get_limit(struct json_object *o, const char *what, const char *key, int64_t *ret)
{
	int r = GET_OPT(json_get_int64, o, what, key, ret);

	if (r > 0 && *ret < -1)
		return log_error_errno(-EINVAL, "invalid value %lld of 'linux.resources.%s.%s'",
				       (long long)*ret, what, key);
	return r;
}

static int parse_memory(struct json_object *m, struct cgroup_resources *res)
{
	static const char *const keys[] = {"limit",
					   "reservation",
					   "swap",
					   "kernel",
					   "kernelTCP",
					   "swappiness",
					   "disableOOMKiller",
					   "useHierarchy",
					   "checkBeforeUpdate",
					   NULL};
	int64_t ignored;
	int r;

	if ((r = check_keys(m, "memory", keys)) < 0)
		return r;
	if ((r = get_limit(m, "memory", "limit", &res->mem_limit)) < 0 ||
	    (r = get_limit(m, "memory", "reservation", &res->mem_reservation)) < 0 ||
	    (r = get_limit(m, "memory", "swap", &res->mem_swap)) < 0)
		return r;
	if (res->mem_limit > 0 && res->mem_swap > 0 && res->mem_swap < res->mem_limit)
		return log_error_errno(-EINVAL,
				       "memory+swap limit %lld is lower than the memory limit %lld",
				       (long long)res->mem_swap, (long long)res->mem_limit);
	/* Kernel memory limits are deprecated (gone in 6.x kernels): runc warns and ignores them.
	 */
	if ((r = GET_OPT(json_get_int64, m, "memory", "kernel", &ignored)) < 0)
		return r;
	if (r > 0)
		log_warning("linux.resources.memory.kernel is deprecated and ignored");
	if ((r = GET_OPT(json_get_int64, m, "memory", "kernelTCP", &ignored)) < 0)
		return r;
	if (r > 0)
		log_warning("linux.resources.memory.kernelTCP is deprecated and ignored");
	/* runc takes -1 for "not set". */
	if ((r = GET_OPT(json_get_int64, m, "memory", "swappiness", &ignored)) < 0)
		return r;
	if (r > 0 && ignored != -1) {
		if (ignored < 0 || ignored > 100)
			return log_error_errno(
			    -EINVAL, "invalid memory swappiness value %lld (valid range is 0-100)",
			    (long long)ignored);
		res->has_swappiness = true;
		res->swappiness = (uint64_t)ignored;
	}
	if ((r = GET_OPT(json_get_bool, m, "memory", "disableOOMKiller", &res->disable_oom)) < 0)
		return r;
	res->has_disable_oom = r > 0;
	if ((r = GET_OPT(json_get_bool, m, "memory", "useHierarchy", &res->use_hierarchy)) < 0)
		return r;
	res->has_use_hierarchy = r > 0;
	if ((r = GET_OPT(json_get_bool, m, "memory", "checkBeforeUpdate",
			 &res->check_before_update)) < 0)
		return r;
	return 0;
}

static bool valid_cpu_list(const char *s)
{
	/* "0-3,5,7-8": digits, ',' and '-' only (the kernel checks the ranges). */
	for (; *s; s++)
		if (!strchr("0123456789,-", *s))
			return false;
	return true;
}

static int parse_cpu(struct json_object *c, struct cgroup_resources *res)
{
	static const char *const keys[] = {
	    "shares",	      "quota", "burst", "period", "realtimeRuntime",
	    "realtimePeriod", "cpus",  "mems",	"idle",	  NULL};
	const char *s;
	int r;

	if ((r = check_keys(c, "cpu", keys)) < 0)
		return r;
	if ((r = GET_OPT(json_get_uint64, c, "cpu", "shares", &res->cpu_shares)) < 0 ||
	    (r = get_limit(c, "cpu", "quota", &res->cpu_quota)) < 0 ||
	    (r = GET_OPT(json_get_uint64, c, "cpu", "period", &res->cpu_period)) < 0 ||
	    (r = GET_OPT(json_get_int64, c, "cpu", "realtimeRuntime", &res->cpu_rt_runtime)) < 0 ||
	    (r = GET_OPT(json_get_uint64, c, "cpu", "realtimePeriod", &res->cpu_rt_period)) < 0)
		return r;
	if ((r = GET_OPT(json_get_uint64, c, "cpu", "burst", &res->cpu_burst)) < 0)
		return r;
	res->has_cpu_burst = r > 0;
	if ((r = GET_OPT(json_get_int64, c, "cpu", "idle", &res->cpu_idle)) < 0)
		return r;
	res->has_cpu_idle = r > 0;
	if (res->has_cpu_idle && res->cpu_idle != 0 && res->cpu_idle != 1)
		return log_error_errno(-EINVAL, "invalid cpu idle value %lld (0 or 1)",
				       (long long)res->cpu_idle);
	if ((r = GET_OPT(json_get_string, c, "cpu", "cpus", &s)) < 0)
		return r;
	if (r > 0 && *s) {
		if (!valid_cpu_list(s))
			return bad("cpu", "cpus");
		if (!(res->cpus = strdup(s)))
			return -ENOMEM;
	}
	if ((r = GET_OPT(json_get_string, c, "cpu", "mems", &s)) < 0)
		return r;
	if (r > 0 && *s) {
		if (!valid_cpu_list(s))
			return bad("cpu", "mems");
		if (!(res->mems = strdup(s)))
			return -ENOMEM;
	}
	return 0;
}

static int get_dev_numbers(struct json_object *e, const char *what, int64_t *major, int64_t *minor)
{
	if (json_get_int64(e, "major", major) < 0 || *major < 0)
		return bad(what, "major");
	if (json_get_int64(e, "minor", minor) < 0 || *minor < 0)
		return bad(what, "minor");
	return 0;
}

static int get_weight(struct json_object *o, const char *what, const char *key, uint16_t *ret)
{
	uint32_t v;
	int r = GET_OPT(json_get_uint32, o, what, key, &v);

	if (r <= 0)
		return r;
	if (v < 10 || v > 1000)
		return log_error_errno(-EINVAL, "invalid %s.%s %u (valid range is 10-1000)", what,
				       key, v);
	*ret = (uint16_t)v;
	return 1;
}

static int parse_blkio(struct json_object *b, struct cgroup_resources *res)
{
	static const char *const keys[] = {"weight",
					   "leafWeight",
					   "weightDevice",
					   "throttleReadBpsDevice",
					   "throttleWriteBpsDevice",
					   "throttleReadIOPSDevice",
					   "throttleWriteIOPSDevice",
					   NULL};
	struct json_object *a;
	int r;

	if ((r = check_keys(b, "blockIO", keys)) < 0)
		return r;
	if ((r = get_weight(b, "blockIO", "weight", &res->blkio_weight)) < 0 ||
	    (r = get_weight(b, "blockIO", "leafWeight", &res->blkio_leaf_weight)) < 0)
		return r;
	if ((r = GET_OPT(json_get_array, b, "blockIO", "weightDevice", &a)) < 0)
		return r;
	if (r > 0) {
		size_t n = json_object_array_length(a);

		res->weight_devices = calloc(n ? n : 1, sizeof(*res->weight_devices));
		if (!res->weight_devices)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(a, i);
			struct cgroup_weight_device *d = &res->weight_devices[i];

			if ((r = get_dev_numbers(e, "blockIO.weightDevice", &d->major, &d->minor)) <
				0 ||
			    (r = get_weight(e, "blockIO.weightDevice", "weight", &d->weight)) < 0 ||
			    (r = get_weight(e, "blockIO.weightDevice", "leafWeight",
					    &d->leaf_weight)) < 0)
				return r;
			res->n_weight_devices++;
		}
	}
	for (int t = 0; t < CGROUP_THROTTLE_MAX; t++) {
		static const char *const names[] = {
		    "throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice",
		    "throttleWriteIOPSDevice"};

		if ((r = GET_OPT(json_get_array, b, "blockIO", names[t], &a)) < 0)
			return r;
		if (r == 0)
			continue;
		size_t n = json_object_array_length(a);

		res->throttle[t] = calloc(n ? n : 1, sizeof(*res->throttle[t]));
		if (!res->throttle[t])
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(a, i);
			struct cgroup_throttle_device *d = &res->throttle[t][i];

			if ((r = get_dev_numbers(e, names[t], &d->major, &d->minor)) < 0)
				return r;
			if (json_get_uint64(e, "rate", &d->rate) < 0)
				return bad(names[t], "rate");
			res->n_throttle[t]++;
		}
	}
	return 0;
}

/* "2MB", "1GB", "64KB": what the hugetlb controller names its files after. */
static bool valid_pagesize(const char *s)
{
	size_t n = strspn(s, "0123456789");

	if (n == 0 || s[0] == '0')
		return false;
	return strcmp(s + n, "KB") == 0 || strcmp(s + n, "MB") == 0 || strcmp(s + n, "GB") == 0;
}

static int parse_hugepages(struct json_object *a, struct cgroup_resources *res)
{
	size_t n = json_object_array_length(a);

	res->hugepages = calloc(n ? n : 1, sizeof(*res->hugepages));
	if (!res->hugepages)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		const char *ps;

		if (json_get_string(e, "pageSize", &ps) < 0 || !valid_pagesize(ps))
			return bad("hugepageLimits", "pageSize");
		if (json_get_uint64(e, "limit", &res->hugepages[i].limit) < 0)
			return bad("hugepageLimits", "limit");
		if (!(res->hugepages[i].pagesize = strdup(ps)))
			return -ENOMEM;
		res->n_hugepages++;
	}
	return 0;
}

static int parse_network(struct json_object *o, struct cgroup_resources *res)
{
	static const char *const keys[] = {"classID", "priorities", NULL};
	struct json_object *a;
	int r;

	if ((r = check_keys(o, "network", keys)) < 0)
		return r;
	if ((r = GET_OPT(json_get_uint32, o, "network", "classID", &res->class_id)) < 0)
		return r;
	res->has_class_id = r > 0;
	if ((r = GET_OPT(json_get_array, o, "network", "priorities", &a)) < 0)
		return r;
	if (r == 0)
		return 0;
	size_t n = json_object_array_length(a);

	res->net_prios = calloc(n ? n : 1, sizeof(*res->net_prios));
	if (!res->net_prios)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		const char *name;

		if (json_get_string(e, "name", &name) < 0 || !*name || strpbrk(name, " \n/"))
			return bad("network.priorities", "name");
		if (json_get_uint32(e, "priority", &res->net_prios[i].priority) < 0)
			return bad("network.priorities", "priority");
		if (!(res->net_prios[i].name = strdup(name)))
			return -ENOMEM;
		res->n_net_prios++;
	}
	return 0;
}

static int parse_rdma(struct json_object *o, struct cgroup_resources *res)
{
	static const char *const keys[] = {"hcaHandles", "hcaObjects", NULL};
	size_t n = (size_t)json_object_object_length(o);
	int r;

	res->rdma = calloc(n ? n : 1, sizeof(*res->rdma));
	if (!res->rdma)
		return -ENOMEM;
	json_object_object_foreach(o, dev, v)
	{
		struct cgroup_rdma *e = &res->rdma[res->n_rdma];

		if (!*dev || strpbrk(dev, " \n/") || !json_object_is_type(v, json_type_object))
			return bad("rdma", dev);
		if ((r = check_keys(v, "rdma", keys)) < 0)
			return r;
		if ((r = GET_OPT(json_get_uint32, v, "rdma", "hcaHandles", &e->handles)) < 0)
			return r;
		e->has_handles = r > 0;
		if ((r = GET_OPT(json_get_uint32, v, "rdma", "hcaObjects", &e->objects)) < 0)
			return r;
		e->has_objects = r > 0;
		if (!(e->device = strdup(dev)))
			return -ENOMEM;
		res->n_rdma++;
	}
	return 0;
}

static int parse_unified(struct json_object *o, struct cgroup_resources *res)
{
	size_t n = (size_t)json_object_object_length(o);

	res->unified = calloc(n ? n : 1, sizeof(*res->unified));
	if (!res->unified)
		return -ENOMEM;
	json_object_object_foreach(o, key, v)
	{
		struct cgroup_kv *e = &res->unified[res->n_unified];

		/* A file directly in the container's cgroup: no path, no hidden files. */
		if (!*key || strchr(key, '/') || key[0] == '.' || !strchr(key, '.'))
			return log_error_errno(-EINVAL, "invalid linux.resources.unified key '%s'",
					       key);
		const char *val;
		/* a string, whole: a NUL would cut what is written to the file */
		if (json_as_string(v, &val) < 0)
			return bad("unified", key);
		if (!(e->key = strdup(key)) || !(e->value = strdup(val)))
			return -ENOMEM;
		res->n_unified++;
	}
	return 0;
}

static int parse_device(struct json_object *e, struct cgroup_device_rule *d)
{
	static const char *const keys[] = {"allow", "type", "major", "minor", "access", NULL};
	const char *s;
	int r;

	if ((r = check_keys(e, "devices", keys)) < 0)
		return r;
	if (json_get_bool(e, "allow", &d->allow) < 0)
		return bad("devices", "allow");
	d->type = 'a';
	if ((r = GET_OPT(json_get_string, e, "devices", "type", &s)) < 0)
		return r;
	if (r > 0) {
		if (strlen(s) != 1 || !strchr("abc", s[0]))
			return log_error_errno(-EINVAL, "invalid device rule type '%s'", s);
		d->type = s[0];
	}
	d->major = d->minor = CGROUP_WILDCARD;
	if ((r = GET_OPT(json_get_int64, e, "devices", "major", &d->major)) < 0 ||
	    (r = GET_OPT(json_get_int64, e, "devices", "minor", &d->minor)) < 0)
		return r;
	if (d->major < -1 || d->minor < -1 || d->major > UINT32_MAX || d->minor > UINT32_MAX)
		return log_error_errno(-EINVAL, "invalid device rule numbers %lld:%lld",
				       (long long)d->major, (long long)d->minor);
	d->access = CGROUP_DEV_ALL;
	if ((r = GET_OPT(json_get_string, e, "devices", "access", &s)) < 0)
		return r;
	if (r > 0) {
		d->access = 0;
		for (const char *p = s; *p; p++) {
			unsigned bit = *p == 'r'   ? CGROUP_DEV_READ
				       : *p == 'w' ? CGROUP_DEV_WRITE
				       : *p == 'm' ? CGROUP_DEV_MKNOD
						   : 0;
			if (!bit || (d->access & bit))
				return log_error_errno(-EINVAL, "invalid device rule access '%s'",
						       s);
			d->access |= bit;
		}
		/* An empty access string means "rwm", as in runc. */
		if (!d->access)
			d->access = CGROUP_DEV_ALL;
	}
	return 0;
}

static int parse_devices(struct json_object *a, struct cgroup_resources *res)
{
	size_t n = json_object_array_length(a);
	int r;

	res->has_devices = true;
	res->devices = calloc(n ? n : 1, sizeof(*res->devices));
	if (!res->devices)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if ((r = parse_device(json_object_array_get_idx(a, i), &res->devices[i])) < 0)
			return r;
		res->n_devices++;
	}
	return 0;
}

static int parse_all(struct json_object *o, struct cgroup_resources *res)
{
	static const char *const keys[] = {"memory",	     "cpu",	"pids", "blockIO",
					   "hugepageLimits", "network", "rdma", "unified",
					   "devices",	     NULL};
	struct json_object *sub;
	int r;

	if (!json_object_is_type(o, json_type_object))
		return log_error_errno(-EINVAL, "linux.resources is not an object");
	if ((r = check_keys(o, "", keys)) < 0)
		return r;
#define SECTION(key, getter, fn)                                                      \
	do {                                                                          \
		r = getter(o, key, &sub);                                             \
		if (r == -EINVAL)                                                     \
			return log_error_errno(r, "invalid linux.resources.%s", key); \
		if (r == 0 && (r = fn(sub, res)) < 0)                                 \
			return r;                                                     \
	} while (0)
	SECTION("memory", json_get_object, parse_memory);
	SECTION("cpu", json_get_object, parse_cpu);
	SECTION("blockIO", json_get_object, parse_blkio);
	SECTION("hugepageLimits", json_get_array, parse_hugepages);
	SECTION("network", json_get_object, parse_network);
	SECTION("rdma", json_get_object, parse_rdma);
	SECTION("unified", json_get_object, parse_unified);
	SECTION("devices", json_get_array, parse_devices);
#undef SECTION
	r = json_get_object(o, "pids", &sub);
	if (r == -EINVAL)
		return log_error_errno(r, "invalid linux.resources.pids");
	if (r == 0) {
		static const char *const pkeys[] = {"limit", NULL};

		if ((r = check_keys(sub, "pids", pkeys)) < 0)
			return r;
		r = json_get_int64(sub, "limit", &res->pids_limit);
		if (r < 0 && r != -ENOENT)
			return bad("pids", "limit");
		/* Any negative limit means "max", as in runc. */
		if (res->pids_limit < 0)
			res->pids_limit = -1;
	}
	return 0;
}

int cgroup_resources_parse(struct json_object *o, struct cgroup_resources **ret)
{
	_cleanup_(cgroup_resources_freep) struct cgroup_resources *res = calloc(1, sizeof(*res));
	int r;

	if (!res)
		return -ENOMEM;
	if (o && (r = parse_all(o, res)) < 0)
		return r;
	*ret = TAKE_PTR(res);
	return 0;
}

struct cgroup_resources *cgroup_resources_free(struct cgroup_resources *r)
{
	if (!r)
		return NULL;
	free(r->cpus);
	free(r->mems);
	free(r->weight_devices);
	for (int t = 0; t < CGROUP_THROTTLE_MAX; t++)
		free(r->throttle[t]);
	for (size_t i = 0; i < r->n_hugepages; i++)
		free(r->hugepages[i].pagesize);
	free(r->hugepages);
	for (size_t i = 0; i < r->n_net_prios; i++)
		free(r->net_prios[i].name);
	free(r->net_prios);
	for (size_t i = 0; i < r->n_rdma; i++)
		free(r->rdma[i].device);
	free(r->rdma);
	for (size_t i = 0; i < r->n_unified; i++) {
		free(r->unified[i].key);
		free(r->unified[i].value);
	}
	free(r->unified);
	free(r->devices);
	free(r);
	return NULL;
}

void cgroup_resources_freep(struct cgroup_resources **r)
{
	*r = cgroup_resources_free(*r);
}
