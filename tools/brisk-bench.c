/* SPDX-License-Identifier: Apache-2.0 */
/* brisk-bench: cold-start benchmarks that print figures and ratios, never pass/fail. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/log.h"
#include "bench.h"

static void usage(void)
{
	printf("Usage: brisk-bench [options] runtime\n\n"
	       "Options:\n"
	       "  --runs N        measured runs per system (default 20)\n"
	       "  --warmup N      warm-up runs per system (default 3)\n"
	       "  --brisk PATH    brisk binary (default: next to brisk-bench's build)\n"
	       "  --busybox PATH  static busybox for the sample rootfs (default /bin/busybox)\n"
	       "  --json FILE     write the raw figures as JSON\n"
	       "  --keep          keep the temp directory\n");
}

int main(int argc, char **argv)
{
	struct bench_opts o = {.busybox = "/bin/busybox", .runs = 20, .warmup = 3};
	const char *cmd = NULL;
	int n;

	log_set_program("brisk-bench");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		if (strcmp(a, "--runs") == 0 && more && parse_int(argv[i + 1], &n) == 0 && n > 0)
			o.runs = (unsigned)n, i++;
		else if (strcmp(a, "--warmup") == 0 && more && parse_int(argv[i + 1], &n) == 0 &&
			 n >= 0)
			o.warmup = (unsigned)n, i++;
		else if (strcmp(a, "--brisk") == 0 && more)
			o.brisk = argv[++i];
		else if (strcmp(a, "--busybox") == 0 && more)
			o.busybox = argv[++i];
		else if (strcmp(a, "--json") == 0 && more)
			o.json_path = argv[++i];
		else if (strcmp(a, "--keep") == 0)
			o.keep = true;
		else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage();
			return 0;
		} else if (a[0] != '-' && !cmd)
			cmd = a;
		else {
			log_error("unknown or incomplete argument '%s'", a);
			return 2;
		}
	}
	if (!cmd) {
		usage();
		return 2;
	}
	if (!o.brisk)
		o.brisk = BRISK_PATH;
	if (geteuid() != 0) {
		log_error("brisk-bench needs root");
		return 1;
	}
	if (strcmp(cmd, "runtime") == 0)
		return bench_runtime(&o) < 0 ? 1 : 0;
	log_error("unknown benchmark '%s'", cmd);
	return 2;
}
