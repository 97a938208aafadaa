/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fault.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/pidfd.h"
#include "hooks.h"

static int wait_with_timeout(pid_t pid, int timeout_s, int *ret_status)
{
	_cleanup_close_ int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int status;

	if (pfd >= 0 && timeout_s > 0 && pidfd_wait(pfd, timeout_s * 1000) == -ETIMEDOUT) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -ETIMEDOUT;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	*ret_status = status;
	return 0;
}

static int run_one(const struct spec_hook *h, const char *state_json, char *why, size_t n)
{
	int pipefd[2];
	pid_t pid;
	int status = 0, r;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(why, n, "pipe: %s", strerror(errno));
		return -errno;
	}
	pid = FAULT_OR("hook", fork());
	if (pid < 0) {
		r = -errno;
		snprintf(why, n, "fork: %s", strerror(errno));
		safe_close(pipefd[0]);
		safe_close(pipefd[1]);
		return r;
	}
	if (pid == 0) {
		char *const default_args[] = {h->path, NULL};

		dup2(pipefd[0], STDIN_FILENO);
		/* A hook's stdout must not corrupt what the caller reads from ours. */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		close_fds_from(3);
		execve(h->path, h->args ? h->args : default_args,
		       h->env ? h->env : (char *[]){NULL});
		_exit(127);
	}
	safe_close(pipefd[0]);
	/* A hook that never reads stdin gets EPIPE here, which is fine. */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	sigaction(SIGPIPE, &ign, &old);
	(void)write_all(pipefd[1], state_json, strlen(state_json));
	sigaction(SIGPIPE, &old, NULL);
	safe_close(pipefd[1]);
	r = wait_with_timeout(pid, h->timeout, &status);
	if (r == -ETIMEDOUT) {
		snprintf(why, n, "timed out after %d s", h->timeout);
		return r;
	}
	if (r < 0) {
		snprintf(why, n, "wait: %s", strerror(-r));
		return r;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		snprintf(why, n, "could not be executed");
		return -ENOENT;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		snprintf(why, n, "exited with status %d", WEXITSTATUS(status));
		return -EIO;
	}
	if (WIFSIGNALED(status)) {
		snprintf(why, n, "killed by signal %d", WTERMSIG(status));
		return -EIO;
	}
	return 0;
}

int hooks_run(const struct spec_hooks *hooks, const char *kind, const char *state_json)
{
	for (size_t i = 0; i < hooks->n; i++) {
		char why[128] = "";
		int r = run_one(&hooks->v[i], state_json, why, sizeof(why));
		if (r < 0)
			return log_error_errno(r, "%s hook '%s' %s", kind, hooks->v[i].path, why);
	}
	return 0;
}
