/* SPDX-License-Identifier: Apache-2.0 */
/*
 * brisk-bench coldstart: time to the first answer of a real Python app on a node that has
 * nothing yet. The image is python3 + numpy + scipy from Debian (tools/mkimage-debian, cached);
 * the app (tests/bench/coldstart-app.py) imports numpy, scipy.linalg and scipy.sparse, builds
 * 100 MB of state, prints "ready" and answers a request (SIGUSR1, "ok") that reads all of it. The
 * registry (docker-registry on 127.0.0.1) sits behind the project's latency/bandwidth proxy
 * (bench-netproxy), per link profile. Rows, each timed to the first answer, with its phases:
 *   containerd's `ctr images pull` + `ctr run` (runc), its own private daemon
 *   brisk lazy, cold (no prefetch), and lazy + prefetch of the recorded access profile
 *   the new node: `brisk-image pull-snapshot` + `brisk restore` over the lazy image
 *   the same with the image's chunks already cached, and with the snapshot already local
 *   `brisk restore` of the snapshot mounted lazily by brisk-imagefs, nothing downloaded first
 * The snapshot is the checkpoint of the ready app, pushed once per link. Before every run the
 * page cache is dropped and the node's chunk cache and snapshot dir are emptied (but for what
 * the row says is already there). Runs are interleaved per link.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "bench.h"

enum { R_CTR, R_COLD, R_PREFETCH, R_NODE, R_CHUNKS, R_SNAP, R_MOUNTED, NR };

static const char *const r_name[NR] = {
    [R_CTR] = "containerd pull + run (runc)",
    [R_COLD] = "brisk lazy, cold",
    [R_PREFETCH] = "brisk lazy + prefetch",
    [R_NODE] = "new node: pull-snapshot + restore",
    [R_CHUNKS] = "pull-snapshot + restore, image chunks cached",
    [R_SNAP] = "restore, snapshot local, chunk cache empty",
    [R_MOUNTED] = "restore from the lazily mounted snapshot",
};

enum { P_PULL, P_SNAP, P_MOUNT, P_START, P_ANSWER, NP };

static const char *const p_key[NP] = {
    [P_PULL] = "pull_ms",   [P_SNAP] = "snapshot_fetch_ms", [P_MOUNT] = "snapshot_mount_ms",
    [P_START] = "start_ms", [P_ANSWER] = "answer_ms",
};

#define READY_TIMEOUT_MS 300000
#define ENV_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct cold_ctx {
	const struct bench_opts *o;
	char w[64]; /* work dir */
	pid_t registry, containerd;
	int port, pport; /* the registry's, the proxy's of the current link */
	unsigned link;
	bool ctr;
	char ctr_sock[128];
	char *code;	   /* the app's Python */
	char na[512];	   /* why the mounted-snapshot row cannot run ("" while it can) */
	double ph[NR][NP]; /* the current run's phases */
};

static char *wpath(const struct cold_ctx *c, const char *rel)
{
	return path_join(c->w, rel);
}

/* A bundle running the app on the lazy image through the current link, cached in CACHE. */
static int make_bundle(const struct cold_ctx *c, const char *name, const char *cache, bool prefetch)
{
	_cleanup_free_ char *b = wpath(c, name), *cache_dir = wpath(c, cache), *store = NULL;
	char *args[] = {(char *)"python3", (char *)"-c", (char *)c->code, NULL};
	char *env[] = {(char *)ENV_PATH, (char *)"OPENBLAS_NUM_THREADS=1", (char *)"HOME=/root",
		       NULL};

	if (!b || !cache_dir || asprintf(&store, "registry:127.0.0.1:%d/bench/py", c->pport) < 0)
		return -ENOMEM;
	(void)rm_rf_at(AT_FDCWD, b);
	const struct bench_bundle bb = {
	    .args = args, .env = env, .store = store, .cache = cache_dir, .prefetch = prefetch};
	return bench_write_bundle(c->o->brisk, b, &bb);
}

static void brisk_delete(const struct cold_ctx *c, const char *id)
{
	_cleanup_free_ char *state = wpath(c, "state");
	char *argv[] = {(char *)c->o->brisk, (char *)"--root", state, (char *)"delete",
			(char *)"--force",   (char *)id,       NULL};

	(void)bench_run(argv, NULL);
}

/* brisk run -d (IMG NULL) or restore -d of bundle NAME as ID, stdout to *RET_FD; LOG: brisk's
 * log file (NULL: W/ID.log). */
static int brisk_start(const struct cold_ctx *c, const char *name, const char *id, const char *img,
		       const char *work, const char *log, int *ret_fd)
{
	_cleanup_free_ char *state = wpath(c, "state"), *b = wpath(c, name), *pid_file = NULL,
			    *own_log = NULL;
	char *argv[20];
	int n = 0;

	if (!state || !b || asprintf(&pid_file, "%s/%s.pid", c->w, id) < 0 ||
	    asprintf(&own_log, "%s/%s.log", c->w, id) < 0)
		return -ENOMEM;
	unlink(pid_file);
	argv[n++] = (char *)c->o->brisk;
	argv[n++] = (char *)"--log";
	argv[n++] = (char *)(log ?: own_log);
	argv[n++] = (char *)"--root";
	argv[n++] = state;
	argv[n++] = (char *)(img ? "restore" : "run");
	argv[n++] = (char *)"-d";
	argv[n++] = (char *)"--bundle";
	argv[n++] = b;
	argv[n++] = (char *)"--pid-file";
	argv[n++] = pid_file;
	if (img) {
		argv[n++] = (char *)"--image-path";
		argv[n++] = (char *)img;
	}
	if (work) {
		argv[n++] = (char *)"--work-path";
		argv[n++] = (char *)work;
	}
	argv[n++] = (char *)id;
	argv[n] = NULL;
	return bench_run_piped(argv, false, ret_fd);
}

static int ask(const struct cold_ctx *c, const char *id, int fd)
{
	_cleanup_free_ char *pid_file = NULL;

	if (asprintf(&pid_file, "%s/%s.pid", c->w, id) < 0)
		return -ENOMEM;
	return bench_ask(pid_file, fd, SIGUSR1, "ok", READY_TIMEOUT_MS);
}

/* brisk lazy run of bundle NAME to its first answer. */
static int lazy_row(struct cold_ctx *c, int row, const char *name, const char *id)
{
	_cleanup_close_ int fd = -EBADF;
	char line[64];
	double t0 = bench_now_ms(), t1;
	int r;

	if ((r = brisk_start(c, name, id, NULL, NULL, NULL, &fd)) < 0) {
		log_error_errno(r, "brisk run '%s' failed (see '%s/%s.log')", id, c->w, id);
		goto out;
	}
	if ((r = bench_read_line(fd, line, sizeof(line), READY_TIMEOUT_MS)) < 0 ||
	    strcmp(line, "ready") != 0) {
		r = log_error_errno(r < 0 ? r : -EIO, "'%s' said '%s', not 'ready'", id,
				    r < 0 ? "nothing" : line);
		goto out;
	}
	t1 = bench_now_ms();
	c->ph[row][P_START] = t1 - t0;
	r = ask(c, id, fd);
	c->ph[row][P_ANSWER] = bench_now_ms() - t1;
out:
	brisk_delete(c, id);
	return r;
}

/* Last line of brisk's log LOG: why a restore failed. */
static void last_error(const char *log, char *buf, size_t size)
{
	_cleanup_free_ char *text = NULL;
	size_t len;

	snprintf(buf, size, "see %s", log);
	if (read_file_at(AT_FDCWD, log, 1 << 20, &text, &len) < 0 || len == 0)
		return;
	while (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	char *nl = strrchr(text, '\n');
	snprintf(buf, size, "%s", nl ? nl + 1 : text);
}

/*
 * brisk restore of the snapshot of the current link as ID to its first answer: pulled first
 * into IMG (FETCH), or mounted lazily on IMG (MOUNT), or already in IMG.
 */
static int restore_row(struct cold_ctx *c, int row, const char *id, const char *img, bool fetch,
		       bool mount)
{
	_cleanup_free_ char *ref = NULL, *store = NULL, *scache = wpath(c, "cache-snapmnt"),
			    *work = wpath(c, "restore-work"), *log = wpath(c, "restore.log");
	_cleanup_close_ int fd = -EBADF;
	double t0 = bench_now_ms(), t1;
	int r;

	if (asprintf(&ref, "registry:127.0.0.1:%d/bench/snap-%u:v1", c->pport, c->link) < 0 ||
	    asprintf(&store, "registry:127.0.0.1:%d/bench/snap-%u", c->pport, c->link) < 0 ||
	    !scache || !work || !log)
		return -ENOMEM;
	char *pull_argv[] = {(char *)BRISK_IMAGE_PATH, (char *)"pull-snapshot", ref, (char *)img,
			     NULL};
	char *mount_argv[] = {(char *)BRISK_IMAGEFS_PATH,
			      (char *)"mount",
			      (char *)"--store",
			      store,
			      (char *)"--cache",
			      scache,
			      (char *)"v1",
			      (char *)img,
			      NULL};
	char *umount_argv[] = {(char *)BRISK_IMAGEFS_PATH, (char *)"umount", (char *)img, NULL};
	if (fetch && (r = bench_run(pull_argv, NULL)) < 0)
		return log_error_errno(r, "brisk-image pull-snapshot '%s' failed", ref);
	if (mount) {
		(void)rm_rf_at(AT_FDCWD, work);
		if ((r = mkdir_p_at(AT_FDCWD, img, 0755)) < 0 ||
		    (r = mkdir_p_at(AT_FDCWD, work, 0755)) < 0)
			return r;
		if ((r = bench_run(mount_argv, NULL)) < 0) {
			snprintf(c->na, sizeof(c->na), "brisk-imagefs mount of '%s' failed", store);
			return log_error_errno(r, "%s", c->na);
		}
	}
	t1 = bench_now_ms();
	c->ph[row][fetch ? P_SNAP : P_MOUNT] = fetch || mount ? t1 - t0 : 0;
	unlink(log);
	if ((r = brisk_start(c, "b-node", id, img, mount ? work : NULL, log, &fd)) < 0) {
		if (mount) {
			last_error(log, c->na, sizeof(c->na));
			log_warning("restore from the mounted snapshot failed: %s", c->na);
		} else
			log_error_errno(r, "brisk restore '%s' failed (see '%s')", id, log);
		goto out;
	}
	c->ph[row][P_START] = bench_now_ms() - t1;
	t1 = bench_now_ms();
	r = ask(c, id, fd);
	c->ph[row][P_ANSWER] = bench_now_ms() - t1;
	if (r < 0 && mount)
		snprintf(c->na, sizeof(c->na), "restored, but the app did not answer");
out:
	brisk_delete(c, id);
	if (mount)
		(void)bench_run(umount_argv, NULL);
	return r;
}

/* ctr in the benchmark's namespace: ARGS then NULL */
#define CTR(c, ...)                                                                      \
	{                                                                                \
		(char *)"ctr", (char *)"--address", (char *)(c)->ctr_sock, (char *)"-n", \
		    (char *)"brisk-bench", __VA_ARGS__, NULL                             \
	}

/* containerd: ctr images pull, then ctr run (runc) to the first answer. */
static int ctr_row(struct cold_ctx *c, const char *id)
{
	_cleanup_free_ char *ref = NULL, *log = wpath(c, "ctr-run.log");
	_cleanup_close_ int fd = -EBADF;
	char line[64];
	pid_t pid = 0;
	int r;

	if (asprintf(&ref, "127.0.0.1:%d/bench/py-oci:v1", c->pport) < 0 || !log)
		return -ENOMEM;
	char *pull[] = CTR(c, (char *)"images", (char *)"pull", (char *)"--plain-http", ref);
	char *run[] =
	    CTR(c, (char *)"run", (char *)"--rm", (char *)"--env", (char *)"OPENBLAS_NUM_THREADS=1",
		ref, (char *)id, (char *)"python3", (char *)"-c", c->code);
	char *usr1[] =
	    CTR(c, (char *)"tasks", (char *)"kill", (char *)"-s", (char *)"SIGUSR1", (char *)id);
	char *kill9[] =
	    CTR(c, (char *)"tasks", (char *)"kill", (char *)"-s", (char *)"SIGKILL", (char *)id);
	char *rmc[] = CTR(c, (char *)"containers", (char *)"rm", (char *)id);
	char *rmi[] = CTR(c, (char *)"images", (char *)"rm", (char *)"--sync", ref);
	double t0 = bench_now_ms(), t1, t2;

	if ((r = bench_run(pull, NULL)) < 0) {
		log_error_errno(r, "ctr images pull '%s' failed", ref);
		goto out;
	}
	t1 = bench_now_ms();
	c->ph[R_CTR][P_PULL] = t1 - t0;
	if ((r = bench_spawn(run, log, &fd, &pid)) < 0 ||
	    (r = bench_read_line(fd, line, sizeof(line), READY_TIMEOUT_MS)) < 0 ||
	    strcmp(line, "ready") != 0) {
		r = log_error_errno(r < 0 ? r : -EIO, "ctr run '%s' said no 'ready' (see '%s')", id,
				    log);
		goto out;
	}
	t2 = bench_now_ms();
	c->ph[R_CTR][P_START] = t2 - t1;
	if ((r = bench_run(usr1, NULL)) < 0 ||
	    (r = bench_read_line(fd, line, sizeof(line), READY_TIMEOUT_MS)) < 0 ||
	    strcmp(line, "ok") != 0)
		r = log_error_errno(r < 0 ? r : -EIO, "the app under ctr did not answer");
	c->ph[R_CTR][P_ANSWER] = bench_now_ms() - t2;
out:
	if (pid > 0) {
		(void)bench_run(kill9, NULL);
		bool gone = false;
		for (int i = 0; i < 100 && !gone; i++)
			if (!(gone = waitpid(pid, NULL, WNOHANG) == pid))
				usleep(100000);
		if (!gone)
			bench_stop(pid);
	}
	(void)bench_run(rmc, NULL);
	(void)bench_run(rmi, NULL);
	return r;
}

/* Empty these dirs of the work dir (NULL-terminated), then drop the page cache. */
static void forget(const struct cold_ctx *c, const char *const *dirs)
{
	for (size_t i = 0; dirs[i]; i++) {
		_cleanup_free_ char *p = wpath(c, dirs[i]);
		if (p)
			(void)rm_rf_at(AT_FDCWD, p);
	}
	bench_drop_caches();
}

/* One interleaved round on the current link: every row once. */
static int one_round(struct cold_ctx *c, unsigned run)
{
	_cleanup_free_ char *snap = wpath(c, "snapshot"), *mnt = wpath(c, "snapshot-mnt");
	char id[64];
	int r;

	if (!snap || !mnt)
		return -ENOMEM;
	memset(c->ph, 0, sizeof(c->ph));
	if (c->ctr) {
		forget(c, (const char *const[]){NULL});
		snprintf(id, sizeof(id), "cold-ctr-%u-%u", c->link, run);
		if ((r = ctr_row(c, id)) < 0)
			return r;
	}
	forget(c, (const char *const[]){"cache-cold", NULL});
	snprintf(id, sizeof(id), "cold-lazy-%u-%u", c->link, run);
	if ((r = lazy_row(c, R_COLD, "b-cold", id)) < 0)
		return r;
	forget(c, (const char *const[]){"cache-pf", NULL});
	snprintf(id, sizeof(id), "cold-pf-%u-%u", c->link, run);
	if ((r = lazy_row(c, R_PREFETCH, "b-pf", id)) < 0)
		return r;
	/* the new node; then its chunks kept, the snapshot gone; then the reverse */
	forget(c, (const char *const[]){"cache-node", "snapshot", NULL});
	snprintf(id, sizeof(id), "cold-node-%u-%u", c->link, run);
	if ((r = restore_row(c, R_NODE, id, snap, true, false)) < 0)
		return r;
	forget(c, (const char *const[]){"snapshot", NULL});
	snprintf(id, sizeof(id), "cold-chunks-%u-%u", c->link, run);
	if ((r = restore_row(c, R_CHUNKS, id, snap, true, false)) < 0)
		return r;
	forget(c, (const char *const[]){"cache-node", NULL});
	snprintf(id, sizeof(id), "cold-snap-%u-%u", c->link, run);
	if ((r = restore_row(c, R_SNAP, id, snap, false, false)) < 0)
		return r;
	if (!c->na[0]) {
		forget(c, (const char *const[]){"cache-node", "snapshot", "cache-snapmnt", NULL});
		snprintf(id, sizeof(id), "cold-mnt-%u-%u", c->link, run);
		(void)restore_row(c, R_MOUNTED, id, mnt, false, true);
		if (!c->na[0] && c->ph[R_MOUNTED][P_ANSWER] <= 0)
			snprintf(c->na, sizeof(c->na), "it failed (BENCH_VERBOSE=1 tells why)");
	}
	return 0;
}

/* The snapshot of the current link: the app run lazily through it to "ready", checkpointed,
 * pushed as bench/snap-LINK:v1. */
static int make_snapshot(struct cold_ctx *c)
{
	_cleanup_free_ char *ckpt = wpath(c, "ckpt"), *state = wpath(c, "state"), *dst = NULL;
	_cleanup_close_ int fd = -EBADF;
	char id[64], line[64];
	int r;

	if (!ckpt || !state ||
	    asprintf(&dst, "registry:127.0.0.1:%d/bench/snap-%u:v1", c->port, c->link) < 0)
		return -ENOMEM;
	char *ck_argv[] = {(char *)c->o->brisk,
			   (char *)"--root",
			   state,
			   (char *)"checkpoint",
			   (char *)"--image-path",
			   ckpt,
			   id,
			   NULL};
	char *push_argv[] = {(char *)BRISK_IMAGE_PATH,
			     (char *)"push-snapshot",
			     (char *)"--no-progress",
			     ckpt,
			     dst,
			     NULL};
	snprintf(id, sizeof(id), "cold-ckpt-%u", c->link);
	forget(c, (const char *const[]){"cache-node", "ckpt", NULL});
	if ((r = brisk_start(c, "b-node", id, NULL, NULL, NULL, &fd)) < 0 ||
	    (r = bench_read_line(fd, line, sizeof(line), READY_TIMEOUT_MS)) < 0 ||
	    strcmp(line, "ready") != 0) {
		brisk_delete(c, id);
		return log_error_errno(r < 0 ? r : -EIO,
				       "the app to checkpoint never said 'ready' (see '%s/%s.log')",
				       c->w, id);
	}
	r = bench_run(ck_argv, NULL);
	brisk_delete(c, id);
	if (r < 0)
		return log_error_errno(
		    r, "brisk checkpoint '%s' failed (BENCH_VERBOSE=1 tells why)", id);
	if ((r = bench_run(push_argv, NULL)) < 0)
		return log_error_errno(r, "brisk-image push-snapshot '%s' failed", dst);
	(void)rm_rf_at(AT_FDCWD, ckpt);
	return 0;
}

static bool row_on(const struct cold_ctx *c, int row)
{
	return row != R_CTR || c->ctr;
}

static void print_table(const struct cold_ctx *c, const char *scenario, double med[NR],
			double ph[NR][NP], unsigned runs)
{
	printf("\n### Time to the first answer, %s (median of %u run(s), ms)\n\n", scenario, runs);
	printf("| how | first answer | image pull | snapshot fetch | snapshot mount | start / "
	       "restore | answer | vs containerd |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int s = 0; s < NR; s++) {
		if (!row_on(c, s))
			continue;
		if (s == R_MOUNTED && c->na[0]) {
			printf("| %s | n/a (%s) | | | | | | |\n", r_name[s], c->na);
			continue;
		}
		printf("| %s | %.0f |", r_name[s], med[s]);
		for (int p = 0; p < NP; p++)
			if (ph[s][p] > 0)
				printf(" %.0f |", ph[s][p]);
			else
				printf(" |");
		if (c->ctr && med[R_CTR] > 0)
			printf(" %.2fx |\n", med[s] / med[R_CTR]);
		else
			printf(" |\n");
	}
	fflush(stdout);
}

static int one_link(struct cold_ctx *c, unsigned rtt, unsigned mbit, unsigned runs,
		    struct json_object *results)
{
	double tot[NR][BENCH_MAX_RUNS] = {0}, phs[NR][NP][BENCH_MAX_RUNS] = {0};
	double med[NR] = {0}, ph[NR][NP] = {0};
	char scenario[64];
	pid_t proxy = 0;
	int fd = -1, r;

	snprintf(scenario, sizeof(scenario), "%u ms / %u Mbit/s", rtt, mbit);
	if ((r = bench_start_netproxy(c->port, rtt, mbit, &proxy, &fd, &c->pport)) < 0)
		return r;
	bench_progress("coldstart: %s, checkpointing the app", scenario);
	if ((r = make_bundle(c, "b-cold", "cache-cold", false)) < 0 ||
	    (r = make_bundle(c, "b-pf", "cache-pf", true)) < 0 ||
	    (r = make_bundle(c, "b-node", "cache-node", true)) < 0 || (r = make_snapshot(c)) < 0)
		goto out;
	for (unsigned i = 0; i < runs; i++) {
		bench_progress("coldstart: %s, run %u/%u", scenario, i + 1, runs);
		if ((r = one_round(c, i)) < 0)
			goto out;
		for (int s = 0; s < NR; s++)
			for (int p = 0; p < NP; p++) {
				phs[s][p][i] = c->ph[s][p];
				tot[s][i] += c->ph[s][p];
			}
	}
	fprintf(stderr, "\n");
	for (int s = 0; s < NR; s++) {
		if (!row_on(c, s) || (s == R_MOUNTED && c->na[0]))
			continue;
		for (int p = 0; p < NP; p++)
			ph[s][p] = bench_median(phs[s][p], runs, NULL, NULL);
		struct json_object *e =
		    bench_result(results, "coldstart", scenario, r_name[s], tot[s], runs,
				 c->ctr ? s == R_CTR : s == R_COLD, true);
		struct json_object *v;
		if (e && json_object_object_get_ex(e, "wall_ms_median", &v))
			med[s] = json_object_get_double(v);
		for (int p = 0; p < NP; p++)
			if (ph[s][p] > 0)
				bench_result_add_double(e, p_key[p], ph[s][p]);
	}
	print_table(c, scenario, med, ph, runs);
out:
	if (fd >= 0)
		close(fd);
	bench_stop(proxy);
	return r;
}

/* The Python image: --image-oci, else tools/mkimage-debian's (exit 77: -ENOPKG). */
static int find_image(const struct bench_opts *o, char **ret_oci)
{
	_cleanup_free_ char *mk = NULL;
	char line[4096];
	int fd = -1, st, r;
	pid_t pid;

	if (o->image_oci)
		return (*ret_oci = strdup(o->image_oci)) ? 0 : -ENOMEM;
	if (asprintf(&mk, "%s/tools/mkimage-debian", BRISK_SOURCE_DIR) < 0)
		return -ENOMEM;
	char *argv[] = {mk, (char *)"--include", (char *)"python3,python3-numpy,python3-scipy",
			NULL};
	bench_progress("coldstart: the python3 + numpy + scipy image (tools/mkimage-debian)");
	if ((r = bench_spawn(argv, NULL, &fd, &pid)) < 0)
		return log_error_errno(r, "start '%s': %m", mk);
	r = bench_read_line(fd, line, sizeof(line), 1800000);
	close(fd);
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		return log_error_errno(
		    -ENOPKG, "coldstart: Debian's archive cannot be reached and no Python "
			     "image is cached: skipped");
	if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !line[0])
		return log_error_errno(-EIO, "'%s' failed (run it to see why)", mk);
	return (*ret_oci = strdup(line)) ? 0 : -ENOMEM;
}

/* The registry, the images in it (brisk's, its access profile, the OCI one), containerd. */
static int setup(struct cold_ctx *c, const char *oci)
{
	_cleanup_free_ char *reg = wpath(c, "reg"), *src = NULL, *dst = NULL, *push = NULL,
			    *ocisrc = NULL, *ocidst = NULL, *store = NULL, *rec = wpath(c, "rec");
	int r;

	if (!reg || !rec || asprintf(&src, "oci:%s:latest", oci) < 0 ||
	    asprintf(&dst, "dir:%s/store:v1", c->w) < 0 ||
	    asprintf(&store, "dir:%s/store", c->w) < 0 ||
	    asprintf(&push, "registry:127.0.0.1:%d/bench/py:v1", c->port) < 0 ||
	    asprintf(&ocidst, "docker://127.0.0.1:%d/bench/py-oci:v1", c->port) < 0 ||
	    !(ocisrc = strdup(src)))
		return -ENOMEM;
	char *conv_argv[] = {
	    (char *)BRISK_IMAGE_PATH, (char *)"convert", (char *)"--no-progress", src, dst, NULL};
	char *push_argv[] = {(char *)BRISK_IMAGE_PATH, (char *)"push", dst, push, NULL};
	char *copy_argv[] = {
	    (char *)"skopeo", (char *)"copy", (char *)"-q", (char *)"--dest-tls-verify=false",
	    ocisrc,	      ocidst,	      NULL};
	char *app[] = {(char *)"/usr/bin/python3", (char *)"-c", c->code, (char *)"once", NULL};
	char *env[] = {(char *)ENV_PATH, (char *)"OPENBLAS_NUM_THREADS=1", (char *)"HOME=/root",
		       NULL};

	bench_progress("coldstart: converting and pushing the image");
	if ((r = bench_run(conv_argv, NULL)) < 0 || (r = bench_run(push_argv, NULL)) < 0 ||
	    (r = bench_run(copy_argv, NULL)) < 0)
		return log_error_errno(r, "preparing the image failed (BENCH_VERBOSE=1 tells why)");
	bench_progress("coldstart: recording the start-up's access profile");
	if (bench_record_profile(store, "v1", push, rec, app, env) < 0)
		log_warning("no access profile: 'lazy + prefetch' has nothing to prefetch");
	c->ctr = c->o->containerd && bench_have("containerd") && bench_have("ctr");
	if (c->ctr) {
		_cleanup_free_ char *d = wpath(c, "ctd");
		if (!d || bench_start_containerd(d, NULL, c->ctr_sock, sizeof(c->ctr_sock),
						 &c->containerd) < 0) {
			log_warning("containerd did not start: its row is left out");
			c->ctr = false;
		}
	} else
		log_warning("containerd is not installed: its row is left out");
	return 0;
}

int bench_coldstart(const struct bench_opts *o, struct json_object *results)
{
	struct cold_ctx c = {.o = o};
	_cleanup_free_ char *oci = NULL, *app = NULL, *lazy = NULL, *reg = NULL;
	unsigned links[8][2];
	size_t nlinks, len;
	unsigned runs = bench_runs(o, "coldstart", 1);
	int r;

	if ((r = bench_parse_links(o->links, links, ELEMENTSOF(links), &nlinks)) < 0)
		return r;
	static const char *const needed[] = {"docker-registry", "skopeo", "criu"};
	for (size_t i = 0; i < ELEMENTSOF(needed); i++)
		if (!bench_have(needed[i]))
			return log_error_errno(-ENOENT, "coldstart: '%s' is not installed",
					       needed[i]);
	if (asprintf(&app, "%s/tests/bench/coldstart-app.py", BRISK_SOURCE_DIR) < 0)
		return -ENOMEM;
	if ((r = read_file_at(AT_FDCWD, app, 1 << 16, &c.code, &len)) < 0)
		return log_error_errno(r, "read '%s': %m", app);
	if ((r = find_image(o, &oci)) < 0)
		goto out_free;
	/* CRIU's dump hangs on these VMs with hardware breakpoints (as in bench-snapshot) */
	setenv("CRIU_FAULT", "130", 0);
	snprintf(c.w, sizeof(c.w), "/var/tmp/brisk-bench-coldstart.XXXXXX");
	if (!mkdtemp(c.w)) {
		r = log_error_errno(-errno, "mkdtemp: %m");
		goto out_free;
	}
	chmod(c.w, 0755);
	if (!(lazy = wpath(&c, "lazy")) || !(reg = wpath(&c, "reg"))) {
		r = -ENOMEM;
		goto out;
	}
	setenv("BRISK_LAZY_DIR", lazy, 1);
	setenv("BRISK_IMAGEFS", BRISK_IMAGEFS_PATH, 1);
	fprintf(stderr,
		"coldstart: python3 + numpy + scipy ('%s'), %zu link profiles, %u interleaved "
		"run(s) each\n",
		oci, nlinks, runs);
	if ((r = bench_start_registry(reg, &c.registry, &c.port)) < 0 || (r = setup(&c, oci)) < 0)
		goto out;
	for (size_t i = 0; i < nlinks && r >= 0 && !bench_interrupted; i++) {
		c.link = (unsigned)i;
		r = one_link(&c, links[i][0], links[i][1], runs, results);
	}
	if (c.na[0])
		fprintf(stderr, "coldstart: restore from the lazily mounted snapshot: n/a (%s)\n",
			c.na);
out:
	bench_stop(c.containerd);
	bench_stop(c.registry);
	bench_remove_work_dir(o, "coldstart", c.w, c.containerd > 0);
out_free:
	free(c.code);
	return r;
}
