/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The driver, through the helper brisk-cuda: started on the first gpu_open(), with a
 * SOCK_SEQPACKET socket; each call is one request and one reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "gpu.h"
#include "gpu-internal.h"

struct gpu {
	pid_t helper;
	int sk;
	int version;
	char error[320];
};

const char *gpu_version_string(int version, char *buf, size_t size)
{
	snprintf(buf, size, "%d.%d", version / 1000, version % 1000 / 10);
	return buf;
}

int gpu_driver_version(const struct gpu *g)
{
	return g ? g->version : 0;
}

const char *gpu_error(const struct gpu *g)
{
	return g ? g->error : "";
}

void gpu_set_error(struct gpu *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->error, sizeof(g->error), fmt, ap);
	va_end(ap);
}

struct gpu *gpu_close(struct gpu *g)
{
	if (!g)
		return NULL;
	safe_close(g->sk);
	if (g->helper > 0) {
		/* EOF on its socket ends it */
		while (waitpid(g->helper, NULL, 0) < 0 && errno == EINTR)
			;
	}
	free(g);
	return NULL;
}

#if BRISK_GPU
/*
 * Where the helper is: $BRISK_CUDA_HELPER, next to the brisk binary (an installation, or
 * a build tree's gpu/ beside runtime/), or in the configured libexec directory.
 */
static int find_helper(char *buf, size_t size)
{
	int r = companion_binary("BRISK_CUDA_HELPER", GPU_HELPER_NAME, "gpu", buf, size);

	if (r != -ENOENT)
		return r;
	snprintf(buf, size, "%s/%s", BRISK_LIBEXECDIR, GPU_HELPER_NAME);
	return access(buf, X_OK) == 0 ? 0 : -ENOENT;
}

static int start_helper(struct gpu *g)
{
	char path[PATH_MAX], fdbuf[16];
	int sk[2], r;

	if ((r = find_helper(path, sizeof(path))) < 0) {
		gpu_set_error(g, "the helper %s is not installed next to brisk or in %s",
			      GPU_HELPER_NAME, BRISK_LIBEXECDIR);
		return -ENOENT;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		r = -errno;
		safe_close(sk[0]);
		safe_close(sk[1]);
		return r;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (fcntl(sk[1], F_SETFD, 0) < 0)
			_exit(127);
		snprintf(fdbuf, sizeof(fdbuf), "%d", sk[1]);
		execl(path, GPU_HELPER_NAME, fdbuf, (char *)NULL);
		_exit(127);
	}
	safe_close(sk[1]);
	g->sk = sk[0];
	g->helper = pid;
	return 0;
}

/* One call; the reply's status is a CUresult, or -errno for HELLO. */
int gpu_call(struct gpu *g, enum gpu_op op, int pid, unsigned arg, struct gpu_reply *rep)
{
	struct gpu_request req = {.op = op, .pid = pid, .arg = arg};
	ssize_t n;

	if (send(g->sk, &req, sizeof(req), MSG_NOSIGNAL) != sizeof(req))
		goto gone;
	do
		n = recv(g->sk, rep, sizeof(*rep), 0);
	while (n < 0 && errno == EINTR);
	if (n != sizeof(*rep))
		goto gone;
	rep->text[sizeof(rep->text) - 1] = '\0';
	return 0;
gone:
	gpu_set_error(g, "the helper %s died", GPU_HELPER_NAME);
	return -EPIPE;
}

int gpu_open(struct gpu **ret)
{
	_cleanup_(gpu_closep) struct gpu *g = calloc(1, sizeof(*g));
	struct gpu_reply rep;
	int r;

	if (!g)
		return -ENOMEM;
	g->sk = -EBADF;
	r = start_helper(g);
	if (r == 0)
		r = gpu_call(g, GPU_OP_HELLO, 0, 0, &rep);
	if (r == -EPIPE)
		r = -ENOENT;
	if (r == 0) {
		g->version = rep.value;
		r = rep.status == -ENOENT || rep.status == -ENOSYS ? rep.status : 0;
		if (r < 0)
			gpu_set_error(g, "%s", rep.text);
	}
	if (r == 0 || r == -ENOENT || r == -ENOSYS)
		*ret = TAKE_PTR(g);
	return r;
}
#else
int gpu_call(struct gpu *g, enum gpu_op op, int pid, unsigned arg, struct gpu_reply *rep)
{
	(void)g, (void)op, (void)pid, (void)arg, (void)rep;
	return -EOPNOTSUPP;
}

int gpu_open(struct gpu **ret)
{
	(void)ret;
	return -EOPNOTSUPP;
}
#endif
