/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake CUDA driver for the tests, loaded by brisk-cuda through BRISK_LIBCUDA. It keeps a
 * checkpoint state per process and enforces the driver's transitions (lock needs RUNNING,
 * checkpoint LOCKED, restore CHECKPOINTED and cuInit first, unlock LOCKED).
 *
 * A process is a CUDA process when FAKE_CUDA_PIDS lists it ("pid-N" is then its key) or
 * when its environment holds FAKE_CUDA=KEY (which survives a checkpoint and restore).
 * FAKE_CUDA_DIR    directory of the states, one file per key (required)
 * FAKE_CUDA_LOG    file that gets "op key" for every call that changes something
 * FAKE_CUDA_FAIL   "op" or "op:key", comma-separated: those calls fail (CUDA_ERROR_UNKNOWN)
 * FAKE_CUDA_HANG   key (or "all") whose lock waits out its timeout and fails
 *                  (CUDA_ERROR_TIMEOUT), leaving the process running, as the driver does
 * FAKE_CUDA_VERSION the version cuDriverGetVersion answers (default 12080)
 * Built with FAKE_NO_API: a driver older than 12.8, without the checkpoint functions.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gpu/gpu-internal.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT CUresult cuInit(unsigned int flags);
EXPORT CUresult cuDriverGetVersion(int *version);
EXPORT CUresult cuGetErrorName(CUresult error, const char **ret);

static int initialized;

static void log_call(const char *op, const char *key, const char *extra)
{
	const char *path = getenv("FAKE_CUDA_LOG");
	FILE *f;

	if (!path || !(f = fopen(path, "ae")))
		return;
	fprintf(f, "%s%s%s%s%s\n", op, key ? " " : "", key ? key : "", extra ? " " : "",
		extra ? extra : "");
	fclose(f);
}

EXPORT CUresult cuInit(unsigned int flags)
{
	if (flags)
		return CUDA_ERROR_INVALID_VALUE;
	initialized = 1;
	log_call("init", NULL, NULL);
	return CUDA_SUCCESS;
}

EXPORT CUresult cuDriverGetVersion(int *version)
{
	const char *v = getenv("FAKE_CUDA_VERSION");

	if (!version)
		return CUDA_ERROR_INVALID_VALUE;
	*version = v ? atoi(v) : 12080;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuGetErrorName(CUresult error, const char **ret)
{
	switch (error) {
	case CUDA_SUCCESS:
		*ret = "CUDA_SUCCESS";
		break;
	case CUDA_ERROR_INVALID_VALUE:
		*ret = "CUDA_ERROR_INVALID_VALUE";
		break;
	case CUDA_ERROR_NOT_INITIALIZED:
		*ret = "CUDA_ERROR_NOT_INITIALIZED";
		break;
	case CUDA_ERROR_ILLEGAL_STATE:
		*ret = "CUDA_ERROR_ILLEGAL_STATE";
		break;
	case CUDA_ERROR_TIMEOUT:
		*ret = "CUDA_ERROR_TIMEOUT";
		break;
	case CUDA_ERROR_UNKNOWN:
		*ret = "CUDA_ERROR_UNKNOWN";
		break;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
	return CUDA_SUCCESS;
}

#ifndef FAKE_NO_API
EXPORT CUresult cuCheckpointProcessGetState(int pid, CUprocessState *state);
EXPORT CUresult cuCheckpointProcessLock(int pid, CUcheckpointLockArgs *args);
EXPORT CUresult cuCheckpointProcessCheckpoint(int pid, CUcheckpointCheckpointArgs *args);
EXPORT CUresult cuCheckpointProcessRestore(int pid, CUcheckpointRestoreArgs *args);
EXPORT CUresult cuCheckpointProcessUnlock(int pid, CUcheckpointUnlockArgs *args);
EXPORT CUresult cuCheckpointProcessGetRestoreThreadId(int pid, int *tid);

/* The key of a CUDA process into KEY, or -1 when PID is not one. */
static int key_of(int pid, char *key, size_t size)
{
	const char *list = getenv("FAKE_CUDA_PIDS");
	char path[64], buf[65536];
	ssize_t n;
	int fd;

	if (list) {
		char want[32];
		snprintf(want, sizeof(want), ",%d,", pid);
		char *l = malloc(strlen(list) + 3);
		if (l) {
			sprintf(l, ",%s,", list);
			int hit = strstr(l, want) != NULL;
			free(l);
			if (hit) {
				snprintf(key, size, "pid-%d", pid);
				return 0;
			}
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (char *p = buf; p < buf + n; p += strlen(p) + 1)
		if (strncmp(p, "FAKE_CUDA=", 10) == 0 && p[10]) {
			snprintf(key, size, "%s", p + 10);
			return 0;
		}
	return -1;
}

static char *state_path(const char *key)
{
	const char *dir = getenv("FAKE_CUDA_DIR");
	char *p;

	if (!dir || asprintf(&p, "%s/%s", dir, key) < 0)
		return NULL;
	return p;
}

static CUprocessState get(const char *key)
{
	char *p = state_path(key);
	FILE *f = p ? fopen(p, "re") : NULL;
	int v = CU_PROCESS_STATE_RUNNING;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = CU_PROCESS_STATE_RUNNING;
		fclose(f);
	}
	free(p);
	return (CUprocessState)v;
}

static void set(const char *key, CUprocessState st)
{
	char *p = state_path(key);
	FILE *f = p ? fopen(p, "we") : NULL;

	if (f) {
		fprintf(f, "%d\n", (int)st);
		fclose(f);
	}
	free(p);
}

static int listed(const char *var, const char *op, const char *key)
{
	const char *v = getenv(var);
	char a[160], b[160];

	if (!v)
		return 0;
	snprintf(a, sizeof(a), ",%s,", op);
	snprintf(b, sizeof(b), ",%s:%s,", op, key);
	char *l = malloc(strlen(v) + 3);
	if (!l)
		return 0;
	sprintf(l, ",%s,", v);
	int hit = strstr(l, a) || strstr(l, b);
	free(l);
	return hit;
}

/* The common part of the four transitions. */
static CUresult step(const char *op, int pid, CUprocessState from, CUprocessState to,
		     const char *extra)
{
	char key[128];

	if (key_of(pid, key, sizeof(key)) < 0)
		return CUDA_ERROR_INVALID_VALUE;
	log_call(op, key, extra);
	if (listed("FAKE_CUDA_FAIL", op, key))
		return CUDA_ERROR_UNKNOWN;
	if (get(key) != from)
		return CUDA_ERROR_ILLEGAL_STATE;
	set(key, to);
	return CUDA_SUCCESS;
}

EXPORT CUresult cuCheckpointProcessGetState(int pid, CUprocessState *state)
{
	char key[128];

	if (!state || key_of(pid, key, sizeof(key)) < 0)
		return CUDA_ERROR_INVALID_VALUE;
	*state = get(key);
	return CUDA_SUCCESS;
}

EXPORT CUresult cuCheckpointProcessLock(int pid, CUcheckpointLockArgs *args)
{
	const char *hang = getenv("FAKE_CUDA_HANG");
	unsigned timeout = args ? args->timeoutMs : 0;
	char key[128], extra[32];

	snprintf(extra, sizeof(extra), "timeout=%u", timeout);
	if (hang && key_of(pid, key, sizeof(key)) == 0 &&
	    (strcmp(hang, "all") == 0 || strcmp(hang, key) == 0)) {
		/* a CUDA call that never ends: the lock waits out its timeout */
		struct timespec ts = {.tv_sec = timeout / 1000,
				      .tv_nsec = (long)(timeout % 1000) * 1000000};
		if (!timeout)
			ts.tv_sec = 5;
		log_call("lock", key, extra);
		nanosleep(&ts, NULL);
		return CUDA_ERROR_TIMEOUT;
	}
	return step("lock", pid, CU_PROCESS_STATE_RUNNING, CU_PROCESS_STATE_LOCKED, extra);
}

EXPORT CUresult cuCheckpointProcessCheckpoint(int pid, CUcheckpointCheckpointArgs *args)
{
	(void)args;
	return step("checkpoint", pid, CU_PROCESS_STATE_LOCKED, CU_PROCESS_STATE_CHECKPOINTED,
		    NULL);
}

EXPORT CUresult cuCheckpointProcessRestore(int pid, CUcheckpointRestoreArgs *args)
{
	(void)args;
	if (!initialized)
		return CUDA_ERROR_NOT_INITIALIZED;
	return step("restore", pid, CU_PROCESS_STATE_CHECKPOINTED, CU_PROCESS_STATE_LOCKED, NULL);
}

EXPORT CUresult cuCheckpointProcessUnlock(int pid, CUcheckpointUnlockArgs *args)
{
	(void)args;
	return step("unlock", pid, CU_PROCESS_STATE_LOCKED, CU_PROCESS_STATE_RUNNING, NULL);
}

EXPORT CUresult cuCheckpointProcessGetRestoreThreadId(int pid, int *tid)
{
	char key[128];

	if (!tid || key_of(pid, key, sizeof(key)) < 0)
		return CUDA_ERROR_INVALID_VALUE;
	*tid = pid; /* the fake's "restore thread" is the main thread */
	return CUDA_SUCCESS;
}
#endif
