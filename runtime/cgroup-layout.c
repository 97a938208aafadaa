/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which hierarchies a host has (v1, v2 or hybrid) and where the container's directory goes in
 * each. The real cgroupfs is read from /proc/self/mountinfo (which also tells co-mounted
 * controllers such as "cpu,cpuacct"); a root with no cgroup mounts below it (a tree laid out
 * in a temp dir by tests) is read from its directory listing instead.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/mountinfo.h"
#include "cgroup-internal.h"
#include "cgroup-layout.h"

static const char *const known_controllers[] = {
    "cpu",   "cpuacct", "cpuset",     "memory", "devices", "freezer", "net_cls", "net_prio",
    "blkio", "hugetlb", "perf_event", "pids",	"rdma",	   "misc",    NULL};

static bool is_known(const char *c)
{
	if (strncmp(c, "name=", 5) == 0)
		return strcmp(c, "name=systemd") == 0;
	for (const char *const *k = known_controllers; *k; k++)
		if (strcmp(*k, c) == 0)
			return true;
	return false;
}

void cgroup_layout_done(struct cgroup_layout *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->h[i].controllers);
		free(l->h[i].mount);
		free(l->h[i].own);
	}
	free(l->h);
	*l = (struct cgroup_layout){0};
}

static int add(struct cgroup_layout *l, const char *controllers, const char *mount, const char *own,
	       bool own_outside)
{
	struct cgroup_layout_hier *h;

	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->h[i].controllers, controllers) == 0)
			return 0; /* mounted twice */
	h = realloc(l->h, (l->n + 1) * sizeof(*h));
	if (!h)
		return -ENOMEM;
	l->h = h;
	h = &l->h[l->n];
	*h = (struct cgroup_layout_hier){0};
	if (!(h->controllers = strdup(controllers)) || !(h->mount = strdup(mount)) ||
	    !(h->own = strdup(own ? own : "/"))) {
		free(h->controllers);
		free(h->mount);
		return -ENOMEM;
	}
	h->own_outside = own_outside;
	l->n++;
	return 0;
}

/* Keep the controllers among OPTS ("rw,nsdelegate,cpu,cpuacct"), in order, comma-separated. */
static int filter_controllers(const char *opts, char **ret)
{
	_cleanup_free_ char *copy = strdup(opts), *out = calloc(1, strlen(opts) + 1);
	char *save = NULL;

	if (!copy || !out)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!is_known(t))
			continue;
		if (*out)
			strcat(out, ",");
		strcat(out, t);
	}
	*ret = TAKE_PTR(out);
	return 0;
}

/*
 * The caller's own cgroup in the hierarchy of CONTROLLERS ("" for cgroup2), from SELF (the
 * text of /proc/self/cgroup, read once per layout: it costs tens of microseconds a read on a
 * v1 host), relative to the mount's root MNT_ROOT. *RET_OUTSIDE: the caller's cgroup is not
 * below MNT_ROOT (or not listed), and *RET is not where the caller is.
 */
static int own_cgroup(const char *self, const char *controllers, const char *mnt_root, char **ret,
		      bool *ret_outside)
{
	_cleanup_free_ char *copy = strdup(self);

	if (!copy)
		return -ENOMEM;
	for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *c = strchr(line, ':'), *p;

		if (!c || !(p = strchr(c + 1, ':')))
			continue;
		*p++ = '\0';
		if (strcmp(c + 1, controllers) != 0)
			continue;
		size_t n = strlen(mnt_root);
		bool outside = false;

		if (strcmp(mnt_root, "/") != 0) {
			/* "/.." and below: the mount's root is above our cgroup namespace's */
			if (strncmp(p, mnt_root, n) == 0 && (p[n] == '/' || !p[n]) &&
			    strncmp(mnt_root, "/..", 3) != 0)
				p += n;
			else
				outside = true;
		}
		*ret = strdup(*p ? p : "/");
		if (!*ret)
			return -ENOMEM;
		*ret_outside = outside;
		return 0;
	}
	*ret = strdup("/");
	if (!*ret)
		return -ENOMEM;
	*ret_outside = true;
	return 0;
}

struct layout_scan {
	const char *root;
	size_t rootlen;
	const char *self; /* /proc/self/cgroup */
	struct cgroup_layout *l;
};

/* One cgroup or cgroup2 mount at ROOT or directly below it. */
static int layout_entry(const struct mountinfo_entry *e, void *userdata)
{
	struct layout_scan *sc = userdata;
	struct cgroup_layout *l = sc->l;
	const char *mnt = e->mount_point;
	size_t rootlen = sc->rootlen;
	_cleanup_free_ char *ctrls = NULL, *own = NULL;
	bool outside = false;
	int r;

	if (strcmp(e->fstype, "cgroup") != 0 && strcmp(e->fstype, "cgroup2") != 0)
		return 0;
	if (strncmp(mnt, sc->root, rootlen) != 0 ||
	    (mnt[rootlen] != '\0' && (mnt[rootlen] != '/' || strchr(mnt + rootlen + 1, '/'))))
		return 0;
	if (strcmp(e->fstype, "cgroup2") == 0) {
		if (!(ctrls = strdup("")))
			return -ENOMEM;
		if (mnt[rootlen] == '\0')
			l->mode = CGROUP_MODE_V2;
		else
			l->has_unified = true;
	} else {
		if ((r = filter_controllers(e->super_options, &ctrls)) < 0)
			return r;
		if (!*ctrls)
			return 0;
		l->has_v1 = true;
	}
	if ((r = own_cgroup(sc->self, ctrls, e->root, &own, &outside)) < 0)
		return r;
	return add(l, ctrls, mnt, own, outside);
}

static int from_mountinfo(const char *root, struct cgroup_layout *l)
{
	_cleanup_free_ char *self = NULL;
	int r = read_file_at(AT_FDCWD, "/proc/self/cgroup", 1 << 20, &self, NULL);

	if (r < 0)
		return r;
	struct layout_scan sc = {.root = root, .rootlen = strlen(root), .self = self, .l = l};
	return mountinfo_foreach("/proc/self/mountinfo", layout_entry, &sc);
}

static int from_directory(const char *root, struct cgroup_layout *l)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r;

	if (cg_exists(root, "cgroup.controllers")) {
		l->mode = CGROUP_MODE_V2;
		return add(l, "", root, "/", false);
	}
	if (!(d = opendir(root)))
		return -errno;
	while ((de = readdir(d))) {
		_cleanup_free_ char *p = NULL, *ctrls = NULL, *name = NULL;
		struct stat st, lst;

		if (de->d_name[0] == '.')
			continue;
		if (!(p = path_join(root, de->d_name)))
			return -ENOMEM;
		/* "cpu" -> "cpu,cpuacct" symlinks: the real directory has the full name. */
		if (lstat(p, &lst) < 0 || S_ISLNK(lst.st_mode) || stat(p, &st) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (cg_exists(p, "cgroup.controllers")) {
			l->has_unified = true;
			if ((r = add(l, "", p, "/", false)) < 0)
				return r;
			continue;
		}
		if (strcmp(de->d_name, "systemd") == 0)
			name = strdup("name=systemd");
		else
			name = strdup(de->d_name);
		if (!name)
			return -ENOMEM;
		if ((r = filter_controllers(name, &ctrls)) < 0)
			return r;
		if (!*ctrls)
			continue;
		l->has_v1 = true;
		if ((r = add(l, ctrls, p, "/", false)) < 0)
			return r;
	}
	return 0;
}

int cgroup_layout_read(const char *root, struct cgroup_layout *ret)
{
	struct cgroup_layout l = {0};
	int r;

	r = from_mountinfo(root, &l);
	if (r >= 0 && l.n == 0)
		r = from_directory(root, &l);
	if (r < 0) {
		cgroup_layout_done(&l);
		return r;
	}
	if (l.mode != CGROUP_MODE_V2) {
		if (!l.has_v1) {
			cgroup_layout_done(&l);
			return -ENOMEDIUM;
		}
		l.mode = l.has_unified ? CGROUP_MODE_HYBRID : CGROUP_MODE_V1;
	} else {
		/* cgroup2 at the root: nothing else counts. */
		for (size_t i = 0; i < l.n; i++)
			if (strcmp(l.h[i].mount, root) == 0 && i != 0) {
				struct cgroup_layout_hier t = l.h[0];

				l.h[0] = l.h[i];
				l.h[i] = t;
			}
		for (size_t i = 1; i < l.n; i++) {
			free(l.h[i].controllers);
			free(l.h[i].mount);
			free(l.h[i].own);
		}
		l.n = 1;
	}
	*ret = l;
	return 0;
}

int cgroup_detect_mode(const char *root, enum cgroup_mode *ret)
{
	struct cgroup_layout l;
	int r = cgroup_layout_read(root ? root : "/sys/fs/cgroup", &l);

	if (r < 0)
		return r;
	*ret = l.mode;
	cgroup_layout_done(&l);
	return 0;
}
