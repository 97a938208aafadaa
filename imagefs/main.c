/* SPDX-License-Identifier: Apache-2.0 */
/*
 * brisk-imagefs: mount a lazy image.
 *   brisk-imagefs mount --store STORE --cache DIR [options] REF MOUNTPOINT
 *   brisk-imagefs umount MOUNTPOINT   (only a brisk-imagefs mount)
 *   brisk-imagefs stats MOUNTPOINT    (the daemon's counters, JSON)
 * STORE: dir:PATH or registry:HOST[:PORT]/REPO; REF: a tag or sha256:HEX (the index digest).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/mountinfo.h"
#include "imagefs/imagefs.h"

/* what mount.c gives its mounts: fsname=brisk-imagefs, subtype=brisk */
#define MOUNT_SOURCE "brisk-imagefs"
#define MOUNT_FSTYPE "fuse.brisk"

static void usage(FILE *f)
{
	fputs("usage: brisk-imagefs mount --store STORE --cache DIR [--cache-size BYTES]\n"
	      "           [--foreground] [--threads N] [--retries N] [--timeout-ms N]\n"
	      "           [--record-profile FILE] [--no-prefetch] [--pid-file FILE] [--log FILE]\n"
	      "           [--stats FILE] [--exact-xattrs]"
	      "           [--debug] REF MOUNTPOINT\n"
	      "       brisk-imagefs umount MOUNTPOINT    (a brisk-imagefs mount, nothing else)\n"
	      "       brisk-imagefs stats MOUNTPOINT\n"
	      "STORE: dir:PATH | registry:HOST[:PORT]/REPO; REF: TAG | sha256:HEX\n",
	      f);
}

static int parse_u(const char *what, const char *s, unsigned long long max, unsigned long long *ret)
{
	if (parse_uint64(s, ret) < 0 || *ret > max)
		return log_error_errno(-EINVAL, "bad %s '%s'", what, s);
	return 0;
}

static int cmd_mount(int argc, char **argv)
{
	static const struct option longopts[] = {{"store", required_argument, NULL, 's'},
						 {"cache", required_argument, NULL, 'c'},
						 {"cache-size", required_argument, NULL, 'S'},
						 {"foreground", no_argument, NULL, 'f'},
						 {"threads", required_argument, NULL, 't'},
						 {"retries", required_argument, NULL, 'r'},
						 {"timeout-ms", required_argument, NULL, 'T'},
						 {"record-profile", required_argument, NULL, 'p'},
						 {"no-prefetch", no_argument, NULL, 'n'},
						 {"pid-file", required_argument, NULL, 'P'},
						 {"log", required_argument, NULL, 'l'},
						 {"stats", required_argument, NULL, 'x'},
						 {"debug", no_argument, NULL, 'd'},
						 {"exact-xattrs", no_argument, NULL, 'X'},
						 {}};
	struct imagefs_mount_options o = {.retries = 3};
	_cleanup_free_ char *spec = NULL;
	const char *store = NULL;
	unsigned long long v;
	int c, r;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			store = optarg;
			break;
		case 'c':
			o.cache_dir = optarg;
			break;
		case 'S':
			if ((r = parse_u("cache size", optarg, UINT64_MAX, &v)) < 0)
				return r;
			o.cache_size = v;
			break;
		case 'f':
			o.foreground = true;
			break;
		case 't':
			if ((r = parse_u("thread count", optarg, 256, &v)) < 0)
				return r;
			o.fetch_threads = (unsigned)v;
			break;
		case 'r':
			if ((r = parse_u("retry count", optarg, 100, &v)) < 0)
				return r;
			o.retries = (unsigned)v;
			break;
		case 'T':
			if ((r = parse_u("timeout", optarg, 3600000, &v)) < 0)
				return r;
			o.timeout_ms = (unsigned)v;
			break;
		case 'p':
			o.record_profile = optarg;
			break;
		case 'n':
			o.no_prefetch = true;
			break;
		case 'X':
			o.exact_xattrs = true;
			break;
		case 'P':
			o.pid_file = optarg;
			break;
		case 'l':
			o.log_file = optarg;
			break;
		case 'x':
			o.stats_file = optarg;
			break;
		case 'd':
			o.debug = true;
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (argc - optind != 2 || !store || !o.cache_dir) {
		usage(stderr);
		return -EINVAL;
	}
	const char *ref = argv[optind];
	/* a digest names the index itself, a tag the manifest that lists it */
	if (asprintf(&spec, "%s%s%s", store, strncmp(ref, "sha256:", 7) == 0 ? "@" : ":", ref) < 0)
		return -ENOMEM;
	o.store_spec = spec;
	return imagefs_mount(&o, argv[optind + 1]);
}

struct mount_find {
	const char *path;
	bool found, ours;
};

/* The last entry of a mount point is the mount on top, the one umount removes. */
static int find_mount(const struct mountinfo_entry *e, void *userdata)
{
	struct mount_find *f = userdata;

	if (strcmp(e->mount_point, f->path) == 0) {
		f->found = true;
		f->ours =
		    strcmp(e->fstype, MOUNT_FSTYPE) == 0 && strcmp(e->source, MOUNT_SOURCE) == 0;
	}
	return 0;
}

/* MOUNTPOINT as the mount table writes it: its parent resolved, itself not looked at (a stat of
 * a mount whose daemon is stuck would hang, and one whose daemon died fails). */
static int mountpoint_path(const char *mountpoint, char **ret)
{
	_cleanup_free_ char *copy = strdup(mountpoint);
	char parent[PATH_MAX];
	const char *base;
	size_t n;

	if (!copy)
		return -ENOMEM;
	n = strlen(copy);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	char *slash = strrchr(copy, '/');
	base = slash ? slash + 1 : copy;
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		if (!realpath(copy, parent))
			return -errno;
		return (*ret = strdup(parent)) ? 0 : -ENOMEM;
	}
	if (slash)
		*slash = '\0';
	if (!realpath(!slash ? "." : slash == copy ? "/" : copy, parent))
		return -errno;
	if (asprintf(ret, "%s%s%s", parent, strcmp(parent, "/") == 0 ? "" : "/", base) < 0)
		return -ENOMEM;
	return 0;
}

/* Unmount MOUNTPOINT only when it is a brisk-imagefs mount: not a tmpfs, a bind mount or
 * anything else a mistyped path names. */
static int cmd_umount(const char *mountpoint)
{
	_cleanup_free_ char *path = NULL;
	int r;

	if ((r = mountpoint_path(mountpoint, &path)) < 0)
		return log_error_errno(r, "mountpoint '%s': %m", mountpoint);
	struct mount_find f = {.path = path};
	if ((r = mountinfo_foreach("/proc/self/mountinfo", find_mount, &f)) < 0)
		return log_error_errno(r, "read the mount table: %m");
	if (!f.ours)
		return log_error_errno(-EINVAL, "'%s' is not a brisk-imagefs mount%s", mountpoint,
				       f.found ? "" : " (nothing is mounted there)");
	return imagefs_umount(path);
}

int main(int argc, char **argv)
{
	int r;

	log_set_program("brisk-imagefs");
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "mount") == 0) {
		r = cmd_mount(argc - 1, argv + 1);
	} else if (strcmp(argv[1], "umount") == 0 && argc == 3) {
		r = cmd_umount(argv[2]);
	} else if (strcmp(argv[1], "stats") == 0 && argc == 3) {
		_cleanup_free_ char *json = NULL;
		r = imagefs_mount_stats(argv[2], &json);
		if (r == -ENOTTY)
			log_error("'%s' is not a lazy mount", argv[2]);
		else if (r < 0)
			log_error_errno(r, "stats of '%s': %m", argv[2]);
		else
			puts(json);
	} else {
		usage(stderr);
		return 2;
	}
	return r < 0 ? 1 : 0;
}
