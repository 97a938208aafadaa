/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "idmap.h"

static int write_map(pid_t pid, const char *file, const struct spec_id_map *m, size_t n)
{
	char path[64], buf[1024];
	size_t len = 0;

	for (size_t i = 0; i < n && len < sizeof(buf) - 40; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n", m[i].host_id,
					m[i].container_id, m[i].size);
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	return write_string_at(AT_FDCWD, path, buf);
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
	if ((r = write_map(pid, "uid_map", um, un)) < 0 ||
	    (r = write_map(pid, "gid_map", gm, gn)) < 0)
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
