/* SPDX-License-Identifier: Apache-2.0 */
/* brisk-bench: one file per benchmark; this is what they share (bench-util.c, bench-report.c). */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

struct json_object;

struct bench_opts {
	const char *brisk;     /* the brisk binary under test */
	const char *busybox;   /* static busybox for the sample rootfs */
	const char *json_path; /* write raw figures here, or NULL */
	const char *out_dir;   /* results directory: NAME.json, NAME.dat, NAME.png */
	unsigned runs, warmup; /* runs == 0: each benchmark's own default */
	bool keep;	       /* keep the temp dir */
	/* image */
	unsigned image_mb;
	const char *image_oci, *image_cmd; /* an OCI layout instead, and its "ready" command */
	const char *links;		   /* "RTT_MS:MBIT,..." */
	bool containerd; /* also time containerd's pull + run when it is installed */
	bool pull;	 /* also time the full pull + unpack + run */
	/* snapshot */
	const char *snap_mb;		    /* "10,200,1024" */
	const char *snap_rootfs, *snap_cmd; /* another app: `sh -c CMD sh MB` in this rootfs */
	unsigned app_delay_ms;
	/* density */
	unsigned density;
	const char *inflight; /* "8,32" */
};

struct bench_sample {
	double wall_ms, cpu_ms;
	long rss_kb;
};

/* A temp dir with a busybox bundle running /bin/true (config from `brisk spec`). */
int bench_make_bundle(const struct bench_opts *o, char **ret_dir, char **ret_bundle,
		      char **ret_rootfs);
/* Replace process.args of BUNDLE/config.json (NULL-terminated ARGS). */
int bench_bundle_set_args(const char *bundle, const char *const *args);
/* Point root.path of BUNDLE/config.json at ROOTFS (absolute), read-only. */
int bench_bundle_set_root(const char *bundle, const char *rootfs);
/* Copy FROM to TO with MODE. */
int bench_copy_file(const char *from, const char *to, mode_t mode);

/* Each benchmark appends its figures (see bench_result) to RESULTS and prints its own table. */
int bench_runtime(const struct bench_opts *o, struct json_object *results);
int bench_image(const struct bench_opts *o, struct json_object *results);
int bench_snapshot(const struct bench_opts *o, struct json_object *results);
int bench_density(const struct bench_opts *o, struct json_object *results);
/* -ENOPKG: its image cannot be built here (no archive, nothing cached); nothing measured */
int bench_coldstart(const struct bench_opts *o, struct json_object *results);

/* bench-util.c */
/* SIGINT and SIGTERM set this (handlers with SA_RESTART): benchmarks stop at the next step and
 * undo what they started, instead of dying with registries, daemons and mounts left behind. */
extern volatile sig_atomic_t bench_interrupted;
void bench_catch_signals(void);
double bench_now_ms(void);
/* Run ARGV to completion, stdio to /dev/null (stderr kept with BENCH_VERBOSE=1); adds its wall,
 * CPU and peak RSS to *S when S is not NULL. Non-zero exit: -EIO. */
int bench_run(char *const argv[], struct bench_sample *s);
/* Same, with stdout captured (up to 1 MiB) into *RET_OUT, trailing newline removed. */
int bench_run_output(char *const argv[], char **ret_out);
/* Run ARGV to its exit; its first output line in LINE and the time until that line came in
 * *RET_LINE_MS (time to ready, leaving the teardown after it out). */
int bench_run_to_line(char *const argv[], int timeout_ms, char *line, size_t size,
		      double *ret_line_ms);
/* Start ARGV in the background: stdout to *RET_STDOUT_FD (a pipe) when it is not NULL, else
 * /dev/null; stderr to LOG (or /dev/null). */
int bench_spawn(char *const argv[], const char *log, int *ret_stdout_fd, pid_t *ret_pid);
/* Run ARGV (a `run -d` or `restore -d` of a runtime) to its exit with stdout a pipe, whose read
 * end, which the detached container keeps writing to, goes to *RET_FD; stdin is /dev/null, and
 * so is stderr (what the runtime says goes to its --log) unless KEEP_STDERR: then, for a runtime
 * without --log, stderr is kept with BENCH_VERBOSE=1, as bench_run keeps it. */
int bench_run_piped(char *const argv[], bool keep_stderr, int *ret_fd);
/* Send SIG to the pid in PID_FILE and wait for the line WANT on FD. */
int bench_ask(const char *pid_file, int fd, int sig, const char *want, int timeout_ms);
/* docker-registry on a free port of 127.0.0.1, its data and log under DIR. */
int bench_start_registry(const char *dir, pid_t *ret_pid, int *ret_port);
/* bench-netproxy in front of PORT with RTT_MS and MBIT; its port in *RET_PORT, its stdout in
 * *RET_FD (kept open while it runs). */
int bench_start_netproxy(int port, unsigned rtt_ms, unsigned mbit, pid_t *ret_pid, int *ret_fd,
			 int *ret_port);
/* "RTT_MS:MBIT,..." -> up to MAX pairs. */
int bench_parse_links(const char *s, unsigned (*out)[2], size_t max, size_t *ret_n);
struct bench_containerd_opts {
	bool cri;	   /* keep the CRI plugin on */
	const char *extra; /* appended to its config.toml (plugin sections), or NULL */
};
/* A private containerd with root, state and socket under DIR (CRI off unless OPTS says so; OPTS
 * may be NULL); socket path in SOCK. */
int bench_start_containerd(const char *dir, const struct bench_containerd_opts *opts, char *sock,
			   size_t sock_size, pid_t *ret_pid);
/* Unmount what is left at or under DIR, deepest first. */
void bench_umount_under(const char *dir);
/* A bundle in DIR (made if missing) from `BRISK spec`, no terminal, a writable root: */
struct bench_bundle {
	char *const *args;	   /* process.args, NULL-terminated */
	char *const *env;	   /* process.env, NULL-terminated; NULL: the spec's */
	const char *rootfs;	   /* root.path; NULL: the spec's */
	const char *store, *cache; /* a lazy image "v1" (run.brisk.*); NULL store: none */
	bool prefetch;		   /* with a store: replay the image's profile */
};
int bench_write_bundle(const char *brisk, const char *dir, const struct bench_bundle *b);
/* The end of a benchmark's work dir DIR: what is mounted under it unmounted, the cgroups that
 * containerd's containers left removed (CONTAINERD: it ran), then DIR removed, unless --keep
 * (said on stderr, after BENCH). Its daemons are stopped first. */
void bench_remove_work_dir(const struct bench_opts *o, const char *bench, const char *dir,
			   bool containerd);
/* Record the access profile of APP (run chrooted, with ENV, on an overlay over brisk-imagefs's
 * mount of IMAGE of STORE, under WORK) and attach it to REF with brisk-image. */
int bench_record_profile(const char *store, const char *image, const char *ref, const char *work,
			 char *const app[], char *const env[]);
/* SIGTERM, then SIGKILL after a second; reaps. */
void bench_stop(pid_t pid);
/* Read one line from FD within TIMEOUT_MS into BUF. */
int bench_read_line(int fd, char *buf, size_t size, int timeout_ms);
int bench_free_port(void);
/* Wait until something accepts on 127.0.0.1:PORT. */
int bench_wait_port(int port, int timeout_ms);
int bench_drop_caches(void);
/* Read every regular file of DIR (not its subdirectories) into the page cache (IN), or drop
 * them from it. */
int bench_page_cache_dir(const char *dir, bool in);
/* Hide the cgroup2 mount of hybrid hosts from crun 1.8 (and, for fairness, from all). */
int bench_private_mount_ns(bool *ret_hid);
/* Is PROG runnable (PROG --version exits 0)? */
bool bench_have(const char *prog);
/* Runs of a benchmark: --runs, else DEF; at most BENCH_MAX_RUNS (said on stderr). */
#define BENCH_MAX_RUNS 16
unsigned bench_runs(const struct bench_opts *o, const char *bench, unsigned def);
/* "1,2,3" -> up to MAX unsigned values. */
int bench_parse_list(const char *s, unsigned *out, size_t max, size_t *ret_n);
/* Median, min and max of V (sorted in place). */
double bench_median(double *v, size_t n, double *ret_min, double *ret_max);
/* Append {bench, scenario, system, runs, wall_ms_median/min/max, baseline, ready} to RESULTS;
 * returns the entry for extra fields (NULL on out-of-memory). BASELINE: the system the others
 * are compared with in this scenario; READY: a time-to-ready figure (the combined chart). */
struct json_object *bench_result(struct json_object *results, const char *bench,
				 const char *scenario, const char *system, double *walls, size_t n,
				 bool baseline, bool ready);
void bench_result_add_double(struct json_object *e, const char *key, double v);
/* Markdown table of the entries of RESULTS whose bench is BENCH (all when NULL): median, min,
 * max and the ratio to the scenario's baseline. */
void bench_print_table(struct json_object *results, const char *bench);
/* A progress line on stderr (overwritten by the next). */
void bench_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

enum {
	BENCH_CHART_LOG = 1 << 0,  /* logarithmic y axis */
	BENCH_CHART_FLAT = 1 << 1, /* one bar per (scenario, system), not clustered */
	BENCH_CHART_READY = 1 << 2 /* only the time-to-ready figures */
};
/* Write the entries of RESULTS whose bench is BENCH (all when NULL) into DIR as NAME.json,
 * NAME.dat and NAME.png (gnuplot, when installed). */
int bench_report(const char *dir, const char *name, const char *title, const char *bench,
		 struct json_object *results, unsigned chart_flags);
