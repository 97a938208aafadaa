/* SPDX-License-Identifier: Apache-2.0 */
/*
 * brisk-cuda FD: loads the CUDA driver and answers brisk's requests on the socket FD, one
 * driver call per request, until brisk closes it. Dynamically linked on purpose (see
 * gpu.h). It keeps no state but the driver's, and decides nothing: brisk drives.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gpu-internal.h"

static struct {
	cu_init_fn init;
	cu_driver_get_version_fn version;
	cu_get_error_name_fn error_name;
	cu_get_state_fn state;
	cu_lock_fn lock;
	cu_checkpoint_fn checkpoint;
	cu_restore_fn restore;
	cu_unlock_fn unlock;
	cu_get_restore_tid_fn restore_tid;
	bool initialized;
} cu;

static void *sym(void *h, const char *name, const char **missing)
{
	void *p = dlsym(h, name);

	if (!p && !*missing)
		*missing = name;
	return p;
}

static void hello(struct gpu_reply *rep)
{
	const char *lib = getenv("BRISK_LIBCUDA");
	const char *missing = NULL;
	void *h;
	int version = 0;

	if (!lib || !*lib)
		lib = "libcuda.so.1";
	/* never unloaded: the driver may have started threads */
	h = dlopen(lib, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!h) {
		rep->status = -ENOENT;
		snprintf(rep->text, sizeof(rep->text), "%s", dlerror());
		return;
	}
	cu.error_name = (cu_get_error_name_fn)dlsym(h, "cuGetErrorName");
	cu.version = (cu_driver_get_version_fn)sym(h, "cuDriverGetVersion", &missing);
	if (cu.version && cu.version(&version) != CUDA_SUCCESS)
		version = 0;
	rep->value = version;
	cu.init = (cu_init_fn)sym(h, "cuInit", &missing);
	cu.state = (cu_get_state_fn)sym(h, "cuCheckpointProcessGetState", &missing);
	cu.lock = (cu_lock_fn)sym(h, "cuCheckpointProcessLock", &missing);
	cu.checkpoint = (cu_checkpoint_fn)sym(h, "cuCheckpointProcessCheckpoint", &missing);
	cu.restore = (cu_restore_fn)sym(h, "cuCheckpointProcessRestore", &missing);
	cu.unlock = (cu_unlock_fn)sym(h, "cuCheckpointProcessUnlock", &missing);
	cu.restore_tid =
	    (cu_get_restore_tid_fn)sym(h, "cuCheckpointProcessGetRestoreThreadId", &missing);
	if (missing) {
		rep->status = -ENOSYS;
		snprintf(rep->text, sizeof(rep->text), "%s has no %s", lib, missing);
		return;
	}
	rep->status = 0;
}

static CUresult call(const struct gpu_request *req, struct gpu_reply *rep)
{
	switch (req->op) {
	case GPU_OP_STATE: {
		CUprocessState st = CU_PROCESS_STATE_FAILED;
		CUresult r = cu.state(req->pid, &st);
		rep->value = (int32_t)st;
		return r;
	}
	case GPU_OP_LOCK: {
		CUcheckpointLockArgs a;
		memset(&a, 0, sizeof(a));
		a.timeoutMs = req->arg;
		return cu.lock(req->pid, &a);
	}
	case GPU_OP_CHECKPOINT: {
		CUcheckpointCheckpointArgs a;
		memset(&a, 0, sizeof(a));
		return cu.checkpoint(req->pid, &a);
	}
	case GPU_OP_RESTORE: {
		CUcheckpointRestoreArgs a;
		memset(&a, 0, sizeof(a));
		/*
		 * The restore needs the driver initialised in the calling process unless the
		 * GPU is in persistence mode; cuInit's own failure is then not ours to report.
		 */
		if (!cu.initialized && cu.init(0) == CUDA_SUCCESS)
			cu.initialized = true;
		return cu.restore(req->pid, &a);
	}
	case GPU_OP_UNLOCK: {
		CUcheckpointUnlockArgs a;
		memset(&a, 0, sizeof(a));
		return cu.unlock(req->pid, &a);
	}
	case GPU_OP_RESTORE_TID: {
		int tid = 0;
		CUresult r = cu.restore_tid(req->pid, &tid);
		rep->value = tid;
		return r;
	}
	}
	return CUDA_ERROR_INVALID_VALUE;
}

int main(int argc, char **argv)
{
	struct gpu_request req;
	bool loaded = false;
	int sk;

	if (argc != 2 || (sk = atoi(argv[1])) < 3) {
		fprintf(stderr, "usage: %s FD (started by brisk)\n", argv[0]);
		return 2;
	}
	for (;;) {
		struct gpu_reply rep;
		ssize_t n = recv(sk, &req, sizeof(req), 0);

		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if ((size_t)n != sizeof(req))
			return 1;
		memset(&rep, 0, sizeof(rep));
		if (req.op == GPU_OP_HELLO) {
			hello(&rep);
			loaded = rep.status == 0;
		} else if (!loaded) {
			rep.status = CUDA_ERROR_NOT_INITIALIZED;
		} else {
			const char *name = NULL;
			rep.status = call(&req, &rep);
			if (rep.status != CUDA_SUCCESS && cu.error_name &&
			    cu.error_name(rep.status, &name) == CUDA_SUCCESS && name)
				snprintf(rep.text, sizeof(rep.text), "%s", name);
		}
		if (send(sk, &rep, sizeof(rep), MSG_NOSIGNAL) != sizeof(rep))
			return 1;
	}
}
