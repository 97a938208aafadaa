/* SPDX-License-Identifier: Apache-2.0 */
/* Messages between `brisk create` and the container init it cloned (a SOCK_SEQPACKET pair). */
#pragma once

#include <stdint.h>

enum sync_type {
	SYNC_GO = 1,	  /* parent -> init: maps written, cgroup joined */
	SYNC_HOOKS,	  /* init -> parent: mounts done, run prestart/createRuntime now */
	SYNC_HOOKS_DONE,  /* parent -> init */
	SYNC_CREATED,	  /* init -> parent: waiting on the exec fifo */
	SYNC_ERROR,	  /* init -> parent: text says what failed */
	SYNC_PTY,	  /* init -> parent: pty master attached (run without console socket) */
	SYNC_CGROUP_DONE, /* parent -> init: the init is in its cgroups */
	SYNC_SECCOMP,	  /* init -> parent: the seccomp notify listener fd attached */
	SYNC_BIND_SOURCE, /* parent -> init, before SYNC_GO: error = mount index, fd attached */
};

struct sync_msg {
	uint32_t type;
	int32_t error;
	char text[16384];
};

int sync_send(int fd, enum sync_type type, int error, const char *text);
/* Also receives one fd when the message carries one (*ret_fd, else -1). */
int sync_recv(int fd, struct sync_msg *ret, int *ret_fd);
int sync_send_fd(int fd, enum sync_type type, int passed_fd);
/* The same, with ERROR in the message (a number that says what the fd is for). */
int sync_send_fd_error(int fd, enum sync_type type, int error, int passed_fd);
/* Send FD over a unix socket with NAME as the data, as runc does for --console-socket. */
int send_fd_with_name(int sock, int fd, const char *name);
