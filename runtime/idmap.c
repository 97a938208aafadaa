/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "idmap.h"

size_t idmap_text_size(const struct spec_id_map *m, size_t n)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(NULL, 0, "%u %u %u\n", m[i].container_id, m[i].host_id,
					m[i].size);
	return len;
}

size_t idmap_write_max(void)
{
	long page = sysconf(_SC_PAGESIZE);

	/* map_write() refuses a write of PAGE_SIZE bytes or more. */
	return (page > 0 ? (size_t)page : 4096) - 1;
}

int idmap_check(const struct spec_id_map *m, size_t n, const char *field)
{
	size_t len;

	if (n > IDMAP_MAX_EXTENTS)
		return log_error_errno(
		    -E2BIG, "config.json: %s: %zu entries, but the kernel takes at most %d", field,
		    n, IDMAP_MAX_EXTENTS);
	len = idmap_text_size(m, n);
	if (len > idmap_write_max())
		return log_error_errno(
		    -E2BIG,
		    "config.json: %s: %zu bytes as the kernel reads them, but it "
		    "takes at most %zu in its one write",
		    field, len, idmap_write_max());
	return 0;
}

int idmap_write(pid_t pid, const char *file, const struct spec_id_map *m, size_t n, bool reverse)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	size_t size = idmap_text_size(m, n) + 1, len = 0;
	char path[64];
	ssize_t w;

	if (size - 1 > idmap_write_max() || n > IDMAP_MAX_EXTENTS)
		return -E2BIG;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, size - len, "%u %u %u\n",
					reverse ? m[i].host_id : m[i].container_id,
					reverse ? m[i].container_id : m[i].host_id, m[i].size);
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The kernel takes one write at offset 0: a second one would fail, so no write_all(). */
	w = write(fd, buf, len);
	if (w < 0)
		return -errno;
	return (size_t)w == len ? 0 : -EIO;
}

/* A user namespace holding the mount's mappings: a child unshares one and waits while we
 * write its maps and take a reference to the namespace; then it exits. */
/*
 * The kernel shows an inode's owner through an idmapped mount by looking the on-disk id up
 * in the first column of the namespace's map: so the namespace maps hostID (on disk) to
 * containerID (what the container sees), the reverse of a container's own user namespace.
 */
int idmap_userns_open(const struct spec_mount *m, int *ret_fd)
{
	int pipefd[2], r = 0;
	char path[64];

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0) {
		char b;
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(1);
		close(pipefd[1]);
		(void)!read(pipefd[0], &b, 1); /* parent closes its end when done */
		_exit(0);
	}
	close(pipefd[0]);
	pipefd[0] = -1;
	/* wait until the child is in its namespace */
	char a[64], b2[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	for (int i = 0; i < 1000; i++) {
		ssize_t x = readlink(path, a, sizeof(a) - 1),
			y = readlink("/proc/self/ns/user", b2, sizeof(b2) - 1);
		if (x > 0 && y > 0 && (x != y || memcmp(a, b2, (size_t)x) != 0))
			break;
		usleep(100);
	}
	const struct spec_id_map *um = m->n_uid_maps ? m->uid_maps : m->gid_maps;
	size_t un = m->n_uid_maps ? m->n_uid_maps : m->n_gid_maps;
	const struct spec_id_map *gm = m->n_gid_maps ? m->gid_maps : m->uid_maps;
	size_t gn = m->n_gid_maps ? m->n_gid_maps : m->n_uid_maps;
	if ((r = idmap_write(pid, "uid_map", um, un, true)) < 0 ||
	    (r = idmap_write(pid, "gid_map", gm, gn, true)) < 0)
		goto kill;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		r = -errno;
	else
		*ret_fd = fd;
kill:
	close(pipefd[1]);
	pipefd[1] = -1;
	waitpid(pid, NULL, 0);
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return r;
}
