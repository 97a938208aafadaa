/* SPDX-License-Identifier: Apache-2.0 */
/*
 * brisk-bench image: time to ready of a container started from a generated ML-like image
 * (tests/bench/mlimage.py: busybox, a site-packages tree, two weight files; /app/start.sh reads
 * what a start-up reads and prints "ready"), served by Debian's docker-registry on 127.0.0.1
 * behind the project's latency/bandwidth proxy (tools/bench-netproxy.c), per link profile:
 *   full pull + unpack + run: skopeo copy + umoci unpack + brisk run; containerd's
 *     `ctr images pull` + `ctr run` (its own private daemon) when containerd is installed
 *   containerd with brisk-snapshotter as its proxy snapshotter: the brisk image pulled over
 *     CRI (the kubelet's path: the unpacker's Prepare mounts it lazily, no layer is fetched; a
 *     client that stays, as the kubelet does, so python's start is not timed) then
 *     `ctr run --snapshotter brisk --runc-binary brisk`, the daemon's chunk cache emptied
 *   brisk lazy cold (no prefetch), lazy + prefetch of the recorded profile, warm chunk cache
 *   the native disk (page cache dropped, and warm)
 * and sequential reads of a weight file, through the mount (warm chunk cache) vs native disk.
 * Page caches are dropped before every cold figure. Runs are interleaved per link.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/mountinfo.h"
#include "common/json.h"
#include "common/log.h"
#include "bench.h"

enum {
	SYS_FULL,
	SYS_CTR,
	SYS_SNAP,
	SYS_COLD,
	SYS_PREFETCH,
	SYS_WARM,
	SYS_NATIVE,
	SYS_NATIVE_WARM,
	NSYS,
};

static const char *const sys_name[NSYS] = {
    [SYS_FULL] = "pull+unpack+run (skopeo, umoci)",
    [SYS_CTR] = "pull+run (containerd, runc)",
    [SYS_SNAP] = "containerd + brisk snapshotter, lazy + prefetch",
    [SYS_COLD] = "brisk lazy, cold",
    [SYS_PREFETCH] = "brisk lazy + prefetch",
    [SYS_WARM] = "brisk lazy, warm chunk cache",
    [SYS_NATIVE] = "native disk, cold page cache",
    [SYS_NATIVE_WARM] = "native disk, warm page cache",
};

struct image_ctx {
	const struct bench_opts *o;
	char w[64]; /* work dir */
	pid_t registry, containerd, snapshotter, cri;
	int cri_in, cri_out; /* the CRI client's requests (a fifo) and answers */
	int port;
	bool ctr;
	bool snap; /* brisk-snapshotter is containerd's proxy snapshotter "brisk" */
	char ctr_sock[128];
	const char *oci;    /* the OCI image layout (tag "latest") */
	const char *app[4]; /* what runs in the container and prints "ready" */
};

static char *wpath(const struct image_ctx *c, const char *rel)
{
	return path_join(c->w, rel);
}

/* A bundle running /app/start.sh: on ROOTFS, or on the lazy image of STORE (cached in CACHE). */
static int make_bundle(const struct image_ctx *c, const char *name, const char *rootfs,
		       const char *store, const char *cache, bool prefetch)
{
	_cleanup_free_ char *b = wpath(c, name);
	const struct bench_bundle bb = {.args = (char *const *)c->app,
					.rootfs = rootfs,
					.store = store,
					.cache = cache,
					.prefetch = prefetch};

	return b ? bench_write_bundle(c->o->brisk, b, &bb) : -ENOMEM;
}

/* brisk run of bundle NAME to completion; the container must print "ready". *RET_MS: until it
 * did (time to ready: the teardown after it is left out, for every system alike). */
static int run_ready(const struct image_ctx *c, const char *name, const char *id, double *ret_ms)
{
	_cleanup_free_ char *b = wpath(c, name), *state = wpath(c, "state");
	char *argv[] = {(char *)c->o->brisk,
			(char *)"--root",
			state,
			(char *)"run",
			(char *)"--bundle",
			b,
			(char *)id,
			NULL};
	char line[64];
	int r = bench_run_to_line(argv, 600000, line, sizeof(line), ret_ms);

	if (r < 0 || strcmp(line, "ready") != 0)
		return log_error_errno(r < 0 ? r : -EIO, "container '%s' said '%s' (exit: %s)", id,
				       line, r < 0 ? "failed" : "0");
	return 0;
}

static int run_ctr(const struct image_ctx *c, const char *ref, const char *id, double *ret_ms)
{
	char *pull[] = {(char *)"ctr",	       (char *)"--address",
			(char *)c->ctr_sock,   (char *)"-n",
			(char *)"brisk-bench", (char *)"images",
			(char *)"pull",	       (char *)"--plain-http",
			(char *)ref,	       NULL};
	char *run[16] = {(char *)"ctr",	 (char *)"--address",	(char *)c->ctr_sock,
			 (char *)"-n",	 (char *)"brisk-bench", (char *)"run",
			 (char *)"--rm", (char *)ref,		(char *)id};
	for (size_t i = 0; c->app[i]; i++)
		run[9 + i] = (char *)c->app[i];
	char *rm[] = {(char *)"ctr", (char *)"--address",   (char *)c->ctr_sock,
		      (char *)"-n",  (char *)"brisk-bench", (char *)"images",
		      (char *)"rm",  (char *)"--sync",	    (char *)ref,
		      NULL};
	char line[64] = "";
	double t0 = bench_now_ms(), t = 0;
	int r = bench_run(pull, NULL);

	*ret_ms = bench_now_ms() - t0;
	if (r >= 0)
		r = bench_run_to_line(run, 600000, line, sizeof(line), &t);
	*ret_ms += t; /* pull, then run to ready */
	(void)bench_run(rm, NULL);
	if (r < 0 || strcmp(line, "ready") != 0)
		return log_error_errno(r < 0 ? r : -EIO, "ctr run '%s' said '%s'", ref, line);
	return 0;
}

/* the fuse.brisk mounts under DIR */
static int count_lazy(const struct mountinfo_entry *e, void *userdata)
{
	const char *dir = ((const char **)userdata)[0];
	unsigned *n = ((void **)userdata)[1];

	if (strncmp(e->mount_point, dir, strlen(dir)) == 0 && strcmp(e->fstype, "fuse.brisk") == 0)
		(*n)++;
	return 0;
}

static unsigned lazy_mounts_under(const char *dir)
{
	unsigned n = 0;
	void *arg[2] = {(void *)dir, &n};

	(void)mountinfo_foreach("/proc/self/mountinfo", count_lazy, arg);
	return n;
}

/* ctr in the CRI plugin's namespace, where a CRI pull puts the image: ARGS then NULL */
#define KCTR(c, ...)                                                                     \
	{                                                                                \
		(char *)"ctr", (char *)"--address", (char *)(c)->ctr_sock, (char *)"-n", \
		    (char *)"k8s.io", __VA_ARGS__, NULL                                  \
	}

/* Cold again: every image of the CRI namespace removed, containerd's garbage collector removes
 * their layers from brisk-snapshotter (and it their lazy mounts), then its chunk cache goes. */
static void snap_forget(const struct image_ctx *c)
{
	_cleanup_free_ char *out = NULL, *dir = wpath(c, "snap/root"),
			    *cache = wpath(c, "snap/root/cache");
	char *ls[] = KCTR(c, (char *)"images", (char *)"ls", (char *)"-q");

	if (bench_run_output(ls, &out) == 0 && out)
		for (char *ref = strtok(out, "\n"); ref; ref = strtok(NULL, "\n")) {
			char *rm[] = KCTR(c, (char *)"images", (char *)"rm", (char *)"--sync", ref);
			(void)bench_run(rm, NULL);
		}
	for (int i = 0; i < 100 && lazy_mounts_under(dir) > 0; i++)
		usleep(100000);
	if (lazy_mounts_under(dir) > 0)
		log_warning("brisk-snapshotter kept a lazy mount: the next run is not cold");
	(void)rm_rf_at(AT_FDCWD, cache);
}

/* STATS[KEY_runN] = V: a figure of one run, beside the row */
static void add_run_figure(struct json_object *stats, const char *key, unsigned run, double v)
{
	char k[64];

	snprintf(k, sizeof(k), "%s_run%u", key, run + 1);
	bench_result_add_double(stats, k, v);
}

/*
 * After a timed run, where its time went, timed apart (not counted): a ctr run of 'echo ready'
 * on the image as the timed run left it (what containerd, its shim and brisk add to any start).
 */
static void snap_breakdown(char **run, size_t app_at, unsigned n, struct json_object *stats)
{
	char line[64] = "";
	double t = 0;

	strcat(run[app_at - 1], "-echo");
	run[app_at] = (char *)"/bin/sh";
	run[app_at + 1] = (char *)"-c";
	run[app_at + 2] = (char *)"echo ready";
	run[app_at + 3] = NULL;
	if (bench_run_to_line(run, 60000, line, sizeof(line), &t) == 0 &&
	    strcmp(line, "ready") == 0)
		add_run_figure(stats, "ctr_run_echo_ms", n, t);
}

/* The tests' CRI client (tests/integration/snapshotter/cri.py), started once and kept, as the
 * kubelet is: "pull REF" lines on the fifo W/cri-fifo, an answer line each on c->cri_out. */
static int start_cri_client(struct image_ctx *c)
{
	_cleanup_free_ char *cri = NULL, *fifo = wpath(c, "cri-fifo"), *pb = wpath(c, "cri-pb"),
			    *log = wpath(c, "cri-log");
	char *argv[] = {(char *)"/usr/bin/python3", NULL, c->ctr_sock, (char *)"serve", fifo, NULL};
	int r;

	if (asprintf(&cri, "%s/tests/integration/snapshotter/cri.py", BRISK_SOURCE_DIR) < 0 ||
	    !fifo || !pb || !log)
		return -ENOMEM;
	argv[1] = cri;
	if (mkfifo(fifo, 0600) < 0)
		return log_error_errno(-errno, "mkfifo '%s': %m", fifo);
	setenv("CRI_PB_DIR", pb, 1);
	if ((r = bench_spawn(argv, log, &c->cri_out, &c->cri)) < 0)
		return log_error_errno(r, "start '%s': %m", cri);
	/* its end is open once it has started and connected; ENXIO until then */
	for (int i = 0; i < 300 && c->cri_in < 0; i++) {
		c->cri_in = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (c->cri_in < 0)
			usleep(100000);
	}
	if (c->cri_in < 0)
		return log_error_errno(-ETIMEDOUT, "the CRI client did not start (see '%s')", log);
	if (fcntl(c->cri_in, F_SETFL, 0) < 0)
		return -errno;
	return 0;
}

/* A CRI PullImage of REF by the client that stays; its answer in LINE. */
static int cri_pull(const struct image_ctx *c, const char *ref, char *line, size_t size)
{
	_cleanup_free_ char *req = NULL;
	int r;

	if (asprintf(&req, "pull %s\n", ref) < 0)
		return -ENOMEM;
	if (write(c->cri_in, req, strlen(req)) != (ssize_t)strlen(req))
		return -EIO;
	r = bench_read_line(c->cri_out, line, size, 600000);
	if (r < 0)
		return r;
	return strncmp(line, "ok ", 3) == 0 ? 0 : -EIO;
}

/* The brisk image REF pulled over CRI (as the kubelet pulls: the layers' labels reach
 * brisk-snapshotter, which mounts the image lazily), then run to ready by ctr with brisk as the
 * runtime (the time to ready in *RET_MS); its parts, and where they went, in STATS. */
static int run_snap(const struct image_ctx *c, const char *ref, unsigned n, double *ret_ms,
		    struct json_object *stats)
{
	_cleanup_free_ char *root = wpath(c, "ctd/brisk");
	char id[64];
	char *run[24] = KCTR(c, (char *)"run", (char *)"--rm", (char *)"--snapshotter",
			     (char *)"brisk", (char *)"--runc-binary", (char *)c->o->brisk,
			     (char *)"--runc-root", root, (char *)ref, id);
	size_t app_at = 0, k;
	char line[512] = "";
	double t0, pull_ms, t = 0;
	int r;

	if (!root)
		return -ENOMEM;
	snprintf(id, sizeof(id) - 8, "bench-snap-%d-%u", atoi(strchr(ref, ':') + 1), n);
	while (run[app_at])
		app_at++;
	k = app_at;
	for (size_t i = 0; c->app[i] && k < ELEMENTSOF(run) - 1; i++)
		run[k++] = (char *)c->app[i];
	run[k] = NULL;
	t0 = bench_now_ms();
	r = cri_pull(c, ref, line, sizeof(line));
	pull_ms = bench_now_ms() - t0;
	if (r < 0) {
		snap_forget(c);
		return log_error_errno(r, "CRI pull of '%s' through brisk-snapshotter: '%s'", ref,
				       line);
	}
	r = bench_run_to_line(run, 600000, line, sizeof(line), &t);
	*ret_ms = pull_ms + t;
	add_run_figure(stats, "cri_pull_ms", n, pull_ms);
	add_run_figure(stats, "ctr_run_ms", n, t);
	if (r >= 0 && strcmp(line, "ready") == 0)
		snap_breakdown(run, app_at, n, stats);
	snap_forget(c);
	if (r < 0 || strcmp(line, "ready") != 0)
		return log_error_errno(r < 0 ? r : -EIO,
				       "ctr run of '%s' through brisk-snapshotter said '%s' (see "
				       "%s/snap/log)",
				       ref, line, c->w);
	return 0;
}

/* Fetched bytes and FUSE requests of the last lazy mount (written when its daemon exits). */
static void lazy_stats(const struct image_ctx *c, double since_s, struct json_object *into)
{
	_cleanup_free_ char *glob_dir = wpath(c, "lazy/images");
	for (int tries = 0; tries < 30; tries++) {
		_cleanup_free_ char *out = NULL;
		char *argv[] = {
		    (char *)"find", glob_dir, (char *)"-name", (char *)"stats", (char *)"-newermt",
		    NULL,	    NULL};
		char since[64];
		snprintf(since, sizeof(since), "@%.3f", since_s);
		argv[5] = since;
		if (bench_run_output(argv, &out) == 0 && out && *out) {
			char *nl = strchr(out, '\n');
			if (nl)
				*nl = '\0';
			_cleanup_json_ struct json_object *st = NULL;
			struct json_object *v, *req;
			if (json_parse_file_at(AT_FDCWD, out, &st) < 0)
				return;
			if (json_object_object_get_ex(st, "fetched_bytes", &v))
				bench_result_add_double(into, "fetched_mib",
							json_object_get_double(v) / 1048576);
			if (json_object_object_get_ex(st, "range_reads", &v))
				bench_result_add_double(into, "range_reads",
							json_object_get_double(v));
			if (json_object_object_get_ex(st, "wait_ms", &v))
				bench_result_add_double(into, "wait_ms", json_object_get_double(v));
			if (json_get_object(st, "requests", &req) == 0 &&
			    json_object_object_get_ex(req, "total", &v))
				bench_result_add_double(into, "fuse_requests",
							json_object_get_double(v));
			return;
		}
		usleep(100000);
	}
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* brisk-snapshotter of this build: BUILD/snapshotter beside BUILD/imagefs; NULL if not built */
static char *snapshotter_path(void)
{
	_cleanup_free_ char *build = strdup(BRISK_IMAGEFS_PATH);
	char *slash, *p;

	if (!build || !(slash = strrchr(build, '/')))
		return NULL;
	*slash = '\0';
	if (!(slash = strrchr(build, '/')))
		return NULL;
	*slash = '\0';
	p = path_join(build, "snapshotter/brisk-snapshotter");
	if (p && access(p, X_OK) < 0) {
		free(p);
		p = NULL;
	}
	return p;
}

/* brisk-snapshotter on W/snap/sock (its root W/snap), before containerd dials it */
static int start_snapshotter(struct image_ctx *c, const char *bin)
{
	_cleanup_free_ char *d = wpath(c, "snap"), *root = path_join(d, "root"),
			    *sock = path_join(d, "sock"), *log = path_join(d, "log");
	char *argv[] = {
	    (char *)bin,	 (char *)"--root",	     root, (char *)"--address", sock,
	    (char *)"--imagefs", (char *)BRISK_IMAGEFS_PATH, NULL};
	int r;

	if (!d || !root || !sock || !log)
		return -ENOMEM;
	if ((r = mkdir_p_at(AT_FDCWD, d, 0700)) < 0 ||
	    (r = bench_spawn(argv, log, NULL, &c->snapshotter)) < 0)
		return log_error_errno(r, "start '%s': %m", bin);
	for (int i = 0; i < 100; i++) {
		if (access(sock, F_OK) == 0)
			return 0;
		usleep(100000);
	}
	return log_error_errno(-ETIMEDOUT, "brisk-snapshotter does not answer (see '%s')", log);
}

/* With brisk-snapshotter: the proxy plugin "brisk" and CRI on, pulling through it with the
 * labels it needs; CRI reaches the registry over plain http (W/ctd/certs.d, per link). */
static char *snap_config(const struct image_ctx *c, const char *d)
{
	char *text;

	if (asprintf(&text,
		     "[plugins.\"io.containerd.grpc.v1.cri\"]\n"
		     "  disable_apparmor = true\n  restrict_oom_score_adj = true\n"
		     "  [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
		     "    snapshotter = \"brisk\"\n    disable_snapshot_annotations = false\n"
		     "  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
		     "    bin_dir = \"%s/cni\"\n    conf_dir = \"%s/cni\"\n"
		     "  [plugins.\"io.containerd.grpc.v1.cri\".registry]\n"
		     "    config_path = \"%s/certs.d\"\n"
		     "[proxy_plugins.brisk]\n  type = \"snapshot\"\n  address = \"%s/snap/sock\"\n",
		     d, d, d, c->w) < 0)
		return NULL;
	return text;
}

static int start_containerd(struct image_ctx *c)
{
	_cleanup_free_ char *d = wpath(c, "ctd"), *snap = NULL;

	if (!d || (c->snap && !(snap = snap_config(c, d))))
		return -ENOMEM;
	/* CRI on only when brisk-snapshotter's row pulls through it */
	struct bench_containerd_opts opts = {.cri = c->snap, .extra = snap};
	return bench_start_containerd(d, &opts, c->ctr_sock, sizeof(c->ctr_sock), &c->containerd);
}

/* Record the start-up's access profile once on the local store and push it beside the image. */
static int record_profile(const struct image_ctx *c)
{
	_cleanup_free_ char *store = NULL, *ref = NULL, *work = wpath(c, "rec");

	if (!work || asprintf(&store, "dir:%s/store", c->w) < 0 ||
	    asprintf(&ref, "registry:127.0.0.1:%d/bench/ml:v1", c->port) < 0)
		return -ENOMEM;
	/* the app runs in brisk-bench's own environment */
	return bench_record_profile(store, "v1", ref, work, (char *const *)c->app, environ);
}

static int setup(struct image_ctx *c)
{
	const struct bench_opts *o = c->o;
	_cleanup_free_ char *gen = NULL, *src = NULL, *dst = NULL, *reg = NULL, *ocidst = NULL,
			    *unp = wpath(c, "unpacked"), *ocisrc = NULL, *size = NULL,
			    *rootfs = NULL;
	const char *oci = c->oci;
	int r;

	if (asprintf(&gen, "%s/tests/bench/mlimage.py", BRISK_SOURCE_DIR) < 0 ||
	    asprintf(&size, "%u", o->image_mb) < 0 || asprintf(&src, "oci:%s", oci) < 0 ||
	    asprintf(&dst, "dir:%s/store:v1", c->w) < 0 ||
	    asprintf(&reg, "registry:127.0.0.1:%d/bench/ml:v1", c->port) < 0 ||
	    asprintf(&ocisrc, "oci:%s:latest", oci) < 0 ||
	    asprintf(&ocidst, "docker://127.0.0.1:%d/bench/ml-oci:v1", c->port) < 0 ||
	    asprintf(&rootfs, "%s/rootfs", unp) < 0)
		return -ENOMEM;
	char *gen_argv[] = {(char *)"python3", gen, size, (char *)oci, NULL};
	char *conv_argv[] = {
	    (char *)BRISK_IMAGE_PATH, (char *)"convert", (char *)"--no-progress", src, dst, NULL};
	char *push_argv[] = {(char *)BRISK_IMAGE_PATH, (char *)"push", dst, reg, NULL};
	char *copy_argv[] = {
	    (char *)"skopeo", (char *)"copy", (char *)"-q", (char *)"--dest-tls-verify=false",
	    ocisrc,	      ocidst,	      NULL};
	char *unpack_argv[] = {(char *)"umoci",
			       (char *)"unpack",
			       (char *)"--image",
			       ocisrc + strlen("oci:"),
			       unp,
			       NULL};

	if (!o->image_oci) {
		bench_progress("image: generating a %u MB ML-like image", o->image_mb);
		if ((r = bench_run(gen_argv, NULL)) < 0)
			return log_error_errno(r, "'%s' failed", gen);
	}
	bench_progress("image: converting and pushing it");
	if ((r = bench_run(conv_argv, NULL)) < 0 || (r = bench_run(push_argv, NULL)) < 0 ||
	    (r = bench_run(copy_argv, NULL)) < 0 || (r = bench_run(unpack_argv, NULL)) < 0)
		return log_error_errno(r, "preparing the image failed (BENCH_VERBOSE=1 tells why)");
	if ((r = make_bundle(c, "b-native", rootfs, NULL, NULL, false)) < 0)
		return r;
	free(rootfs);
	if (asprintf(&rootfs, "%s/pulled-unpacked/rootfs", c->w) < 0)
		return -ENOMEM;
	if ((r = make_bundle(c, "b-full", rootfs, NULL, NULL, false)) < 0)
		return r;
	bench_progress("image: recording the start-up's access profile");
	return record_profile(c);
}

/* One interleaved round on one link: every system once. */
static int one_round(struct image_ctx *c, int pport, unsigned run, double *ms,
		     struct json_object **stats)
{
	_cleanup_free_ char *pulled = wpath(c, "pulled"), *punp = wpath(c, "pulled-unpacked"),
			    *src = NULL, *dst = NULL, *store = NULL, *ctr_ref = NULL;
	char id[64];
	int r;

	if (asprintf(&src, "docker://127.0.0.1:%d/bench/ml-oci:v1", pport) < 0 ||
	    asprintf(&dst, "oci:%s:v1", pulled) < 0 ||
	    asprintf(&store, "registry:127.0.0.1:%d/bench/ml", pport) < 0 ||
	    asprintf(&ctr_ref, "127.0.0.1:%d/bench/ml-oci:v1", pport) < 0)
		return -ENOMEM;
	char *copy_argv[] = {(char *)"skopeo",
			     (char *)"copy",
			     (char *)"-q",
			     (char *)"--src-tls-verify=false",
			     src,
			     dst,
			     NULL};
	char *unpack_argv[] = {
	    (char *)"umoci", (char *)"unpack", (char *)"--image", dst + strlen("oci:"), punp, NULL};

	/* full pull + unpack + run */
	if (c->o->pull) {
		(void)rm_rf_at(AT_FDCWD, pulled);
		(void)rm_rf_at(AT_FDCWD, punp);
		bench_drop_caches();
		double t0 = bench_now_ms(), t;
		if ((r = bench_run(copy_argv, NULL)) < 0 || (r = bench_run(unpack_argv, NULL)) < 0)
			return log_error_errno(r, "skopeo copy or umoci unpack from '%s' failed",
					       src);
		snprintf(id, sizeof(id), "bench-full-%u", run);
		double pulled_ms = bench_now_ms() - t0;
		if ((r = run_ready(c, "b-full", id, &t)) < 0)
			return r;
		ms[SYS_FULL] = pulled_ms + t;
	}

	if (c->ctr) {
		bench_drop_caches();
		snprintf(id, sizeof(id), "bench-ctr-%d-%u", pport, run);
		if ((r = run_ctr(c, ctr_ref, id, &ms[SYS_CTR])) < 0)
			return r;
	}

	if (c->snap) {
		_cleanup_free_ char *ref = NULL;
		if (asprintf(&ref, "127.0.0.1:%d/bench/ml:ctr", pport) < 0)
			return -ENOMEM;
		bench_drop_caches();
		if ((r = run_snap(c, ref, run, &ms[SYS_SNAP], stats[SYS_SNAP])) < 0)
			return r;
	}

	/* lazy: cold (no prefetch), then with prefetch, then warm (the prefetch run's cache) */
	for (int s = SYS_COLD; s <= SYS_WARM; s++) {
		_cleanup_free_ char *cache = wpath(c, s == SYS_COLD ? "cache-cold" : "cache-pf");
		const char *b = s == SYS_COLD ? "b-cold" : "b-pf";
		if (s != SYS_WARM) {
			_cleanup_free_ char *bd = wpath(c, b);
			(void)rm_rf_at(AT_FDCWD, cache);
			(void)rm_rf_at(AT_FDCWD, bd);
			if ((r = make_bundle(c, b, NULL, store, cache, s == SYS_PREFETCH)) < 0)
				return r;
		}
		bench_drop_caches();
		double since = wall_s() - 0.01;
		snprintf(id, sizeof(id), "bench-lazy-%d-%u", s, run);
		if ((r = run_ready(c, b, id, &ms[s])) < 0)
			return r;
		lazy_stats(c, since, stats[s]);
	}

	bench_drop_caches();
	snprintf(id, sizeof(id), "bench-native-%u", run);
	if ((r = run_ready(c, "b-native", id, &ms[SYS_NATIVE])) < 0)
		return r;
	snprintf(id, sizeof(id), "bench-native-warm-%u", run);
	return run_ready(c, "b-native", id, &ms[SYS_NATIVE_WARM]);
}

/*
 * For the snapshotter's row on the link of PPORT: CRI reaches the registry there over plain
 * http, and the brisk image is pushed through it as bench/ml:ctr, so that the store its layers'
 * labels name (the push's) is the link's: the lazy mount fetches through the proxy too.
 */
static int snap_link(const struct image_ctx *c, int pport)
{
	_cleanup_free_ char *dir = NULL, *hosts = NULL, *text = NULL, *src = NULL, *dst = NULL;
	int r;

	if (asprintf(&dir, "%s/ctd/certs.d/127.0.0.1:%d", c->w, pport) < 0 ||
	    asprintf(&hosts, "%s/hosts.toml", dir) < 0 ||
	    asprintf(&text,
		     "server = \"http://127.0.0.1:%d\"\n[host.\"http://127.0.0.1:%d\"]\n"
		     "  capabilities = [\"pull\", \"resolve\"]\n",
		     pport, pport) < 0 ||
	    asprintf(&src, "dir:%s/store:v1", c->w) < 0 ||
	    asprintf(&dst, "registry:127.0.0.1:%d/bench/ml:ctr", pport) < 0)
		return -ENOMEM;
	char *push_argv[] = {(char *)BRISK_IMAGE_PATH, (char *)"push", src, dst, NULL};
	if ((r = mkdir_p_at(AT_FDCWD, dir, 0755)) < 0 ||
	    (r = write_file_atomic_at(AT_FDCWD, hosts, text, strlen(text), 0644, false)) < 0)
		return log_error_errno(r, "write '%s': %m", hosts);
	if ((r = bench_run(push_argv, NULL)) < 0)
		return log_error_errno(r, "brisk-image push '%s' failed", dst);
	return 0;
}

static int one_link(struct image_ctx *c, unsigned rtt, unsigned mbit, unsigned runs,
		    struct json_object *results)
{
	double ms[NSYS][BENCH_MAX_RUNS] = {0};
	struct json_object *stats[NSYS];
	char scenario[64];
	pid_t pid;
	int fd, pport, r;

	snprintf(scenario, sizeof(scenario), "%u ms / %u Mbit/s", rtt, mbit);
	if ((r = bench_start_netproxy(c->port, rtt, mbit, &pid, &fd, &pport)) < 0)
		return r;
	for (int s = 0; s < NSYS; s++)
		stats[s] = json_object_new_object();
	if (c->snap && (r = snap_link(c, pport)) < 0)
		runs = 0;
	for (unsigned i = 0; i < runs; i++) {
		double round[NSYS] = {0};
		bench_progress("image: %s, run %u/%u", scenario, i + 1, runs);
		if ((r = one_round(c, pport, i, round, stats)) < 0)
			break;
		for (int s = 0; s < NSYS; s++)
			ms[s][i] = round[s];
	}
	close(fd);
	bench_stop(pid);
	for (int s = 0; s < NSYS && r >= 0; s++) {
		if ((s == SYS_CTR && !c->ctr) || (s == SYS_SNAP && !c->snap) ||
		    (s == SYS_FULL && !c->o->pull))
			continue;
		struct json_object *e = bench_result(results, "image", scenario, sys_name[s], ms[s],
						     runs, s == SYS_COLD, true);
		json_object_object_foreach(stats[s], k, v)
		{
			json_object_object_add(e, k, json_object_get(v));
		}
	}
	for (int s = 0; s < NSYS; s++)
		json_object_put(stats[s]);
	return r;
}

static int read_all_ms(const char *path, double *ret_ms, double *ret_mib)
{
	_cleanup_free_ char *buf = malloc(1 << 20);
	_cleanup_close_ int fd = -EBADF;
	double t0 = bench_now_ms(), total = 0;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(-errno, "open '%s': %m", path);
	while ((n = read(fd, buf, 1 << 20)) > 0)
		total += (double)n;
	if (n < 0)
		return log_error_errno(-errno, "read '%s': %m", path);
	*ret_ms = bench_now_ms() - t0;
	*ret_mib = total / 1048576;
	return 0;
}

/* Sequential read of a weight file: through the mount with a warm chunk cache vs native disk,
 * page cache dropped before each read. */
static int seq_read(const struct image_ctx *c, unsigned runs, struct json_object *results)
{
	_cleanup_free_ char *store = NULL, *cache = wpath(c, "cache-seq"), *mnt = wpath(c, "seq"),
			    *native = wpath(c, "unpacked/rootfs/models/weights-0.bin"),
			    *lazy = wpath(c, "seq/models/weights-0.bin");
	double ms[2][BENCH_MAX_RUNS], mib = 0;
	int r = 0;

	if (asprintf(&store, "dir:%s/store", c->w) < 0)
		return -ENOMEM;
	char *mount_argv[] = {(char *)BRISK_IMAGEFS_PATH,
			      (char *)"mount",
			      (char *)"--store",
			      store,
			      (char *)"--cache",
			      cache,
			      (char *)"v1",
			      mnt,
			      NULL};
	char *umount_argv[] = {(char *)BRISK_IMAGEFS_PATH, (char *)"umount", mnt, NULL};
	if ((r = mkdir_p_at(AT_FDCWD, mnt, 0755)) < 0 || (r = bench_run(mount_argv, NULL)) < 0)
		return log_error_errno(r, "brisk-imagefs mount on '%s' failed", mnt);
	bench_progress("image: sequential reads");
	r = read_all_ms(lazy, &ms[0][0], &mib); /* fills the chunk cache */
	for (unsigned i = 0; i < runs && r >= 0; i++)
		for (int k = 0; k < 2 && r >= 0; k++) {
			bench_drop_caches();
			r = read_all_ms(k ? native : lazy, &ms[k][i], &mib);
		}
	(void)bench_run(umount_argv, NULL);
	if (r < 0)
		return r;
	char scenario[64];
	snprintf(scenario, sizeof(scenario), "sequential read of %.0f MiB", mib);
	for (int k = 0; k < 2; k++) {
		struct json_object *e = bench_result(
		    results, "image", scenario, k ? "native disk" : "brisk mount, warm chunk cache",
		    ms[k], runs, k == 0, false);
		struct json_object *v;
		if (json_object_object_get_ex(e, "wall_ms_median", &v))
			bench_result_add_double(e, "mb_per_s",
						mib * 1.048576 * 1000 / json_object_get_double(v));
	}
	return 0;
}

int bench_image(const struct bench_opts *o, struct json_object *results)
{
	struct image_ctx c = {.o = o, .cri_in = -EBADF, .cri_out = -EBADF};
	unsigned links[8][2];
	size_t nlinks = 0;
	unsigned runs = bench_runs(o, "image", 1);
	int r;

	/* an empty --links: only the sequential reads */
	if (o->links && *o->links &&
	    (r = bench_parse_links(o->links, links, ELEMENTSOF(links), &nlinks)) < 0)
		return r;
	if (!o->image_oci != !o->image_cmd)
		return log_error_errno(-EINVAL, "--image-oci and --image-cmd go together");
	if (o->image_oci) {
		_cleanup_free_ char *idx = path_join(o->image_oci, "index.json");
		if (!idx || access(idx, R_OK) < 0)
			return log_error_errno(-ENOENT,
					       "'%s' is not an OCI image layout (no index.json)",
					       o->image_oci);
	}
	static const char *const needed[] = {"docker-registry", "skopeo", "umoci", "python3"};
	for (size_t i = 0; i < ELEMENTSOF(needed); i++)
		if (!bench_have(needed[i]))
			return log_error_errno(-ENOENT, "image: '%s' is not installed", needed[i]);
	snprintf(c.w, sizeof(c.w), "/var/tmp/brisk-bench-image.XXXXXX");
	if (!mkdtemp(c.w))
		return log_error_errno(-errno, "mkdtemp: %m");
	chmod(c.w, 0755);
	_cleanup_free_ char *lazy = wpath(&c, "lazy"), *oci = wpath(&c, "oci"),
			    *reg = wpath(&c, "reg");
	c.oci = o->image_oci ?: oci;
	if (o->image_oci) {
		c.app[0] = "/bin/sh", c.app[1] = "-c", c.app[2] = o->image_cmd;
	} else
		c.app[0] = "/app/start.sh";
	setenv("BRISK_LAZY_DIR", lazy, 1);
	setenv("BRISK_IMAGEFS", BRISK_IMAGEFS_PATH, 1);
	if (o->image_oci)
		fprintf(stderr, "image: '%s' running '%s'", o->image_oci, o->image_cmd);
	else
		fprintf(stderr, "image: a generated %u MB ML-like image", o->image_mb);
	fprintf(stderr, ", %zu link profiles, %u interleaved run(s) each\n", nlinks, runs);
	if ((r = bench_start_registry(reg, &c.registry, &c.port)) < 0 || (r = setup(&c)) < 0)
		goto out;
	c.ctr = o->containerd && bench_have("containerd") && bench_have("ctr");
	if (c.ctr) {
		_cleanup_free_ char *snapshotter = snapshotter_path();
		char *grpc[] = {(char *)"/usr/bin/python3", (char *)"-c",
				(char *)"import grpc, google.protobuf", NULL};
		if (!snapshotter || !bench_have("protoc") || bench_run(grpc, NULL) < 0)
			log_warning("brisk-snapshotter, protoc or python3-grpcio is missing: the "
				    "snapshotter's figures are left out");
		else if (start_snapshotter(&c, snapshotter) < 0)
			log_warning("brisk-snapshotter did not start: its figures are left out");
		else
			c.snap = true;
	}
	if (c.ctr && start_containerd(&c) < 0) {
		log_warning("containerd did not start: its figures are left out");
		c.ctr = c.snap = false;
	}
	if (c.snap && start_cri_client(&c) < 0) {
		log_warning("the CRI client did not start: the snapshotter's figures are left out");
		c.snap = false;
	}
	for (size_t i = 0; i < nlinks && r >= 0; i++)
		r = one_link(&c, links[i][0], links[i][1], runs, results);
	if (r >= 0 && !o->image_oci) /* a weight file of the generated image */
		r = seq_read(&c, runs < 2 ? 2 : runs, results);
	fprintf(stderr, "\n");
	if (r >= 0)
		bench_print_table(results, "image");
out:
	if (c.cri_in >= 0)
		close(c.cri_in); /* the client's end of the fifo: it exits */
	if (c.cri_out >= 0)
		close(c.cri_out);
	bench_stop(c.cri);
	bench_stop(c.containerd);
	bench_stop(c.snapshotter);
	bench_stop(c.registry);
	bench_remove_work_dir(o, "image", c.w, c.containerd > 0);
	return r;
}
