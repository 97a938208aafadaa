/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CUDA processes of a container around a CRIU dump and restore: found among the
 * container's processes, locked and checkpointed through gpu/ before CRIU runs, brought back
 * onto the GPU after it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>
#include <signal.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/json.h"
#include "gpu/gpu.h"
#include "cgroup.h"
#include "container-snapshot.h"

/* The pid of PID in its innermost pid namespace (the last field of NSpid). */
static int ns_pid_of(pid_t pid, int *ret)
{
	_cleanup_free_ char *status = NULL;
	char path[64];
	size_t len;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((r = read_file_at(AT_FDCWD, path, 65536, &status, &len)) < 0)
		return r;
	char *p = strstr(status, "\nNSpid:");
	if (!p)
		return -ENOTSUP;
	p += 7;
	char *end = strchr(p, '\n');
	if (end)
		*end = '\0';
	char *last = strrchr(p, '\t');
	return parse_int(last ? last + 1 : p, ret);
}

static int processes(struct cgroup *cg, pid_t init, pid_t **ret, size_t *ret_n)
{
	if (cg)
		return cgroup_get_pids(cg, ret, ret_n);
	*ret = malloc(sizeof(pid_t));
	if (!*ret)
		return -ENOMEM;
	(*ret)[0] = init;
	*ret_n = 1;
	return 0;
}

void container_gpu_done(struct container_gpu *g)
{
	g->gpu = gpu_close(g->gpu);
	free(g->pids);
	free(g->ns_pids);
	g->pids = NULL;
	g->ns_pids = NULL;
	g->n = 0;
}

int container_gpu_find(struct cgroup *cg, pid_t init, struct container_gpu *ret)
{
	_cleanup_(gpu_closep) struct gpu *g = NULL;
	_cleanup_free_ pid_t *pids = NULL, *cuda = NULL;
	_cleanup_free_ int *ns = NULL;
	pid_t user = 0;
	size_t n = 0, k = 0;
	char v[16];
	int r;

	if ((r = processes(cg, init, &pids, &n)) < 0)
		return r;
	for (size_t i = 0; i < n && !user; i++)
		if (gpu_pid_uses_driver(pids[i]))
			user = pids[i];
	if (!user && !gpu_host_has_driver())
		return 0;
	r = gpu_open(&g);
	if (r == -EOPNOTSUPP && user)
		log_warning("process %d uses an NVIDIA GPU but brisk was built without GPU "
			    "support: its device memory is not saved",
			    (int)user);
	if (r == -EOPNOTSUPP)
		return 0;
	if (r == -ENOSYS && user)
		return log_error_errno(r,
				       "CUDA driver %s has no checkpoint API (needs >= %s), and "
				       "process %d uses the GPU",
				       gpu_version_string(gpu_driver_version(g), v, sizeof(v)),
				       GPU_MIN_DRIVER_STRING, (int)user);
	if (r == -ENOENT && user)
		return log_error_errno(r,
				       "process %d uses an NVIDIA GPU but the CUDA driver could "
				       "not be loaded: %s",
				       (int)user, gpu_error(g));
	if (r == -ENOSYS || r == -ENOENT)
		return 0;
	if (r < 0)
		return log_error_errno(r, "load the CUDA driver: %m");
	if ((r = gpu_find(g, pids, n, &cuda, &k)) < 0)
		return log_error_errno(r, "find the CUDA processes: %s", gpu_error(g));
	if (k == 0)
		return 0;
	ns = calloc(k, sizeof(int));
	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < k; i++)
		if ((r = ns_pid_of(cuda[i], &ns[i])) < 0)
			return log_error_errno(r, "CUDA process %d: its pid namespace: %m",
					       (int)cuda[i]);
	ret->gpu = TAKE_PTR(g);
	ret->pids = TAKE_PTR(cuda);
	ret->ns_pids = TAKE_PTR(ns);
	ret->n = k;
	return 0;
}

void container_gpu_criu_env(const char *plugin_free_dir)
{
	/*
	 * brisk drives the driver itself; CRIU's cuda plugin (4.1 and later, in
	 * /usr/lib/criu) would lock, checkpoint or restore the same processes again. CRIU
	 * loads its plugins from $CRIU_LIBS_DIR when no --libdir is given, only *.so files.
	 */
	char abs[PATH_MAX];

	/* absolute: the CRIU worker may change its directory before it loads plugins */
	setenv("CRIU_LIBS_DIR", realpath(plugin_free_dir, abs) ? abs : plugin_free_dir, 1);
}

int container_gpu_dump(struct container_gpu *cg, unsigned timeout_ms, bool leave_running,
		       const char *plugin_free_dir, int (*dump)(void *userdata), void *userdata,
		       enum gpu_step *ret_failed)
{
	int r;

	container_gpu_criu_env(plugin_free_dir);
	r = gpu_checkpoint_around(cg->gpu, cg->pids, cg->n, timeout_ms, leave_running, dump,
				  userdata, ret_failed);
	unsetenv("CRIU_LIBS_DIR");
	if (r < 0 && *ret_failed == GPU_STEP_CHECKPOINT)
		return log_error_errno(r,
				       "checkpoint the CUDA processes: %s (the container runs on)",
				       gpu_error(cg->gpu));
	if (r < 0 && *ret_failed == GPU_STEP_RESUME)
		return log_error_errno(
		    r,
		    "the checkpoint is complete, but bringing the CUDA processes "
		    "back failed: %s",
		    gpu_error(cg->gpu));
	if (*ret_failed == GPU_STEP_DUMP && *gpu_error(cg->gpu))
		log_error("bring the CUDA processes back after the failed dump: %s",
			  gpu_error(cg->gpu));
	return r;
}

/* Append the descendants of PID (from /proc/PID/task/TID/children) to *PIDS. */
static int add_descendants(pid_t pid, pid_t **pids, size_t *n, size_t *cap, int depth)
{
	_cleanup_(closedirp) DIR *d = NULL;
	char path[64];
	struct dirent *de;

	if (depth > 64)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(d = opendir(path)))
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		_cleanup_free_ char *kids = NULL;
		char file[384];
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s/children", path, de->d_name);
		if (read_file_at(AT_FDCWD, file, 1 << 20, &kids, &len) < 0)
			continue;
		for (char *sp, *tok = strtok_r(kids, " \n", &sp); tok;
		     tok = strtok_r(NULL, " \n", &sp)) {
			int kid, r;
			if (parse_int(tok, &kid) < 0)
				continue;
			if (*n == *cap) {
				pid_t *p = reallocarray(*pids, *cap * 2 + 16, sizeof(pid_t));
				if (!p)
					return -ENOMEM;
				*pids = p;
				*cap = *cap * 2 + 16;
			}
			(*pids)[(*n)++] = kid;
			if ((r = add_descendants(kid, pids, n, cap, depth + 1)) < 0)
				return r;
		}
	}
	return 0;
}

int container_gpu_restore(pid_t init, const int *ns_pids, size_t n)
{
	_cleanup_(gpu_closep) struct gpu *g = NULL;
	_cleanup_free_ pid_t *pids = NULL, *host = NULL;
	size_t np = 1, cap = 16;
	char v[16];
	int r;

	r = gpu_open(&g);
	if (r == -EOPNOTSUPP)
		return log_error_errno(r, "the checkpoint has CUDA processes and brisk was built "
					  "without GPU support");
	if (r == -ENOSYS)
		return log_error_errno(r,
				       "the checkpoint has CUDA processes and CUDA driver %s has "
				       "no checkpoint API (needs >= %s)",
				       gpu_version_string(gpu_driver_version(g), v, sizeof(v)),
				       GPU_MIN_DRIVER_STRING);
	if (r < 0)
		return log_error_errno(r,
				       "the checkpoint has CUDA processes and the CUDA driver "
				       "could not be loaded: %s",
				       r == -ENOENT ? gpu_error(g) : strerror(-r));
	/*
	 * The restored tree, not the cgroup: CRIU may have put the tasks back into the
	 * cgroups they were dumped from.
	 */
	pids = calloc(cap, sizeof(pid_t));
	host = calloc(n + 1, sizeof(pid_t));
	if (!pids || !host)
		return -ENOMEM;
	pids[0] = init;
	if ((r = add_descendants(init, &pids, &np, &cap, 0)) < 0)
		return log_error_errno(r, "list the restored processes: %m");
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < np && !host[i]; j++) {
			int ns = 0;
			r = ns_pid_of(pids[j], &ns);
			log_debug("restored process %d is %d in its pid namespace", (int)pids[j],
				  ns);
			if (r == 0 && ns == ns_pids[i])
				host[i] = pids[j];
		}
		if (!host[i])
			return log_error_errno(-ESRCH,
					       "CUDA process %d of the checkpoint is not among the "
					       "restored processes",
					       ns_pids[i]);
	}
	if ((r = gpu_resume(g, host, n)) < 0)
		return log_error_errno(r, "restore the CUDA processes: %s", gpu_error(g));
	return 0;
}
