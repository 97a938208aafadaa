/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A snapshot's directories and mounts (layout.h). Ordinary layers are unpacked by containerd
 * into the fs/ directory of an active snapshot that is then committed; an active snapshot on a
 * parent is an overlay of the parents' fs/ directories, nearest first, with its own fs/ as the
 * upper layer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "layout.h"
#include "lazy.h"
#include "common/log.h"

void layout_mount_done(struct layout_mount *m)
{
	free(m->source);
	m->source = NULL;
	m->options = strv_free(m->options);
}

static int snapshots_fd(struct store *store)
{
	int fd = openat(store->root_fd, "snapshots", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int layout_create(struct store *store, uint64_t id, enum snap_kind kind)
{
	_cleanup_close_ int dfd = snapshots_fd(store);
	char name[32], sub[48];
	int r;

	if (dfd < 0)
		return dfd;
	snprintf(name, sizeof(name), "%" PRIu64, id);
	/* an id no record holds: whatever is there was left by a crash before its record */
	r = rm_rf_at(dfd, name);
	if (r < 0)
		return r;
	if (mkdirat(dfd, name, 0700) < 0)
		return -errno;
	snprintf(sub, sizeof(sub), "%s/fs", name);
	r = RET_NERRNO(mkdirat(dfd, sub, 0755));
	if (r >= 0 && kind == SNAP_ACTIVE) {
		snprintf(sub, sizeof(sub), "%s/work", name);
		r = RET_NERRNO(mkdirat(dfd, sub, 0700));
	}
	if (r < 0)
		(void)rm_rf_at(dfd, name);
	return r;
}

int layout_remove(struct store *store, uint64_t id)
{
	_cleanup_close_ int dfd = snapshots_fd(store);
	char name[32], aside[40];

	if (dfd < 0)
		return dfd;
	snprintf(name, sizeof(name), "%" PRIu64, id);
	snprintf(aside, sizeof(aside), "rm-%" PRIu64, id);
	if (renameat(dfd, name, dfd, aside) < 0)
		return errno == ENOENT ? 0 : -errno;
	return rm_rf_at(dfd, aside);
}

int layout_cleanup(struct store *store)
{
	_cleanup_close_ int dfd = snapshots_fd(store);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r = 0;

	if (dfd < 0)
		return dfd;
	d = fdopendir(fcntl(dfd, F_DUPFD_CLOEXEC, 3));
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		unsigned long long id;
		int k;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (parse_uint64(de->d_name, &id) >= 0 &&
		    (store_has_id(store, id) || lazy_pending_id(id)))
			continue;
		/* a brisk image mounted before a crash kept its record from being written */
		if (parse_uint64(de->d_name, &id) >= 0 && (k = lazy_umount(store, id)) < 0)
			log_warning_errno(k, "unmount leftover '%s/snapshots/%s/fs': %m",
					  store->root, de->d_name);
		k = rm_rf_at(dfd, de->d_name);
		if (k < 0)
			r = log_warning_errno(k, "remove leftover '%s/snapshots/%s': %m",
					      store->root, de->d_name);
		else
			log_debug("removed leftover '%s/snapshots/%s'", store->root, de->d_name);
	}
	return r;
}

struct usage {
	int64_t size, inodes;
	dev_t dev;
	ino_t *seen; /* inodes with more than one link */
	size_t n_seen;
};

static bool seen_before(struct usage *u, const struct stat *st)
{
	ino_t *p;

	if (st->st_nlink < 2)
		return false;
	for (size_t i = 0; i < u->n_seen; i++)
		if (u->seen[i] == st->st_ino)
			return true;
	p = reallocarray(u->seen, u->n_seen + 1, sizeof(*p));
	if (p) {
		u->seen = p;
		u->seen[u->n_seen++] = st->st_ino;
	}
	return false;
}

static int usage_walk(int dfd, struct usage *u, unsigned depth)
{
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	struct dirent *de;
	struct stat st;

	if (!d) {
		safe_close(dfd);
		return -errno;
	}
	if (depth > 4096)
		return -ELOOP;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (st.st_dev != u->dev || seen_before(u, &st))
			continue;
		u->size += (int64_t)st.st_blocks * 512;
		u->inodes++;
		if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd(d), de->d_name,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int r;

			if (fd < 0)
				return -errno;
			r = usage_walk(fd, u, depth + 1);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int layout_usage(struct store *store, uint64_t id, int64_t *ret_size, int64_t *ret_inodes)
{
	struct usage u = {};
	char path[48];
	struct stat st;
	int fd, r;

	snprintf(path, sizeof(path), "snapshots/%" PRIu64 "/fs", id);
	fd = openat(store->root_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		safe_close(fd);
		return -errno;
	}
	u.dev = st.st_dev;
	u.size = (int64_t)st.st_blocks * 512;
	u.inodes = 1;
	r = usage_walk(fd, &u, 0);
	free(u.seen);
	if (r < 0)
		return r;
	*ret_size = u.size;
	*ret_inodes = u.inodes;
	return 0;
}

static char *fs_path(struct store *store, uint64_t id)
{
	char *p;

	if (asprintf(&p, "%s/snapshots/%" PRIu64 "/fs", store->root, id) < 0)
		return NULL;
	return p;
}

/*
 * KEY or the nearest of its parents that an overlay stacks: an empty layer of a brisk image
 * (the layers of its manifest above the first, all of the image being in that one's mount) adds
 * nothing but a directory per layer to lowerdir, so it is left out; its parent never is.
 */
static const struct snap *lower_from(struct store *store, const char *key)
{
	const struct snap *p = key ? store_find(store, key) : NULL;

	while (p && p->empty && p->parent)
		p = store_find(store, p->parent);
	return p;
}

/* "lowerdir=" and the fs/ directories of SNAP's parents, nearest first */
static int lowerdir_option(struct store *store, const struct snap *snap, char **ret)
{
	_cleanup_free_ char *opt = strdup("lowerdir=");

	for (const struct snap *p = lower_from(store, snap->parent); p;
	     p = lower_from(store, p->parent)) {
		_cleanup_free_ char *dir = fs_path(store, p->id);
		char *n;

		if (!opt || !dir)
			return -ENOMEM;
		if (asprintf(&n, "%s%s%s", opt, opt[9] ? ":" : "", dir) < 0)
			return -ENOMEM;
		free(opt);
		opt = n;
	}
	if (!opt)
		return -ENOMEM;
	*ret = TAKE_PTR(opt);
	return 0;
}

static int strv_push(char ***v, size_t *n, char *s)
{
	char **p;

	if (!s)
		return -ENOMEM;
	p = reallocarray(*v, *n + 2, sizeof(char *));
	if (!p) {
		free(s);
		return -ENOMEM;
	}
	p[(*n)++] = s;
	p[*n] = NULL;
	*v = p;
	return 0;
}

static int bind_mount(struct store *store, uint64_t id, bool ro, struct layout_mount *ret)
{
	_cleanup_strv_free_ char **opts = NULL;
	size_t n = 0;
	int r;

	r = strv_push(&opts, &n, strdup(ro ? "ro" : "rw"));
	if (r >= 0)
		r = strv_push(&opts, &n, strdup("rbind"));
	if (r < 0)
		return r;
	ret->source = fs_path(store, id);
	if (!ret->source)
		return -ENOMEM;
	ret->type = "bind";
	ret->options = TAKE_PTR(opts);
	return 0;
}

int layout_mount(struct store *store, const struct snap *snap, struct layout_mount *ret)
{
	_cleanup_strv_free_ char **opts = NULL;
	const struct snap *lower;
	char *opt = NULL;
	size_t n = 0;
	int r = 0;

	if (!snap->parent)
		return bind_mount(store, snap->id, snap->kind == SNAP_VIEW, ret);
	/* a view of one directory: overlayfs wants two lower layers when it has no upper one */
	lower = lower_from(store, snap->parent);
	if (snap->kind == SNAP_VIEW && !lower_from(store, lower->parent))
		return bind_mount(store, lower->id, true, ret);
	/* as containerd's overlay snapshotter: no index, so layers may move between mounts */
	if (access("/sys/module/overlay/parameters/index", F_OK) == 0)
		r = strv_push(&opts, &n, strdup("index=off"));
	if (r >= 0 && snap->kind == SNAP_ACTIVE) {
		r = asprintf(&opt, "workdir=%s/snapshots/%" PRIu64 "/work", store->root, snap->id);
		r = strv_push(&opts, &n, r < 0 ? NULL : opt);
		opt = NULL;
		if (r >= 0) {
			r = asprintf(&opt, "upperdir=%s/snapshots/%" PRIu64 "/fs", store->root,
				     snap->id);
			r = strv_push(&opts, &n, r < 0 ? NULL : opt);
		}
	}
	if (r >= 0)
		r = lowerdir_option(store, snap, &opt);
	if (r >= 0)
		r = strv_push(&opts, &n, opt);
	if (r < 0)
		return r;
	ret->source = strdup("overlay");
	if (!ret->source)
		return -ENOMEM;
	ret->type = "overlay";
	ret->options = TAKE_PTR(opts);
	return 0;
}
