/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the container process gets between namespace setup and execve: rlimits, OOM score,
 * I/O and CPU scheduling, LSM labels, user and groups, capabilities, no_new_privs, seccomp.
 * Shared by the container init (create) and `exec`. Runs in the child; logs go to the
 * capture buffer the child reports to its parent.
 */
#pragma once

#include <stdbool.h>
#include "spec.h"

struct caps;
struct seccomp_prog;

struct process_ctx {
	const struct spec_process *p;
	struct caps *caps;	      /* may be NULL: keep the current capabilities */
	struct seccomp_prog *seccomp; /* may be NULL */
	int preserve_fds;
	bool setgroups_allowed; /* false in a user namespace with setgroups denied */
	char *exec_path;	/* resolved by process_find_exec */
	char **env;		/* the env to exec with, when it differs from p->env */
};

/* At start, before brisk opens anything: remember the fds its caller passed. */
void process_note_inherited_fds(void);
/* --preserve-fds N: fds 3..3+N-1 were all passed by the caller (none is brisk's own). */
int process_check_preserve_fds(int n);
/* In the container's root, before the user switch: HOME from the container's /etc/passwd
 * when the env has none (or an empty one), else "/"; stdio handed to the process's user. */
int process_prepare_env(struct process_ctx *c);
/* Resolve args[0] against the process's PATH, in the current root. */
int process_find_exec(struct process_ctx *c);
/* The host has the LSM that P's apparmorProfile / selinuxLabel name: 0, or -EOPNOTSUPP logged. */
int process_check_lsm(const struct spec_process *p);
/* Before the user switch: rlimits, oomScoreAdj, ioPriority, scheduler, CPU affinity,
 * personality is the caller's, AppArmor/SELinux. */
int process_apply_limits(struct process_ctx *c);
/* cwd (entered first where the runtime may, as runc), groups, gid, uid, capabilities, umask. */
int process_apply_identity(struct process_ctx *c);
/* no_new_privs and seccomp as runc orders them (seccomp last when no_new_privs). */
int process_apply_seccomp_early(struct process_ctx *c, int *ret_listener_fd);
int process_apply_seccomp_late(struct process_ctx *c, int *ret_listener_fd);
/* Close fds above the preserved ones and execve; returns only on failure. */
int process_exec(struct process_ctx *c);
/* The default PATH of runc when the spec's env has none. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
