/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What brisk and its helper brisk-cuda share (and the tests' fake driver): the parts of the
 * CUDA driver ABI that are used, declared here because the CUDA headers may be absent, and
 * the helper's socket protocol.
 *
 * The ABI follows NVIDIA's CUDA Driver API reference, "CUDA Checkpointing" (CUDA 12.8 and
 * later): the functions take the pid of the target process and an optional, zeroed,
 * argument struct of 64 bytes.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef int CUresult;

enum {
	CUDA_SUCCESS = 0,
	CUDA_ERROR_INVALID_VALUE = 1,
	CUDA_ERROR_NOT_INITIALIZED = 3,
	CUDA_ERROR_NO_DEVICE = 100,
	CUDA_ERROR_ILLEGAL_STATE = 401,
	CUDA_ERROR_NOT_READY = 600,
	CUDA_ERROR_NOT_SUPPORTED = 801,
	CUDA_ERROR_TIMEOUT = 909,
	CUDA_ERROR_UNKNOWN = 999,
};

typedef enum {
	CU_PROCESS_STATE_RUNNING = 0,
	CU_PROCESS_STATE_LOCKED = 1,
	CU_PROCESS_STATE_CHECKPOINTED = 2,
	CU_PROCESS_STATE_FAILED = 3,
} CUprocessState;

typedef struct {
	unsigned int timeoutMs; /* 0: wait for ever */
	unsigned int reserved0;
	uint64_t reserved1[7];
} CUcheckpointLockArgs;

typedef struct {
	uint64_t reserved[8];
} CUcheckpointCheckpointArgs;

/* CUDA 13 gave the first bytes a meaning (a GPU remapping table); zeroed, it means none. */
typedef struct {
	uint64_t reserved[8];
} CUcheckpointRestoreArgs;

typedef struct {
	uint64_t reserved[8];
} CUcheckpointUnlockArgs;

_Static_assert(sizeof(CUcheckpointLockArgs) == 64, "CUcheckpointLockArgs is 64 bytes");
_Static_assert(offsetof(CUcheckpointLockArgs, timeoutMs) == 0, "timeoutMs comes first");
_Static_assert(sizeof(CUcheckpointCheckpointArgs) == 64, "CUcheckpointCheckpointArgs");
_Static_assert(sizeof(CUcheckpointRestoreArgs) == 64, "CUcheckpointRestoreArgs");
_Static_assert(sizeof(CUcheckpointUnlockArgs) == 64, "CUcheckpointUnlockArgs");

typedef CUresult (*cu_init_fn)(unsigned int flags);
typedef CUresult (*cu_driver_get_version_fn)(int *version);
typedef CUresult (*cu_get_error_name_fn)(CUresult error, const char **ret);
typedef CUresult (*cu_get_state_fn)(int pid, CUprocessState *state);
typedef CUresult (*cu_lock_fn)(int pid, CUcheckpointLockArgs *args);
typedef CUresult (*cu_checkpoint_fn)(int pid, CUcheckpointCheckpointArgs *args);
typedef CUresult (*cu_restore_fn)(int pid, CUcheckpointRestoreArgs *args);
typedef CUresult (*cu_unlock_fn)(int pid, CUcheckpointUnlockArgs *args);
typedef CUresult (*cu_get_restore_tid_fn)(int pid, int *tid);

/* The helper: "brisk-cuda FD", one request and one reply per SOCK_SEQPACKET message. */
#define GPU_HELPER_NAME "brisk-cuda"

enum gpu_op {
	GPU_OP_HELLO = 1, /* load the driver; value: its version */
	GPU_OP_STATE,	  /* value: CUprocessState */
	GPU_OP_LOCK,	  /* arg: timeout in ms */
	GPU_OP_CHECKPOINT,
	GPU_OP_RESTORE, /* calls cuInit first, once: the restore needs it */
	GPU_OP_UNLOCK,
	GPU_OP_RESTORE_TID, /* value: the thread id */
};

struct gpu_request {
	int32_t op;
	int32_t pid;
	uint32_t arg;
};

/* HELLO: status 0, -ENOENT (no library) or -ENOSYS (no checkpoint API); others: CUresult. */
struct gpu_reply {
	int32_t status;
	int32_t value;
	char text[240]; /* the error's name, or dlerror() */
};

/* brisk's side (driver.c); checkpoint.c drives the sequences with it. */
struct gpu;
int gpu_call(struct gpu *g, enum gpu_op op, int pid, unsigned arg, struct gpu_reply *rep);
void gpu_set_error(struct gpu *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
