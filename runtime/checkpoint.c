/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checkpoint: dump a running (or paused) container with CRIU, as runc does, with what brisk
 * adds around it: bind mounts and the tmpfs mounts a restore can make again as external, the
 * container's /dev as a tree in brisk-snapshot.json, a loopback-only network namespace left
 * out, CUDA processes checkpointed around the dump, and brisk-snapshot.json itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mountinfo.h"
#include "cgroup.h"
#include "commands.h"
#include "checkpoint.h"
#include "container-snapshot.h"
#include "gpu/gpu.h"

static int is_mount_id(const struct mountinfo_entry *e, void *userdata)
{
	return e->mount_id == *(const int *)userdata;
}

/*
 * What fds 0-2 of the init are, as CRIU names them: "pipe:[N]" is dumped as a pipe and
 * reconnected on restore; a file that lives outside the container's mounts (a log file, the
 * host's /dev/null) is dumped as external "file[MNT:INO]" and given back on restore.
 */
static int stdio_key(pid_t pid, int fd, char **ret_key, bool *ret_external)
{
	char path[64], link[PATH_MAX];
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	link[n] = '\0';
	*ret_external = false;
	if (strncmp(link, "pipe:[", 6) == 0) {
		*ret_key = strdup(link);
		return *ret_key ? 0 : -ENOMEM;
	}
	if (link[0] != '/' || stat(path, &st) < 0)
		return 0; /* sockets, anon inodes: CRIU's own business */

	/* mnt_id from fdinfo; external when the container has no such mount */
	_cleanup_free_ char *info = NULL;
	size_t len;
	int mnt_id = -1;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	if (read_file_at(AT_FDCWD, path, 65536, &info, &len) < 0)
		return 0;
	char *p = strstr(info, "mnt_id:");
	if (!p || sscanf(p + 7, "%d", &mnt_id) != 1)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	/* not found, or unreadable: left to CRIU */
	if (mountinfo_foreach(path, is_mount_id, &mnt_id) != 0)
		return 0;
	if (asprintf(ret_key, "file[%x:%llx]", (unsigned)mnt_id, (unsigned long long)st.st_ino) < 0)
		return -ENOMEM;
	*ret_external = true;
	return 0;
}

static int prepare_dir(const char *path, int *ret_fd)
{
	int r = mkdir_p_at(AT_FDCWD, path, 0700);

	if (r < 0 && r != -EEXIST)
		return r;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The images hold the container's memory: no one but the owner may read them. */
	struct stat st;
	if (fstat(fd, &st) == 0 && (st.st_mode & 077)) {
		log_info("'%s' was readable by others (%04o): now 0700", path,
			 (unsigned)(st.st_mode & 07777));
		if (fchmod(fd, st.st_mode & 07700) < 0) {
			r = log_error_errno(-errno, "make '%s' private: %m", path);
			close(fd);
			return r;
		}
	}
	*ret_fd = fd;
	return 0;
}

static int report_criu_failure(int r, const struct snapshot_opts *so, const char *what,
			       const char *work_dir, const char *log)
{
	if (r == -ENOENT)
		return log_error_errno(r,
				       "criu not found (brisk needs criu >= %s on PATH or --criu)",
				       SNAPSHOT_CRIU_MIN_VERSION_STRING);
	_cleanup_free_ char *err = snapshot_criu_error(so->work_fd, log);
	return log_error_errno(r, "criu %s failed: %s (log: %s/%s%s%s%s)", what,
			       err ? err : "no error in its log", work_dir, log,
			       so->config_file ? "; CRIU configuration of org.criu.config: '" : "",
			       so->config_file ? so->config_file : "", so->config_file ? "'" : "");
}

static int check_criu(const char *criu, int *ret_version)
{
	int r = snapshot_criu_version(criu, ret_version);

	if (r == -ENOENT)
		return log_error_errno(r,
				       "criu not found (brisk needs criu >= %s on PATH or --criu)",
				       SNAPSHOT_CRIU_MIN_VERSION_STRING);
	if (r < 0)
		return log_error_errno(r,
				       "'%s' did not answer a version request: brisk needs criu "
				       ">= %s",
				       criu ? criu : "criu", SNAPSHOT_CRIU_MIN_VERSION_STRING);
	if (*ret_version < SNAPSHOT_CRIU_MIN_VERSION)
		return log_error_errno(-EOPNOTSUPP,
				       "criu %d.%d.%d is too old: brisk needs criu >= %s",
				       *ret_version / 10000, *ret_version / 100 % 100,
				       *ret_version % 100, SNAPSHOT_CRIU_MIN_VERSION_STRING);
	return 0;
}

static int write_meta(struct checkpoint_args *a, const struct container_state *st,
		      struct json_object *config, struct ext_mounts *em, char *stdio[3], int criu,
		      const struct container_gpu *gpu, const char *netns,
		      struct snapshot_tree *trees, size_t n_trees,
		      struct snapshot_mapped_file *mapped, size_t n_mapped)
{
	struct snapshot_meta m = {
	    .version = SNAPSHOT_META_VERSION,
	    .id = st->id,
	    .rootfs = st->rootfs,
	    .criu_version = criu,
	    .leave_running = a->so.leave_running,
	    .stdio = {stdio[0], stdio[1], stdio[2]},
	    .ext_mounts = em->keys,
	    .netns = (char *)netns,
	    .config = config,
	    .cuda_pids = gpu->ns_pids,
	    .n_cuda_pids = gpu->n,
	    .trees = trees,
	    .n_trees = n_trees,
	    .mapped = mapped,
	    .n_mapped = n_mapped,
	};
	_cleanup_free_ char *created = now_rfc3339();

	if (!created)
		return -ENOMEM;
	m.created = created;
	return snapshot_meta_write(a->so.images_fd, &m);
}

static int dump(void *so)
{
	return snapshot_dump(so);
}

int container_checkpoint(struct runtime_ctx *rt, struct checkpoint_args *a, const char *id)
{
	_cleanup_(state_freep) struct container_state *st = NULL;
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;
	_cleanup_(spec_freep) struct spec *spec = NULL;
	_cleanup_close_ int images_fd = -EBADF, work_fd = -EBADF;
	struct ext_mounts em = {0};
	struct snapshot_tree *trees = NULL;
	struct snapshot_mapped_file *mapped = NULL;
	size_t n_trees = 0, n_mapped = 0;
	struct container_gpu gpu = {0};
	enum container_status status;
	enum gpu_step failed = GPU_STEP_DUMP;
	char *stdio[3] = {NULL, NULL, NULL};
	const char *externals[4], *netns = NULL;
	char netns_ext[64];
	unsigned long long netns_ino;
	size_t n_ext = 0;
	int criu = 0, r;

	r = container_load(rt, id, &st, &status);
	if (r == -ENOENT)
		return container_not_found(id);
	if (r < 0)
		return log_error_errno(r, "load state: %m");
	if (status != STATUS_RUNNING && status != STATUS_PAUSED)
		return log_error_errno(-ESRCH, "container not running (it is %s)",
				       state_status_name(status));
	if ((r = check_criu(a->so.criu_path, &criu)) < 0)
		return r;
	if ((r = spec_load(st->bundle, &spec)) < 0)
		return r;
	if ((r = prepare_dir(a->image_path, &images_fd)) < 0)
		return log_error_errno(r, "image path '%s': %m", a->image_path);
	if ((r = prepare_dir(a->work_path, &work_fd)) < 0)
		return log_error_errno(r, "work path '%s': %m", a->work_path);
	if ((r = ext_mounts_from_spec(spec, st->pid, &em)) < 0)
		return r;
	if ((r = ext_mounts_add_cgroup_binds(spec, NULL, &em)) < 0 ||
	    (r = ext_mounts_add_masked(spec, st->pid, &em)) < 0 ||
	    (r = ext_mounts_add_empty_tmpfs(spec, st->pid, &em)) < 0 ||
	    (r = ext_mounts_add_tmpfs_trees(spec, st->pid, &em, &trees, &n_trees)) < 0)
		goto out;
	for (int fd = 0; fd < 3; fd++) {
		bool external = false;
		if ((r = stdio_key(st->pid, fd, &stdio[fd], &external)) < 0)
			goto out;
		if (external)
			externals[n_ext++] = stdio[fd];
	}
	if (!(a->so.empty_ns & CLONE_NEWNET)) {
		if ((r = netns_external(spec, st->pid, &netns, &netns_ino)) < 0)
			log_debug_errno(r, "network namespace: %m; CRIU dumps it");
		if (netns) {
			snprintf(netns_ext, sizeof(netns_ext), "net[%llu]:%s", netns_ino,
				 SNAPSHOT_NETNS_KEY);
			externals[n_ext++] = netns_ext;
			/* a joined namespace is not the container's to lock, unless asked to
			 * keep its TCP connections */
			a->so.no_network_lock =
			    strcmp(netns, SNAPSHOT_NETNS_JOINED) != 0 || !a->so.tcp_established;
		}
	}
	a->so.config_file = spec_criu_config(spec);
	a->so.images_fd = images_fd;
	a->so.images_dir = a->image_path;
	a->so.work_fd = work_fd;
	a->so.work_dir = a->work_path;
	a->so.root = st->rootfs;
	a->so.pid = st->pid;
	a->so.ext_mounts = em.pairs;
	a->so.n_ext_mounts = em.n;
	a->so.externals = externals;
	a->so.n_externals = n_ext;
	/* the pty's master is the console socket's receiver's: a restore makes a new pair */
	a->so.orphan_pts_master = spec->process.terminal;
	if (st->cgroup && cgroup_deserialize(st->cgroup, &cg) == 0) {
		const char *f = cgroup_get_path(cg, "freezer");
		a->so.freeze_cgroup = f ? f : cgroup_get_path(cg, "");
	}
	/* device memory is saved by the final dump, not by pre-dumps */
	if (!a->pre_dump && (r = container_gpu_find(cg, st->pid, &gpu)) < 0)
		goto out;
	if (gpu.n && status == STATUS_PAUSED) {
		r = log_error_errno(-EBUSY, "the container is paused, and its CUDA processes must "
					    "run to be checkpointed: resume it first");
		goto out;
	}
	if (a->pre_dump) {
		r = snapshot_pre_dump(&a->so);
		if (r == -EOPNOTSUPP)
			r = log_error_errno(r,
					    "--pre-dump needs memory change tracking (soft-dirty "
					    "pages), which this kernel or CRIU lacks; dump "
					    "without --pre-dump");
		else if (r < 0)
			r = report_criu_failure(r, &a->so, "pre-dump", a->work_path, "dump.log");
		goto out;
	}
	/* what a restore over a lazy image reads ahead: a hint, so a dump goes on without it */
	if ((r = snapshot_mapped_files_collect(st->pid, &mapped, &n_mapped)) < 0)
		log_debug("the files the container maps: %s", strerror(-r));
	if ((r = write_meta(a, st, spec->json, &em, stdio, criu, &gpu, netns, trees, n_trees,
			    mapped, n_mapped)) < 0) {
		r = log_error_errno(r, "write '%s/%s': %m", a->image_path, SNAPSHOT_META_FILE);
		goto out;
	}
	if (gpu.n)
		r = container_gpu_dump(&gpu, a->cuda_timeout_ms, a->so.leave_running, a->work_path,
				       dump, &a->so, &failed);
	else
		r = dump(&a->so);
	/* the images are good when only bringing the devices back failed */
	if (r < 0 && failed == GPU_STEP_RESUME)
		goto out;
	if (r < 0) {
		if (failed == GPU_STEP_DUMP)
			r = report_criu_failure(r, &a->so, "dump", a->work_path, "dump.log");
		(void)unlinkat(images_fd, SNAPSHOT_META_FILE, 0);
		goto out;
	}
	/* As runc: a container that was dumped and not left running is gone. */
	if (!a->so.leave_running)
		(void)container_delete(rt, id, true);
out:
	container_gpu_done(&gpu);
	for (int i = 0; i < 3; i++)
		free(stdio[i]);
	ext_mounts_done(&em);
	for (size_t i = 0; i < n_trees; i++)
		snapshot_tree_done(&trees[i]);
	free(trees);
	snapshot_mapped_files_free(mapped, n_mapped);
	return r;
}
