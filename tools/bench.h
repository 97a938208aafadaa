/* SPDX-License-Identifier: Apache-2.0 */
/* brisk-bench: one file per benchmark; this is what they share. */
#pragma once

#include <stdbool.h>

struct bench_opts {
	const char *brisk;     /* the brisk binary under test */
	const char *busybox;   /* static busybox for the sample rootfs */
	const char *json_path; /* write raw figures here, or NULL */
	const char *out_dir;   /* results directory: NAME.json, NAME.dat, NAME.png */
	unsigned runs, warmup;
	bool keep; /* keep the temp dir */
};

/* A temp dir with a busybox bundle running /bin/true (config from `brisk spec`). */
int bench_make_bundle(const struct bench_opts *o, char **ret_dir, char **ret_bundle,
		      char **ret_rootfs);

int bench_runtime(const struct bench_opts *o);

struct json_object;
/* Write RESULTS (an array of {scenario, system, wall_ms_median, ...}) into DIR. */
int bench_report(const char *dir, const char *name, const char *title, struct json_object *results);
