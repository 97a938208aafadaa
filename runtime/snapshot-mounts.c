/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container's mounts as CRIU sees them, on dump and on restore: bind mounts are external
 * (keyed by destination, mapped to the restoring bundle's sources), and the tmpfs mounts a
 * restore can make again by itself (masked paths, the spec's empty tmpfs mounts, the cgroup v1
 * tmpfs) are left out of the dump as external too, saving CRIU a tar run for each.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/json.h"
#include "cgroup-layout.h"
#include "container-snapshot.h"

void ext_mounts_done(struct ext_mounts *m)
{
	free(m->pairs);
	strv_free(m->keys);
	for (size_t i = 0; i < m->n_owned; i++)
		free(m->owned[i]);
	free(m->owned);
	m->pairs = NULL;
	m->keys = NULL;
	m->owned = NULL;
	m->n = m->n_owned = 0;
}

int ext_mounts_add(struct ext_mounts *m, const char *key, const char *value)
{
	struct snapshot_pair *p = realloc(m->pairs, (m->n + 2) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	m->pairs = p;
	m->pairs[m->n++] = (struct snapshot_pair){.key = key, .value = value};
	m->pairs[m->n] = (struct snapshot_pair){0};
	return 0;
}

/* Append S (taken: freed on failure) to the NULL-terminated *V of *N entries. */
static int strv_push(char ***v, size_t *n, char *s)
{
	char **p;

	if (!s)
		return -ENOMEM;
	if (!(p = reallocarray(*v, *n + 2, sizeof(char *)))) {
		free(s);
		return -ENOMEM;
	}
	*v = p;
	p[(*n)++] = s;
	p[*n] = NULL;
	return 0;
}

/* A string of EM's own (freed with it), or NULL on out-of-memory. */
static const char *ext_mounts_own(struct ext_mounts *em, char *str)
{
	return str && strv_push(&em->owned, &em->n_owned, str) == 0 ? str : NULL;
}

const char *ext_mounts_tmpfs_key(struct ext_mounts *em, const struct spec_mount *m)
{
	char *key;

	if (asprintf(&key, "%s%s", SNAPSHOT_TMPFS_KEY_PREFIX, m->destination) < 0)
		return NULL;
	return ext_mounts_own(em, key);
}

/* PATH is the root of a tmpfs mount, read-only or not as RO says; its mode in *RET_ST. */
bool is_tmpfs_mount(const char *path, bool ro, struct stat *ret_st)
{
	_cleanup_free_ char *parent = path_join(path, "..");
	struct stat st, pst;
	struct statfs sf;

	if (!parent || lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) || stat(parent, &pst) < 0 ||
	    st.st_dev == pst.st_dev || statfs(path, &sf) < 0 || sf.f_type != TMPFS_MAGIC ||
	    !(sf.f_flags & ST_RDONLY) != !ro)
		return false;
	if (ret_st)
		*ret_st = st;
	return true;
}

/* PATH is the root of an empty tmpfs mount, read-only or not as RO says; its mode in *RET_ST. */
static bool is_empty_tmpfs(const char *path, bool ro, struct stat *ret_st)
{
	if (!is_tmpfs_mount(path, ro, ret_st))
		return false;
	_cleanup_closedir_ DIR *d = opendir(path);
	struct dirent *de;
	if (!d)
		return false;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			return false;
	return true;
}

int ext_mounts_add_masked(const struct spec *s, pid_t pid, struct ext_mounts *m)
{
	for (char **p = s->masked_paths; p && *p; p++) {
		char path[PATH_MAX];
		int r;

		if (**p != '/' ||
		    snprintf(path, sizeof(path), "/proc/%d/root%s", pid, *p) >= (int)sizeof(path))
			continue;
		if (is_empty_tmpfs(path, true, NULL) &&
		    (r = ext_mounts_add(m, *p, SNAPSHOT_MASKED_KEY)) < 0)
			return r;
	}
	return 0;
}

/* The value of OPT= in the mount data DATA ("mode=755,size=65536k"), parsed in BASE. */
static unsigned long data_option(const char *data, const char *opt, int base, unsigned long def)
{
	size_t len = strlen(opt);

	for (const char *p = data; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, opt, len) == 0 && p[len] == '=')
			return strtoul(p + len + 1, NULL, base);
	return def;
}

/* The container's directory in hierarchy H: its first controller's ("" for cgroup2). */
static const char *hier_path(const struct cgroup *cg, const struct cgroup_layout_hier *h)
{
	char ctl[64];

	snprintf(ctl, sizeof(ctl), "%.*s", (int)strcspn(h->controllers, ","), h->controllers);
	return cgroup_get_path(cg, ctl);
}

static int add_cgroup_bind(struct ext_mounts *em, char *key, const char *source)
{
	const char *k = ext_mounts_own(em, key), *v;

	if (!k)
		return -ENOMEM;
	v = source ? ext_mounts_own(em, strdup(source)) : k;
	return v ? ext_mounts_add(em, k, v) : -ENOMEM;
}

int ext_mounts_add_cgroup_binds(const struct spec *s, const struct cgroup *cg,
				struct ext_mounts *em)
{
	_cleanup_(cgroup_layout_done) struct cgroup_layout l = {0};
	int r;

	if (spec_find_namespace(s, CLONE_NEWCGROUP))
		return 0;
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *m = &s->mounts[i];
		bool v1 = spec_mount_is_cgroup_tmpfs(m);

		if ((m->kind & MOUNT_BIND) || !m->type || !m->destination ||
		    (strcmp(m->type, "cgroup") != 0 && strcmp(m->type, "cgroup2") != 0))
			continue;
		if (!l.h && (r = cgroup_layout_read("/sys/fs/cgroup", &l)) < 0)
			return r;
		for (size_t k = 0; k < l.n; k++) {
			const struct cgroup_layout_hier *h = &l.h[k];
			const char *src = cg ? hier_path(cg, h) : NULL;
			char *key;

			/* a v2 host: the one hierarchy, bound on the destination itself */
			if (!v1 && *h->controllers)
				continue;
			if (cg && !src)
				return log_error_errno(-ENOENT,
						       "the container has no cgroup in the "
						       "hierarchy '%s' to bind on '%s'",
						       *h->controllers ? h->controllers : "cgroup2",
						       m->destination);
			key = v1 ? path_join(m->destination, strrchr(h->mount, '/') + 1)
				 : strdup(m->destination);
			if ((r = add_cgroup_bind(em, key, src)) < 0)
				return r;
			if (!v1)
				break;
		}
	}
	return 0;
}

/* From the same scan of the host's hierarchies (cgroup_layout_read) that rootfs.c mounts the
 * tmpfs from: a directory per hierarchy, a symlink per co-mounted controller. */
int cgroup_tmpfs_entries(char ***ret_dirs, char ***ret_links)
{
	_cleanup_(cgroup_layout_done) struct cgroup_layout l = {0};
	_cleanup_strv_free_ char **dirs = NULL, **links = NULL;
	size_t nd = 0, nl = 0;
	int r;

	if ((r = cgroup_layout_read("/sys/fs/cgroup", &l)) < 0)
		return r;
	for (size_t i = 0; i < l.n; i++) {
		const char *name = strrchr(l.h[i].mount, '/') + 1;
		char *link;

		if ((r = strv_push(&dirs, &nd, strdup(name))) < 0)
			return r;
		if (!strchr(name, ','))
			continue;
		for (char *save = NULL, *ctl = strtok_r(strdupa(name), ",", &save); ctl;
		     ctl = strtok_r(NULL, ",", &save)) {
			if (asprintf(&link, "%s/%s", ctl, name) < 0)
				return -ENOMEM;
			if ((r = strv_push(&links, &nl, link)) < 0)
				return r;
		}
	}
	if (!dirs && !(dirs = calloc(1, sizeof(char *))))
		return -ENOMEM;
	if (!links && !(links = calloc(1, sizeof(char *))))
		return -ENOMEM;
	*ret_dirs = TAKE_PTR(dirs);
	*ret_links = TAKE_PTR(links);
	return 0;
}

/* PATH (the container's /sys/fs/cgroup) holds what rootfs.c made there, and no more. */
static bool is_cgroup_tmpfs_as_made(const char *path, bool ro)
{
	_cleanup_strv_free_ char **dirs = NULL, **links = NULL;
	struct stat st;

	if (!is_tmpfs_mount(path, ro, &st) || (st.st_mode & 07777) != 0755 || st.st_uid != 0 ||
	    st.st_gid != 0 || cgroup_tmpfs_entries(&dirs, &links) < 0)
		return false;
	_cleanup_closedir_ DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0, want = 0;
	for (char **p = dirs; *p; p++)
		want++;
	for (char **p = links; *p; p++)
		want++;
	if (!d)
		return false;
	while ((de = readdir(d))) {
		bool found = false;
		char target[512];
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return false;
		for (char **p = dirs; S_ISDIR(st.st_mode) && *p && !found; p++)
			found = strcmp(*p, de->d_name) == 0 && (st.st_mode & 07777) == 0755;
		for (char **p = links; S_ISLNK(st.st_mode) && *p && !found; p++) {
			size_t len = strlen(de->d_name);
			ssize_t k = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
			if (k < 0)
				return false;
			target[k] = '\0';
			found = strncmp(*p, de->d_name, len) == 0 && (*p)[len] == '/' &&
				strcmp(*p + len + 1, target) == 0;
		}
		if (!found)
			return false;
		n++;
	}
	return n == want;
}

int ext_mounts_add_empty_tmpfs(const struct spec *s, pid_t pid, struct ext_mounts *m)
{
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *sm = &s->mounts[i];
		char path[PATH_MAX];
		struct stat st;
		const char *key;
		int r;

		if ((!spec_mount_is_tmpfs(sm) && !spec_mount_is_cgroup_tmpfs(sm)) ||
		    snprintf(path, sizeof(path), "/proc/%d/root%s", pid, sm->destination) >=
			(int)sizeof(path))
			continue;
		/* a restore makes it again as the spec and the host's cgroups make it */
		if (spec_mount_is_cgroup_tmpfs(sm) &&
		    !is_cgroup_tmpfs_as_made(path, sm->flags & MS_RDONLY))
			continue;
		/* a restore makes it again from the spec: its root must be as the spec made it */
		if (!spec_mount_is_cgroup_tmpfs(sm) &&
		    (!is_empty_tmpfs(path, false, &st) ||
		     (st.st_mode & 07777) != data_option(sm->data, "mode", 8, 01777) ||
		     st.st_uid != data_option(sm->data, "uid", 10, 0) ||
		     st.st_gid != data_option(sm->data, "gid", 10, 0)))
			continue;
		if (!(key = ext_mounts_tmpfs_key(m, sm)))
			return -ENOMEM;
		if ((r = ext_mounts_add(m, sm->destination, key)) < 0)
			return r;
	}
	return 0;
}

int ext_mounts_from_spec(const struct spec *s, pid_t pid, struct ext_mounts *ret)
{
	struct ext_mounts m = {0};
	char mp[PATH_MAX];
	int r;

	m.pairs = calloc(s->n_mounts + 1, sizeof(*m.pairs));
	m.keys = calloc(s->n_mounts + 1, sizeof(char *));
	if (!m.pairs || !m.keys) {
		ext_mounts_done(&m);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *sm = &s->mounts[i];

		if (!(sm->kind & MOUNT_BIND) || !sm->source)
			continue;
		m.keys[m.n] = strdup(sm->destination);
		if (!m.keys[m.n]) {
			ext_mounts_done(&m);
			return -ENOMEM;
		}
		/* restore: the name -> the bundle's source; dump: where the bind is -> its name */
		if (pid == 0) {
			m.pairs[m.n] =
			    (struct snapshot_pair){.key = sm->destination, .value = sm->source};
		} else {
			const char *at;
			if ((r = proc_root_resolve(pid, sm->destination, mp, sizeof(mp))) < 0 ||
			    !(at = ext_mounts_own(&m, strdup(mp)))) {
				ext_mounts_done(&m);
				return r < 0 ? r : -ENOMEM;
			}
			m.pairs[m.n] = (struct snapshot_pair){.key = at, .value = sm->destination};
		}
		m.n++;
	}
	*ret = m;
	return 0;
}
