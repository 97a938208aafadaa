/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/cleanup.h"
#include "sync.h"

static int send_msg(int fd, const void *data, size_t len, int passed_fd)
{
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (passed_fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &passed_fd, sizeof(int));
	}
	while (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int sync_send(int fd, enum sync_type type, int error, const char *text)
{
	struct sync_msg m = {.type = type, .error = error};

	if (text)
		snprintf(m.text, sizeof(m.text), "%s", text);
	return send_msg(fd, &m, sizeof(m), -1);
}

int sync_send_fd_error(int fd, enum sync_type type, int error, int passed_fd)
{
	struct sync_msg m = {.type = type, .error = error};

	return send_msg(fd, &m, sizeof(m), passed_fd);
}

int sync_send_fd(int fd, enum sync_type type, int passed_fd)
{
	return sync_send_fd_error(fd, type, 0, passed_fd);
}

int send_fd_with_name(int sock, int fd, const char *name)
{
	return send_msg(sock, name, strlen(name), fd);
}

int sync_recv(int fd, struct sync_msg *ret, int *ret_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = ret, .iov_len = sizeof(*ret)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	ssize_t n;

	if (ret_fd)
		*ret_fd = -1;
	/* A peer that exited with our last message unread makes the next recv fail with
	 * ECONNRESET once; what it sent before it exited (its error) is still queued after. */
	bool reset = false;
	for (;;) {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (n >= 0 || errno == EINTR)
			;
		else if (errno == ECONNRESET && !reset)
			reset = true;
		else
			break;
		if (n >= 0)
			break;
	}
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	if ((size_t)n != sizeof(*ret))
		return -EBADMSG;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int got;
			memcpy(&got, CMSG_DATA(cm), sizeof(int));
			if (ret_fd)
				*ret_fd = got;
			else
				safe_close(got);
		}
	ret->text[sizeof(ret->text) - 1] = '\0';
	return 0;
}
