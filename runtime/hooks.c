/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fault.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "hooks.h"

extern char **environ;

/* What a hook runs with besides its own path, args and env. */
struct hook_exec {
	int cwd_fd;	  /* -1: the runtime's current directory */
	char *const *env; /* for a hook that gives no env; never NULL */
};

/* How a hook ended, as the supervisor tells the runtime. */
enum hook_end {
	HOOK_EXITED,	  /* value: its wait status */
	HOOK_TIMED_OUT,	  /* value: unused */
	HOOK_INTERRUPTED, /* value: the signal the supervisor got */
	HOOK_FAILED,	  /* value: errno of the supervisor's own failure */
};

struct hook_result {
	int end;
	int value;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The parent pid of process PID, read through PROC_FD (an open /proc), or -errno. */
static pid_t read_ppid(int proc_fd, const char *pid)
{
	char path[NAME_MAX + sizeof("/stat")], buf[256], *p;
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;
	int ppid;

	snprintf(path, sizeof(path), "%s/stat", pid);
	fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, but no field after it a ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -EIO;
	return ppid;
}

/*
 * SIGKILL every child of ours, found through /proc (no allocation: we are a forked child).
 * Returns how many were signalled, or -errno when /proc cannot be read or is not of our
 * pid namespace (then the pid numbers in it are not ours to act on).
 */
static int kill_children(void)
{
	_cleanup_close_ int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char buf[4096], self[32];
	pid_t me = getpid();
	ssize_t n;
	int count = 0;

	if (proc_fd < 0)
		return -errno;
	n = readlinkat(proc_fd, "self", self, sizeof(self) - 1);
	if (n <= 0)
		return -ENOENT;
	self[n] = '\0';
	if (atoi(self) != me)
		return -ENOENT;
	while ((n = getdents64(proc_fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			char *end;
			long pid = strtol(d->d_name, &end, 10);

			off += d->d_reclen;
			if (*end != '\0' || pid <= 0 || pid == me)
				continue;
			/* Only our children: their pids cannot be reused until we reap them. */
			if (read_ppid(proc_fd, d->d_name) == me && kill((pid_t)pid, SIGKILL) == 0)
				count++;
		}
	}
	return n < 0 ? -errno : count;
}

/*
 * Kill the hook and everything it started. The hook leads a session of its own, so one
 * kill(-pgid) takes whatever stayed in its process group (a shell's background jobs,
 * their children). A descendant that left the group (setsid, setpgid, a daemon's double
 * fork) is still below us, a child subreaper: when its parent dies it becomes our child,
 * and we kill our children until none is left.
 *
 * Without a cgroup this is as far as it goes: a process the hook had someone else start
 * (systemd-run, a request to a daemon) is no descendant and survives; and where /proc is
 * not of our pid namespace only the process group dies. Only a cgroup of the hook's own
 * would hold every process it makes; runc does not give it one either.
 */
static void kill_tree(pid_t hook)
{
	kill(-hook, SIGKILL);
	kill(hook, SIGKILL);
	for (;;) {
		int r = kill_children();
		pid_t p;

		if (r < 0) {
			/* Reap the hook at least; what left its group may survive. */
			while (waitpid(hook, NULL, 0) < 0 && errno == EINTR)
				;
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			return;
		}
		p = waitpid(-1, NULL, 0);
		if (p < 0 && errno == ECHILD)
			return;
	}
}

/*
 * Wait for the hook, reaping the orphans we inherit meanwhile. A termination signal that
 * reaches the supervisor (Ctrl-C on the runtime, its parent's death) ends the wait, as it
 * would have ended a hook that was still in the runtime's process group.
 */
static struct hook_result wait_hook(pid_t hook, int sigfd, int timeout_s)
{
	int64_t deadline = timeout_s > 0 ? now_ms() + (int64_t)timeout_s * 1000 : -1;

	for (;;) {
		struct signalfd_siginfo si;
		struct pollfd pfd = {.fd = sigfd, .events = POLLIN};
		int status, ms = -1;
		pid_t p;

		while ((p = waitpid(-1, &status, WNOHANG)) > 0)
			if (p == hook)
				return (struct hook_result){HOOK_EXITED, status};
		if (p < 0 && errno != EINTR)
			return (struct hook_result){HOOK_FAILED, errno};
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();

			if (left <= 0)
				return (struct hook_result){HOOK_TIMED_OUT, 0};
			ms = (int)(left > INT32_MAX ? INT32_MAX : left);
		}
		if (poll(&pfd, 1, ms) <= 0)
			continue;
		if (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si) && si.ssi_signo != SIGCHLD)
			return (struct hook_result){HOOK_INTERRUPTED, (int)si.ssi_signo};
	}
}

static _noreturn_ void exec_hook(const struct spec_hook *h, const struct hook_exec *x, int stdin_fd,
				 const sigset_t *mask)
{
	char *const default_args[] = {h->path, NULL};

	sigprocmask(SIG_SETMASK, mask, NULL);
	if (x->cwd_fd >= 0 && fchdir(x->cwd_fd) < 0)
		_exit(127);
	/* Its own session and process group, which kill_tree() kills as one. */
	setsid();
	/* dup2() onto itself would keep O_CLOEXEC */
	if (stdin_fd == STDIN_FILENO ? fcntl(stdin_fd, F_SETFD, 0) < 0
				     : dup2(stdin_fd, STDIN_FILENO) < 0)
		_exit(127);
	/* A hook's stdout must not corrupt what the caller reads from ours. */
	dup2(STDERR_FILENO, STDOUT_FILENO);
	close_fds_from(3);
	/* As Go's exec.Cmd that runc uses: no env given is the environment of the runtime (or,
	 * for the init's hooks, what it is given), an empty one is empty. */
	execve(h->path, h->args ? h->args : default_args, h->env ? h->env : x->env);
	_exit(127);
}

/*
 * The supervisor: a child of the runtime and a child subreaper, which runs the hook, keeps
 * its timeout and, when the hook times out or the supervisor is told to stop, kills the
 * hook's whole tree. Its result goes to RESULT_FD. Runs after fork: no allocation, no log.
 */
static _noreturn_ void supervise(const struct spec_hook *h, const struct hook_exec *x, int stdin_fd,
				 int result_fd)
{
	static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct hook_result res = {HOOK_FAILED, 0};
	pid_t parent = getppid(), hook;
	sigset_t mask, old;
	int sigfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	for (size_t i = 0; i < ELEMENTSOF(stop_signals); i++)
		sigaddset(&mask, stop_signals[i]);
	/* Ignored SIGCHLD would reap the hook behind our back. */
	signal(SIGCHLD, SIG_DFL);
	if (sigprocmask(SIG_BLOCK, &mask, &old) < 0 ||
	    (sigfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0 ||
	    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0) {
		res.value = errno;
		goto out;
	}
	if (getppid() != parent)
		_exit(1); /* the runtime is already gone */
	hook = fork();
	if (hook < 0) {
		res.value = errno;
		goto out;
	}
	if (hook == 0)
		exec_hook(h, x, stdin_fd, &old);
	/* The hook alone holds the read end: the runtime's write fails once it is gone. */
	close(stdin_fd);
	res = wait_hook(hook, sigfd, h->timeout);
	if (res.end != HOOK_EXITED)
		kill_tree(hook);
out:
	(void)!write(result_fd, &res, sizeof(res));
	_exit(0);
}

static int run_one(const struct spec_hook *h, const struct hook_exec *x, const char *state_json,
		   char *why, size_t n)
{
	_cleanup_close_ int result_fd = -EBADF;
	struct hook_result res;
	int pipefd[2], resfd[2];
	pid_t pid;
	int status, r;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(why, n, "pipe: %s", strerror(errno));
		return -errno;
	}
	if (pipe2(resfd, O_CLOEXEC) < 0) {
		r = -errno;
		snprintf(why, n, "pipe: %s", strerror(errno));
		safe_close(pipefd[0]);
		safe_close(pipefd[1]);
		return r;
	}
	pid = FAULT_OR("hook", fork());
	if (pid < 0) {
		r = -errno;
		snprintf(why, n, "fork: %s", strerror(errno));
		safe_close(pipefd[0]);
		safe_close(pipefd[1]);
		safe_close(resfd[0]);
		safe_close(resfd[1]);
		return r;
	}
	if (pid == 0) {
		close(pipefd[1]);
		close(resfd[0]);
		supervise(h, x, pipefd[0], resfd[1]);
	}
	safe_close(pipefd[0]);
	safe_close(resfd[1]);
	result_fd = resfd[0];
	/* A hook that never reads stdin gets EPIPE here, which is fine. */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	sigaction(SIGPIPE, &ign, &old);
	(void)write_all(pipefd[1], state_json, strlen(state_json));
	sigaction(SIGPIPE, &old, NULL);
	safe_close(pipefd[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			r = -errno;
			snprintf(why, n, "wait: %s", strerror(errno));
			return r;
		}
	if (read(result_fd, &res, sizeof(res)) != (ssize_t)sizeof(res)) {
		snprintf(why, n, "could not be supervised");
		return -EIO;
	}
	switch (res.end) {
	case HOOK_TIMED_OUT:
		snprintf(why, n, "timed out after %d s", h->timeout);
		return -ETIMEDOUT;
	case HOOK_INTERRUPTED:
		snprintf(why, n, "was interrupted by signal %d", res.value);
		return -EINTR;
	case HOOK_FAILED:
		r = res.value > 0 ? -res.value : -EIO;
		snprintf(why, n, "could not be supervised: %s", strerror(-r));
		return r;
	}
	status = res.value;
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

int hooks_run_in(const struct spec_hooks *hooks, const char *kind, const char *state_json,
		 const char *cwd, char *const *env)
{
	_cleanup_close_ int cwd_fd = -EBADF;
	struct hook_exec x = {.cwd_fd = -1, .env = env ? env : environ};

	if (!hooks->n)
		return 0;
	if (cwd) {
		cwd_fd = open(cwd, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cwd_fd < 0)
			return log_error_errno(-errno, "%s hook '%s': directory '%s': %m", kind,
					       hooks->v[0].path, cwd);
		x.cwd_fd = cwd_fd;
	}
	/* The spec: a failed poststart or poststop hook is a warning, and the hooks after it
	 * still run; any other failed hook fails the operation. */
	bool keep_going = strcmp(kind, "poststart") == 0 || strcmp(kind, "poststop") == 0;
	for (size_t i = 0; i < hooks->n; i++) {
		char why[128] = "";
		int r = run_one(&hooks->v[i], &x, state_json, why, sizeof(why));
		if (r < 0 && keep_going)
			log_warning_errno(r, "%s hook '%s' %s, ignoring", kind, hooks->v[i].path,
					  why);
		else if (r < 0)
			return log_error_errno(r, "%s hook '%s' %s", kind, hooks->v[i].path, why);
	}
	return 0;
}

int hooks_run(const struct spec_hooks *hooks, const char *kind, const char *state_json)
{
	_cleanup_json_ struct json_object *state = NULL;
	const char *bundle = NULL;

	if (!hooks->n)
		return 0;
	/* runc's create and run work from the bundle (crun's hooks all run there); a bundle
	 * that is gone by delete leaves the runtime's own directory. */
	if (json_parse(state_json, strlen(state_json), &state) == 0 &&
	    json_get_string(state, "bundle", &bundle) == 0 && access(bundle, X_OK) < 0) {
		log_debug_errno(-errno, "%s hooks: bundle '%s': %m, running them where we are",
				kind, bundle);
		bundle = NULL;
	}
	return hooks_run_in(hooks, kind, state_json, bundle, NULL);
}
