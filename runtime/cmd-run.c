/* SPDX-License-Identifier: Apache-2.0 */
/* run: create + start, then wait for the container (unless --detach), forwarding signals and,
 * with a terminal and no console socket, relaying our stdio to its pty. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "cli.h"
#include "commands.h"

enum {
	OPT_BUNDLE,
	OPT_PID_FILE,
	OPT_CONSOLE,
	OPT_NO_PIVOT,
	OPT_NO_KEYRING,
	OPT_PRESERVE,
	OPT_DETACH,
	OPT_KEEP
};

static const struct cli_option run_options[] = {
    {"bundle", 'b', true, OPT_BUNDLE, "path to the bundle (default: current directory)"},
    {"pid-file", 0, true, OPT_PID_FILE, "write the init's pid to this file"},
    {"console-socket", 0, true, OPT_CONSOLE, "unix socket that receives the pty master"},
    {"no-pivot", 0, false, OPT_NO_PIVOT, "use MS_MOVE + chroot instead of pivot_root"},
    {"no-new-keyring", 0, false, OPT_NO_KEYRING, "keep the caller's session keyring"},
    {"preserve-fds", 0, true, OPT_PRESERVE, "pass N more fds (3..3+N-1) to the process"},
    {"detach", 'd', false, OPT_DETACH, "return once the container has started"},
    {"keep", 0, false, OPT_KEEP, "do not delete the container after it exits"},
    CLI_HELP_OPTION,
    {0},
};

struct run_args {
	struct create_opts o;
	bool detach, keep, help;
};

static int handle(const struct cli_parsed *p, void *userdata)
{
	struct run_args *a = userdata;

	switch (p->id) {
	case OPT_BUNDLE:
		a->o.bundle = p->value;
		break;
	case OPT_PID_FILE:
		a->o.pid_file = p->value;
		break;
	case OPT_CONSOLE:
		a->o.console_socket = p->value;
		break;
	case OPT_NO_PIVOT:
		a->o.no_pivot = cli_bool(p);
		break;
	case OPT_NO_KEYRING:
		a->o.no_new_keyring = cli_bool(p);
		break;
	case OPT_PRESERVE:
		if (parse_int(p->value, &a->o.preserve_fds) < 0 || a->o.preserve_fds < 0)
			return log_error_errno(-EINVAL, "--preserve-fds: '%s' is not a count",
					       p->value);
		break;
	case OPT_DETACH:
		a->detach = cli_bool(p);
		break;
	case OPT_KEEP:
		a->keep = cli_bool(p);
		break;
	case CLI_HELP:
		a->help = true;
		break;
	}
	return 0;
}

static void copy_once(int from, int to)
{
	char buf[8192];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n > 0)
		(void)write_all(to, buf, (size_t)n);
}

static void forwarded_signals(sigset_t *set)
{
	sigemptyset(set);
	for (int s = 1; s < SIGRTMIN; s++)
		if (s != SIGKILL && s != SIGSTOP && s != SIGSEGV && s != SIGBUS && s != SIGFPE &&
		    s != SIGILL && s != SIGTTIN && s != SIGTTOU && s != SIGTSTP)
			sigaddset(set, s);
}

/* Wait for PID (our child), forwarding signals; returns its exit status as a shell would.
 * The signals are blocked by the caller before the container starts, so none is lost. */
static int wait_container(pid_t pid, int pty)
{
	sigset_t set;
	struct termios saved, raw;
	bool restore_tty = false;
	int status;

	forwarded_signals(&set);
	_cleanup_close_ int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		return log_error_errno(-errno, "signalfd: %m");
	if (waitpid(pid, &status, WNOHANG) == pid)
		goto done;
	if (pty >= 0 && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		restore_tty = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
		struct winsize ws;
		if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
			(void)ioctl(pty, TIOCSWINSZ, &ws);
	}
	for (;;) {
		struct pollfd p[3] = {{.fd = sfd, .events = POLLIN},
				      {.fd = pty, .events = POLLIN},
				      {.fd = pty >= 0 ? STDIN_FILENO : -1, .events = POLLIN}};
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN)
			copy_once(pty, STDOUT_FILENO);
		if (p[2].revents & POLLIN)
			copy_once(STDIN_FILENO, pty);
		if (p[2].revents & (POLLHUP | POLLERR))
			p[2].fd = -1;
		if (!(p[0].revents & POLLIN))
			continue;
		struct signalfd_siginfo si;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo != SIGCHLD) {
			if ((int)si.ssi_signo == SIGWINCH && pty >= 0) {
				struct winsize ws;
				if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
					(void)ioctl(pty, TIOCSWINSZ, &ws);
			}
			kill(pid, (int)si.ssi_signo);
			continue;
		}
		pid_t w;
		while ((w = waitpid(-1, &status, WNOHANG)) > 0)
			if (w == pid)
				goto done;
	}
	waitpid(pid, &status, 0);
done:
	if (pty >= 0) {
		/* drain what the container wrote last */
		struct pollfd p = {.fd = pty, .events = POLLIN};
		while (poll(&p, 1, 0) > 0 && (p.revents & POLLIN)) {
			char buf[8192];
			ssize_t n = read(pty, buf, sizeof(buf));
			if (n <= 0)
				break;
			(void)write_all(STDOUT_FILENO, buf, (size_t)n);
		}
	}
	if (restore_tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int cmd_run(struct runtime_ctx *rt, int argc, char **argv)
{
	struct run_args a = {.o = {.bundle = "."}};
	struct created c = {.pty_master = -1};
	int i, r;

	i = cli_parse("run", argc, argv, run_options, handle, &a);
	if (i < 0)
		return i;
	if (a.help) {
		cli_print_help("brisk run [options] ID",
			       "Create and start a container, and wait for it unless --detach.",
			       run_options);
		return 0;
	}
	if (argc - i != 1)
		return log_error_errno(-EINVAL, "run: expects exactly one container id");
	a.o.id = argv[i];
	a.o.pty_to_parent = !a.o.console_socket && !a.detach;
	command_log_context("run", a.o.id);
	/* Processes the container leaves behind when its init exits are ours to reap. */
	if (!a.detach)
		(void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	if ((r = container_create(rt, &a.o, &c)) < 0)
		return r;
	_cleanup_close_ int pty = c.pty_master;
	sigset_t set;
	forwarded_signals(&set);
	if (!a.detach)
		sigprocmask(SIG_BLOCK, &set, NULL);
	if ((r = container_start(rt, a.o.id)) < 0) {
		(void)container_delete(rt, a.o.id, true);
		return r;
	}
	if (a.detach)
		return 0;
	int status = wait_container(c.pid, pty);
	if (!a.keep)
		(void)container_delete(rt, a.o.id, true);
	return status < 0 ? status : status;
}
