/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A foreground process of `run` and `exec`: signals we receive go to it, and with a terminal
 * and no console socket our stdio is relayed to its pty.
 */
#pragma once

#include <signal.h>
#include <sys/types.h>

/* The signals relay_wait() forwards; block them before the process starts, so none is lost. */
void relay_signal_set(sigset_t *set);
/* Wait for PID (our child), forwarding signals and relaying stdio to PTY (-1: none); returns its
 * exit status as a shell would (128 + signal). */
int relay_wait(pid_t pid, int pty);
