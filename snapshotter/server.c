/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The unix socket and the event loop: one thread, epoll over the listening socket, a signalfd
 * for SIGTERM/SIGINT, and every client connection. Calls are answered one at a time, so the
 * store needs no lock; each is short (metadata and directories), and a layer's usage is
 * measured once, at commit.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "grpc.h"
#include "log.h"
#include "server.h"

/* listening socket and signalfd are told apart from connections by these epoll data */
#define TAG_LISTEN ((void *)1)
#define TAG_SIGNAL ((void *)2)

static bool socket_answers(const struct sockaddr_un *sa)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	return fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
}

int server_listen(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF;

	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error_errno(-ENAMETOOLONG, "socket '%s': %m", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_error_errno(-errno, "socket: %m");
	/* a socket nobody answers on is a dead daemon's: replace it; one that answers is not */
	if (socket_answers(&sa))
		return log_error_errno(-EADDRINUSE, "socket '%s' is served by another process: %m",
				       path);
	if (unlink(path) < 0 && errno != ENOENT)
		return log_error_errno(-errno, "remove old socket '%s': %m", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return log_error_errno(-errno, "bind '%s': %m", path);
	if (chmod(path, 0600) < 0)
		return log_error_errno(-errno, "chmod '%s': %m", path);
	if (listen(fd, 128) < 0)
		return log_error_errno(-errno, "listen on '%s': %m", path);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int signal_fd(void)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

/* the open connections, so that a stop frees them */
struct conns {
	struct grpc_conn **v;
	size_t n;
};

static void conns_done(struct conns *c)
{
	for (size_t i = 0; i < c->n; i++)
		grpc_conn_free(c->v[i]);
	free(c->v);
}

static void drop(int epfd, struct conns *c, struct grpc_conn *conn)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i] == conn) {
			c->v[i] = c->v[--c->n];
			break;
		}
	(void)epoll_ctl(epfd, EPOLL_CTL_DEL, grpc_conn_fd(conn), NULL);
	grpc_conn_free(conn);
}

static int accept_one(int epfd, int lfd, const struct grpc_service *service, struct conns *c)
{
	struct grpc_conn **v;
	struct epoll_event ev = {.events = EPOLLIN};
	struct grpc_conn *conn;
	bool blocked;
	int fd, r;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return errno == EAGAIN || errno == EINTR || errno == ECONNABORTED ? 0 : -errno;
	r = grpc_conn_new(fd, service, &conn);
	if (r < 0) {
		close(fd);
		return log_warning_errno(r, "new connection: %m, ignoring");
	}
	v = reallocarray(c->v, c->n + 1, sizeof(*v));
	if (!v) {
		grpc_conn_free(conn);
		return log_warning_errno(-ENOMEM, "new connection: %m, ignoring");
	}
	c->v = v;
	c->v[c->n++] = conn;
	ev.data.ptr = conn;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 || grpc_conn_write(conn, &blocked) < 0) {
		c->n--;
		grpc_conn_free(conn);
	}
	return 0;
}

/* Read and answer; returns false when the connection is over. */
static bool serve(int epfd, struct grpc_conn *conn, uint32_t events)
{
	struct epoll_event ev = {.data.ptr = conn};
	bool blocked = false;

	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && grpc_conn_read(conn) < 0)
		return false;
	if (grpc_conn_write(conn, &blocked) < 0 || !grpc_conn_alive(conn))
		return false;
	ev.events = EPOLLIN | (blocked ? EPOLLOUT : 0);
	return epoll_ctl(epfd, EPOLL_CTL_MOD, grpc_conn_fd(conn), &ev) >= 0;
}

static int loop(int epfd, int listen_fd, const struct grpc_service *service, struct conns *c)
{
	struct epoll_event events[32];

	for (;;) {
		int n = epoll_wait(epfd, events, ELEMENTSOF(events), -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return log_error_errno(-errno, "epoll_wait: %m");
		for (int i = 0; i < n; i++) {
			void *tag = events[i].data.ptr;

			if (tag == TAG_SIGNAL) {
				log_info("signal received, stopping");
				return 0;
			}
			if (tag == TAG_LISTEN) {
				int r = accept_one(epfd, listen_fd, service, c);

				if (r < 0)
					return log_error_errno(r, "accept: %m");
				continue;
			}
			if (!serve(epfd, tag, events[i].events))
				drop(epfd, c, tag);
		}
	}
}

int server_run(int listen_fd, const struct grpc_service *service)
{
	struct epoll_event ev = {.events = EPOLLIN};
	_cleanup_close_ int epfd = epoll_create1(EPOLL_CLOEXEC), sfd = signal_fd();
	struct conns c = {};
	int r;

	if (epfd < 0 || sfd < 0)
		return log_error_errno(epfd < 0 ? epfd : sfd, "event loop: %m");
	ev.data.ptr = TAG_LISTEN;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
		return log_error_errno(-errno, "event loop: %m");
	ev.data.ptr = TAG_SIGNAL;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev) < 0)
		return log_error_errno(-errno, "event loop: %m");
	r = loop(epfd, listen_fd, service, &c);
	conns_done(&c);
	return r;
}
