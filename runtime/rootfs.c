/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sched.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/mount.h>

#include "common/fault.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/mountinfo.h"
#include "cgroup-layout.h"
#include "rootfs.h"

static int mount_setattr_fd(int fd, unsigned flags, uint64_t set, uint64_t clr)
{
	struct mount_attr attr = {.attr_set = set, .attr_clr = clr};

	if (syscall(SYS_mount_setattr, fd, "", flags | AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return -errno;
	return 0;
}

/* A dangling symlink on the way: create what it points to, inside the root. */
static int mkdir_via_symlink(int rootfd, int dfd, const char *parent, const char *base,
			     const char *rest, bool is_file, int depth);

static int mkdir_in_root_depth(int rootfd, const char *path, bool is_file, int depth)
{
	_cleanup_free_ char *p = strdup(path);
	char *s;

	if (!p)
		return -ENOMEM;
	if (depth > 40)
		return -ELOOP;
	/* Walk the prefixes; each is resolved inside the root, so a symlinked parent
	 * can never lead the creation outside it. */
	for (s = p; *s == '/'; s++)
		;
	for (;;) {
		char *slash = strchr(s, '/');
		bool last;

		if (slash)
			*slash = '\0';
		last = !slash || slash[1 + strspn(slash + 1, "/")] == '\0';
		int fd = open_in_root(rootfd, p, O_PATH, 0);
		if (fd >= 0) {
			safe_close(fd);
		} else if (fd == -ENOENT) {
			_cleanup_free_ char *parent = strdup(p);
			char *base = strrchr(parent, '/');
			int dfd, r = 0;
			struct stat st;

			if (!parent)
				return -ENOMEM;
			if (base)
				*base++ = '\0';
			else
				base = parent;
			dfd = open_in_root(rootfd, base != parent && *parent ? parent : "/",
					   O_PATH | O_DIRECTORY, 0);
			if (dfd < 0)
				return dfd;
			if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode)) {
				r = mkdir_via_symlink(rootfd, dfd, base != parent ? parent : "",
						      base, last ? "" : slash + 1, is_file, depth);
				safe_close(dfd);
				return r;
			}
			if (last && is_file) {
				int f = openat(dfd, base,
					       O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
				if (f < 0)
					r = -errno;
				safe_close(f);
			} else if (mkdirat(dfd, base, 0755) < 0 && errno != EEXIST) {
				r = -errno;
			}
			safe_close(dfd);
			if (r < 0)
				return r;
		} else {
			return fd;
		}
		if (last)
			return 0;
		*slash = '/';
		s = slash + 1;
	}
}

static int mkdir_via_symlink(int rootfd, int dfd, const char *parent, const char *base,
			     const char *rest, bool is_file, int depth)
{
	char target[PATH_MAX];
	_cleanup_free_ char *next = NULL;
	ssize_t n = readlinkat(dfd, base, target, sizeof(target) - 1);

	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (asprintf(&next, "%s%s%s%s%s", target[0] == '/' ? "" : parent,
		     target[0] == '/' ? "" : "/", target, *rest ? "/" : "", rest) < 0)
		return -ENOMEM;
	return mkdir_in_root_depth(rootfd, next, is_file, depth + 1);
}

int mkdir_in_root(int rootfd, const char *path, bool is_file)
{
	return mkdir_in_root_depth(rootfd, path, is_file, 0);
}

/* Open the mount target inside the rootfs, creating it (dir, or file for file binds). */
static int open_target(struct rootfs_ctx *c, const char *dest, bool is_file, int *ret_fd)
{
	int fd = open_in_root(c->rootfd, dest, O_PATH, 0);

	if (fd == -ENOENT) {
		int r = mkdir_in_root(c->rootfd, dest, is_file);
		if (r < 0)
			return log_error_errno(r, "create mount point '%s' in '%s': %m", dest,
					       c->rootfs);
		fd = open_in_root(c->rootfd, dest, O_PATH, 0);
	}
	if (fd < 0)
		return log_error_errno(fd, "open mount point '%s' in '%s': %m", dest, c->rootfs);
	*ret_fd = fd;
	return 0;
}

static void fd_path(int fd, char buf[64])
{
	snprintf(buf, 64, "/proc/self/fd/%d", fd);
}

/* Flags the kernel locks on a bind mount made in a user namespace. */
static unsigned long locked_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_RDONLY)
		f |= MS_RDONLY;
	return f;
}

#define REMOUNT_MASK                                                                               \
	(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | \
	 MS_STRICTATIME | 256 /* MS_NOSYMFOLLOW */)

/* SOURCE_FD: the source the runtime opened for us (bind_fds), or -1 for its path. */
static int do_bind(const struct spec_mount *m, int source_fd, const char *target)
{
	unsigned long rec = (m->kind & MOUNT_RECURSIVE) ? MS_REC : 0;
	char fdpath[64];
	const char *src = m->source;

	if (!m->source)
		return log_error_errno(-EINVAL, "bind mount '%s': no source", m->destination);
	if (source_fd >= 0) {
		fd_path(source_fd, fdpath);
		src = fdpath;
	}
	if (FAULT_OR("mount", mount(src, target, NULL, MS_BIND | rec, NULL)) < 0)
		return log_error_errno(-errno, "bind mount '%s' on '%s': %m", m->source,
				       m->destination);
	return 0;
}

/* Flags of a bind mount apply only through a remount of the new mount itself. Logs nothing. */
static int remount_bind_flags(const char *target, unsigned long flags)
{
	unsigned long f = MS_REMOUNT | MS_BIND | (flags & REMOUNT_MASK);

	if (!(flags & REMOUNT_MASK))
		return 0;
	if (FAULT_OR("mount", mount(NULL, target, NULL, f, NULL)) < 0) {
		/* In a user namespace, remounting must keep the locked flags. */
		if (errno != EPERM || mount(NULL, target, NULL, f | locked_flags(target), NULL) < 0)
			return -errno;
	}
	return 0;
}

static int remount_bind(const struct spec_mount *m, const char *target)
{
	int r = remount_bind_flags(target, m->flags);

	if (r < 0)
		return log_error_errno(r, "remount '%s' with its options: %m", m->destination);
	return 0;
}

/* An idmapped bind mount: the detached, idmapped clone of the source that the runtime made
 * (idmap_mount_open() says why there), moved onto the target. */
static int mount_idmapped(const struct spec_mount *m, int target_fd)
{
	if (m->idmap_fd < 0)
		return log_error_errno(-EINVAL, "idmapped mount '%s': no mount made by the runtime",
				       m->destination);
	if (FAULT_OR("mount", syscall(SYS_move_mount, m->idmap_fd, "", target_fd, "",
				      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)) < 0)
		return log_error_errno(-errno, "idmapped mount '%s': attach: %m", m->destination);
	return 0;
}

static bool is_cgroup_mount(const struct spec_mount *m)
{
	return !(m->kind & MOUNT_BIND) && m->type &&
	       (strcmp(m->type, "cgroup") == 0 || strcmp(m->type, "cgroup2") == 0);
}

/*
 * One hierarchy H of the host on SUB (a /proc/self/fd path). In a cgroup namespace of its own
 * the container mounts the hierarchy, which shows its cgroup as the root. Without one, a mount
 * would show the host's root: release_agent (CVE-2022-0492) and the cgroup of every other
 * container. The container's own cgroup is bound there instead, as runc does; so it is too where
 * a user namespace may not mount the hierarchy. Returns 1 for a bind, which the caller remounts
 * with the mount's flags through a path that reaches the new mount. Logs nothing.
 */
static int mount_hierarchy(const struct rootfs_ctx *c, const struct spec_mount *m,
			   const struct cgroup_layout_hier *h, const char *sub)
{
	unsigned long flags = m->flags & ~MS_REMOUNT;
	const char *type = *h->controllers ? "cgroup" : "cgroup2";
	_cleanup_free_ char *src = NULL;

	if (spec_find_namespace(c->spec, CLONE_NEWCGROUP)) {
		if (FAULT_OR("mount", mount(type, sub, type, flags,
					    *h->controllers ? h->controllers : m->data)) == 0)
			return 0;
		if (errno != EPERM)
			return -errno;
	}
	/* Our cgroup is not below the host's mount of it (a cgroup namespace rooted above the
	 * mount's root): the bind would show more than the container's own. */
	if (h->own_outside)
		return -EPERM;
	if (!(src = path_join(h->mount, h->own)))
		return -ENOMEM;
	if (FAULT_OR("mount", mount(src, sub, NULL, MS_BIND | MS_REC, NULL)) < 0)
		return -errno;
	return 1;
}

/*
 * /sys/fs/cgroup in the container. A cgroup2 host (or a "cgroup2" mount) gets the unified
 * hierarchy; a v1 or hybrid host gets what runc gives: a tmpfs with one cgroup mount per
 * hierarchy of the host, and the co-mount symlinks (cpu -> cpu,cpuacct). Each shows the
 * container's own cgroup as its root (see mount_hierarchy).
 */
static int mount_cgroup(struct rootfs_ctx *c, const struct spec_mount *m, const char *target)
{
	_cleanup_(cgroup_layout_done) struct cgroup_layout l = {0};
	const struct cgroup_layout_hier *unified = NULL;
	int r;

	if ((r = cgroup_layout_read("/sys/fs/cgroup", &l)) < 0)
		return log_error_errno(r, "list the host's cgroup hierarchies for '%s': %m",
				       m->destination);
	for (size_t i = 0; i < l.n; i++)
		if (!*l.h[i].controllers)
			unified = &l.h[i];
	if (strcmp(m->type, "cgroup2") == 0 || l.mode == CGROUP_MODE_V2) {
		/* A v1 host's empty cgroup2 hierarchy, if asked for, is mounted as it is. */
		if (!unified) {
			if (FAULT_OR("mount", mount("cgroup2", target, "cgroup2",
						    m->flags & ~MS_REMOUNT, m->data)) < 0)
				return log_error_errno(-errno, "mount cgroup2 on '%s': %m",
						       m->destination);
			return 0;
		}
		if ((r = mount_hierarchy(c, m, unified, target)) > 0) {
			/* TARGET names the directory under the bind: reopen to reach it */
			_cleanup_close_ int mfd =
			    open_in_root(c->rootfd, m->destination, O_PATH | O_DIRECTORY, 0);
			char mnt[64];

			if (mfd < 0)
				return log_error_errno(mfd, "reopen '%s' after mounting: %m",
						       m->destination);
			fd_path(mfd, mnt);
			r = remount_bind_flags(mnt, m->flags);
		}
		if (r < 0)
			return log_error_errno(r, "mount cgroup2 on '%s': %m", m->destination);
		return 0;
	}
	if (FAULT_OR("mount", mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
				    "mode=755")) < 0)
		return log_error_errno(-errno, "mount tmpfs on '%s': %m", m->destination);
	/* reopen: TARGET names the directory under the new tmpfs */
	_cleanup_close_ int dfd = open_in_root(c->rootfd, m->destination, O_PATH | O_DIRECTORY, 0);
	char base[64];
	if (dfd < 0)
		return log_error_errno(dfd, "reopen '%s' after mounting: %m", m->destination);
	fd_path(dfd, base);
	for (size_t i = 0; i < l.n; i++) {
		const struct cgroup_layout_hier *h = &l.h[i];
		const char *name = strrchr(h->mount, '/') + 1;
		char sub[600];

		if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
			return log_error_errno(-errno, "mkdir '%s/%s': %m", m->destination, name);
		snprintf(sub, sizeof(sub), "%s/%s", base, name);
		/* SUB goes through the tmpfs's directory: it reaches the new mount */
		if ((r = mount_hierarchy(c, m, h, sub)) > 0)
			r = remount_bind_flags(sub, m->flags);
		/* the cgroup2 side of a hybrid host is a courtesy, as its cgroup is */
		if (r < 0 && h == unified) {
			log_warning_errno(r, "mount cgroup2 on '%s/%s': %m, ignoring",
					  m->destination, name);
			continue;
		}
		if (r < 0)
			return log_error_errno(r, "mount cgroup '%s' on '%s/%s': %m",
					       h->controllers, m->destination, name);
		/* co-mounted controllers: cpu -> cpu,cpuacct */
		if (strchr(name, ','))
			for (char *save = NULL, *ctl = strtok_r(strdupa(name), ",", &save); ctl;
			     ctl = strtok_r(NULL, ",", &save))
				(void)symlinkat(name, dfd, ctl);
	}
	if ((m->flags & MS_RDONLY) &&
	    FAULT_OR("mount", mount(NULL, base, NULL,
				    MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
				    "mode=755")) < 0)
		return log_error_errno(-errno, "remount '%s' read-only: %m", m->destination);
	return 0;
}

static bool is_fs(const struct spec_mount *m, const char *type)
{
	return !(m->kind & MOUNT_BIND) && m->type && strcmp(m->type, type) == 0;
}

/*
 * proc and sysfs go on a directory of the rootfs, never where a symlink there points
 * (CVE-2019-16884, CVE-2019-19921): a rootfs could so have them land where a later mount
 * shadows /proc/self/attr, or out of reach of maskedPaths. Refused, as runc does. The last
 * component is opened without following it, so that the mount goes on what was checked.
 */
static int open_special_target(struct rootfs_ctx *c, const struct spec_mount *m, int *ret_fd)
{
	_cleanup_close_ int fd = open_in_root(c->rootfd, m->destination, O_PATH | O_NOFOLLOW, 0);
	struct stat st;
	int r;

	if (fd == -ENOENT) {
		if ((r = mkdir_in_root(c->rootfd, m->destination, false)) < 0)
			return log_error_errno(r, "create mount point '%s' in '%s': %m",
					       m->destination, c->rootfs);
		fd = open_in_root(c->rootfd, m->destination, O_PATH | O_NOFOLLOW, 0);
	}
	if (fd < 0)
		return log_error_errno(fd, "open mount point '%s' in '%s': %m", m->destination,
				       c->rootfs);
	if (fstat(fd, &st) < 0)
		return log_error_errno(-errno, "stat mount point '%s': %m", m->destination);
	if (S_ISLNK(st.st_mode))
		return log_error_errno(-ELOOP,
				       "mount %s on '%s': it is a symlink in the rootfs, refused",
				       m->type, m->destination);
	if (!S_ISDIR(st.st_mode))
		return log_error_errno(
		    -ENOTDIR, "mount %s on '%s': it is not a directory in the rootfs, refused",
		    m->type, m->destination);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* The only mounts inside /proc runc lets through: the files lxcfs emulates. */
static const char *const proc_files_allowed[] = {
    "/proc/cpuinfo", "/proc/diskstats",
    "/proc/meminfo", "/proc/stat",
    "/proc/swaps",   "/proc/uptime",
    "/proc/loadavg", "/proc/slabinfo",
    "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
};

static bool is_procfs(const char *path)
{
	struct statfs sf;

	return path && statfs(path, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
}

/*
 * A mount must not land on or inside the container's /proc, whatever symlinks of the rootfs
 * led it there (CVE-2019-19921): it could fake /proc/self/attr for the LSM, or undo
 * maskedPaths. As runc: only proc itself (or a bind of a procfs) on /proc, and lxcfs's files.
 * FD is the opened mount point; its path, every symlink resolved, says where it lies.
 */
static int check_proc_target(struct rootfs_ctx *c, const struct spec_mount *m, int fd)
{
	char link[64], root[PATH_MAX], path[PATH_MAX];
	ssize_t n, rn;
	const char *rel;

	fd_path(c->rootfd, link);
	if ((rn = readlink(link, root, sizeof(root) - 1)) < 0)
		return log_error_errno(-errno, "resolve rootfs '%s': %m", c->rootfs);
	root[rn] = '\0';
	fd_path(fd, link);
	if ((n = readlink(link, path, sizeof(path) - 1)) < 0)
		return log_error_errno(-errno, "resolve mount point '%s': %m", m->destination);
	path[n] = '\0';
	if (strcmp(root, "/") == 0)
		rel = path;
	else if (strncmp(path, root, (size_t)rn) == 0 && (path[rn] == '/' || !path[rn]))
		rel = path + rn;
	else
		return 0;
	if (strcmp(rel, "/proc") == 0) {
		if (is_fs(m, "proc") || ((m->kind & MOUNT_BIND) && is_procfs(m->source)))
			return 0;
	} else if (strncmp(rel, "/proc/", 6) == 0) {
		for (size_t i = 0; i < ELEMENTSOF(proc_files_allowed); i++)
			if (strcmp(rel, proc_files_allowed[i]) == 0)
				return 0;
	} else {
		return 0;
	}
	return log_error_errno(
	    -EPERM, "mount %s on '%s': it lands on '%s', in the container's /proc, refused",
	    m->type && strcmp(m->type, "none") != 0 ? m->type : "bind", m->destination, rel);
}

/*
 * The host's /sys, bound where sysfs cannot be mounted, gets the flags the spec gave sysfs
 * (ro, nosuid, nodev, noexec): on the bind itself, and on what the host has mounted below
 * /sys (its cgroup hierarchies among them), which a fresh sysfs would not have shown.
 */
static int restrict_sysfs_bind(struct rootfs_ctx *c, const struct spec_mount *m)
{
	_cleanup_close_ int mfd = open_in_root(c->rootfd, m->destination, O_PATH, 0);
	uint64_t set = 0;
	char target[64];
	int r;

	if (mfd < 0)
		return log_error_errno(mfd, "reopen '%s' after mounting: %m", m->destination);
	fd_path(mfd, target);
	if ((r = remount_bind(m, target)) < 0)
		return r;
	if (m->flags & MS_RDONLY)
		set |= MOUNT_ATTR_RDONLY;
	if (m->flags & MS_NOSUID)
		set |= MOUNT_ATTR_NOSUID;
	if (m->flags & MS_NODEV)
		set |= MOUNT_ATTR_NODEV;
	if (m->flags & MS_NOEXEC)
		set |= MOUNT_ATTR_NOEXEC;
	if (set && (r = mount_setattr_fd(mfd, AT_RECURSIVE, set, 0)) == -ENOSYS)
		log_warning_errno(r, "set the options of '%s' on the mounts below it: %m, ignoring",
				  m->destination);
	else if (r < 0)
		return log_error_errno(r, "set the options of '%s' on the mounts below it: %m",
				       m->destination);
	return 0;
}

static bool is_dev_readonly(const struct spec_mount *m)
{
	return strcmp(m->destination, "/dev") == 0 && !(m->kind & MOUNT_BIND) &&
	       (m->flags & MS_RDONLY);
}

static int mount_one(struct rootfs_ctx *c, const struct spec_mount *m)
{
	size_t index = (size_t)(m - c->spec->mounts);
	int source_fd = c->bind_fds ? c->bind_fds[index] : -EBADF;
	_cleanup_close_ int fd = -EBADF;
	char target[64];
	bool is_file = false;
	int r;

	if ((m->kind & MOUNT_BIND) && m->source) {
		struct stat st;
		/* The idmapped clone and the sources in bind_fds are the runtime's, opened with
		 * its credentials: the init may not be able to reach the source's path from its
		 * user namespace. */
		bool made = (m->kind & MOUNT_IDMAP) && m->idmap_fd >= 0;

		if (made)
			source_fd = m->idmap_fd;
		if ((source_fd >= 0 ? fstat(source_fd, &st) : stat(m->source, &st)) < 0)
			return log_error_errno(-errno, "bind mount source '%s' for '%s': %m",
					       m->source, m->destination);
		is_file = !S_ISDIR(st.st_mode);
	}
	if (is_fs(m, "proc") || is_fs(m, "sysfs"))
		r = open_special_target(c, m, &fd);
	else
		r = open_target(c, m->destination, is_file, &fd);
	if (r < 0 || (r = check_proc_target(c, m, fd)) < 0)
		return r;
	fd_path(fd, target);
	if (m->kind & MOUNT_IDMAP) {
		if ((r = mount_idmapped(m, fd)) < 0)
			return r;
	} else if (m->kind & MOUNT_BIND) {
		if ((r = do_bind(m, source_fd, target)) < 0)
			return r;
	} else if (is_cgroup_mount(m)) {
		if ((r = mount_cgroup(c, m, target)) < 0)
			return r;
	} else {
		/* A read-only /dev is filled first, and made read-only by rootfs_finalize(). */
		unsigned long f = m->flags & ~MS_REMOUNT;

		if (is_dev_readonly(m))
			f &= ~MS_RDONLY;
		if (FAULT_OR("mount", mount(m->source ? m->source : m->type, target, m->type, f,
					    m->data)) < 0) {
			r = -errno;
			/* sysfs can't be mounted without a network namespace of its own in a
			 * user namespace: bind the host's, as runc does. */
			if (strcmp(m->type, "sysfs") == 0 && (r == -EPERM || r == -EBUSY)) {
				struct spec_mount b = *m;
				b.source = (char *)"/sys";
				b.kind = MOUNT_BIND | MOUNT_RECURSIVE;
				if ((r = do_bind(&b, -EBADF, target)) < 0 ||
				    (r = restrict_sysfs_bind(c, m)) < 0)
					return r;
			} else {
				return log_error_errno(r, "mount '%s' (%s) on '%s': %m",
						       m->source ? m->source : m->type, m->type,
						       m->destination);
			}
		}
	}
	if (!(m->kind & MOUNT_BIND) || !(m->flags & REMOUNT_MASK)) {
		if (!m->propagation && !m->attr_set && !m->attr_clr)
			return 0;
	}
	/* The fd above names the directory under the new mount: reopen to reach the mount. */
	_cleanup_close_ int mfd = open_in_root(c->rootfd, m->destination, O_PATH, 0);
	if (mfd < 0)
		return log_error_errno(mfd, "reopen '%s' after mounting: %m", m->destination);
	fd_path(mfd, target);
	if ((m->kind & MOUNT_BIND) && (r = remount_bind(m, target)) < 0)
		return r;
	if (m->propagation &&
	    FAULT_OR("mount", mount(NULL, target, NULL, m->propagation, NULL)) < 0)
		return log_error_errno(-errno, "set propagation of '%s': %m", m->destination);
	if (m->attr_set || m->attr_clr) {
		r = mount_setattr_fd(mfd, AT_RECURSIVE, m->attr_set, m->attr_clr);
		if (r < 0)
			return log_error_errno(r, "set recursive attributes of '%s': %m",
					       m->destination);
	}
	return 0;
}

static const struct {
	const char *path;
	unsigned major, minor;
} default_devices[] = {
    {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},	   {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

static int create_device(struct rootfs_ctx *c, const char *path, char type, unsigned major,
			 unsigned minor, mode_t mode, uid_t uid, gid_t gid)
{
	_cleanup_free_ char *parent = strdup(path);
	char *base;
	int r;

	if (!parent)
		return -ENOMEM;
	base = strrchr(parent, '/');
	*base++ = '\0';
	if (*parent && (r = mkdir_in_root(c->rootfd, parent, false)) < 0)
		return log_error_errno(r, "create '%s' in the rootfs: %m", parent);
	_cleanup_close_ int dfd =
	    open_in_root(c->rootfd, *parent ? parent : "/", O_PATH | O_DIRECTORY, 0);
	if (dfd < 0)
		return log_error_errno(dfd, "open '%s' in the rootfs: %m", parent);
	(void)unlinkat(dfd, base, 0);
	if (c->userns) {
		/* No mknod in a user namespace: bind the host's node instead. */
		int f = openat(dfd, base, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (f < 0)
			return log_error_errno(-errno, "create '%s': %m", path);
		char target[64];
		fd_path(f, target);
		r = FAULT_OR("mount", mount(path, target, NULL, MS_BIND, NULL));
		r = r < 0 ? -errno : 0;
		safe_close(f);
		if (r < 0)
			return log_error_errno(r, "bind mount device '%s': %m", path);
		return 0;
	}
	mode_t fmt = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
	if (FAULT_OR("mknod", mknodat(dfd, base, fmt | (mode & 07777), makedev(major, minor))) < 0)
		return log_error_errno(-errno, "mknod '%s': %m", path);
	if (fchmodat(dfd, base, mode & 07777, 0) < 0 ||
	    fchownat(dfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return log_error_errno(-errno, "set owner and mode of '%s': %m", path);
	return 0;
}

static bool spec_mounts_dev(const struct spec *s)
{
	for (size_t i = 0; i < s->n_mounts; i++)
		if (strcmp(s->mounts[i].destination, "/dev") == 0)
			return !(s->mounts[i].kind & MOUNT_BIND);
	return false;
}

static int setup_dev(struct rootfs_ctx *c)
{
	const struct spec *s = c->spec;
	int r;

	if (spec_mounts_dev(s)) {
		for (size_t i = 0; i < ELEMENTSOF(default_devices); i++) {
			r = create_device(c, default_devices[i].path, 'c', default_devices[i].major,
					  default_devices[i].minor, 0666, 0, 0);
			if (r < 0)
				return r;
		}
		static const char *const links[][2] = {
		    {"/proc/self/fd", "/dev/fd"},	{"/proc/self/fd/0", "/dev/stdin"},
		    {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
		    {"/proc/kcore", "/dev/core"},
		};
		_cleanup_close_ int dev = open_in_root(c->rootfd, "/dev", O_PATH | O_DIRECTORY, 0);
		if (dev < 0)
			return log_error_errno(dev, "open '/dev' in the rootfs: %m");
		for (size_t i = 0; i < ELEMENTSOF(links); i++)
			if (symlinkat(links[i][0], dev, links[i][1] + 5) < 0 && errno != EEXIST)
				return log_error_errno(-errno, "symlink '%s': %m", links[i][1]);
		/* /dev/ptmx follows the container's own devpts instance. */
		(void)unlinkat(dev, "ptmx", 0);
		if (symlinkat("pts/ptmx", dev, "ptmx") < 0)
			return log_error_errno(-errno, "symlink '/dev/ptmx': %m");
	}
	for (size_t i = 0; i < s->n_devices; i++) {
		const struct spec_device *d = &s->devices[i];
		r = create_device(c, d->path, d->type, (unsigned)d->major, (unsigned)d->minor,
				  d->has_mode ? d->mode : 0666, d->has_uid ? d->uid : 0,
				  d->has_gid ? d->gid : 0);
		if (r < 0)
			return r;
	}
	return 0;
}

/* pivot_root fails when the new root's parent mount is shared (rootfsPropagation
 * "shared"): make the mount holding the rootfs private, found by walking up until the
 * kernel accepts the change (EINVAL: not a mount point). */
static int make_parent_mount_private(const char *rootfs)
{
	_cleanup_free_ char *p = strdup(rootfs);

	if (!p)
		return -ENOMEM;
	for (;;) {
		char *slash = strrchr(p, '/');
		if (!slash)
			return 0;
		if (slash == p)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (mount(NULL, p, NULL, MS_PRIVATE, NULL) == 0)
			return 0;
		if (errno != EINVAL)
			return -errno;
		if (strcmp(p, "/") == 0)
			return 0;
	}
}

int rootfs_prepare(struct rootfs_ctx *c)
{
	const struct spec *s = c->spec;
	unsigned long prop = s->rootfs_propagation ? s->rootfs_propagation : MS_SLAVE | MS_REC;
	int r;

	if (FAULT_OR("mount", mount(NULL, "/", NULL, prop, NULL)) < 0)
		return log_error_errno(-errno, "set propagation of '/': %m");
	if ((r = make_parent_mount_private(c->rootfs)) < 0)
		return log_error_errno(r, "make the mount above '%s' private: %m", c->rootfs);
	/* The rootfs must be a mount point of its own for pivot_root. */
	if (FAULT_OR("mount", mount(c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL)) < 0)
		return log_error_errno(-errno, "bind mount rootfs '%s': %m", c->rootfs);
	c->rootfd = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->rootfd < 0)
		return log_error_errno(-errno, "open rootfs '%s': %m", c->rootfs);
	for (size_t i = 0; i < s->n_mounts; i++)
		if (!is_cgroup_mount(&s->mounts[i]) && (r = mount_one(c, &s->mounts[i])) < 0)
			return r;
	/* cgroup mounts show the cgroup namespace's root: they wait until the init is in its
	 * cgroups and has its own cgroup namespace. */
	if (c->before_cgroup_mounts && (r = c->before_cgroup_mounts(c->userdata)) < 0)
		return r;
	for (size_t i = 0; i < s->n_mounts; i++)
		if (is_cgroup_mount(&s->mounts[i]) && (r = mount_one(c, &s->mounts[i])) < 0)
			return r;
	return setup_dev(c);
}

struct host_pseudo {
	const char *rootfs;
	size_t len;
	char **found; /* NULL-terminated */
	size_t n;
};

static int collect_host_pseudo(const struct mountinfo_entry *e, void *userdata)
{
	struct host_pseudo *h = userdata;
	char **nf;

	/* full procfs and sysfs mounts outside the container's rootfs */
	if (strcmp(e->root, "/") != 0 ||
	    (strcmp(e->fstype, "proc") != 0 && strcmp(e->fstype, "sysfs") != 0) ||
	    (strncmp(e->mount_point, h->rootfs, h->len) == 0 &&
	     (e->mount_point[h->len] == '/' || !e->mount_point[h->len])))
		return 0;
	if (!(nf = realloc(h->found, (h->n + 2) * sizeof(*nf))))
		return -ENOMEM;
	h->found = nf;
	if (!(h->found[h->n] = strdup(e->mount_point)))
		return -ENOMEM;
	h->found[++h->n] = NULL;
	return 0;
}

/*
 * Without pivot_root the host's mounts stay in the container's mount namespace, under the
 * moved rootfs. The kernel lets a user namespace mount a new procfs or sysfs when a full one
 * is visible in its mount namespace, and a hidden one counts: unmount the host's procfs and
 * sysfs mounts first, or cover them where they cannot be unmounted.
 */
static int drop_host_pseudo_fs(const char *rootfs)
{
	struct host_pseudo h = {.rootfs = rootfs, .len = strlen(rootfs)};
	int r = mountinfo_foreach("/proc/self/mountinfo", collect_host_pseudo, &h);

	/* deepest first: mountinfo lists parents before their children */
	while (r >= 0 && h.n-- > 0) {
		const char *p = h.found[h.n];

		/* never let the unmount reach the host */
		if (mount(NULL, p, NULL, MS_SLAVE | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			r = log_error_errno(-errno, "make '%s' a slave: %m", p);
		} else if (umount2(p, MNT_DETACH) < 0 &&
			   FAULT_OR("mount", mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0k")) <
			       0) {
			r = log_error_errno(-errno, "hide the host's '%s': %m", p);
		}
	}
	strv_free(h.found);
	return r < 0 ? r : 0;
}

int rootfs_pivot(struct rootfs_ctx *c)
{
	_cleanup_close_ int oldroot = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int newroot = open(c->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (oldroot < 0 || newroot < 0)
		return log_error_errno(-errno, "open rootfs '%s': %m", c->rootfs);
	if (fchdir(newroot) < 0)
		return log_error_errno(-errno, "chdir to rootfs '%s': %m", c->rootfs);
	if (c->no_pivot) {
		int r = drop_host_pseudo_fs(c->rootfs);

		if (r < 0)
			return r;
		if (FAULT_OR("mount", mount(c->rootfs, "/", NULL, MS_MOVE, NULL)) < 0)
			return log_error_errno(-errno, "move rootfs '%s' to '/': %m", c->rootfs);
		if (chroot(".") < 0)
			return log_error_errno(-errno, "chroot into '%s': %m", c->rootfs);
	} else {
		/* pivot_root(".", ".") stacks the old root under the new one; unmounting
		 * "." after fchdir to the old root then drops it without a temp dir. */
		if (FAULT_OR("pivot-root", syscall(SYS_pivot_root, ".", ".")) < 0)
			return log_error_errno(-errno, "pivot_root into '%s': %m", c->rootfs);
		if (fchdir(oldroot) < 0)
			return log_error_errno(-errno, "chdir to old root: %m");
		if (FAULT_OR("mount", mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL)) < 0)
			return log_error_errno(-errno, "make old root a slave: %m");
		if (umount2(".", MNT_DETACH) < 0)
			return log_error_errno(-errno, "unmount old root: %m");
	}
	if (chdir("/") < 0)
		return log_error_errno(-errno, "chdir to '/': %m");
	c->rootfd = safe_close(c->rootfd);
	c->rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return c->rootfd < 0 ? log_error_errno(-errno, "open '/': %m") : 0;
}

static int mask_path(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : log_error_errno(-errno, "mask '%s': %m", path);
	if (S_ISDIR(st.st_mode)) {
		if (FAULT_OR("mount", mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0k")) < 0)
			return log_error_errno(-errno, "mask directory '%s': %m", path);
	} else if (FAULT_OR("mount", mount("/dev/null", path, NULL, MS_BIND, NULL)) < 0) {
		return log_error_errno(-errno, "mask '%s': %m", path);
	}
	return 0;
}

static int readonly_path(const char *path)
{
	if (FAULT_OR("mount", mount(path, path, NULL, MS_BIND | MS_REC, NULL)) < 0) {
		if (errno == ENOENT)
			return 0;
		return log_error_errno(-errno, "bind '%s' read-only: %m", path);
	}
	unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY;
	if (FAULT_OR("mount", mount(NULL, path, NULL, f, NULL)) < 0 &&
	    mount(NULL, path, NULL, f | locked_flags(path), NULL) < 0)
		return log_error_errno(-errno, "remount '%s' read-only: %m", path);
	return 0;
}

int rootfs_finalize(struct rootfs_ctx *c)
{
	const struct spec *s = c->spec;
	int r;

	for (size_t i = 0; i < s->n_mounts; i++) {
		if (!is_dev_readonly(&s->mounts[i]))
			continue;
		if ((r = remount_bind_flags("/dev", s->mounts[i].flags)) < 0)
			return log_error_errno(r, "remount '/dev' read-only: %m");
	}
	for (char **p = s->readonly_paths; p && *p; p++)
		if ((r = readonly_path(*p)) < 0)
			return r;
	for (char **p = s->masked_paths; p && *p; p++)
		if ((r = mask_path(*p)) < 0)
			return r;
	if (s->root_readonly) {
		unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY;
		if (FAULT_OR("mount", mount(NULL, "/", NULL, f, NULL)) < 0 &&
		    mount(NULL, "/", NULL, f | locked_flags("/"), NULL) < 0)
			return log_error_errno(-errno, "remount root read-only: %m");
	}
	if (s->rootfs_propagation &&
	    FAULT_OR("mount", mount(NULL, "/", NULL, s->rootfs_propagation, NULL)) < 0)
		return log_error_errno(-errno, "set rootfs propagation: %m");
	return 0;
}
