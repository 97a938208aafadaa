/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CUDA checkpoint: the device memory of every CUDA process of a container moves into its
 * host memory before CRIU dumps it, and back onto the GPU after CRIU restored it, through
 * the driver API of CUDA >= 12.8 (cuCheckpointProcess*).
 *
 * The driver (libcuda.so.1, or $BRISK_LIBCUDA) is loaded at run time by a small helper
 * program, brisk-cuda, that brisk starts on demand and talks to over a socket: brisk itself
 * is linked statically, and a static program cannot safely dlopen a library that starts
 * threads, as libcuda does. brisk builds and runs without CUDA installed; GPU containers
 * then simply cannot be checkpointed.
 *
 * Functions return 0 or a negative errno and log at debug level at most; gpu_error() tells
 * what the driver answered last, for the caller's message.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The first driver API with cuCheckpointProcess*: CUDA 12.8, display driver 570. */
#define GPU_MIN_DRIVER_VERSION 12080
#define GPU_MIN_DRIVER_STRING "12.8 / driver 570"
/* How long a lock waits for the process's running CUDA calls to finish by default. */
#define GPU_LOCK_TIMEOUT_MS 10000

enum gpu_state {
	GPU_STATE_RUNNING = 0,
	GPU_STATE_LOCKED,
	GPU_STATE_CHECKPOINTED,
	GPU_STATE_FAILED,
};

struct gpu;

/*
 * Start the helper and load the driver.
 * -EOPNOTSUPP: brisk was built without GPU support (-Dgpu=disabled);
 * -ENOENT: no CUDA driver library (or no helper);
 * -ENOSYS: a driver without the checkpoint API.
 * On -ENOENT and -ENOSYS *RET is set all the same, for gpu_error() and gpu_driver_version()
 * to tell what is missing; nothing else may be called on it but gpu_close().
 */
int gpu_open(struct gpu **ret);
struct gpu *gpu_close(struct gpu *g);
static inline void gpu_closep(struct gpu **g)
{
	*g = gpu_close(*g);
}
/* cuDriverGetVersion: 12080 is CUDA 12.8. */
int gpu_driver_version(const struct gpu *g);
/* What went wrong last ("cuCheckpointProcessLock(123): CUDA_ERROR_TIMEOUT (909)"), or "". */
const char *gpu_error(const struct gpu *g);

/* "12.8" for 12080, into BUF. */
const char *gpu_version_string(int version, char *buf, size_t size);

/*
 * Whether a process of this host may use CUDA at all: the driver's control device exists
 * (or $BRISK_LIBCUDA names another driver). Without it, looking for CUDA processes is not
 * worth starting the helper.
 */
bool gpu_host_has_driver(void);
/* Whether PID maps an NVIDIA device or the CUDA driver library (/proc/PID/maps). */
bool gpu_pid_uses_driver(pid_t pid);

/* The CUDA processes among PIDS: those whose checkpoint state the driver answers. */
int gpu_find(struct gpu *g, const pid_t *pids, size_t n, pid_t **ret, size_t *ret_n);
int gpu_get_state(struct gpu *g, pid_t pid, enum gpu_state *ret);

/*
 * Lock every one of PIDS (each waiting at most TIMEOUT_MS for its CUDA calls in flight),
 * then checkpoint each: device memory moves into host memory and the GPU is released. On
 * any failure the processes are brought back, in reverse order, to running as they were,
 * and the error is returned.
 */
int gpu_checkpoint(struct gpu *g, const pid_t *pids, size_t n, unsigned timeout_ms);

/*
 * Bring every one of PIDS back to running from whatever state it is in: restore the
 * checkpointed ones (in reverse order), then unlock the locked ones. Used after a dump that
 * left the container running or failed, and after a restore. The restore needs the
 * driver's restore thread of each process to run: it fails with -EDEADLK, not hangs, when
 * that thread is stopped. Goes on after a failure; returns the first.
 */
int gpu_resume(struct gpu *g, const pid_t *pids, size_t n);

/* Which step of gpu_checkpoint_around failed. */
enum gpu_step {
	GPU_STEP_NONE = 0,
	GPU_STEP_CHECKPOINT, /* the devices' checkpoint: undone, DUMP not called */
	GPU_STEP_DUMP,	     /* DUMP: the devices were brought back */
	GPU_STEP_RESUME,     /* bringing the devices back after a good DUMP (LEAVE_RUNNING) */
};

/*
 * The dump of a container with CUDA processes: gpu_checkpoint, then DUMP, then (when
 * LEAVE_RUNNING, or when DUMP failed) gpu_resume. A failure before or in DUMP leaves the
 * processes running as they were. Returns the first error; *RET_FAILED says where.
 */
int gpu_checkpoint_around(struct gpu *g, const pid_t *pids, size_t n, unsigned timeout_ms,
			  bool leave_running, int (*dump)(void *userdata), void *userdata,
			  enum gpu_step *ret_failed);
