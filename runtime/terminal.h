/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process's terminal, made inside the container (its /dev/ptmx, its devpts) by the
 * container init and by `exec`: the master goes to the console socket or to the runtime.
 * Runs in the child; logs go to the capture buffer.
 */
#pragma once

#include <stddef.h>
#include "spec.h"

/* Open a pty pair in the current mount namespace; NAME gets the peer's path ("/dev/pts/N").
 * The console size of P is set on the peer. */
int terminal_open(const struct spec_process *p, int *ret_master, int *ret_peer, char *name,
		  size_t name_size);
/* setsid, make PEER the controlling terminal and stdin, stdout and stderr. */
int terminal_attach(int peer);
/* The runtime relays a foreground terminal: no "\r" added before each "\n", as runc's. */
void terminal_clear_onlcr(int master);
/* Connect to a --console-socket (a unix stream socket at PATH). */
int terminal_connect_console(const char *path, int *ret_fd);
