/* SPDX-License-Identifier: Apache-2.0 */
/* cgroupfs file and directory helpers shared by the v1 and v2 drivers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fault.h"
#include "common/fs.h"
#include "common/log.h"
#include "cgroup-internal.h"

int cg_write(const char *dir, const char *file, const char *value)
{
	_cleanup_free_ char *p = path_join(dir, file);
	int r;

	if (!p)
		return -ENOMEM;
	r = fault_hit("cgroup-write") ? -EIO : write_string_at(AT_FDCWD, p, value);
	log_debug("cgroup: write '%s' to '%s': %d", value, p, r);
	return r;
}

int cg_writef(const char *dir, const char *file, const char *fmt, ...)
{
	_cleanup_free_ char *v = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&v, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	return cg_write(dir, file, v);
}

int cg_read(const char *dir, const char *file, char **ret)
{
	_cleanup_free_ char *p = path_join(dir, file);

	if (!p)
		return -ENOMEM;
	return read_file_at(AT_FDCWD, p, 16 << 20, ret, NULL);
}

int cg_read_u64(const char *dir, const char *file, uint64_t *ret)
{
	_cleanup_free_ char *s = NULL;
	unsigned long long v;
	int r = cg_read(dir, file, &s);

	if (r < 0)
		return r;
	s[strcspn(s, "\n")] = '\0';
	if (strcmp(s, "max") == 0) {
		*ret = UINT64_MAX;
		return 0;
	}
	if ((r = parse_uint64(s, &v)) < 0)
		return r;
	*ret = v;
	return 0;
}

bool cg_exists(const char *dir, const char *file)
{
	_cleanup_free_ char *p = path_join(dir, file);

	return p && faccessat(AT_FDCWD, p, F_OK, 0) == 0;
}

int cg_mkdir(const char *top, const char *dir, char **ret_created)
{
	_cleanup_free_ char *created = NULL;
	size_t n = strlen(top);

	if (strncmp(dir, top, n) != 0 || (dir[n] != '/' && dir[n] != '\0'))
		return -EINVAL;
	for (const char *p = dir + n; *p;) {
		p += strspn(p, "/");
		p += strcspn(p, "/");
		_cleanup_free_ char *sub = strndup(dir, (size_t)(p - dir));

		if (!sub)
			return -ENOMEM;
		if (FAULT_OR("cgroup-mkdir", mkdir(sub, 0755)) < 0) {
			if (errno == EEXIST)
				continue;
			int r = -errno;
			/* Leave nothing half-made: remove what this call created, deepest first. */
			for (char *q = sub + strlen(sub); created && q > sub + strlen(created);) {
				*q = '\0';
				q = strrchr(sub, '/');
				if (!q)
					break;
				*q = '\0';
				(void)rmdir(sub);
				*q = '/';
			}
			return r;
		}
		if (!created)
			created = TAKE_PTR(sub);
	}
	*ret_created = TAKE_PTR(created);
	return 0;
}

int cg_first_missing(const char *top, const char *dir, char **ret)
{
	size_t n = strlen(top);

	*ret = NULL;
	if (strncmp(dir, top, n) != 0 || (dir[n] != '/' && dir[n] != '\0'))
		return -EINVAL;
	for (const char *p = dir + n; *p;) {
		p += strspn(p, "/");
		p += strcspn(p, "/");
		_cleanup_free_ char *sub = strndup(dir, (size_t)(p - dir));

		if (!sub)
			return -ENOMEM;
		if (access(sub, F_OK) < 0) {
			if (errno != ENOENT)
				return -errno;
			*ret = TAKE_PTR(sub);
			return 0;
		}
	}
	return 0;
}

/* rmdir with a short retry: a cgroup stays busy a moment after its last task has exited. */
static int rmdir_retry(const char *dir)
{
	for (int i = 0;; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY || i >= 100)
			return -errno;
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	}
}

/* Sub-cgroups the container made itself (cgroup namespaces), deepest first. */
static int rmdir_children(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		_cleanup_free_ char *sub = path_join(dir, de->d_name);
		int k;

		if (!sub)
			return -ENOMEM;
		if ((k = rmdir_children(sub)) < 0 || (k = rmdir_retry(sub)) < 0)
			r = r < 0 ? r : k;
	}
	return r;
}

int cg_rmdir(const char *dir, const char *created)
{
	_cleanup_free_ char *p = strdup(dir);
	int r;

	if (!p)
		return -ENOMEM;
	if ((r = rmdir_children(p)) < 0 || (r = rmdir_retry(p)) < 0)
		return r;
	if (!created)
		return 0;
	/* Parents we made, unless another container still uses them. */
	while (strcmp(p, created) != 0) {
		char *slash = strrchr(p, '/');

		if (!slash || slash == p || strlen(p) <= strlen(created))
			break;
		*slash = '\0';
		if (rmdir(p) < 0 && errno != ENOENT)
			break;
	}
	return 0;
}

static int read_procs(const char *dir, pid_t **pids, size_t *n)
{
	_cleanup_free_ char *s = NULL;
	int r = cg_read(dir, "cgroup.procs", &s);

	if (r < 0)
		return r;
	for (char *tok = strtok(s, "\n"); tok; tok = strtok(NULL, "\n")) {
		int pid;
		pid_t *np;

		if (parse_int(tok, &pid) < 0 || pid <= 0)
			continue;
		np = realloc(*pids, (*n + 1) * sizeof(**pids));
		if (!np)
			return -ENOMEM;
		*pids = np;
		(*pids)[(*n)++] = pid;
	}
	return 0;
}

int cg_read_pids(const char *dir, pid_t **pids, size_t *n)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r;

	if ((r = read_procs(dir, pids, n)) < 0)
		return r;
	if (!(d = opendir(dir)))
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		_cleanup_free_ char *sub = path_join(dir, de->d_name);

		if (!sub)
			return -ENOMEM;
		if ((r = cg_read_pids(sub, pids, n)) < 0 && r != -ENOENT)
			return r;
	}
	return 0;
}

int cg_v2_enable_controllers(const char *mount, const char *dir, const char *const *controllers)
{
	_cleanup_free_ char *all = NULL;
	size_t len = 0;
	int r;

	if (!controllers[0])
		return 0;
	for (const char *const *c = controllers; *c; c++)
		len += strlen(*c) + 2;
	if (!(all = calloc(1, len + 1)))
		return -ENOMEM;
	for (const char *const *c = controllers; *c; c++) {
		if (c != controllers)
			strcat(all, " ");
		strcat(all, "+");
		strcat(all, *c);
	}
	/* Every directory from the mountpoint down to the container's parent. */
	for (const char *p = dir + strlen(mount);;) {
		_cleanup_free_ char *sub = strndup(dir, (size_t)(p - dir));

		if (!sub)
			return -ENOMEM;
		p += strspn(p, "/");
		if (!*p)
			break;
		p += strcspn(p, "/");
		if (cg_write(sub, "cgroup.subtree_control", all) >= 0)
			continue;
		/* One at a time, so one unavailable controller does not stop the others. */
		for (const char *const *c = controllers; *c; c++)
			if ((r = cg_writef(sub, "cgroup.subtree_control", "+%s", *c)) < 0)
				log_debug_errno(r, "enable '%s' in '%s': %m, ignoring", *c, sub);
	}
	return 0;
}
