/* SPDX-License-Identifier: Apache-2.0 */
/* Hand a seccomp listener fd to the agent at linux.seccomp.listenerPath (runtime-spec). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "common/log.h"
#include "seccomp-filter.h"

/* Used when the container state carries no ociVersion. */
#define OCI_VERSION "1.2.0"

int seccomp_listener_state(const struct seccomp_prog *p, pid_t pid,
			   struct json_object *container_state, char **ret_json)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *fds = json_object_new_array();
	const char *version = OCI_VERSION, *metadata = seccomp_prog_listener_metadata(p);
	char *s;

	if (!o || !fds) {
		json_object_put(fds);
		return -ENOMEM;
	}
	if (json_object_array_add(fds, json_object_new_string("seccompFd")) < 0) {
		json_object_put(fds);
		return -ENOMEM;
	}
	(void)json_get_string(container_state, "ociVersion", &version);
	if (json_object_object_add(o, "ociVersion", json_object_new_string(version)) < 0 ||
	    json_object_object_add(o, "fds", fds) < 0 ||
	    json_object_object_add(o, "pid", json_object_new_int64(pid)) < 0 ||
	    json_object_object_add(o, "metadata", json_object_new_string(metadata ?: "")) < 0 ||
	    json_object_object_add(o, "state", json_object_get(container_state)) < 0)
		return -ENOMEM;
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	if (!s)
		return -ENOMEM;
	*ret_json = s;
	return 0;
}

static int send_nosignal(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int seccomp_send_listener(const char *listener_path, int listener_fd, const char *state_json)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(state_json);
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = {};
	struct iovec iov = {.iov_base = (void *)state_json, .iov_len = len};
	struct msghdr mh = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = control.buf,
	    .msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	_cleanup_close_ int s = -EBADF;
	ssize_t n;

	if (len == 0 || listener_fd < 0)
		return -EINVAL;
	if (strlen(listener_path) >= sizeof(sa.sun_path))
		return log_debug_errno(-ENAMETOOLONG, "seccomp listener path '%s' is too long",
				       listener_path);
	strcpy(sa.sun_path, listener_path);

	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return log_debug_errno(-errno, "connect to seccomp agent '%s': %m", listener_path);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &listener_fd, sizeof(int));
	do
		n = sendmsg(s, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return log_debug_errno(-errno, "send to seccomp agent '%s': %m", listener_path);
	/* A stream socket may take a large state in pieces; the fd went with the first. */
	return send_nosignal(s, state_json + n, len - (size_t)n);
}
