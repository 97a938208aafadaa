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

struct sample {
	double wall_ms, cpu_ms;
	long rss_kb;
};

struct series {
	const char *system;
	const char *scenario;
	struct sample *v;
	size_t n;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Run ARGV with stdio to /dev/null; adds its wall, CPU and peak RSS to *S. */
static int run_cmd(char *const argv[], struct sample *s)
{
	struct rusage ru;
	int status;
	double t0 = now_ms();
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		dup2(null, 0);
		dup2(null, 1);
		if (!getenv("BENCH_VERBOSE"))
			dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		return -errno;
	s->wall_ms += now_ms() - t0;
	s->cpu_ms += ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
		     ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
	if (ru.ru_maxrss > s->rss_kb)
		s->rss_kb = ru.ru_maxrss;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -EIO;
	return 0;
}

/* The floor: the namespaces of the bundle, chroot into its rootfs, exec /bin/true. */
static int run_floor(const char *rootfs, struct sample *s)
{
	struct rusage ru;
	int status;
	double t0 = now_ms();
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
	s->wall_ms += now_ms() - t0;
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
		   unsigned idx, struct sample *s)
{
	char id[64];

	memset(s, 0, sizeof(*s));
	if (!rt->binary)
		return run_floor(rootfs, s);
	snprintf(id, sizeof(id), "bench-%s-%u", rt->name, idx);
	if (!lifecycle) {
		char *argv[] = {(char *)rt->binary, (char *)"--root", rt->root, (char *)"run",
				(char *)"--bundle", (char *)bundle,   id,	NULL};
		return run_cmd(argv, s);
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
	int r = run_cmd(create, s);
	if (r >= 0)
		r = run_cmd(start, s);
	int k = run_cmd(del, s);
	return r < 0 ? r : k;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
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
	qsort(v, se->n, sizeof(double), cmp_double);
	if (ret_min)
		*ret_min = v[0];
	if (ret_max)
		*ret_max = v[se->n - 1];
	return se->n % 2 ? v[se->n / 2] : (v[se->n / 2 - 1] + v[se->n / 2]) / 2;
}

/* Hide the cgroup2 mount of hybrid hosts from crun 1.8 (and, for fairness, from all). */
static int private_mount_ns(bool *ret_hid)
{
	*ret_hid = false;
	if (unshare(CLONE_NEWNS) < 0)
		return -errno;
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return -errno;
	if (access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0 &&
	    umount2("/sys/fs/cgroup/unified", MNT_DETACH) == 0)
		*ret_hid = true;
	return 0;
}

int bench_runtime(const struct bench_opts *o)
{
	_cleanup_free_ char *dir = NULL, *bundle = NULL, *rootfs = NULL;
	struct runtime rts[] = {
	    {"brisk", o->brisk},
	    {"runc", "runc"},
	    {"crun", "crun"},
	    {"floor", NULL},
	};
	const size_t nrt = ELEMENTSOF(rts);
	struct series series[2][ELEMENTSOF(rts)];
	_cleanup_json_ struct json_object *out = NULL;
	bool hid;
	int r;

	if ((r = private_mount_ns(&hid)) < 0)
		return log_error_errno(r, "private mount namespace: %m");
	if ((r = bench_make_bundle(o, &dir, &bundle, &rootfs)) < 0)
		return r;
	for (size_t i = 0; i < nrt; i++) {
		snprintf(rts[i].root, sizeof(rts[i].root), "%s/state-%s", dir, rts[i].name);
		if (rts[i].binary && strcmp(rts[i].name, "brisk") != 0) {
			char *ver[] = {(char *)rts[i].binary, (char *)"--version", NULL};
			struct sample s = {0};
			if (run_cmd(ver, &s) < 0) {
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
					    .v = calloc(o->runs, sizeof(struct sample))};
			if (!series[sc][i].v)
				return -ENOMEM;
		}
	fprintf(stderr, "runtime: %u warm-up + %u interleaved runs of /bin/true per system%s\n",
		o->warmup, o->runs, hid ? " (cgroup2 mount hidden for crun)" : "");
	unsigned idx = 0;
	for (unsigned it = 0; it < o->warmup + o->runs; it++) {
		for (int sc = 0; sc < 2; sc++)
			for (size_t k = 0; k < nrt; k++) {
				/* rotate the order so no system always runs first */
				size_t i = (k + it) % nrt;
				struct sample s;
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
		fprintf(stderr, "\r  %u/%u", it + 1, o->warmup + o->runs);
	}
	fprintf(stderr, "\n");

	double base[2] = {0};
	for (int sc = 0; sc < 2; sc++)
		base[sc] = median_of(&series[sc][0], 0, NULL, NULL);
	printf("| scenario | system | wall median (ms) | min | max | CPU median (ms) | peak RSS "
	       "(KiB) | wall vs brisk |\n");
	printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
	out = json_object_new_array();
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
			struct json_object *e = json_object_new_object();
			json_object_object_add(e, "scenario", json_object_new_string(se->scenario));
			json_object_object_add(e, "system", json_object_new_string(se->system));
			json_object_object_add(e, "runs", json_object_new_int((int)se->n));
			json_object_object_add(e, "wall_ms_median", json_object_new_double(wall));
			json_object_object_add(e, "wall_ms_min", json_object_new_double(mn));
			json_object_object_add(e, "wall_ms_max", json_object_new_double(mx));
			json_object_object_add(e, "cpu_ms_median", json_object_new_double(cpu));
			json_object_object_add(e, "peak_rss_kib_median",
					       json_object_new_double(rss));
			json_object_array_add(out, e);
		}
	if (o->json_path) {
		const char *s = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY);
		if ((r = write_file_atomic_at(AT_FDCWD, o->json_path, s, strlen(s), 0644, false)) <
		    0)
			log_error_errno(r, "write '%s': %m", o->json_path);
	}
	r = 0;
out:
	for (int sc = 0; sc < 2; sc++)
		for (size_t i = 0; i < nrt; i++)
			free(series[sc][i].v);
	if (!o->keep)
		(void)rm_rf_at(AT_FDCWD, dir);
	return r;
}
