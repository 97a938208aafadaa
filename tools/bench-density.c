/* SPDX-License-Identifier: Apache-2.0 */
/*
 * brisk-bench density: N containers (busybox `sleep`, one shared read-only rootfs) started
 * with `run -d`, K starts in flight at a time; containers per second, and the node memory
 * each one adds (MemAvailable before and after, divided by N); then all deleted. brisk, runc,
 * crun, one after another, in a private mount namespace without the cgroup2 mount (crun 1.8
 * refuses hybrid hosts), as the runtime benchmark does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "bench.h"

#define PARENT "brisk-bench-density"

/* One bundle per container (the same rootfs, read-only), each in a cgroup under PARENT, so
 * that PARENT's memory controller counts what the containers use. */
static int make_bundles(const char *dir, const char *bundle, const char *rootfs, unsigned n)
{
	_cleanup_free_ char *cfg = path_join(bundle, "config.json");
	_cleanup_json_ struct json_object *spec = NULL;
	struct json_object *root, *linux_;
	int r;

	if (!cfg)
		return -ENOMEM;
	if ((r = json_parse_file_at(AT_FDCWD, cfg, &spec)) < 0)
		return log_error_errno(r, "read '%s': %m", cfg);
	if (json_get_object(spec, "root", &root) < 0 || json_get_object(spec, "linux", &linux_) < 0)
		return log_error_errno(-EINVAL, "'%s' has no root or linux", cfg);
	json_object_object_add(root, "path", json_object_new_string(rootfs));
	json_object_object_add(root, "readonly", json_object_new_boolean(true));
	for (unsigned i = 0; i < n; i++) {
		char b[512], cg[64];
		snprintf(b, sizeof(b), "%s/dens-%u/config.json", dir, i);
		snprintf(cg, sizeof(cg), "/" PARENT "/dens-%u", i);
		json_object_object_add(linux_, "cgroupsPath", json_object_new_string(cg));
		const char *s = json_to_string(spec);
		*strrchr(b, '/') = '\0';
		if ((r = mkdir_p_at(AT_FDCWD, b, 0755)) < 0)
			return log_error_errno(r, "mkdir '%s': %m", b);
		strcat(b, "/config.json");
		if ((r = write_file_atomic_at(AT_FDCWD, b, s, strlen(s), 0644, false)) < 0)
			return log_error_errno(r, "write '%s': %m", b);
	}
	return 0;
}

static double parent_memory_kib(void)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;

	/* cgroup v1 (hybrid hosts), else cgroup2 */
	if (read_file_at(AT_FDCWD, "/sys/fs/cgroup/memory/" PARENT "/memory.usage_in_bytes", 64,
			 &buf, &len) < 0 &&
	    read_file_at(AT_FDCWD, "/sys/fs/cgroup/" PARENT "/memory.current", 64, &buf, &len) < 0)
		return -1;
	return strtod(buf, NULL) / 1024;
}

static void remove_parents(void)
{
	static const char *const ctl[] = {
	    "blkio",	"cpu",	      "cpuacct", "cpuset",  "devices",	   "freezer",
	    "memory",	"pids",	      "systemd", "unified", "cpu,cpuacct", "net_cls",
	    "net_prio", "perf_event", "hugetlb", "rdma",    "misc"};
	for (size_t i = 0; i < ELEMENTSOF(ctl); i++) {
		char p[128];
		snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/" PARENT, ctl[i]);
		(void)rmdir(p);
	}
	(void)rmdir("/sys/fs/cgroup/" PARENT);
}

/* CMD ("run" or "delete") of containers 0..N-1, K at a time; returns the failures. */
static int fan_out(const char *rt, const char *root, const char *dir, const char *cmd, unsigned n,
		   unsigned k)
{
	unsigned next = 0, running = 0;
	int failed = 0;

	while (next < n || running > 0) {
		/* starts stop on a signal; deletes go on, to leave nothing behind */
		while (running < k && next < n && (!bench_interrupted || strcmp(cmd, "run") != 0)) {
			char id[32], bundle[512];
			snprintf(id, sizeof(id), "dens-%u", next);
			snprintf(bundle, sizeof(bundle), "%s/dens-%u", dir, next++);
			pid_t pid = fork();
			if (pid < 0)
				return -errno;
			if (pid == 0) {
				int null = open("/dev/null", O_RDWR | O_CLOEXEC);
				dup2(null, 0);
				dup2(null, 1);
				if (!getenv("BENCH_VERBOSE"))
					dup2(null, 2);
				if (strcmp(cmd, "run") == 0)
					execlp(rt, rt, "--root", root, "run", "-d", "--bundle",
					       bundle, id, NULL);
				else
					execlp(rt, rt, "--root", root, "delete", "--force", id,
					       NULL);
				_exit(127);
			}
			running++;
		}
		int st;
		if (running == 0)
			break;
		if (wait(&st) < 0)
			return -errno;
		running--;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	return failed;
}

static int one(const char *dir, const char *name, const char *rt, unsigned n, unsigned k,
	       double *ret_ms, double *ret_kib, double *ret_cg_kib)
{
	_cleanup_free_ char *root = NULL;
	int failed, r = 0;

	if (asprintf(&root, "%s/state-density-%s", dir, name) < 0)
		return -ENOMEM;
	sync();
	usleep(500000);
	unsigned long long before = 0, after = 0;
	(void)mem_available_kib(&before);
	double t0 = bench_now_ms();
	failed = fan_out(rt, root, dir, "run", n, k);
	*ret_ms = bench_now_ms() - t0;
	usleep(500000);
	(void)mem_available_kib(&after);
	*ret_kib = ((double)before - (double)after) / n;
	*ret_cg_kib = parent_memory_kib() / n;
	if (bench_interrupted)
		r = -EINTR;
	else if (failed != 0)
		r = log_error_errno(failed < 0 ? failed : -EIO,
				    "%s: %d of %u starts failed (BENCH_VERBOSE=1 tells why)", name,
				    failed < 0 ? (int)n : failed, n);
	int del = fan_out(rt, root, dir, "delete", n, k);
	remove_parents();
	if (del != 0 && r >= 0)
		r = log_error_errno(-EIO, "%s: %d deletes failed", name, del);
	return r;
}

int bench_density(const struct bench_opts *o, struct json_object *results)
{
	_cleanup_free_ char *dir = NULL, *bundle = NULL, *rootfs = NULL;
	const char *names[] = {"brisk", "runc", "crun"}, *bins[] = {o->brisk, "runc", "crun"};
	static const char *const args[] = {"/bin/sleep", "3600", NULL};
	unsigned inflight[8];
	size_t ninflight;
	unsigned runs = bench_runs(o, "density", 1);
	bool hid;
	int r;

	if ((r = bench_parse_list(o->inflight, inflight, ELEMENTSOF(inflight), &ninflight)) < 0)
		return r;
	if ((r = bench_private_mount_ns(&hid)) < 0)
		return log_error_errno(r, "private mount namespace: %m");
	if ((r = bench_make_bundle(o, &dir, &bundle, &rootfs)) < 0)
		return r;
	if ((r = bench_bundle_set_args(bundle, args)) < 0 ||
	    (r = make_bundles(dir, bundle, rootfs, o->density)) < 0)
		goto out;
	fprintf(stderr, "density: %u containers, %s in flight, %u run(s) per system\n", o->density,
		o->inflight, runs);
	for (size_t f = 0; f < ninflight && r >= 0; f++) {
		char scenario[64];
		snprintf(scenario, sizeof(scenario), "%u containers, %u in flight", o->density,
			 inflight[f]);
		for (size_t s = 0; s < ELEMENTSOF(names) && r >= 0; s++) {
			double ms[BENCH_MAX_RUNS], kib[BENCH_MAX_RUNS], cg[BENCH_MAX_RUNS];
			if (s > 0 && !bench_have(bins[s]))
				continue;
			for (unsigned i = 0; i < runs && r >= 0; i++) {
				bench_progress("density: %s, %s, run %u/%u", scenario, names[s],
					       i + 1, runs);
				r = one(dir, names[s], bins[s], o->density, inflight[f], &ms[i],
					&kib[i], &cg[i]);
			}
			if (r < 0)
				break;
			double kib_med = bench_median(kib, runs, NULL, NULL);
			double cg_med = bench_median(cg, runs, NULL, NULL);
			struct json_object *e = bench_result(results, "density", scenario, names[s],
							     ms, runs, s == 0, false);
			double wall = 0;
			struct json_object *v;
			if (json_object_object_get_ex(e, "wall_ms_median", &v))
				wall = json_object_get_double(v);
			bench_result_add_double(e, "containers_per_s",
						wall > 0 ? o->density * 1000.0 / wall : 0);
			bench_result_add_double(e, "memavailable_kib_per_container", kib_med);
			bench_result_add_double(e, "cgroup_kib_per_container", cg_med);
		}
	}
	fprintf(stderr, "\n");
	if (r >= 0)
		bench_print_table(results, "density");
out:
	if (!o->keep)
		(void)rm_rf_at(AT_FDCWD, dir);
	return r;
}
