/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper: listen on a unix socket, receive one pty master fd (as a console socket
 * receiver like containerd's shim does), copy what the container writes to stdout until EOF. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char name[256], cbuf[CMSG_SPACE(sizeof(int))], buf[4096];
	struct iovec iov = {.iov_base = name, .iov_len = sizeof(name) - 1};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	int ls, c, fd = -1;
	ssize_t n;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: recvtty SOCKET\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	ls = socket(AF_UNIX, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 1) < 0) {
		perror("recvtty: listen");
		return 1;
	}
	c = accept(ls, NULL, NULL);
	if (c < 0 || (n = recvmsg(c, &mh, 0)) < 0) {
		perror("recvtty: receive");
		return 1;
	}
	name[n] = '\0';
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (fd < 0) {
		fprintf(stderr, "recvtty: no fd received\n");
		return 1;
	}
	printf("name=%s\n", name);
	fflush(stdout);
	/* as it comes: tests wait for lines while the container runs */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		fwrite(buf, 1, (size_t)n, stdout);
		fflush(stdout);
	}
	return 0;
}
