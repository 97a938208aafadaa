/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/mount.h>
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

int idmap_write(pid_t pid, const char *file, const struct spec_id_map *m, size_t n)
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
		len += (size_t)snprintf(buf + len, size - len, "%u %u %u\n", m[i].container_id,
					m[i].host_id, m[i].size);
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

/*
 * A user namespace with M's mappings, for MOUNT_ATTR_IDMAP: a child unshares one and waits
 * while we write its maps and take a reference to it; then it exits.
 *
 * The kernel shows a file through an idmapped mount by reading its owner on disk as an id
 * inside the mount's user namespace (the first column of the map) and showing the id it maps
 * to outside. The maps are written as runc 1.2+ and crun write them, "containerID hostID size"
 * as for linux.uidMappings: a file owned by containerID on disk shows as hostID. So a mount
 * with the same mappings as the container's user namespace (as podman and the kubelet write
 * them) shows the container each file with its owner on disk.
 */
static int userns_open(const struct spec_mount *m, int *ret_fd)
{
	_cleanup_close_ int rd = -EBADF, wr = -EBADF;
	int pipefd[2], r;
	char path[64], a[64], b[64];

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	rd = pipefd[0];
	wr = pipefd[1];
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char c;

		if (unshare(CLONE_NEWUSER) < 0)
			_exit(1);
		close(wr);
		(void)!read(rd, &c, 1); /* EOF once the parent closes its end: done */
		_exit(0);
	}
	rd = safe_close(rd);
	/* wait until the child is in its namespace */
	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	for (int i = 0; i < 1000; i++) {
		ssize_t x = readlink(path, a, sizeof(a) - 1),
			y = readlink("/proc/self/ns/user", b, sizeof(b) - 1);
		if (x > 0 && y > 0 && (x != y || memcmp(a, b, (size_t)x) != 0))
			break;
		usleep(100);
	}
	const struct spec_id_map *um = m->n_uid_maps ? m->uid_maps : m->gid_maps;
	size_t un = m->n_uid_maps ? m->n_uid_maps : m->n_gid_maps;
	const struct spec_id_map *gm = m->n_gid_maps ? m->gid_maps : m->uid_maps;
	size_t gn = m->n_gid_maps ? m->n_gid_maps : m->n_uid_maps;
	if ((r = idmap_write(pid, "uid_map", um, un)) >= 0 &&
	    (r = idmap_write(pid, "gid_map", gm, gn)) >= 0) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			r = -errno;
		else
			*ret_fd = fd;
	}
	wr = safe_close(wr);
	waitpid(pid, NULL, 0);
	return r;
}

/*
 * Why the runtime makes the mount and not the init: mount_setattr(MOUNT_ATTR_IDMAP) needs
 * CAP_SYS_ADMIN in the user namespace that owns the source's filesystem (the host's, for a
 * host directory), which the init of a container with its own user namespace, created in
 * it, never has (EPERM). So the runtime clones the source tree (OPEN_TREE_CLONE: a detached
 * mount, in no mount namespace yet) and sets the mapping on it while it is still the host's
 * root; the init inherits the fd and attaches it with move_mount(), which needs
 * CAP_SYS_ADMIN only over the init's own mount namespace, owned by its user namespace. As
 * crun and runc 1.2+ do, the mount is made outside and its fd handed to the container.
 */
int idmap_mount_open(const struct spec_mount *m, int *ret_fd)
{
	unsigned rec = (m->kind & MOUNT_RECURSIVE) ? AT_RECURSIVE : 0;
	_cleanup_close_ int userns = -EBADF, tree = -EBADF;
	int r;

	if (!m->source)
		return log_error_errno(-EINVAL, "idmapped mount '%s': no source", m->destination);
	if ((r = userns_open(m, &userns)) < 0)
		return log_error_errno(
		    r, "idmapped mount '%s': user namespace with its mappings: %m", m->destination);
	tree = (int)syscall(SYS_open_tree, AT_FDCWD, m->source,
			    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
	if (tree < 0)
		return log_error_errno(-errno, "idmapped mount '%s': clone '%s': %m",
				       m->destination, m->source);
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns};
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | rec, &attr, sizeof(attr)) < 0)
		return log_error_errno(-errno, "idmapped mount '%s': set the mapping on '%s': %m",
				       m->destination, m->source);
	*ret_fd = TAKE_FD(tree);
	return 0;
}
