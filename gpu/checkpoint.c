/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The checkpoint and restore sequences over a container's CUDA processes.
 *
 * A process goes RUNNING -lock-> LOCKED -checkpoint-> CHECKPOINTED -restore-> LOCKED
 * -unlock-> RUNNING. Every undo is driven by the state the driver reports, not by what we
 * believe we did, so that it also brings back a process that a failed call left half-way.
 * Restores come before unlocks: a process that shares device memory with another (CUDA
 * IPC) must not run again before its peers have their memory back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "gpu.h"
#include "gpu-internal.h"

static const char *const op_names[] = {
    [GPU_OP_STATE] = "cuCheckpointProcessGetState",
    [GPU_OP_LOCK] = "cuCheckpointProcessLock",
    [GPU_OP_CHECKPOINT] = "cuCheckpointProcessCheckpoint",
    [GPU_OP_RESTORE] = "cuCheckpointProcessRestore",
    [GPU_OP_UNLOCK] = "cuCheckpointProcessUnlock",
    [GPU_OP_RESTORE_TID] = "cuCheckpointProcessGetRestoreThreadId",
};

static int cuda_errno(CUresult r)
{
	switch (r) {
	case CUDA_ERROR_TIMEOUT:
	case CUDA_ERROR_NOT_READY:
		return -ETIMEDOUT;
	case CUDA_ERROR_ILLEGAL_STATE:
		return -EBUSY;
	case CUDA_ERROR_NOT_SUPPORTED:
		return -EOPNOTSUPP;
	case CUDA_ERROR_INVALID_VALUE:
		return -ESRCH;
	default:
		return -EIO;
	}
}

/* One driver call on PID; on failure the error names the call, the pid and the result. */
static int call(struct gpu *g, enum gpu_op op, pid_t pid, unsigned arg, int *ret_value)
{
	struct gpu_reply rep;
	int r = gpu_call(g, op, pid, arg, &rep);

	if (r < 0)
		return r;
	if (rep.status != CUDA_SUCCESS) {
		gpu_set_error(g, "%s(%d): %s (%d)", op_names[op], (int)pid,
			      rep.text[0] ? rep.text : "error", rep.status);
		return cuda_errno(rep.status);
	}
	if (ret_value)
		*ret_value = rep.value;
	return 0;
}

int gpu_get_state(struct gpu *g, pid_t pid, enum gpu_state *ret)
{
	int v = 0, r = call(g, GPU_OP_STATE, pid, 0, &v);

	if (r < 0)
		return r;
	if (v < GPU_STATE_RUNNING || v > GPU_STATE_FAILED) {
		gpu_set_error(g, "%s(%d): unknown state %d", op_names[GPU_OP_STATE], (int)pid, v);
		return -EPROTO;
	}
	*ret = (enum gpu_state)v;
	return 0;
}

bool gpu_host_has_driver(void)
{
	const char *lib = getenv("BRISK_LIBCUDA");

	return (lib && *lib) || access("/dev/nvidiactl", F_OK) == 0;
}

bool gpu_pid_uses_driver(pid_t pid)
{
	_cleanup_free_ char *maps = NULL;
	char path[64];
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if (read_file_at(AT_FDCWD, path, 256u << 20, &maps, &len) < 0)
		return false;
	return strstr(maps, " /dev/nvidia") || strstr(maps, "/libcuda.so");
}

int gpu_find(struct gpu *g, const pid_t *pids, size_t n, pid_t **ret, size_t *ret_n)
{
	_cleanup_free_ pid_t *found = calloc(n + 1, sizeof(pid_t));
	size_t k = 0;

	if (!found)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		enum gpu_state st;
		int r = gpu_get_state(g, pids[i], &st);

		if (r == -EPIPE)
			return r;
		/* a process without CUDA has no state: not ours */
		if (r < 0)
			continue;
		if (st == GPU_STATE_FAILED) {
			gpu_set_error(g, "CUDA process %d is in the failed state", (int)pids[i]);
			return -EIO;
		}
		found[k++] = pids[i];
	}
	gpu_set_error(g, "%s", "");
	*ret = TAKE_PTR(found);
	*ret_n = k;
	return 0;
}

/* Whether thread TID of PID is stopped (ptrace or job control) or frozen by a cgroup. */
static bool thread_stopped(pid_t pid, int tid)
{
	_cleanup_free_ char *stat = NULL;
	char path[96];
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, tid);
	if (read_file_at(AT_FDCWD, path, 4096, &stat, &len) < 0)
		return false;
	/* "tid (comm) S ...": comm may hold anything, the state follows its last ')' */
	char *p = strrchr(stat, ')');
	if (!p || p[1] != ' ')
		return false;
	if (p[2] == 'T' || p[2] == 't')
		return true;
	/* a frozen cgroup leaves the thread sleeping in do_freezer_trap or __refrigerator */
	_cleanup_free_ char *wchan = NULL;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", (int)pid, tid);
	if (read_file_at(AT_FDCWD, path, 256, &wchan, &len) < 0)
		return false;
	return strstr(wchan, "freezer") || strstr(wchan, "refrigerator");
}

/*
 * The driver restores a process through a thread of its own in that process. A thread
 * that something holds stopped (a tracer, a frozen cgroup) would make the call wait for
 * ever: say so instead.
 */
static int check_restore_thread(struct gpu *g, pid_t pid)
{
	int tid = 0, r = call(g, GPU_OP_RESTORE_TID, pid, 0, &tid);

	if (r < 0)
		return r;
	if (tid > 0 && thread_stopped(pid, tid)) {
		gpu_set_error(g,
			      "the CUDA restore thread %d of process %d is stopped (traced or "
			      "frozen): its restore would never finish",
			      tid, (int)pid);
		return -EDEADLK;
	}
	return 0;
}

int gpu_resume(struct gpu *g, const pid_t *pids, size_t n)
{
	int first = 0;
	char saved[320] = "";

	/* restores first, all of them, then unlocks; both in reverse order */
	for (int phase = 0; phase < 2; phase++) {
		for (size_t i = n; i-- > 0;) {
			enum gpu_state st;
			int r = gpu_get_state(g, pids[i], &st);

			if (r == 0 && phase == 0 && st == GPU_STATE_CHECKPOINTED) {
				r = check_restore_thread(g, pids[i]);
				if (r == 0)
					r = call(g, GPU_OP_RESTORE, pids[i], 0, NULL);
			} else if (r == 0 && phase == 1 && st == GPU_STATE_LOCKED) {
				r = call(g, GPU_OP_UNLOCK, pids[i], 0, NULL);
			} else if (r == 0 && st == GPU_STATE_FAILED) {
				gpu_set_error(g, "CUDA process %d is in the failed state",
					      (int)pids[i]);
				r = phase == 0 ? -EIO : 0;
			}
			if (r < 0 && first == 0) {
				first = r;
				snprintf(saved, sizeof(saved), "%s", gpu_error(g));
			}
		}
	}
	if (first < 0)
		gpu_set_error(g, "%s", saved);
	return first;
}

int gpu_checkpoint(struct gpu *g, const pid_t *pids, size_t n, unsigned timeout_ms)
{
	char saved[320];
	size_t i;
	int r = 0;

	for (i = 0; i < n && r == 0; i++)
		r = call(g, GPU_OP_LOCK, pids[i], timeout_ms, NULL);
	for (i = 0; i < n && r == 0; i++)
		r = call(g, GPU_OP_CHECKPOINT, pids[i], 0, NULL);
	if (r == 0)
		return 0;
	/* undo: the error to report stays the first one */
	snprintf(saved, sizeof(saved), "%s", gpu_error(g));
	int u = gpu_resume(g, pids, n);
	if (u < 0)
		gpu_set_error(g, "%s; bringing the processes back failed too: %s", saved,
			      gpu_error(g));
	else
		gpu_set_error(g, "%s", saved);
	return r;
}

int gpu_checkpoint_around(struct gpu *g, const pid_t *pids, size_t n, unsigned timeout_ms,
			  bool leave_running, int (*dump)(void *userdata), void *userdata,
			  enum gpu_step *ret_failed)
{
	int r;

	*ret_failed = GPU_STEP_CHECKPOINT;
	if ((r = gpu_checkpoint(g, pids, n, timeout_ms)) < 0)
		return r;
	*ret_failed = GPU_STEP_DUMP;
	if ((r = dump(userdata)) < 0) {
		(void)gpu_resume(g, pids, n);
		return r;
	}
	/* a dump that did not leave the processes running has ended them */
	*ret_failed = GPU_STEP_RESUME;
	if (leave_running && (r = gpu_resume(g, pids, n)) < 0)
		return r;
	*ret_failed = GPU_STEP_NONE;
	return 0;
}
