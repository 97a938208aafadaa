/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <stdint.h>

#include "cleanup.h"
#include "fs.h"

int read_fd_all(int fd, size_t max, char **ret_buf, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	for (;;) {
		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, ncap + 1);

			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return -EFBIG;
	}
	if (!buf && !(buf = malloc(1)))
		return -ENOMEM;
	buf[len] = '\0';
	*ret_buf = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int read_file_at(int dirfd, const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	return read_fd_all(fd, max, ret_buf, ret_len);
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

int write_string_at(int dirfd, const char *path, const char *str)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	return write_all(fd, str, strlen(str));
}

int write_file_atomic_at(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
			 bool durable)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -EBADF;
	const char *slash = strrchr(path, '/');
	int r;

	if (asprintf(&tmp, "%.*s.#%s.%lx%x", slash ? (int)(slash - path + 1) : 0, path,
		     slash ? slash + 1 : path, (unsigned long)getpid(), (unsigned)random()) < 0)
		return -ENOMEM;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	r = write_all(fd, data, len);
	if (r >= 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r >= 0 && durable && fsync(fd) < 0)
		r = -errno;
	if (r >= 0 && renameat(dirfd, tmp, dirfd, path) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(dirfd, tmp, 0);
	return r;
}

int mkdir_p_at(int dirfd, const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);
	struct stat st;

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1;; s++) {
		bool end = *s == '\0';

		if (!end && *s != '/')
			continue;
		*s = '\0';
		if (mkdirat(dirfd, p, mode) < 0) {
			if (errno != EEXIST)
				return -errno;
			if (fstatat(dirfd, p, &st, 0) < 0)
				return -errno;
			if (!S_ISDIR(st.st_mode))
				return -ENOTDIR;
		}
		if (end)
			break;
		*s = '/';
		while (s[1] == '/')
			s++;
		if (s[1] == '\0')
			break;
	}
	return 0;
}

static int rm_rf_children(int fd, dev_t dev)
{
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		safe_close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT && r == 0)
				r = -errno;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (st.st_dev != dev) {
				if (r == 0)
					r = -EXDEV;
				continue;
			}
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				if (r == 0)
					r = -errno;
				continue;
			}
			int k = rm_rf_children(sub, dev);
			if (k < 0 && r == 0)
				r = k;
			if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT &&
			    r == 0)
				r = -errno;
		} else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT && r == 0) {
			r = -errno;
		}
	}
	return r;
}

int rm_rf_at(int dirfd, const char *path)
{
	struct stat st;
	int r;

	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, path, 0) < 0 && errno != ENOENT ? -errno : 0;
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = rm_rf_children(fd, st.st_dev);
	if (unlinkat(dirfd, path, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	char *out;

	while (la > 0 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (asprintf(&out, "%.*s/%s", (int)la, a, b) < 0)
		return NULL;
	return out;
}

bool path_is_safe_relative(const char *path)
{
	if (!path || path[0] == '/' || path[0] == '\0')
		return false;
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += n;
		while (*p == '/')
			p++;
	}
	return true;
}

#define MAX_SYMLINKS 40
#define MAX_DEPTH 256

/*
 * Resolve PATH as if ROOTFD were the root directory. Every component is opened with
 * O_NOFOLLOW|O_PATH; a symlink's target is spliced into the rest of the path (an
 * absolute one restarts at ROOTFD), and ".." pops a stack of the directories walked so
 * far, never going above ROOTFD. This is what RESOLVE_IN_ROOT does in the kernel.
 */
int open_in_root_fallback(int rootfd, const char *path, int flags, mode_t mode)
{
	int stack[MAX_DEPTH];
	int depth = 0, links = 0, r;
	_cleanup_free_ char *rest = strdup(path);
	char *p;

	if (!rest)
		return -ENOMEM;
	stack[0] = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (stack[0] < 0)
		return -errno;
	p = rest;
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0') {
			/* The path named a directory we already hold (or the root). */
			r = openat(stack[depth], ".", (flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC);
			r = r < 0 ? -errno : r;
			break;
		}
		size_t n = strcspn(p, "/");
		char comp[NAME_MAX + 1];
		if (n > NAME_MAX) {
			r = -ENAMETOOLONG;
			break;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p += n;
		bool last = p[strspn(p, "/")] == '\0';

		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			if (depth > 0)
				safe_close(stack[depth--]);
			if (last) {
				r = openat(stack[depth], ".",
					   (flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC);
				r = r < 0 ? -errno : r;
				break;
			}
			continue;
		}
		int fd = openat(stack[depth], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && !(errno == ENOENT && last && (flags & O_CREAT))) {
			r = -errno;
			break;
		}
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) < 0) {
			r = -errno;
			safe_close(fd);
			break;
		}
		if (fd >= 0 && S_ISLNK(st.st_mode) && (!last || !(flags & O_NOFOLLOW))) {
			char target[PATH_MAX];
			ssize_t tl = readlinkat(fd, "", target, sizeof(target) - 1);

			safe_close(fd);
			if (tl < 0) {
				r = -errno;
				break;
			}
			target[tl] = '\0';
			if (++links > MAX_SYMLINKS) {
				r = -ELOOP;
				break;
			}
			char *nrest;
			if (asprintf(&nrest, "%s/%s", target, p) < 0) {
				r = -ENOMEM;
				break;
			}
			free(rest);
			rest = p = nrest;
			if (target[0] == '/')
				while (depth > 0)
					safe_close(stack[depth--]);
			continue;
		}
		if (last) {
			safe_close(fd);
			r = openat(stack[depth], comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
			r = r < 0 ? -errno : r;
			break;
		}
		if (fd >= 0 && !S_ISDIR(st.st_mode)) {
			safe_close(fd);
			r = -ENOTDIR;
			break;
		}
		if (depth + 1 >= MAX_DEPTH) {
			safe_close(fd);
			r = -ENAMETOOLONG;
			break;
		}
		stack[++depth] = fd;
	}
	while (depth >= 0)
		safe_close(stack[depth--]);
	return r;
}

int open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
	static bool no_openat2;
	struct open_how how = {
	    .flags = (unsigned long long)(flags | O_CLOEXEC),
	    .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	if (!no_openat2) {
		long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));

		if (fd >= 0)
			return (int)fd;
		/* EAGAIN: a concurrent rename raced the lookup; the walk below is race-tolerant. */
		if (errno != ENOSYS && errno != EPERM && errno != EAGAIN && errno != EXDEV)
			return -errno;
		if (errno == ENOSYS || errno == EPERM)
			no_openat2 = true;
	}
	return open_in_root_fallback(rootfd, path, flags, mode);
}

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* close_range(LOWEST, ~0, FLAGS), or one fd after the other from /proc/self/fd without it. */
static int fds_from(int lowest, unsigned flags)
{
	if (syscall(SYS_close_range, (unsigned)lowest, ~0U, flags) == 0)
		return 0;
	_cleanup_closedir_ DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		int fd, fl;

		if (parse_int(de->d_name, &fd) < 0 || fd < lowest || fd == dirfd(d))
			continue;
		if (!(flags & CLOSE_RANGE_CLOEXEC))
			close(fd);
		else if ((fl = fcntl(fd, F_GETFD)) >= 0 && !(fl & FD_CLOEXEC))
			(void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
	return 0;
}

int close_fds_from(int lowest)
{
	return fds_from(lowest, 0);
}

static int cmp_int(const void *a, const void *b)
{
	return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

int close_fds_except(int lowest, const int *keep, size_t n_keep)
{
	int sorted[16];
	size_t n = 0;

	if (n_keep > ELEMENTSOF(sorted))
		return -E2BIG;
	for (size_t i = 0; i < n_keep; i++)
		if (keep[i] >= lowest)
			sorted[n++] = keep[i];
	qsort(sorted, n, sizeof(int), cmp_int);
	for (size_t i = 0; i < n; i++) {
		if (sorted[i] > lowest &&
		    syscall(SYS_close_range, (unsigned)lowest, (unsigned)sorted[i] - 1, 0) < 0) {
			for (int fd = lowest; fd < sorted[i]; fd++)
				close(fd);
		}
		lowest = sorted[i] + 1;
	}
	return fds_from(lowest, 0);
}

#define BITS_PER_LONG (8 * (int)sizeof(long))

int fds_open_bitmap(unsigned long *bits, int max)
{
	_cleanup_close_ int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char buf[4096];
	long n;

	memset(bits, 0, ((size_t)max + BITS_PER_LONG - 1) / BITS_PER_LONG * sizeof(long));
	if (dfd < 0)
		return -errno;
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *de = (void *)(buf + off);
			int fd;

			off += de->reclen;
			if (parse_int(de->name, &fd) < 0 || fd == dfd || fd >= max)
				continue;
			bits[fd / BITS_PER_LONG] |= 1UL << (fd % BITS_PER_LONG);
		}
	}
	return n < 0 ? -errno : 0;
}

int cloexec_fds_from(int lowest)
{
	return fds_from(lowest, CLOSE_RANGE_CLOEXEC);
}

static char self_exe[PATH_MAX];

void self_exe_set_path(const char *path)
{
	snprintf(self_exe, sizeof(self_exe), "%s", path ? path : "");
}

const char *self_exe_path(void)
{
	if (!self_exe[0]) {
		ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
		if (n <= 0)
			return NULL;
		self_exe[n] = '\0';
	}
	return self_exe;
}

int companion_binary(const char *env, const char *name, const char *build_dir, char *buf,
		     size_t size)
{
	const char *e = env ? getenv(env) : NULL;
	/* the host's path: brisk may run from a sealed clone of its binary */
	const char *self = self_exe_path(), *slash = self ? strrchr(self, '/') : NULL;

	if (e && *e) {
		snprintf(buf, size, "%s", e);
		return access(buf, X_OK) == 0 ? 0 : -errno;
	}
	if (slash) {
		int dir = (int)(slash - self);
		if ((size_t)snprintf(buf, size, "%.*s/%s", dir, self, name) < size &&
		    access(buf, X_OK) == 0)
			return 0;
		if ((size_t)snprintf(buf, size, "%.*s/../%s/%s", dir, self, build_dir, name) <
			size &&
		    access(buf, X_OK) == 0)
			return 0;
	}
	snprintf(buf, size, "%s", name);
	return -ENOENT;
}

int parse_uint64(const char *s, unsigned long long *ret)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0)
		return -ERANGE;
	if (*end != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}

int parse_int(const char *s, int *ret)
{
	char *end;

	if (!s || !*s || *s == ' ' || *s == '+')
		return -EINVAL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || v < INT_MIN || v > INT_MAX)
		return -ERANGE;
	if (*end != '\0')
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

int mem_available_kib(unsigned long long *ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	char *p;
	int r;

	if ((r = read_file_at(AT_FDCWD, "/proc/meminfo", 64 << 10, &buf, &len)) < 0)
		return r;
	p = strstr(buf, "MemAvailable:");
	if (!p || sscanf(p, "MemAvailable: %llu kB", ret) != 1)
		return -EBADMSG;
	return 0;
}

int proc_root_resolve(pid_t pid, const char *dest, char *buf, size_t size)
{
	char path[PATH_MAX], rest[PATH_MAX], link[PATH_MAX], proc[64];
	size_t len = 0;
	int links = 0;

	snprintf(proc, sizeof(proc), "/proc/%d/root", (int)pid);
	if (snprintf(rest, sizeof(rest), "%s", dest) >= (int)sizeof(rest))
		return -ENAMETOOLONG;
	path[0] = '\0';
	for (char *p = rest; *p;) {
		char full[PATH_MAX + 64];
		struct stat st;
		size_t n;

		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (n == 0)
			break;
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
			if (n == 2)
				while (len > 0 && path[--len] != '/')
					;
			path[len] = '\0';
			p += n;
			continue;
		}
		if (len + 1 + n >= sizeof(path))
			return -ENAMETOOLONG;
		path[len] = '/';
		memcpy(path + len + 1, p, n);
		path[len + 1 + n] = '\0';
		p += n;
		snprintf(full, sizeof(full), "%s%s", proc, path);
		if (lstat(full, &st) < 0) {
			if (errno != ENOENT && errno != ENOTDIR)
				return -errno;
			return snprintf(buf, size, "%s", dest) < (int)size ? 0 : -ENAMETOOLONG;
		}
		if (!S_ISLNK(st.st_mode)) {
			len += 1 + n;
			continue;
		}
		ssize_t k = readlink(full, link, sizeof(link) - 1);
		if (k < 0)
			return -errno;
		link[k] = '\0';
		if (++links > 40)
			return -ELOOP;
		/* the link's target, then what was left of DEST */
		char next[PATH_MAX];
		if (snprintf(next, sizeof(next), "%s/%s", link, p) >= (int)sizeof(next))
			return -ENAMETOOLONG;
		memcpy(rest, next, strlen(next) + 1);
		p = rest;
		if (link[0] == '/')
			len = 0;
		path[len] = '\0';
	}
	return snprintf(buf, size, "%s", len ? path : "/") < (int)size ? 0 : -ENAMETOOLONG;
}
