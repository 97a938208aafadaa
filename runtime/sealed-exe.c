/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mount.h>

#include "common/cleanup.h"
#include "common/fault.h"
#include "common/fs.h"
#include "common/log.h"
#include "sealed-exe.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* Set across the re-exec: the binary's host path, and proof that we re-executed already. */
#define ENV_HOST_EXE "_BRISK_HOST_EXE"

extern char **environ;

bool sealed_exe_is_sealed(void)
{
	struct statvfs sv;

	/* A read-only mount: MNT_READONLY of a detached clone, or a read-only /usr. */
	if (statvfs("/proc/self/exe", &sv) == 0 && (sv.f_flag & ST_RDONLY))
		return true;
	_cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int seals = fd >= 0 ? fcntl(fd, F_GET_SEALS) : -1;
	return seals >= 0 && (seals & F_SEAL_WRITE) && (seals & F_SEAL_SEAL);
}

/*
 * A detached bind mount of our own binary, made read-only: open_tree() clones the mount of
 * the file /proc/self/exe names (a file bind-mounted over another included), and nobody can
 * make a detached mount writable again, since it is in no mount namespace: once we exec it
 * and the clone's fd closes, it is unmounted and only our exe holds it. An open for writing
 * through /proc/PID/exe then fails with EROFS. It needs CAP_SYS_ADMIN over our mount
 * namespace.
 */
static int open_ro_clone(int *ret_fd)
{
	struct mount_attr attr = {.attr_set =
				      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
	_cleanup_close_ int fd = -EBADF;

	if (fault_hit("sealed-exe"))
		return -EIO;
	fd = (int)syscall(SYS_open_tree, AT_FDCWD, "/proc/self/exe",
			  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* The fallback, as runc's: a memfd copy, sealed against every change. Costs a copy of the
 * binary per call, so only where we may not mount. */
static int open_memfd_copy(int *ret_fd)
{
	_cleanup_close_ int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), fd = -EBADF;
	struct stat st;

	if (src < 0 || fstat(src, &st) < 0)
		return -errno;
	fd = memfd_create("brisk", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (fd < 0 && errno == EINVAL) /* a kernel before 6.3 knows no MFD_EXEC */
		fd = memfd_create("brisk", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n = sendfile(fd, src, NULL, (size_t)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		left -= n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int sealed_exe_ensure(char **argv)
{
	const char *done = getenv(ENV_HOST_EXE);
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (done) {
		self_exe_set_path(done);
		unsetenv(ENV_HOST_EXE);
	}
	if (sealed_exe_is_sealed())
		return 0;
	if (done) /* we re-executed, and still run from a writable file: never loop */
		return log_error_errno(-EPERM, "the runtime's binary is still writable after "
					       "its re-execution from a sealed copy");
	const char *host_path = self_exe_path();
	if (!host_path)
		return log_error_errno(-errno, "read the path of the runtime's binary: %m");
	r = open_ro_clone(&fd);
	if (r < 0) {
		if (r == -EPERM)
			log_debug_errno(r, "mount a read-only clone of the runtime's binary: %m; "
					   "a sealed copy instead");
		else
			log_warning_errno(r, "mount a read-only clone of the runtime's binary: %m, "
					     "ignoring: a sealed copy instead");
		r = open_memfd_copy(&fd);
		if (r < 0)
			return log_error_errno(r, "make a sealed copy of the runtime's binary: %m");
	}
	if (setenv(ENV_HOST_EXE, host_path, 1) < 0)
		return log_error_errno(-errno, "setenv: %m");
	syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
	r = -errno;
	unsetenv(ENV_HOST_EXE);
	return log_error_errno(r, "re-execute the runtime from its sealed copy: %m");
}
