/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A TCP proxy on 127.0.0.1 that emulates a remote link in user space (this kernel has no
 * netem): data towards the server waits one round trip before it is forwarded, data towards
 * the client shares one bandwidth cap over all connections (a token bucket, 64 KiB at a time).
 *
 *   bench-netproxy TARGET_PORT RTT_MS MBIT    prints its port, then serves until killed
 *
 * The Python proxy it replaces (asyncio) topped out at 30-40 MB/s on two cores, well below the
 * 1 Gbit/s profile it was asked to emulate, and took CPU from what it measured. Here each
 * direction of a connection is a thread doing blocking reads and writes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (64 << 10)

static int target_port;
static double rtt_s, bytes_per_s;
static pthread_mutex_t pace_lock = PTHREAD_MUTEX_INITIALIZER;
static double next_free; /* when the shared link is free again; under pace_lock */

struct conn {
	int client, server;
	atomic_int pumps; /* directions still running; the last closes both sockets */
};

struct pump {
	struct conn *c;
	int from, to;
	bool down; /* server to client: paced; else delayed by a round trip */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts = {.tv_sec = (time_t)t,
			      .tv_nsec = (long)((t - (double)(time_t)t) * 1e9)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Wait until N bytes have gone over the shared link. */
static void pace(size_t n)
{
	double t = now_s(), until;

	pthread_mutex_lock(&pace_lock);
	if (next_free < t)
		next_free = t;
	next_free += (double)n / bytes_per_s;
	until = next_free;
	pthread_mutex_unlock(&pace_lock);
	sleep_until(until);
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void *pump(void *arg)
{
	struct pump *p = arg;
	char *buf = malloc(BUF_SIZE);
	ssize_t n;

	while (buf && (n = read(p->from, buf, BUF_SIZE)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p->down)
			pace((size_t)n);
		else
			sleep_until(now_s() + rtt_s);
		if (!write_all(p->to, buf, (size_t)n))
			break;
	}
	free(buf);
	shutdown(p->to, SHUT_WR);
	if (atomic_fetch_sub(&p->c->pumps, 1) == 1) {
		close(p->c->client);
		close(p->c->server);
		free(p->c);
	}
	free(p);
	return NULL;
}

static bool start_pump(struct conn *c, int from, int to, bool down)
{
	struct pump *p = malloc(sizeof(*p));
	pthread_attr_t attr;
	pthread_t t;
	bool ok;

	if (!p)
		return false;
	*p = (struct pump){.c = c, .from = from, .to = to, .down = down};
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 << 10);
	ok = pthread_create(&t, &attr, pump, p) == 0;
	pthread_attr_destroy(&attr);
	if (!ok)
		free(p);
	return ok;
}

static int connect_target(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)target_port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int parse(const char *s, double *ret)
{
	char *end;

	errno = 0;
	*ret = strtod(s, &end);
	return errno || end == s || *end || *ret < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	double port, rtt_ms, mbit;
	int lfd, one = 1;

	if (argc != 4 || parse(argv[1], &port) < 0 || port < 1 || port > 65535 ||
	    parse(argv[2], &rtt_ms) < 0 || parse(argv[3], &mbit) < 0 || mbit <= 0) {
		fprintf(stderr, "usage: bench-netproxy TARGET_PORT RTT_MS MBIT (MBIT > 0)\n");
		return 2;
	}
	target_port = (int)port;
	rtt_s = rtt_ms / 1000;
	bytes_per_s = mbit * 1e6 / 8;
	signal(SIGPIPE, SIG_IGN);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 128) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &len) < 0) {
		perror("bench-netproxy: listen on 127.0.0.1");
		return 1;
	}
	printf("%u\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), sfd;
		struct conn *c;

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("bench-netproxy: accept");
			return 1;
		}
		(void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((sfd = connect_target()) < 0 || !(c = malloc(sizeof(*c)))) {
			if (sfd >= 0)
				close(sfd);
			close(cfd);
			continue;
		}
		*c = (struct conn){.client = cfd, .server = sfd, .pumps = 2};
		if (!start_pump(c, cfd, sfd, false)) {
			close(cfd);
			close(sfd);
			free(c);
			continue;
		}
		if (!start_pump(c, sfd, cfd, true)) {
			/* the running pump sees the shutdown and closes both */
			atomic_fetch_sub(&c->pumps, 1);
			shutdown(cfd, SHUT_RDWR);
		}
	}
}
