/* SPDX-License-Identifier: Apache-2.0 */
/* The snapshotter's unix socket and its event loop (server.c). */
#pragma once

#include "grpc.h"

/* Bind and listen on PATH (mode 0600), replacing a socket left by a dead daemon. */
int server_listen(const char *path, int *ret_fd);
/* Serve SERVICE on LISTEN_FD until SIGTERM or SIGINT; 0 then, or -errno. */
int server_run(int listen_fd, const struct grpc_service *service);
