/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "relay.h"

static void copy_once(int from, int to)
{
	char buf[8192];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n > 0)
		(void)write_all(to, buf, (size_t)n);
}

void relay_signal_set(sigset_t *set)
{
	sigemptyset(set);
	for (int s = 1; s < SIGRTMIN; s++)
		if (s != SIGKILL && s != SIGSTOP && s != SIGSEGV && s != SIGBUS && s != SIGFPE &&
		    s != SIGILL && s != SIGTTIN && s != SIGTTOU && s != SIGTSTP)
			sigaddset(set, s);
}

/* Wait for PID (our child), forwarding signals; returns its exit status as a shell would.
 * The signals are blocked by the caller before the container starts, so none is lost. */
int relay_wait(pid_t pid, int pty)
{
	sigset_t set;
	struct termios saved, raw;
	bool restore_tty = false;
	int status;

	relay_signal_set(&set);
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
