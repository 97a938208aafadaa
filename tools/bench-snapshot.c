/* SPDX-License-Identifier: Apache-2.0 */
/*
 * brisk-bench snapshot: an application that initialises for a while and then holds N MB
 * (bench-app, a stand-in for an interpreter importing its modules), brought to "ready and
 * answering" three ways: a cold `run`, a `restore` of its checkpoint (its images read from disk,
 * then again from the page cache, as a node's next clone of a snapshot finds them), and a lazy
 * restore (pages on fault, from disk); brisk and runc (both with CRIU). Time to ready is from the
 * command's start to the app's answer to a first request that reads all its memory. A restore is
 * also timed to its first answer: the app's reply to a request that reads none of it (bench-app's
 * SIGUSR2), sent as soon as the restore command returns; a lazy restore answers it before its
 * memory is back. Then the app's request for its model (bench-app's SIGHUP: the eighth of its
 * memory it filled first, which lies above the rest) after a lazy restore, after one that
 * records the pages touched first (--lazy-pages-record), and after one that transfers them
 * first. Also the dump time and the image size. Runs are interleaved per size.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "snapshot/snapshot.h"
#include "bench.h"

enum {
	S_BRISK_RUN,
	S_BRISK_RESTORE,
	S_BRISK_RESTORE_UP,
	S_BRISK_WARM,
	S_BRISK_WARM_UP,
	S_BRISK_LAZY,
	S_BRISK_LAZY_UP,
	S_BRISK_LAZY_HOT,
	S_BRISK_LAZY_HOT_RECORD,
	S_BRISK_LAZY_HOT_ORDER,
	S_BRISK_DUMP,
	S_RUNC_RUN,
	S_RUNC_RESTORE,
	S_RUNC_RESTORE_UP,
	S_RUNC_WARM,
	S_RUNC_WARM_UP,
	S_RUNC_DUMP,
	NS,
};

static const char *const s_name[NS] = {
    [S_BRISK_RUN] = "brisk run (cold)",
    [S_BRISK_RESTORE] = "brisk restore",
    [S_BRISK_LAZY] = "brisk lazy restore",
    [S_BRISK_DUMP] = "brisk checkpoint (dump)",
    [S_RUNC_RUN] = "runc run (cold)",
    [S_RUNC_RESTORE] = "runc restore",
    [S_RUNC_DUMP] = "runc checkpoint (dump)",
    [S_BRISK_RESTORE_UP] = "brisk restore, first answer",
    [S_BRISK_LAZY_UP] = "brisk lazy restore, first answer",
    [S_BRISK_LAZY_HOT] = "brisk lazy restore, request for 1/8 of memory",
    [S_BRISK_LAZY_HOT_RECORD] = "brisk lazy restore, request for 1/8 of memory, recording",
    [S_BRISK_LAZY_HOT_ORDER] = "brisk lazy restore, request for 1/8 of memory, recorded order",
    [S_RUNC_RESTORE_UP] = "runc restore, first answer",
    [S_BRISK_WARM] = "brisk restore, images in page cache",
    [S_BRISK_WARM_UP] = "brisk restore, images in page cache, first answer",
    [S_RUNC_WARM] = "runc restore, images in page cache",
    [S_RUNC_WARM_UP] = "runc restore, images in page cache, first answer",
};

struct snap_ctx {
	const struct bench_opts *o;
	const char *dir, *bundle;
	unsigned delay_ms;
	bool first_answer; /* the app answers SIGUSR2 with "up" and SIGHUP with "hot" (bench-app) */
};

/* What the app answers request SIG: "ok" (SIGUSR1), "up" (SIGUSR2) or "hot" (SIGHUP). */
static const char *answer_to(int sig)
{
	return sig == SIGUSR2 ? "up" : sig == SIGHUP ? "hot" : "ok";
}

enum { EAGER, LAZY, LAZY_RECORD };

/*
 * RT run -d or restore -d (IMG set; HOW: EAGER, LAZY or LAZY_RECORD) of ID with stdout to a
 * pipe; time until the app answers request REQ (SIGUSR1: all its memory; SIGHUP: its model)
 * (*RET_MS) and, for a restore with RET_UP_MS, until its first answer.
 */
static int start_to_ready(const struct snap_ctx *c, const char *rt, const char *root,
			  const char *id, const char *img, int how, int req, double *ret_ms,
			  double *ret_up_ms)
{
	_cleanup_free_ char *pid_file = NULL;
	char *argv[16];
	int n = 0, fd, r;

	if (asprintf(&pid_file, "%s/%s.pid", c->dir, id) < 0)
		return -ENOMEM;
	unlink(pid_file);
	argv[n++] = (char *)rt;
	argv[n++] = (char *)"--root";
	argv[n++] = (char *)root;
	argv[n++] = (char *)(img ? "restore" : "run");
	argv[n++] = (char *)"-d";
	argv[n++] = (char *)"--bundle";
	argv[n++] = (char *)c->bundle;
	argv[n++] = (char *)"--pid-file";
	argv[n++] = pid_file;
	if (img) {
		argv[n++] = (char *)"--image-path";
		argv[n++] = (char *)img;
	}
	if (how != EAGER)
		argv[n++] = (char *)"--lazy-pages";
	if (how == LAZY_RECORD)
		argv[n++] = (char *)"--lazy-pages-record";
	argv[n++] = (char *)id;
	argv[n] = NULL;
	double t0 = bench_now_ms();
	/* no --log: with BENCH_VERBOSE=1 the runtime's stderr tells why it failed */
	if ((r = bench_run_piped(argv, true, &fd)) < 0)
		return log_error_errno(r, "%s %s '%s' failed (BENCH_VERBOSE=1 tells why)", rt,
				       argv[3], id);
	char line[64];
	if (!img && (r = bench_read_line(fd, line, sizeof(line), (int)c->delay_ms + 120000)) < 0) {
		close(fd);
		return log_error_errno(r, "'%s' never printed ready: %m", id);
	}
	if (img && ret_up_ms && c->first_answer) {
		if ((r = bench_ask(pid_file, fd, SIGUSR2, "up", 120000)) < 0) {
			close(fd);
			return r;
		}
		*ret_up_ms = bench_now_ms() - t0;
	}
	r = bench_ask(pid_file, fd, req, answer_to(req), 120000);
	*ret_ms = bench_now_ms() - t0;
	close(fd);
	return r;
}

static int rt_cmd(const char *rt, const char *root, const char *cmd, const char *id,
		  const char *img, double *ret_ms)
{
	char *argv[] = {
	    (char *)rt, (char *)"--root", (char *)root, (char *)cmd, (char *)id, NULL, NULL, NULL};
	if (img) {
		argv[4] = (char *)"--image-path";
		argv[5] = (char *)img;
		argv[6] = (char *)id;
	} else if (strcmp(cmd, "delete") == 0) {
		argv[4] = (char *)"--force";
		argv[5] = (char *)id;
	}
	double t0 = bench_now_ms();
	int r = bench_run(argv, NULL);

	if (ret_ms)
		*ret_ms = bench_now_ms() - t0;
	return r;
}

static double du_mib(const char *dir)
{
	_cleanup_free_ char *out = NULL;
	char *argv[] = {(char *)"du", (char *)"-sk", (char *)dir, NULL};

	if (bench_run_output(argv, &out) < 0 || !out)
		return -1;
	return strtod(out, NULL) / 1024;
}

/* Wait for the lazy-pages daemon's record of page faults, written once every page is in. */
static int wait_record(const char *path)
{
	for (int i = 0; i < 6000; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		usleep(10000);
	}
	return log_error_errno(-ETIMEDOUT,
			       "no record of the lazy restore's page faults ('%s') after 60 s: is "
			       "CRIU built with tools/criu/lazy-pages-order.patch (tools/setup)?",
			       path);
}

/*
 * The app's request for its model (an eighth of its memory, mapped above the rest) after three
 * lazy restores: one that transfers the rest of memory in address order, one that records the
 * pages the app touches first (--lazy-pages-record), and one that transfers those first.
 */
static int lazy_model(const struct snap_ctx *c, const char *rt, const char *root, const char *id,
		      const char *img, double *ms)
{
	static const int s_of[] = {S_BRISK_LAZY_HOT, S_BRISK_LAZY_HOT_RECORD,
				   S_BRISK_LAZY_HOT_ORDER};
	_cleanup_free_ char *rec = path_join(img, SNAPSHOT_LAZY_ORDER_FILE);
	int r;

	if (!rec)
		return -ENOMEM;
	for (int v = 0; v < 3; v++) {
		char rid[80];

		if ((r = bench_page_cache_dir(img, false)) < 0)
			return log_error_errno(r, "evict the images of '%s': %m", id);
		snprintf(rid, sizeof(rid), "%s-m%d", id, v);
		r = start_to_ready(c, rt, root, rid, img, v == 1 ? LAZY_RECORD : LAZY, SIGHUP,
				   &ms[s_of[v]], NULL);
		if (r >= 0 && v == 1)
			r = wait_record(rec);
		(void)rt_cmd(rt, root, "delete", rid, NULL, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

/* One runtime's round for one size: cold run, checkpoint, restore(s). */
static int round_of(const struct snap_ctx *c, const char *rt, bool brisk, unsigned mb, unsigned run,
		    double *ms, double *img_mib)
{
	_cleanup_free_ char *root = NULL, *img = NULL;
	char id[64];
	int r;

	if (asprintf(&root, "%s/state-%s", c->dir, brisk ? "brisk" : "runc") < 0 ||
	    asprintf(&img, "%s/img-%s-%u-%u", c->dir, brisk ? "brisk" : "runc", mb, run) < 0)
		return -ENOMEM;
	int base = brisk ? S_BRISK_RUN : S_RUNC_RUN;
	snprintf(id, sizeof(id), "snap-%s-%u-%u", brisk ? "b" : "r", mb, run);
	r = start_to_ready(c, rt, root, id, NULL, EAGER, SIGUSR1, &ms[base], NULL);
	if (r >= 0) {
		r = rt_cmd(rt, root, "checkpoint", id, img,
			   &ms[brisk ? S_BRISK_DUMP : S_RUNC_DUMP]);
		if (r < 0)
			log_error_errno(r, "%s checkpoint '%s' failed", rt, id);
		*img_mib = du_mib(img);
	}
	(void)rt_cmd(rt, root, "delete", id, NULL, NULL);
	/* a restore from disk; the same with the images in the page cache (a node's next clone
	 * of a snapshot it restored before); a lazy restore (brisk only), from disk */
	static const int order[2][3] = {{S_RUNC_RESTORE, S_RUNC_WARM, -1},
					{S_BRISK_RESTORE, S_BRISK_WARM, S_BRISK_LAZY}};
	for (int v = 0; r >= 0 && v < 3 && order[brisk][v] >= 0; v++) {
		int s = order[brisk][v];
		bool lazy = s == S_BRISK_LAZY;
		char rid[80];

		/* From disk, as on a node that has just pulled the snapshot: only the images are
		 * dropped from the page cache, as the runtime and CRIU would be in it on any node
		 * that runs containers (and are for the cold run). */
		bool warm = s == S_BRISK_WARM || s == S_RUNC_WARM;
		if ((r = bench_page_cache_dir(img, warm)) < 0) {
			log_error_errno(r, "%s the images of '%s': %m", warm ? "read" : "evict",
					id);
			break;
		}
		snprintf(rid, sizeof(rid), "%s-r%d", id, v);
		/* the first-answer entry follows its restore's */
		r = start_to_ready(c, rt, root, rid, img, lazy ? LAZY : EAGER, SIGUSR1, &ms[s],
				   &ms[s + 1]);
		(void)rt_cmd(rt, root, "delete", rid, NULL, NULL);
	}
	if (r >= 0 && brisk && c->first_answer)
		r = lazy_model(c, rt, root, id, img, ms);
	(void)rm_rf_at(AT_FDCWD, img);
	return r;
}

int bench_snapshot(const struct bench_opts *o, struct json_object *results)
{
	_cleanup_free_ char *dir = NULL, *bundle = NULL, *rootfs = NULL, *app = NULL;
	unsigned sizes[8];
	size_t nsizes;
	unsigned runs = bench_runs(o, "snapshot", 3);
	bool runc = bench_have("runc");
	int r;

	if ((r = bench_parse_list(o->snap_mb, sizes, ELEMENTSOF(sizes), &nsizes)) < 0)
		return r;
	if (!o->snap_rootfs != !o->snap_cmd)
		return log_error_errno(-EINVAL, "--snap-rootfs and --snap-cmd go together");
	if (o->snap_rootfs && access(o->snap_rootfs, X_OK) < 0)
		return log_error_errno(-errno, "rootfs '%s': %m", o->snap_rootfs);
	if (!bench_have("criu"))
		return log_error_errno(-ENOENT, "snapshot: criu is not installed");
	/* CRIU's dump hangs on these VMs with hardware breakpoints; brisk sets this for its own
	 * criu, runc needs it from the environment */
	setenv("CRIU_FAULT", "130", 0);
	if ((r = bench_make_bundle(o, &dir, &bundle, &rootfs)) < 0)
		return r;
	char mb_s[16], delay_s[16];
	const char *args[] = {"/bin/bench-app", mb_s, delay_s, NULL};
	/* another app: CMD MB in a rootfs of the user's (a Python interpreter, say) */
	const char *custom[] = {"/bin/sh", "-c", o->snap_cmd, "sh", mb_s, NULL};
	snprintf(delay_s, sizeof(delay_s), "%u", o->app_delay_ms);
	app = path_join(rootfs, "bin/bench-app");
	if (o->snap_rootfs)
		r = bench_bundle_set_root(bundle, o->snap_rootfs);
	else if (!app || (r = bench_copy_file(BENCH_APP_PATH, app, 0755)) < 0)
		log_error_errno(r, "copy '%s' into the rootfs: %m", BENCH_APP_PATH);
	if (r < 0)
		goto out;
	struct snap_ctx c = {.o = o,
			     .dir = dir,
			     .bundle = bundle,
			     .delay_ms = o->app_delay_ms,
			     .first_answer = !o->snap_rootfs};
	if (o->snap_rootfs)
		fprintf(stderr, "snapshot: '%s' in '%s'", o->snap_cmd, o->snap_rootfs);
	else
		fprintf(stderr, "snapshot: bench-app initialising for %u ms", o->app_delay_ms);
	fprintf(stderr, ", sizes %s MB, %u interleaved run(s)%s\n", o->snap_mb, runs,
		runc ? "" : " (runc not installed: left out)");
	for (size_t k = 0; k < nsizes && r >= 0; k++) {
		double ms[NS][BENCH_MAX_RUNS] = {0}, img[2] = {0};
		char scenario[32];
		snprintf(mb_s, sizeof(mb_s), "%u", sizes[k]);
		snprintf(scenario, sizeof(scenario), "%u MB", sizes[k]);
		if ((r = bench_bundle_set_args(bundle, o->snap_rootfs ? custom : args)) < 0)
			break;
		bool runc_ok = runc;
		for (unsigned i = 0; i < runs && r >= 0; i++) {
			double round[NS] = {0};
			bench_progress("snapshot: %s, run %u/%u", scenario, i + 1, runs);
			/* alternate who goes first */
			for (int t = 0; t < 2 && r >= 0; t++) {
				bool brisk = (t + i) % 2 == 0;
				if (!brisk && !runc_ok)
					continue;
				int k2 = round_of(&c, brisk ? o->brisk : "runc", brisk, sizes[k], i,
						  round, &img[brisk ? 0 : 1]);
				if (k2 < 0 && !brisk) {
					log_warning("runc's checkpoint/restore failed: left out "
						    "(BENCH_VERBOSE=1 tells why)");
					runc_ok = false;
				} else
					r = k2;
			}
			for (int s = 0; s < NS; s++)
				ms[s][i] = round[s];
		}
		if (r < 0)
			break;
		for (int s = 0; s < NS; s++) {
			if (s >= S_RUNC_RUN && !runc_ok)
				continue;
			bool up = s == S_BRISK_RESTORE_UP || s == S_BRISK_WARM_UP ||
				  s == S_BRISK_LAZY_UP || s == S_RUNC_RESTORE_UP ||
				  s == S_RUNC_WARM_UP;
			bool model = s == S_BRISK_LAZY_HOT || s == S_BRISK_LAZY_HOT_RECORD ||
				     s == S_BRISK_LAZY_HOT_ORDER;
			if ((up || model) && !c.first_answer)
				continue; /* only bench-app answers these */
			bool dump = s == S_BRISK_DUMP || s == S_RUNC_DUMP;
			struct json_object *e =
			    bench_result(results, "snapshot", scenario, s_name[s], ms[s], runs,
					 s == S_BRISK_RESTORE, !dump && !up);
			if (dump)
				bench_result_add_double(e, "image_mib",
							img[s == S_BRISK_DUMP ? 0 : 1]);
		}
	}
	fprintf(stderr, "\n");
	if (r >= 0)
		bench_print_table(results, "snapshot");
out:
	if (!o->keep)
		(void)rm_rf_at(AT_FDCWD, dir);
	return r;
}
