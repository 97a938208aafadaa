/* SPDX-License-Identifier: Apache-2.0 */
/* Resource usage in the shape of runc's `events --stats` data (types.Stats). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "cgroup-internal.h"

static struct json_object *obj(struct json_object *parent, const char *key)
{
	struct json_object *o;

	if (json_object_object_get_ex(parent, key, &o))
		return o;
	o = json_object_new_object();
	if (o && json_object_object_add(parent, key, o) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static void put_u64(struct json_object *o, const char *key, uint64_t v)
{
	if (o)
		json_object_object_add(o, key, json_object_new_uint64(v));
}

/* DIR/FILE as a number into O[KEY]; "max" is UINT64_MAX as in runc. Missing files are skipped. */
static void file_u64(struct json_object *o, const char *key, const char *dir, const char *file)
{
	uint64_t v;

	if (dir && cg_read_u64(dir, file, &v) >= 0)
		put_u64(o, key, v);
}

/* "key value" lines: each into O, scaled by MUL. */
static void flat_keyed(struct json_object *o, const char *dir, const char *file, uint64_t mul)
{
	_cleanup_free_ char *s = NULL;
	char *save = NULL;

	if (!dir || cg_read(dir, file, &s) < 0)
		return;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char key[128];
		unsigned long long v;

		if (sscanf(line, "%127s %llu", key, &v) == 2)
			put_u64(o, key, v * mul);
	}
}

static uint64_t get_u64(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

static void percpu(struct json_object *usage, const char *key, const char *dir, const char *file)
{
	_cleanup_free_ char *s = NULL;
	struct json_object *a;

	if (!dir || cg_read(dir, file, &s) < 0 || !(a = json_object_new_array()))
		return;
	for (char *t = strtok(s, " \n"); t; t = strtok(NULL, " \n")) {
		unsigned long long v;

		if (parse_uint64(t, &v) >= 0)
			json_object_array_add(a, json_object_new_uint64(v));
	}
	json_object_object_add(usage, key, a);
}

static void hugetlb(struct json_object *ret, const char *dir, bool v2)
{
	_cleanup_closedir_ DIR *d = dir ? opendir(dir) : NULL;
	struct json_object *h = obj(ret, "hugetlb");
	struct dirent *de;

	while (d && h && (de = readdir(d))) {
		char size[32], file[96];
		const char *name = de->d_name;
		size_t n;

		/* hugetlb.2MB.usage_in_bytes (v1), hugetlb.2MB.current (v2) */
		if (strncmp(name, "hugetlb.", 8) != 0)
			continue;
		n = strcspn(name + 8, ".");
		if (n == 0 || n >= sizeof(size) ||
		    strcmp(name + 8 + n, v2 ? ".current" : ".usage_in_bytes") != 0)
			continue;
		memcpy(size, name + 8, n);
		size[n] = '\0';
		struct json_object *e = obj(h, size);

		file_u64(e, "usage", dir, name);
		if (v2) {

			snprintf(file, sizeof(file), "hugetlb.%s.events", size);
			struct json_object *tmp = json_object_new_object();

			flat_keyed(tmp, dir, file, 1);
			put_u64(e, "failcnt", get_u64(tmp, "max"));
			json_object_put(tmp);
		} else {
			snprintf(file, sizeof(file), "hugetlb.%s.max_usage_in_bytes", size);
			file_u64(e, "max", dir, file);
			snprintf(file, sizeof(file), "hugetlb.%s.failcnt", size);
			file_u64(e, "failcnt", dir, file);
		}
	}
}

/* v1 "8:0 Read 4096" lines into runc's BlkioEntry list. */
static void blkio_v1(struct json_object *blkio, const char *key, const char *dir, const char *file)
{
	_cleanup_free_ char *s = NULL;
	struct json_object *a;
	char *save = NULL;

	if (!dir || cg_read(dir, file, &s) < 0 || !(a = json_object_new_array()))
		return;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long maj, min, v;
		char op[32];
		struct json_object *e;

		if (sscanf(line, "%llu:%llu %31s %llu", &maj, &min, op, &v) != 4 ||
		    !(e = json_object_new_object()))
			continue;
		put_u64(e, "major", maj);
		put_u64(e, "minor", min);
		json_object_object_add(e, "op", json_object_new_string(op));
		put_u64(e, "value", v);
		json_object_array_add(a, e);
	}
	json_object_object_add(blkio, key, a);
}

int cgroup_stats_v1(struct cgroup *cg, struct json_object *ret)
{
	struct cgroup_hier *h;
	const char *cpuacct = (h = cgroup_find_hier(cg, "cpuacct")) && h->active ? h->path : NULL;
	const char *cpu = (h = cgroup_find_hier(cg, "cpu")) && h->active ? h->path : NULL;
	const char *mem = (h = cgroup_find_hier(cg, "memory")) && h->active ? h->path : NULL;
	const char *pids = (h = cgroup_find_hier(cg, "pids")) && h->active ? h->path : NULL;
	const char *blk = (h = cgroup_find_hier(cg, "blkio")) && h->active ? h->path : NULL;
	const char *huge = (h = cgroup_find_hier(cg, "hugetlb")) && h->active ? h->path : NULL;
	const char *uni = (h = cgroup_find_hier(cg, "")) && h->active ? h->path : NULL;
	struct json_object *c = obj(ret, "cpu"), *usage = obj(c, "usage");
	struct json_object *m = obj(ret, "memory"), *raw = obj(m, "raw"), *tmp;
	long hz = sysconf(_SC_CLK_TCK);

	file_u64(usage, "total", cpuacct, "cpuacct.usage");
	percpu(usage, "percpu", cpuacct, "cpuacct.usage_percpu");
	percpu(usage, "percpu_kernel", cpuacct, "cpuacct.usage_percpu_sys");
	percpu(usage, "percpu_user", cpuacct, "cpuacct.usage_percpu_user");
	/* cpuacct.stat is in clock ticks */
	if ((tmp = json_object_new_object())) {
		flat_keyed(tmp, cpuacct, "cpuacct.stat",
			   1000000000ULL / (uint64_t)(hz > 0 ? hz : 100));
		put_u64(usage, "kernel", get_u64(tmp, "system"));
		put_u64(usage, "user", get_u64(tmp, "user"));
		json_object_put(tmp);
	}
	if ((tmp = json_object_new_object())) {
		struct json_object *t = obj(c, "throttling");

		flat_keyed(tmp, cpu, "cpu.stat", 1);
		put_u64(t, "periods", get_u64(tmp, "nr_periods"));
		put_u64(t, "throttled_periods", get_u64(tmp, "nr_throttled"));
		put_u64(t, "throttled_time", get_u64(tmp, "throttled_time"));
		json_object_put(tmp);
	}
	static const char *const mem_prefix[][2] = {{"usage", "memory."},
						    {"swap", "memory.memsw."},
						    {"kernel", "memory.kmem."},
						    {"kernelTCP", "memory.kmem.tcp."}};
	for (size_t i = 0; mem && i < ELEMENTSOF(mem_prefix); i++) {
		struct json_object *e = obj(m, mem_prefix[i][0]);
		char f[64];

		snprintf(f, sizeof(f), "%susage_in_bytes", mem_prefix[i][1]);
		file_u64(e, "usage", mem, f);
		snprintf(f, sizeof(f), "%smax_usage_in_bytes", mem_prefix[i][1]);
		file_u64(e, "max", mem, f);
		snprintf(f, sizeof(f), "%slimit_in_bytes", mem_prefix[i][1]);
		file_u64(e, "limit", mem, f);
		snprintf(f, sizeof(f), "%sfailcnt", mem_prefix[i][1]);
		file_u64(e, "failcnt", mem, f);
	}
	flat_keyed(raw, mem, "memory.stat", 1);
	put_u64(m, "cache", get_u64(raw, "cache"));
	file_u64(obj(ret, "pids"), "current", pids, "pids.current");
	if (pids && (tmp = obj(ret, "pids"))) {
		uint64_t v;

		/* "max" is no limit: 0, as runc reports it */
		if (cg_read_u64(pids, "pids.max", &v) >= 0)
			put_u64(tmp, "limit", v == UINT64_MAX ? 0 : v);
	}
	struct json_object *b = obj(ret, "blkio");

	/* CFQ/BFQ's counters where the scheduler has them, else the throttling layer's. */
	if (blk && cg_exists(blk, "blkio.io_service_bytes_recursive")) {
		blkio_v1(b, "ioServiceBytesRecursive", blk, "blkio.io_service_bytes_recursive");
		blkio_v1(b, "ioServicedRecursive", blk, "blkio.io_serviced_recursive");
	} else {
		blkio_v1(b, "ioServiceBytesRecursive", blk,
			 "blkio.throttle.io_service_bytes_recursive");
		blkio_v1(b, "ioServicedRecursive", blk, "blkio.throttle.io_serviced_recursive");
	}
	hugetlb(ret, huge ? huge : uni, !huge);
	return 0;
}

static void io_stat(struct json_object *blkio, const char *dir)
{
	static const char *const keys[][3] = {{"rbytes", "ioServiceBytesRecursive", "Read"},
					      {"wbytes", "ioServiceBytesRecursive", "Write"},
					      {"rios", "ioServicedRecursive", "Read"},
					      {"wios", "ioServicedRecursive", "Write"}};
	_cleanup_free_ char *s = NULL;
	char *save = NULL;

	if (cg_read(dir, "io.stat", &s) < 0)
		return;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long maj, min;
		char *fsave = NULL;

		if (sscanf(line, "%llu:%llu", &maj, &min) != 2)
			continue;
		strtok_r(line, " ", &fsave);
		for (char *kv = strtok_r(NULL, " ", &fsave); kv; kv = strtok_r(NULL, " ", &fsave)) {
			char *eq = strchr(kv, '=');
			unsigned long long v;

			if (!eq)
				continue;
			*eq = '\0';
			if (parse_uint64(eq + 1, &v) < 0)
				continue;
			for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
				struct json_object *a, *e;

				if (strcmp(kv, keys[i][0]) != 0)
					continue;
				if (!json_object_object_get_ex(blkio, keys[i][1], &a)) {
					a = json_object_new_array();
					json_object_object_add(blkio, keys[i][1], a);
				}
				if (!a || !(e = json_object_new_object()))
					continue;
				put_u64(e, "major", maj);
				put_u64(e, "minor", min);
				json_object_object_add(e, "op", json_object_new_string(keys[i][2]));
				put_u64(e, "value", v);
				json_object_array_add(a, e);
			}
		}
	}
}

int cgroup_stats_v2(const char *dir, struct json_object *ret)
{
	struct json_object *c = obj(ret, "cpu"), *usage = obj(c, "usage"),
			   *t = obj(c, "throttling");
	struct json_object *m = obj(ret, "memory"), *raw = obj(m, "raw"), *tmp, *e;
	uint64_t v;

	if ((tmp = json_object_new_object())) {
		flat_keyed(tmp, dir, "cpu.stat", 1);
		put_u64(usage, "total", get_u64(tmp, "usage_usec") * 1000);
		put_u64(usage, "kernel", get_u64(tmp, "system_usec") * 1000);
		put_u64(usage, "user", get_u64(tmp, "user_usec") * 1000);
		put_u64(t, "periods", get_u64(tmp, "nr_periods"));
		put_u64(t, "throttled_periods", get_u64(tmp, "nr_throttled"));
		put_u64(t, "throttled_time", get_u64(tmp, "throttled_usec") * 1000);
		json_object_put(tmp);
	}
	e = obj(m, "usage");
	file_u64(e, "usage", dir, "memory.current");
	file_u64(e, "max", dir, "memory.peak");
	file_u64(e, "limit", dir, "memory.max");
	if ((tmp = json_object_new_object())) {
		flat_keyed(tmp, dir, "memory.events", 1);
		put_u64(e, "failcnt", get_u64(tmp, "max"));
		json_object_put(tmp);
	}
	e = obj(m, "swap");
	file_u64(e, "usage", dir, "memory.swap.current");
	file_u64(e, "limit", dir, "memory.swap.max");
	flat_keyed(raw, dir, "memory.stat", 1);
	put_u64(m, "cache", get_u64(raw, "file"));
	e = obj(ret, "pids");
	file_u64(e, "current", dir, "pids.current");
	if (cg_read_u64(dir, "pids.max", &v) >= 0)
		put_u64(e, "limit", v == UINT64_MAX ? 0 : v);
	io_stat(obj(ret, "blkio"), dir);
	hugetlb(ret, dir, true);
	return 0;
}
