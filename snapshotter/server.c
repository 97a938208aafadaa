/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The unix socket and the event loop: one thread, epoll over the listening socket, a signalfd
 * for SIGTERM/SIGINT, every client connection, and the fds others watch (the output of a
 * brisk-imagefs mount in progress). Calls are handled one at a time, so the store needs no lock;
 * each is short (metadata and directories; a layer's usage is measured once, at commit), and
 * what waits on something slow (a lazy mount's index fetch) is answered later, when its fd says
 * it is done.
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

#include "common/cleanup.h"
#include "grpc.h"
#include "common/log.h"
#include "server.h"

/* what an epoll event is for */
struct source {
	enum { SOURCE_LISTEN, SOURCE_SIGNAL, SOURCE_CONN, SOURCE_WATCH } kind;
	int fd;
	struct grpc_conn *conn;
	server_watch_fn fn;
	void *userdata;
};

/* the running loop's epoll fd, for server_watch_fd() */
static int loop_epfd = -EBADF;

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

static int watch(int epfd, struct source *src, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = src};

	return RET_NERRNO(epoll_ctl(epfd, EPOLL_CTL_ADD, src->fd, &ev));
}

int server_watch_fd(int fd, server_watch_fn fn, void *userdata, struct source **ret)
{
	struct source *src = calloc(1, sizeof(*src));
	int r;

	if (!src)
		return -ENOMEM;
	*src = (struct source){.kind = SOURCE_WATCH, .fd = fd, .fn = fn, .userdata = userdata};
	r = loop_epfd >= 0 ? watch(loop_epfd, src, EPOLLIN) : -EBADF;
	if (r < 0) {
		free(src);
		return r;
	}
	*ret = src;
	return 0;
}

void server_unwatch_fd(struct source *src)
{
	if (!src)
		return;
	if (loop_epfd >= 0)
		(void)epoll_ctl(loop_epfd, EPOLL_CTL_DEL, src->fd, NULL);
	free(src);
}

/* the open connections, so that answers given later are sent and a stop frees them */
struct conns {
	struct source **v;
	size_t n;
};

static void drop(int epfd, struct conns *c, size_t i)
{
	struct source *src = c->v[i];

	c->v[i] = c->v[--c->n];
	(void)epoll_ctl(epfd, EPOLL_CTL_DEL, src->fd, NULL);
	grpc_conn_free(src->conn);
	free(src);
}

static void conns_done(int epfd, struct conns *c)
{
	while (c->n > 0)
		drop(epfd, c, c->n - 1);
	free(c->v);
}

static int accept_one(int epfd, int lfd, const struct grpc_service *service, struct conns *c)
{
	struct source **v, *src;
	struct grpc_conn *conn;
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
	src = calloc(1, sizeof(*src));
	if (v)
		c->v = v;
	if (!v || !src) {
		free(src);
		grpc_conn_free(conn);
		return log_warning_errno(-ENOMEM, "new connection: %m, ignoring");
	}
	*src = (struct source){.kind = SOURCE_CONN, .fd = fd, .conn = conn};
	if (watch(epfd, src, EPOLLIN) < 0) {
		free(src);
		grpc_conn_free(conn);
		return 0;
	}
	c->v[c->n++] = src;
	return 0;
}

/* Send what connection I has queued (answers given later included); false when it is over. */
static bool flush(int epfd, struct conns *c, size_t i)
{
	struct source *src = c->v[i];
	struct epoll_event ev = {.data.ptr = src};
	bool blocked = false;

	if (grpc_conn_write(src->conn, &blocked) < 0 || !grpc_conn_alive(src->conn))
		return false;
	ev.events = EPOLLIN | (blocked ? EPOLLOUT : 0);
	return epoll_ctl(epfd, EPOLL_CTL_MOD, src->fd, &ev) >= 0;
}

/* Handle one event; 1 to stop the loop, < 0 on a fatal error. */
static int dispatch(int epfd, int listen_fd, const struct grpc_service *service, struct conns *c,
		    struct source *src, uint32_t events)
{
	switch (src->kind) {
	case SOURCE_SIGNAL:
		log_info("signal received, stopping");
		return 1;
	case SOURCE_LISTEN: {
		int r = accept_one(epfd, listen_fd, service, c);

		return r < 0 ? log_error_errno(r, "accept: %m") : 0;
	}
	case SOURCE_WATCH:
		src->fn(src->fd, src->userdata);
		return 0;
	case SOURCE_CONN:
		if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && grpc_conn_read(src->conn) < 0)
			grpc_conn_close(src->conn);
		return 0;
	}
	return 0;
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
			int r = dispatch(epfd, listen_fd, service, c, events[i].data.ptr,
					 events[i].events);

			if (r != 0)
				return r < 0 ? r : 0;
		}
		/* every connection: an answer may have come from another's event, or a watch */
		for (size_t i = c->n; i > 0; i--)
			if (!flush(epfd, c, i - 1))
				drop(epfd, c, i - 1);
	}
}

int server_run(int listen_fd, const struct grpc_service *service)
{
	_cleanup_close_ int epfd = epoll_create1(EPOLL_CLOEXEC), sfd = signal_fd();
	struct source lsrc = {.kind = SOURCE_LISTEN, .fd = listen_fd};
	struct source ssrc = {.kind = SOURCE_SIGNAL, .fd = sfd};
	struct conns c = {};
	int r;

	if (epfd < 0 || sfd < 0)
		return log_error_errno(epfd < 0 ? epfd : sfd, "event loop: %m");
	if (watch(epfd, &lsrc, EPOLLIN) < 0 || watch(epfd, &ssrc, EPOLLIN) < 0)
		return log_error_errno(-errno, "event loop: %m");
	loop_epfd = epfd;
	r = loop(epfd, listen_fd, service, &c);
	conns_done(epfd, &c);
	loop_epfd = -EBADF;
	return r;
}
