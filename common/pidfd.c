/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "pidfd.h"

int pidfd_from_xattr(const char *path, const char *name)
{
	char buf[32], *end;
	ssize_t n = getxattr(path, name, buf, sizeof(buf) - 1);
	long pid;
	int fd;

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno || end == buf || *end || pid <= 0 || pid > INT32_MAX)
		return -EINVAL;
	fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	return fd < 0 ? -errno : fd;
}

int pidfd_wait(int pidfd, int timeout_ms)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r > 0 ? 0 : -ETIMEDOUT;
}
