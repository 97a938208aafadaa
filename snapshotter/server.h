/* SPDX-License-Identifier: Apache-2.0 */
/* The snapshotter's unix socket and its event loop (server.c). */
#pragma once

#include "grpc.h"

/* Bind and listen on PATH (mode 0600), replacing a socket left by a dead daemon. */
int server_listen(const char *path, int *ret_fd);
/* Serve SERVICE on LISTEN_FD until SIGTERM or SIGINT; 0 then, or -errno. */
int server_run(int listen_fd, const struct grpc_service *service);

/*
 * While server_run() runs: call FN(FD, USERDATA) from the loop whenever FD is readable (or at
 * its end or an error), until server_unwatch_fd(*RET), which the caller does before closing FD.
 */
struct source;
typedef void (*server_watch_fn)(int fd, void *userdata);
int server_watch_fd(int fd, server_watch_fn fn, void *userdata, struct source **ret);
void server_unwatch_fd(struct source *src);
