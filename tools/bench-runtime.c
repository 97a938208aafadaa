/* SPDX-License-Identifier: Apache-2.0 */
/*
 * brisk-bench runtime: container start cost of brisk, runc and crun on one busybox bundle,
 * against the floor (the same namespaces + chroot + exec with no runtime at all).
 * Runs are interleaved (A B C D A B C D ...) after a warm-up, so the machine's drift hits
 * every system alike. crun 1.8 refuses hybrid cgroup hosts, so the benchmark runs in a
 * private mount namespace without the cgroup2 mount, for every system.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "bench.h"

struct series {
	const char *system;
	const char *scenario;
	struct bench_sample *v;
	size_t n;
};

/* The floor: the namespaces of the bundle, chroot into its rootfs, exec /bin/true. */
static int run_floor(const char *rootfs, struct bench_sample *s)
{
	struct rusage ru;
	int status;
	double t0 = bench_now_ms();
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
			    CLONE_NEWUTS | CLONE_NEWCGROUP) < 0)
			_exit(126);
		pid_t c = fork();
		if (c == 0) {
			if (chroot(rootfs) < 0 || chdir("/") < 0)
				_exit(126);
			execl("/bin/true", "true", NULL);
			_exit(127);
		}
		int st;
		waitpid(c, &st, 0);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		return -errno;
	s->wall_ms += bench_now_ms() - t0;
	s->cpu_ms += ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
		     ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
	s->rss_kb = ru.ru_maxrss;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

struct runtime {
	const char *name;
	const char *binary;
	char root[256];
};

static int one_run(struct runtime *rt, const char *bundle, const char *rootfs, bool lifecycle,
		   unsigned idx, struct bench_sample *s)
{
	char id[64];

	memset(s, 0, sizeof(*s));
	if (!rt->binary)
		return run_floor(rootfs, s);
	snprintf(id, sizeof(id), "bench-%s-%u", rt->name, idx);
	if (!lifecycle) {
		char *argv[] = {(char *)rt->binary, (char *)"--root", rt->root, (char *)"run",
				(char *)"--bundle", (char *)bundle,   id,	NULL};
		return bench_run(argv, s);
	}
	char *create[] = {(char *)rt->binary, (char *)"--root", rt->root, (char *)"create",
			  (char *)"--bundle", (char *)bundle,	id,	  NULL};
	char *start[] = {(char *)rt->binary, (char *)"--root", rt->root, (char *)"start", id, NULL};
	char *del[] = {(char *)rt->binary,
		       (char *)"--root",
		       rt->root,
		       (char *)"delete",
		       (char *)"--force",
		       id,
		       NULL};
	int r = bench_run(create, s);
	if (r >= 0)
		r = bench_run(start, s);
	int k = bench_run(del, s);
	return r < 0 ? r : k;
}

static double median_of(const struct series *se, int field, double *ret_min, double *ret_max)
{
	_cleanup_free_ double *v = calloc(se->n ? se->n : 1, sizeof(double));

	if (!v || !se->n)
		return 0;
	for (size_t i = 0; i < se->n; i++)
		v[i] = field == 0   ? se->v[i].wall_ms
		       : field == 1 ? se->v[i].cpu_ms
				    : (double)se->v[i].rss_kb;
	return bench_median(v, se->n, ret_min, ret_max);
}

int bench_runtime(const struct bench_opts *o, struct json_object *results)
{
	_cleanup_free_ char *dir = NULL, *bundle = NULL, *rootfs = NULL;
	struct runtime rts[] = {
	    {"brisk", o->brisk},
	    {"runc", "runc"},
	    {"crun", "crun"},
	    {"floor", NULL},
	};
	const size_t nrt = ELEMENTSOF(rts);
	struct series series[2][ELEMENTSOF(rts)] = {0};
	unsigned runs = o->runs ? o->runs : 20;
	bool hid;
	int r;

	if ((r = bench_private_mount_ns(&hid)) < 0)
		return log_error_errno(r, "private mount namespace: %m");
	if ((r = bench_make_bundle(o, &dir, &bundle, &rootfs)) < 0)
		return r;
	for (size_t i = 0; i < nrt; i++) {
		snprintf(rts[i].root, sizeof(rts[i].root), "%s/state-%s", dir, rts[i].name);
		if (rts[i].binary && strcmp(rts[i].name, "brisk") != 0) {
			char *ver[] = {(char *)rts[i].binary, (char *)"--version", NULL};
			if (bench_run(ver, NULL) < 0) {
				log_warning("%s is not installed: left out", rts[i].binary);
				rts[i].binary = "";
			}
		}
	}
	for (int sc = 0; sc < 2; sc++)
		for (size_t i = 0; i < nrt; i++) {
			series[sc][i] =
			    (struct series){.system = rts[i].name,
					    .scenario = sc ? "create+start+delete" : "run",
					    .v = calloc(runs, sizeof(struct bench_sample))};
			if (!series[sc][i].v)
				return -ENOMEM;
		}
	fprintf(stderr, "runtime: %u warm-up + %u interleaved runs of /bin/true per system%s\n",
		o->warmup, runs, hid ? " (cgroup2 mount hidden for crun)" : "");
	unsigned idx = 0;
	for (unsigned it = 0; it < o->warmup + runs; it++) {
		for (int sc = 0; sc < 2; sc++)
			for (size_t k = 0; k < nrt; k++) {
				/* rotate the order so no system always runs first */
				size_t i = (k + it) % nrt;
				struct bench_sample s;
				if (rts[i].binary && !*rts[i].binary)
					continue;
				if (sc == 1 && !rts[i].binary)
					continue;
				r = one_run(&rts[i], bundle, rootfs, sc == 1, idx++, &s);
				if (r < 0) {
					log_error_errno(
					    r, "%s %s failed (set BENCH_VERBOSE=1 to see why)",
					    rts[i].name, sc ? "create+start+delete" : "run");
					goto out;
				}
				if (it >= o->warmup)
					series[sc][i].v[series[sc][i].n++] = s;
			}
		bench_progress("runtime: %u/%u", it + 1, o->warmup + runs);
	}
	fprintf(stderr, "\n");

	double base[2] = {0};
	for (int sc = 0; sc < 2; sc++)
		base[sc] = median_of(&series[sc][0], 0, NULL, NULL);
	printf("| scenario | system | wall median (ms) | min | max | CPU median (ms) | peak RSS "
	       "(KiB) | wall vs brisk |\n");
	printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
	for (int sc = 0; sc < 2; sc++)
		for (size_t i = 0; i < nrt; i++) {
			struct series *se = &series[sc][i];
			double mn, mx;
			if (!se->n)
				continue;
			double wall = median_of(se, 0, &mn, &mx),
			       cpu = median_of(se, 1, NULL, NULL);
			double rss = median_of(se, 2, NULL, NULL);
			printf("| %s | %s | %.1f | %.1f | %.1f | %.1f | %.0f | %.2fx |\n",
			       se->scenario, se->system, wall, mn, mx, cpu, rss,
			       base[sc] > 0 ? wall / base[sc] : 0);
			_cleanup_free_ double *walls = calloc(se->n, sizeof(double));
			if (!walls) {
				r = -ENOMEM;
				goto out;
			}
			for (size_t k = 0; k < se->n; k++)
				walls[k] = se->v[k].wall_ms;
			struct json_object *e =
			    bench_result(results, "runtime", se->scenario, se->system, walls, se->n,
					 i == 0, sc == 0);
			bench_result_add_double(e, "cpu_ms_median", cpu);
			bench_result_add_double(e, "peak_rss_kib_median", rss);
		}
	fflush(stdout);
	r = 0;
out:
	for (int sc = 0; sc < 2; sc++)
		for (size_t i = 0; i < nrt; i++)
			free(series[sc][i].v);
	if (!o->keep)
		(void)rm_rf_at(AT_FDCWD, dir);
	return r;
}
