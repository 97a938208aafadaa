/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "fs.h"
#include "pidfd.h"

/* The pid written in decimal in TEXT (a trailing newline allowed). */
static int parse_pid(const char *text, pid_t *ret)
{
	char *end;
	long pid;

	errno = 0;
	pid = strtol(text, &end, 10);
	if (*end == '\n')
		end++;
	if (errno || end == text || *end || pid <= 0 || pid > INT32_MAX)
		return -EINVAL;
	*ret = (pid_t)pid;
	return 0;
}

int pidfd_of(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
}

int pidfd_from_file(int dirfd, const char *path, const char *comm)
{
	_cleanup_free_ char *text = NULL, *name = NULL;
	char proc[64];
	size_t n = strlen(comm);
	pid_t pid;
	int fd, r;

	if ((r = read_file_at(dirfd, path, 32, &text, NULL)) < 0 || (r = parse_pid(text, &pid)) < 0)
		return r;
	if ((fd = pidfd_of(pid)) < 0)
		return fd;
	/* read once the pidfd holds the process: the name is that process's */
	snprintf(proc, sizeof(proc), "/proc/%d/comm", (int)pid);
	r = read_file_at(AT_FDCWD, proc, 64, &name, NULL);
	if (r >= 0 && (strncmp(name, comm, n) != 0 || (name[n] != '\n' && name[n] != '\0')))
		r = -ESRCH;
	if (r < 0) {
		close(fd);
		return r == -ENOENT ? -ESRCH : r;
	}
	return fd;
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
