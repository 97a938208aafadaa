/* SPDX-License-Identifier: Apache-2.0 */
/*
 * linux.seccomp of the OCI runtime-spec (1.2). The profile is compiled with libseccomp in
 * the runtime's parent process, before any clone, into a classic BPF program; the container
 * child then only calls seccomp(2) with it, right before execve, and allocates nothing.
 *
 * (Named seccomp-filter.h, not seccomp.h, so that an implicit -Iruntime never shadows
 * libseccomp's <seccomp.h>.)
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <json-c/json.h>

/* A compiled BPF program and the SECCOMP_FILTER_FLAG_* to install it with. */
struct seccomp_prog;
struct sock_filter;

/*
 * Parse and compile LINUX_SECCOMP (the linux.seccomp object; NULL: no filter, *ret = NULL).
 * Unknown syscall names are skipped with a debug message, as runc does; an unknown action,
 * operator, architecture or flag is an error naming it. SCMP_ACT_NOTIFY needs listenerPath,
 * and, as in runc, is refused as the default action and for write(2), which the runtime
 * itself may call between installing the filter and execve. Unless the default action is
 * permissive, a syscall numbered above the highest one the profile names (per architecture)
 * gets ENOSYS, as in runc, so that libc falls back from syscalls newer than the profile.
 * Logs its errors.
 */
int seccomp_prog_compile(struct json_object *linux_seccomp, struct seccomp_prog **ret);

/*
 * In the container child, right before execve, once no_new_privs is decided: install P
 * (NULL: nothing). Whether the process may (CAP_SYS_ADMIN or no_new_privs) is the caller's
 * business: seccomp(2)'s error is returned as is. With SCMP_ACT_NOTIFY anywhere in the
 * profile the filter is installed with SECCOMP_FILTER_FLAG_NEW_LISTENER and the listener fd
 * (O_CLOEXEC) is returned in *RET_LISTENER_FD; else -1. Allocates nothing, logs nothing.
 */
int seccomp_prog_install(const struct seccomp_prog *p, int *ret_listener_fd);

bool seccomp_prog_needs_listener(const struct seccomp_prog *p);
/* listenerPath and listenerMetadata of the profile; NULL when absent. */
const char *seccomp_prog_listener_path(const struct seccomp_prog *p);
const char *seccomp_prog_listener_metadata(const struct seccomp_prog *p);
/* Number of BPF instructions (for tests and debug output). */
size_t seccomp_prog_size(const struct seccomp_prog *p);
/* The BPF instructions themselves, seccomp_prog_size() of them (for tests). */
const struct sock_filter *seccomp_prog_bpf(const struct seccomp_prog *p);

struct seccomp_prog *seccomp_prog_free(struct seccomp_prog *p);
void seccomp_prog_freep(struct seccomp_prog **p);

/*
 * Build the runtime-spec "container process state" that goes to the seccomp agent:
 * {"ociVersion", "fds": ["seccompFd"], "pid", "metadata", "state": CONTAINER_STATE}.
 * CONTAINER_STATE is the state object of `brisk state` (its ociVersion is reused).
 */
int seccomp_listener_state(const struct seccomp_prog *p, pid_t pid,
			   struct json_object *container_state, char **ret_json);

/*
 * Connect to the unix stream socket LISTENER_PATH and send STATE_JSON (the container
 * process state, see seccomp_listener_state()) with LISTENER_FD attached as SCM_RIGHTS to
 * its first byte, as the runtime-spec says. Helpers' rule: returns -errno, logs at debug.
 */
int seccomp_send_listener(const char *listener_path, int listener_fd, const char *state_json);

/*
 * linux.seccomp of `features`, shaped like runc's: {"enabled", "actions", "operators",
 * "archs", "knownFlags", "supportedFlags"}; supportedFlags are those this kernel accepts.
 */
int seccomp_features(struct json_object **ret);
