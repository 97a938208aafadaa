/* SPDX-License-Identifier: Apache-2.0 */
/* The container init: what the cloned child does between clone() and execve(). */
#pragma once

#include <stdbool.h>
#include "spec.h"

struct caps;
struct seccomp_prog;

struct init_ctx {
	const struct spec *spec;
	const char *id;
	const char *rootfs; /* absolute */
	int sync_fd;	    /* our end of the sync socket pair */
	int fifo_fd;	    /* the exec fifo, open O_RDWR: start writes a byte into it */
	int console_fd;	    /* connected --console-socket, or -1 */
	bool pty_to_parent; /* terminal without console socket (foreground run) */
	bool new_userns;    /* a user namespace was created for us */
	bool setgroups_denied;
	bool no_pivot;
	bool no_new_keyring;
	bool no_fifo; /* restore-like paths: exec right after CREATED */
	int preserve_fds;
	int *bind_fds; /* per mount: its source, opened by the runtime, or -1; NULL if none */
	struct caps *caps;
	struct seccomp_prog *seccomp;
};

_Noreturn void init_main(struct init_ctx *c);
