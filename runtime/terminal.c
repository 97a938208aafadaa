/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "terminal.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int terminal_open(const struct spec_process *p, int *ret_master, int *ret_peer, char *name,
		  size_t name_size)
{
	_cleanup_close_ int master = -EBADF, peer = -EBADF;
	int n = 0;

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return log_error_errno(-errno, "open '/dev/ptmx' in the container: %m");
	if (ioctl(master, TIOCSPTLCK, &n) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
		return log_error_errno(-errno, "unlock pty: %m");
	/* The peer through the master, not by its name: a container could have replaced
	 * /dev/pts/N. */
	peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (peer < 0)
		return log_error_errno(-errno, "open pty peer: %m");
	snprintf(name, name_size, "/dev/pts/%d", n);
	if (p->console_width || p->console_height) {
		struct winsize ws = {.ws_row = (unsigned short)p->console_height,
				     .ws_col = (unsigned short)p->console_width};
		(void)ioctl(peer, TIOCSWINSZ, &ws);
	}
	*ret_master = TAKE_FD(master);
	*ret_peer = TAKE_FD(peer);
	return 0;
}

int terminal_attach(int peer)
{
	if (setsid() < 0 || ioctl(peer, TIOCSCTTY, 0) < 0)
		return log_error_errno(-errno, "make the pty the controlling terminal: %m");
	for (int fd = 0; fd < 3; fd++)
		if (dup2(peer, fd) < 0)
			return log_error_errno(-errno, "dup pty to fd %d: %m", fd);
	return 0;
}

void terminal_clear_onlcr(int master)
{
	struct termios t;

	if (tcgetattr(master, &t) == 0) {
		t.c_oflag &= ~(tcflag_t)ONLCR;
		(void)tcsetattr(master, TCSANOW, &t);
	}
}

int terminal_connect_console(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}
