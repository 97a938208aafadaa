/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/pidfd.h"
#include "container.h"
#include "notify-socket.h"
#include "process.h"
#include "spec.h"

#define NOTIFY_DIR "notify"
#define NOTIFY_SOCK "notify.sock"
#define NOTIFY_IN_CONTAINER "/run/notify"
/* How long the receiver may take to answer BARRIER=1 (runc's 30 s). */
#define BARRIER_TIMEOUT_MS 30000

/* NAME=VALUE in ENV, in place of every NAME= there was (the last of an env wins in runc). */
static int env_set(char ***env, const char *name, const char *value)
{
	size_t len = strlen(name), n = 0, k = 0;
	char **v = *env, *kv;

	if (asprintf(&kv, "%s=%s", name, value) < 0)
		return -ENOMEM;
	for (; v && v[n]; n++) {
		if (strncmp(v[n], name, len) == 0 && v[n][len] == '=')
			free(v[n]);
		else
			v[k++] = v[n];
	}
	v = realloc(v, (k + 2) * sizeof(char *));
	if (!v) {
		free(kv);
		if (*env)
			(*env)[k] = NULL;
		return -ENOMEM;
	}
	v[k] = kv;
	v[k + 1] = NULL;
	*env = v;
	return 0;
}

int listen_fds_prepare(struct spec *s, int preserve_fds, int *ret_n)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	char buf[16];
	int n, p, r;

	/* As go-systemd's activation.Files() that runc uses: the fds are ours only when
	 * LISTEN_PID says so (they were meant for another process else). */
	if (!fds || !pid || parse_int(pid, &p) < 0 || p != getpid() || parse_int(fds, &n) < 0 ||
	    n <= 0) {
		*ret_n = 0;
		return 0;
	}
	/* Each of them must be the caller's, none of brisk's own (its error names the fd). */
	if ((r = process_check_preserve_fds(n + preserve_fds)) < 0)
		return r;
	snprintf(buf, sizeof(buf), "%d", n);
	if ((r = env_set(&s->process.env, "LISTEN_FDS", buf)) < 0 ||
	    (r = env_set(&s->process.env, "LISTEN_PID", "1")) < 0)
		return r;
	*ret_n = n;
	return 0;
}

int notify_socket_prepare(struct spec *s, const char *root, const char *id, int dirfd)
{
	static const char *const options[] = {"bind", "nosuid", "noexec", "nodev", "ro"};
	const char *host = getenv("NOTIFY_SOCKET");
	struct spec_mount *m;
	int r;

	if (!host || !*host)
		return 0;
	if (mkdirat(dirfd, NOTIFY_DIR, 0755) < 0)
		return log_error_errno(-errno, "create the notify socket directory: %m");
	/* The directory, not the socket: start binds the socket in it later. */
	m = realloc(s->mounts, (s->n_mounts + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	s->mounts = m;
	m = &s->mounts[s->n_mounts++];
	*m = (struct spec_mount){.idmap_fd = -1};
	m->destination = strdup(NOTIFY_IN_CONTAINER);
	if (asprintf(&m->source, "%s/%s/" NOTIFY_DIR, root, id) < 0)
		m->source = NULL;
	if (!m->destination || !m->source)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(options); i++)
		if ((r = spec_mount_option(m, options[i])) < 0)
			return r;
	return env_set(&s->process.env, "NOTIFY_SOCKET", NOTIFY_IN_CONTAINER "/" NOTIFY_SOCK);
}

int notify_socket_listen(struct runtime_ctx *rt, const char *id, int *ret_fd)
{
	const char *host = getenv("NOTIFY_SOCKET");
	_cleanup_close_ int dfd = -EBADF, fd = -EBADF;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char dir[PATH_MAX];

	/* an id that names no container is for start to refuse */
	if (!host || !*host || state_check_id(id) < 0) {
		*ret_fd = -1;
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/" NOTIFY_DIR, id);
	dfd = openat(rt->rootfd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT) {
		*ret_fd = -1; /* created without NOTIFY_SOCKET: it has no socket to send to */
		return 0;
	}
	if (dfd < 0)
		return log_error_errno(-errno, "open the notify socket directory: %m");
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(-errno, "notify socket: %m");
	(void)unlinkat(dfd, NOTIFY_SOCK, 0);
	/* through the fd: the state directory's path may be longer than sun_path */
	snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/" NOTIFY_SOCK, dfd);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return log_error_errno(-errno, "bind the notify socket: %m");
	/* whatever user the container's process runs as may send */
	if (fchmodat(dfd, NOTIFY_SOCK, 0777, 0) < 0)
		return log_error_errno(-errno, "chmod the notify socket: %m");
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* Wait for a READY= line on FD (copied to BUF) until process PID (PIDFD, or without one,
 * on kernels before 5.3, checked every 100 ms) has exited: 1 with it, 0 without. */
static int wait_ready(int fd, int pidfd, pid_t pid, char *buf, size_t size)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
				      {.fd = pidfd, .events = POLLIN}};
		ssize_t n;
		int k = poll(p, 2, pidfd >= 0 ? -1 : 100);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* what it sent before it exited counts */
		if (!(p[0].revents & POLLIN)) {
			if (p[1].revents || (pidfd < 0 && kill(pid, 0) < 0 && errno == ESRCH))
				return 0;
			continue;
		}
		n = recv(fd, buf, size - 1, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		buf[n] = '\0';
		/* other assignments (STATUS=, ...) are the container's business */
		for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save))
			if (strncmp(l, "READY=", 6) == 0) {
				memmove(buf, l, strlen(l) + 1);
				return 1;
			}
	}
}

/* BARRIER=1 with the write end of a pipe, which the receiver closes once it has handled
 * what we sent before (sd_notify_barrier). */
static int barrier(int sock, const char *host)
{
	_cleanup_close_ int rd = -EBADF, wr = -EBADF;
	char cbuf[CMSG_SPACE(sizeof(int))] = {0}, msg[] = "BARRIER=1", b;
	struct iovec iov = {.iov_base = msg, .iov_len = strlen(msg)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	struct pollfd p;
	int fds[2], n;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return log_error_errno(-errno, "pipe: %m");
	rd = fds[0];
	wr = fds[1];
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &wr, sizeof(int));
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
		return log_error_errno(-errno, "send BARRIER=1 to NOTIFY_SOCKET '%s': %m", host);
	wr = safe_close(wr);
	p = (struct pollfd){.fd = rd, .events = POLLIN};
	while ((n = poll(&p, 1, BARRIER_TIMEOUT_MS)) < 0 && errno == EINTR)
		;
	if (n == 0)
		log_warning("NOTIFY_SOCKET '%s' did not answer BARRIER=1 in %d s, ignoring", host,
			    BARRIER_TIMEOUT_MS / 1000);
	else if (n > 0 && read(rd, &b, 1) > 0)
		log_warning("NOTIFY_SOCKET '%s' wrote to the barrier pipe, ignoring", host);
	return 0;
}

/* READY (a line), MAINPID and a barrier to the caller's NOTIFY_SOCKET HOST. */
static int notify_host(const char *host, const char *ready, pid_t mainpid)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t len = strlen(host);
	_cleanup_close_ int fd = -EBADF;
	char line[4200];
	int n;

	if (len >= sizeof(a.sun_path))
		return log_error_errno(-ENAMETOOLONG, "NOTIFY_SOCKET '%s': %m", host);
	memcpy(a.sun_path, host, len);
	/* "@name": an abstract socket, as systemd and Go read it */
	if (host[0] == '@')
		a.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(-errno, "socket: %m");
	if (connect(fd, (struct sockaddr *)&a,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (host[0] != '@'))) <
	    0)
		return log_error_errno(-errno, "connect to NOTIFY_SOCKET '%s': %m", host);
	n = snprintf(line, sizeof(line), "%s\n", ready);
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) < 0)
		return log_error_errno(-errno, "send to NOTIFY_SOCKET '%s': %m", host);
	n = snprintf(line, sizeof(line), "MAINPID=%d\n", (int)mainpid);
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) < 0)
		return log_error_errno(-errno, "send to NOTIFY_SOCKET '%s': %m", host);
	return barrier(fd, host);
}

int notify_socket_forward(struct runtime_ctx *rt, const char *id, int fd, pid_t mainpid)
{
	_cleanup_(state_freep) struct container_state *st = NULL;
	const char *host = getenv("NOTIFY_SOCKET");
	enum container_status status;
	_cleanup_close_ int pidfd = -EBADF;
	char ready[4097];
	int r;

	if (fd < 0 || !host || !*host)
		return 0;
	if ((r = container_load(rt, id, &st, &status)) < 0)
		return log_error_errno(r, "load state: %m");
	if (status == STATUS_STOPPED)
		return 0; /* gone before it said it was ready, as runc sees it */
	pidfd = pidfd_of(st->pid);
	if (pidfd < 0 && pidfd != -ENOSYS)
		return 0;
	if ((r = wait_ready(fd, pidfd, st->pid, ready, sizeof(ready))) < 0)
		return log_error_errno(r, "notify socket: %m");
	if (r == 0)
		return 0;
	return notify_host(host, ready, mainpid ? mainpid : st->pid);
}

int notify_socket_forward_child(struct runtime_ctx *rt, const char *id, int fd)
{
	pid_t parent = getpid(), pid;

	if (fd < 0)
		return 0;
	pid = fork();
	if (pid < 0)
		return log_error_errno(-errno, "fork: %m");
	if (pid > 0)
		return 0;
	/* Gone with run; the caller reads run's stdout to its end, which is not ours to hold. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		_exit(1);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)
		_exit(1);
	_exit(notify_socket_forward(rt, id, fd, parent) < 0 ? 1 : 0);
}
