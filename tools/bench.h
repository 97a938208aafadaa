/* SPDX-License-Identifier: Apache-2.0 */
/* brisk-bench: one file per benchmark; this is what they share. */
#pragma once

#include <stdbool.h>

struct bench_opts {
	const char *brisk;     /* the brisk binary under test */
	const char *busybox;   /* static busybox for the sample rootfs */
	const char *json_path; /* write raw figures here, or NULL */
	unsigned runs, warmup;
	bool keep; /* keep the temp dir */
};

/* A temp dir with a busybox bundle running /bin/true (config from `brisk spec`). */
int bench_make_bundle(const struct bench_opts *o, char **ret_dir, char **ret_bundle,
		      char **ret_rootfs);

int bench_runtime(const struct bench_opts *o);
