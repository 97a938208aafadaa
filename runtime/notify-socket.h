/* SPDX-License-Identifier: Apache-2.0 */
/*
 * systemd's protocols passed through to a container, as runc passes them.
 *
 * Socket activation: when LISTEN_PID is our pid, the LISTEN_FDS fds from 3 up go to the
 * container's process at the same numbers (before those of --preserve-fds), and its env
 * gets LISTEN_FDS and LISTEN_PID=1, its own pid as it sees it in its pid namespace.
 *
 * sd_notify: with NOTIFY_SOCKET in our environment, create gives the container a directory
 * of its state, bind mounted read-only at /run/notify, and NOTIFY_SOCKET=/run/notify/
 * notify.sock. start (or run) listens on that socket before the container's program runs,
 * waits for its READY= (or its end), and passes it on to the NOTIFY_SOCKET start was given,
 * with MAINPID (the container's init; run's own pid when run stays in the foreground),
 * then waits for the receiver with BARRIER=1, so that `podman run --sdnotify=container`
 * and Type=notify units work.
 */
#pragma once

#include <sys/types.h>

struct runtime_ctx;
struct spec;

/*
 * create: socket activation for the container's process (the env of S); the fds it gets
 * come before the PRESERVE_FDS the caller passed, and all are checked to be the caller's.
 * *RET_N: how many fds it passes (0: none).
 */
int listen_fds_prepare(struct spec *s, int preserve_fds, int *ret_n);
/* create: with NOTIFY_SOCKET set, the mount and env of S and the directory (in the state
 * directory DIRFD of container ID, under ROOT) for the container's notify socket. */
int notify_socket_prepare(struct spec *s, const char *root, const char *id, int dirfd);
/* start, run: with NOTIFY_SOCKET set, listen on the notify socket of container ID (made
 * with one) before it starts; *RET_FD is -1 when there is none. */
int notify_socket_listen(struct runtime_ctx *rt, const char *id, int *ret_fd);
/* After start: wait on FD for the container's READY= until its init exits, and pass it on
 * with MAINPID=MAINPID (0: the init's pid). */
int notify_socket_forward(struct runtime_ctx *rt, const char *id, int fd, pid_t mainpid);
/* A foreground run: the same in a child of ours, with MAINPID our pid, while we relay. */
int notify_socket_forward_child(struct runtime_ctx *rt, const char *id, int fd);
