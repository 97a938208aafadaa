/* SPDX-License-Identifier: Apache-2.0 */
/* brisk-bench: cold-start benchmarks that print figures and ratios, never pass/fail. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "bench.h"

static void usage(void)
{
	printf(
	    "Usage: brisk-bench [options] runtime|image|snapshot|coldstart|density|all\n\n"
	    "  runtime   start of /bin/true: brisk, runc, crun, the floor\n"
	    "  image     time to ready from a registry behind an emulated link: pull + unpack +\n"
	    "            run, brisk lazy cold / + prefetch / warm cache, native disk\n"
	    "  snapshot  an app that touches N MB: cold run vs restore vs lazy restore, to ready\n"
	    "  coldstart a Python app (numpy, scipy) on a new node, to its first answer: "
	    "containerd\n"
	    "            pull + run, brisk lazy, pull-snapshot + restore, restore of the lazily\n"
	    "            mounted snapshot (exit 77 when its image cannot be built here)\n"
	    "  density   many containers started N at a time: containers/s, memory each\n"
	    "  all       every benchmark, one table, one JSON, one chart\n\n"
	    "Options:\n"
	    "  --runs N         measured runs per system (default: runtime 20, image 1,\n"
	    "                   snapshot 3, coldstart 1, density 1)\n"
	    "  --warmup N       warm-up runs of the runtime benchmark (default 3)\n"
	    "  --brisk PATH     brisk binary (default: the one of brisk-bench's build)\n"
	    "  --busybox PATH   static busybox for the sample rootfs (default /bin/busybox)\n"
	    "  --image-mb N     size of the generated image (default 500)\n"
	    "  --links LIST     link profiles RTT_MS:MBIT,... (default 5:1000,25:200)\n"
	    "  --no-containerd  leave containerd's pull + run out of the image benchmark\n"
	    "  --no-pull        leave the full pull + unpack + run out of it too\n"
	    "  --image-oci DIR --image-cmd CMD  bench this OCI image layout (tag latest) instead\n"
	    "                   of the generated one; CMD (sh -c) prints 'ready' when it is\n"
	    "  --snap-mb LIST   memory the snapshot app touches, MB (default 10,200,1024)\n"
	    "  --app-delay-ms N the snapshot app's initialisation time (default 1000)\n"
	    "  --snap-rootfs DIR --snap-cmd CMD  another snapshot app: sh -c CMD sh MB in DIR;\n"
	    "                   it prints 'ready', then 'ok' for each SIGUSR1\n"
	    "  --density N      containers started by the density benchmark (default 200)\n"
	    "  --inflight LIST  starts in flight at once (default 8,32)\n"
	    "  --skip LIST      leave these benchmarks out of 'all' (NAME,NAME...)\n"
	    "  --json FILE      write the raw figures as JSON\n"
	    "  --out DIR        results directory: NAME.json, NAME.dat, NAME.png (gnuplot)\n"
	    "  --keep           keep the temp directories\n");
}

struct bench {
	const char *name, *title;
	int (*fn)(const struct bench_opts *o, struct json_object *results);
	unsigned chart;
};

/* image, snapshot and coldstart first: runtime and density hide the cgroup2 mount from the process
 */
static const struct bench benches[] = {
    {"image", "time to ready from a registry, per link profile", bench_image,
     BENCH_CHART_LOG | BENCH_CHART_READY},
    {"snapshot", "time to ready of an app that touches N MB: run vs restore", bench_snapshot,
     BENCH_CHART_LOG},
    {"coldstart", "time to the first answer of a Python app on a new node", bench_coldstart,
     BENCH_CHART_LOG | BENCH_CHART_READY},
    {"runtime", "container start: run and create+start+delete of /bin/true", bench_runtime, 0},
    {"density", "N containers started K at a time: total time", bench_density, 0},
};

static int parse_uint(const char *s, unsigned min, unsigned *ret)
{
	int n;

	if (parse_int(s, &n) < 0 || n < (int)min)
		return -EINVAL;
	*ret = (unsigned)n;
	return 0;
}

/* Is NAME an item of the comma-separated LIST? */
static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {.busybox = "/bin/busybox",
			       .warmup = 3,
			       .image_mb = 500,
			       .links = "5:1000,25:200",
			       .containerd = true,
			       .pull = true,
			       .snap_mb = "10,200,1024",
			       .app_delay_ms = 1000,
			       .density = 200,
			       .inflight = "8,32"};
	_cleanup_json_ struct json_object *results = NULL;
	const char *cmd = NULL, *skip = "";
	int failed = 0, r;

	log_set_program("brisk-bench");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned *num = strcmp(a, "--runs") == 0	   ? &o.runs
				: strcmp(a, "--warmup") == 0	   ? &o.warmup
				: strcmp(a, "--image-mb") == 0	   ? &o.image_mb
				: strcmp(a, "--app-delay-ms") == 0 ? &o.app_delay_ms
				: strcmp(a, "--density") == 0	   ? &o.density
								   : NULL;
		const char **str = strcmp(a, "--brisk") == 0	     ? &o.brisk
				   : strcmp(a, "--busybox") == 0     ? &o.busybox
				   : strcmp(a, "--json") == 0	     ? &o.json_path
				   : strcmp(a, "--out") == 0	     ? &o.out_dir
				   : strcmp(a, "--links") == 0	     ? &o.links
				   : strcmp(a, "--snap-mb") == 0     ? &o.snap_mb
				   : strcmp(a, "--inflight") == 0    ? &o.inflight
				   : strcmp(a, "--image-oci") == 0   ? &o.image_oci
				   : strcmp(a, "--image-cmd") == 0   ? &o.image_cmd
				   : strcmp(a, "--snap-rootfs") == 0 ? &o.snap_rootfs
				   : strcmp(a, "--snap-cmd") == 0    ? &o.snap_cmd
				   : strcmp(a, "--skip") == 0	     ? &skip
								     : NULL;
		if (num && v &&
		    parse_uint(v, num == &o.warmup || num == &o.app_delay_ms ? 0 : 1, num) == 0)
			i++;
		else if (str && v)
			*str = v, i++;
		else if (strcmp(a, "--keep") == 0)
			o.keep = true;
		else if (strcmp(a, "--no-containerd") == 0)
			o.containerd = false;
		else if (strcmp(a, "--no-pull") == 0)
			o.pull = false;
		else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage();
			return 0;
		} else if (a[0] != '-' && !cmd)
			cmd = a;
		else {
			log_error("unknown or incomplete argument '%s'%s%s%s", a,
				  v && num ? " '" : "", v && num ? v : "", v && num ? "'" : "");
			return 2;
		}
	}
	if (!cmd) {
		usage();
		return 2;
	}
	bool all = strcmp(cmd, "all") == 0, found = all;
	for (size_t i = 0; i < ELEMENTSOF(benches); i++)
		found = found || strcmp(cmd, benches[i].name) == 0;
	if (!found) {
		log_error("unknown benchmark '%s' (runtime, image, snapshot, coldstart, density or "
			  "all)",
			  cmd);
		return 2;
	}
	if (!o.brisk)
		o.brisk = BRISK_PATH;
	if (geteuid() != 0) {
		log_error("brisk-bench needs root");
		return 1;
	}
	results = json_object_new_array();
	if (!results)
		return 1;
	bench_catch_signals();
	for (size_t i = 0; i < ELEMENTSOF(benches); i++) {
		const struct bench *b = &benches[i];
		if (!all && strcmp(cmd, b->name) != 0)
			continue;
		if (bench_interrupted)
			break;
		if (all && in_list(skip, b->name))
			continue;
		r = b->fn(&o, results);
		if (r == -ENOPKG && !all)
			return 77; /* meson's SKIP: nothing to measure here */
		if (r == -ENOPKG)
			continue;
		if (r < 0) {
			log_error("benchmark '%s' failed", b->name);
			failed++;
			continue;
		}
		if (o.out_dir &&
		    bench_report(o.out_dir, b->name, b->title, b->name, results, b->chart) < 0)
			failed++;
	}
	if (all) {
		printf("\n## All benchmarks\n");
		bench_print_table(results, NULL);
		if (o.out_dir &&
		    bench_report(o.out_dir, "all", "time to ready per system and profile", NULL,
				 results,
				 BENCH_CHART_LOG | BENCH_CHART_FLAT | BENCH_CHART_READY) < 0)
			failed++;
	}
	if (o.json_path) {
		const char *s = json_object_to_json_string_ext(results, JSON_C_TO_STRING_PRETTY);
		if ((r = write_file_atomic_at(AT_FDCWD, o.json_path, s, strlen(s), 0644, false)) <
		    0) {
			log_error_errno(r, "write '%s': %m", o.json_path);
			failed++;
		}
	}
	if (o.out_dir)
		fprintf(stderr, "results in %s\n", o.out_dir);
	if (bench_interrupted)
		log_error("interrupted");
	return failed || bench_interrupted ? 1 : 0;
}
