/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dump and restore through libcriu, one `criu swrk` worker per request.
 *
 * libcriu can start the worker itself, but then criu reads /etc/criu/default.conf and
 * ~/.criu/default.conf, and a few options (lazy pages; inherited fds with a worker we
 * connect to by fd) have no libcriu setter in 4.1. So brisk starts the worker with its own
 * command line, "criu --no-default-config [options] swrk FD", and hands libcriu the socket
 * (criu_local_set_service_fd). libcriu closes that socket after one request, which is all a
 * worker serves here; concurrent restores each have their own worker and options.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criu/criu.h>

#include "common/cleanup.h"
#include "common/fault.h"
#include "common/fs.h"
#include "common/log.h"
#include "snapshot-internal.h"

#define MAX_WORKER_ARGS 64

/*
 * CRIU stops a task at the end of its parasite code with a hardware breakpoint set through
 * ptrace. Some VMs never deliver it (seen on a Firecracker guest, kernel 6.18): the dump
 * then waits forever. CRIU's fault-injection point 130 (FI_NO_BREAKPOINTS) makes it step
 * with PTRACE_SYSCALL instead, which works everywhere at a small cost. A CRIU_FAULT the
 * caller set wins.
 */
void snapshot_criu_env(void)
{
	unsetenv("CRIU_CONFIG_FILE");
	setenv("CRIU_FAULT", "130", 0);
}

struct worker {
	pid_t pid;
	int sk; /* ours; libcriu closes it after the request */
};

static void worker_reap(struct worker *w)
{
	if (w->sk >= 0)
		w->sk = safe_close(w->sk);
	if (w->pid > 0) {
		int status;
		while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
			;
		w->pid = 0;
	}
}

/*
 * Start "criu --no-default-config EXTRA... swrk FD". Exec failures come back through a
 * close-on-exec pipe, so a missing binary is told apart from a worker that failed.
 */
static int worker_start(const char *criu, char *const *extra, size_t n_extra, const int *keep_fds,
			size_t n_keep, struct worker *ret)
{
	int sk[2], ep[2];
	char fdbuf[16];
	char *argv[MAX_WORKER_ARGS];
	size_t n = 0;
	int err = 0;

	if (n_extra + 5 > MAX_WORKER_ARGS)
		return -E2BIG;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk) < 0)
		return -errno;
	if (pipe2(ep, O_CLOEXEC) < 0) {
		err = -errno;
		safe_close(sk[0]);
		safe_close(sk[1]);
		return err;
	}
	snprintf(fdbuf, sizeof(fdbuf), "%d", sk[1]);
	argv[n++] = (char *)criu;
	argv[n++] = (char *)"--no-default-config";
	for (size_t i = 0; i < n_extra; i++)
		argv[n++] = extra[i];
	argv[n++] = (char *)"swrk";
	argv[n++] = fdbuf;
	argv[n] = NULL;

	pid_t pid = fork();
	if (pid < 0) {
		err = -errno;
		safe_close(sk[0]);
		safe_close(sk[1]);
		safe_close(ep[0]);
		safe_close(ep[1]);
		return err;
	}
	if (pid == 0) {
		sigset_t all;

		/* criu catches SIGCHLD of the tasks it restores */
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		snapshot_criu_env();
		/* Only stdio, the socket and the fds to inherit reach criu: any other fd
		 * of our caller would live on in criu and in the tasks it forks. */
		if (cloexec_fds_from(3) < 0 || fcntl(sk[1], F_SETFD, 0) < 0)
			goto fail;
		for (size_t i = 0; i < n_keep; i++)
			if (keep_fds[i] > 2 && fcntl(keep_fds[i], F_SETFD, 0) < 0)
				goto fail;
		if (strchr(criu, '/'))
			execv(criu, argv);
		else
			execvp(criu, argv);
fail:
		err = errno;
		(void)!write(ep[1], &err, sizeof(err));
		_exit(127);
	}
	safe_close(sk[1]);
	safe_close(ep[1]);
	ssize_t k;
	do
		k = read(ep[0], &err, sizeof(err));
	while (k < 0 && errno == EINTR);
	safe_close(ep[0]);
	if (k == sizeof(err)) {
		waitpid(pid, NULL, 0);
		safe_close(sk[0]);
		return err == ENOENT ? -ENOENT : -err;
	}
	ret->pid = pid;
	ret->sk = sk[0];
	return 0;
}

static int new_opts(struct worker *w, criu_opts **ret)
{
	criu_opts *c = NULL;

	if (criu_local_init_opts(&c) < 0 || !c)
		return -ENOMEM;
	criu_local_set_service_fd(c, w->sk);
	*ret = c;
	return 0;
}

static void opts_freep(criu_opts **c)
{
	if (*c)
		criu_local_free_opts(*c);
	*c = NULL;
}

int snapshot_criu_version(const char *criu_path, int *ret_version)
{
	struct worker w = {.sk = -EBADF};
	criu_opts *c __attribute__((cleanup(opts_freep))) = NULL;
	int r;

	r = worker_start(criu_path ? criu_path : "criu", NULL, 0, NULL, 0, &w);
	if (r < 0)
		return r;
	if ((r = new_opts(&w, &c)) < 0) {
		worker_reap(&w);
		return r;
	}
	r = criu_local_get_version(c);
	w.sk = -EBADF; /* closed by libcriu */
	worker_reap(&w);
	if (r <= 0)
		return -EPROTO;
	*ret_version = r;
	return 0;
}

static enum criu_cg_mode cg_mode(enum snapshot_cg_mode m)
{
	switch (m) {
	case SNAPSHOT_CG_SOFT:
		return CRIU_CG_MODE_SOFT;
	case SNAPSHOT_CG_FULL:
		return CRIU_CG_MODE_FULL;
	case SNAPSHOT_CG_STRICT:
		return CRIU_CG_MODE_STRICT;
	case SNAPSHOT_CG_IGNORE:
		return CRIU_CG_MODE_IGNORE;
	default:
		return CRIU_CG_MODE_DEFAULT;
	}
}

static int split_host_port(const char *s, char **ret_host, int *ret_port)
{
	const char *colon = strrchr(s, ':');
	int port;

	if (!colon || colon == s || parse_int(colon + 1, &port) < 0 || port <= 0 || port > 65535)
		return -EINVAL;
	*ret_host = strndup(s, (size_t)(colon - s));
	if (!*ret_host)
		return -ENOMEM;
	*ret_port = port;
	return 0;
}

/* libcriu's notify callback has no user data; brisk runs one request at a time. */
static const struct snapshot_opts *notify_opts;

static int notify(char *action, criu_notify_arg_t na)
{
	(void)na;
	if (!notify_opts || !notify_opts->pts_master || strcmp(action, "orphan-pts-master") != 0)
		return 0;
	int fd = criu_get_orphan_pts_master_fd();
	if (fd < 0)
		return -EBADF;
	int r = notify_opts->pts_master(fd, notify_opts->userdata);
	close(fd);
	return r;
}

/* The options dump and restore share, and those of one of them. */
static int configure(criu_opts *c, const struct snapshot_opts *o, bool dump)
{
	criu_local_set_images_dir_fd(c, o->images_fd);
	criu_local_set_work_dir_fd(c, o->work_fd >= 0 ? o->work_fd : o->images_fd);
	criu_local_set_log_level(c, o->log_level > 0 ? o->log_level : 2);
	if (criu_local_set_log_file(c, o->log_file ? o->log_file
						   : (dump ? "dump.log" : "restore.log")) < 0)
		return -ENOMEM;
	if (o->root && criu_local_set_root(c, o->root) < 0)
		return -ENOMEM;
	criu_local_set_tcp_established(c, o->tcp_established);
	criu_local_set_ext_unix_sk(c, o->ext_unix_sk);
	criu_local_set_shell_job(c, o->shell_job);
	criu_local_set_file_locks(c, o->file_locks);
	criu_local_set_orphan_pts_master(c, o->orphan_pts_master);
	if (o->no_network_lock)
		criu_local_set_network_lock(c, CRIU_NETWORK_LOCK_SKIP);
	if (o->cg_mode != SNAPSHOT_CG_DEFAULT)
		criu_local_set_manage_cgroups_mode(c, cg_mode(o->cg_mode));
	criu_local_set_manage_cgroups(c, o->cg_mode != SNAPSHOT_CG_IGNORE);
	for (size_t i = 0; i < o->n_ext_mounts; i++)
		if (criu_local_add_ext_mount(c, o->ext_mounts[i].key, o->ext_mounts[i].value) < 0)
			return -ENOMEM;
	if (dump) {
		criu_local_set_pid(c, o->pid);
		criu_local_set_leave_running(c, o->leave_running);
		criu_local_set_auto_dedup(c, o->auto_dedup);
		if (o->empty_ns)
			criu_local_set_empty_ns(c, o->empty_ns);
		if (o->freeze_cgroup && criu_local_set_freeze_cgroup(c, o->freeze_cgroup) < 0)
			return -ENOMEM;
		if (o->parent_path && criu_local_set_parent_images(c, o->parent_path) < 0)
			return -ENOMEM;
		for (size_t i = 0; i < o->n_externals; i++)
			if (criu_local_add_external(c, o->externals[i]) < 0)
				return -ENOMEM;
		if (o->page_server) {
			_cleanup_free_ char *host = NULL;
			int port, r;
			if ((r = split_host_port(o->page_server, &host, &port)) < 0)
				return r;
			if (criu_local_set_page_server_address_port(c, host, port) < 0)
				return -ENOMEM;
		}
	} else {
		/* the only callback: each one is a round trip to the worker */
		if (o->pts_master) {
			criu_local_set_orphan_pts_master(c, true);
			criu_local_set_notify_cb(c, notify);
		}
		for (size_t i = 0; i < o->n_cg_roots; i++) {
			const char *ctrl = o->cg_roots[i].key;
			if (criu_local_add_cg_root(c, ctrl && *ctrl ? ctrl : NULL,
						   o->cg_roots[i].value) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

/* Start a worker, configure its options, run OP; returns OP's result (>= 0) or -errno. */
static int run_request(const struct snapshot_opts *o, bool dump, int (*op)(criu_opts *c))
{
	struct worker w = {.sk = -EBADF};
	criu_opts *c __attribute__((cleanup(opts_freep))) = NULL;
	char *extra[MAX_WORKER_ARGS];
	char *owned[MAX_WORKER_ARGS];
	int keep[MAX_WORKER_ARGS];
	size_t n_extra = 0, n_owned = 0, n_keep = 0;
	int r;

	if (fault_hit("criu"))
		return -EIO;
	if ((r = snapshot_kdat_cache(o->criu_path)) < 0)
		log_debug("CRIU's kernel feature cache: %s, ignoring", strerror(-r));
	/* options of the file first: the request's own come after them and win */
	if (o->config_file) {
		extra[n_extra++] = (char *)"--config";
		extra[n_extra++] = (char *)o->config_file;
	}
	if (!dump && o->lazy_pages)
		extra[n_extra++] = (char *)"--lazy-pages";
	/* the tree is checked before it runs: CRIU leaves every task stopped (libcriu 4.1 has
	 * no setter for it) */
	if (!dump && o->check_tree)
		extra[n_extra++] = (char *)"--leave-stopped";
	/* libcriu allows inherited fds only with a worker it started itself; the command
	 * line of ours carries them instead. */
	for (size_t i = 0; !dump && i < o->n_inherit_fds; i++) {
		if (n_extra + 8 > MAX_WORKER_ARGS) {
			r = -E2BIG;
			goto out;
		}
		char *arg;
		if (asprintf(&arg, "fd[%d]:%s", o->inherit_fds[i].fd, o->inherit_fds[i].key) < 0) {
			r = -ENOMEM;
			goto out;
		}
		owned[n_owned++] = arg;
		extra[n_extra++] = (char *)"--inherit-fd";
		extra[n_extra++] = arg;
		keep[n_keep++] = o->inherit_fds[i].fd;
	}
	r = worker_start(o->criu_path ? o->criu_path : "criu", extra, n_extra, keep, n_keep, &w);
	if (r < 0)
		goto out;
	if ((r = new_opts(&w, &c)) < 0 || (r = configure(c, o, dump)) < 0)
		goto out_worker;
	if (o->prepare_worker && (r = o->prepare_worker(w.pid, o->userdata)) < 0) {
		kill(w.pid, SIGKILL); /* it would complain of the closed socket */
		goto out_worker;
	}
	notify_opts = o;
	r = op(c);
	notify_opts = NULL;
	w.sk = -EBADF; /* closed by libcriu */
	if (r == -EBADE || r == -ECOMM || r == -EBADMSG || r == -ECONNREFUSED)
		r = -EIO;
out_worker:
	worker_reap(&w);
out:
	for (size_t i = 0; i < n_owned; i++)
		free(owned[i]);
	return r;
}

int snapshot_dump(const struct snapshot_opts *o)
{
	int r = run_request(o, true, criu_local_dump);

	return r < 0 ? r : 0;
}

static int feature_check(const struct snapshot_opts *o, struct criu_feature_check *f)
{
	struct worker w = {.sk = -EBADF};
	criu_opts *c __attribute__((cleanup(opts_freep))) = NULL;
	int r;

	r = worker_start(o->criu_path ? o->criu_path : "criu", NULL, 0, NULL, 0, &w);
	if (r < 0)
		return r;
	if ((r = new_opts(&w, &c)) < 0) {
		worker_reap(&w);
		return r;
	}
	r = criu_local_feature_check(c, f, sizeof(*f));
	w.sk = -EBADF;
	worker_reap(&w);
	return r < 0 ? -EIO : 0;
}

int snapshot_pre_dump(const struct snapshot_opts *o)
{
	struct criu_feature_check f = {.mem_track = true};
	int r = feature_check(o, &f);

	if (r < 0)
		return r;
	if (!f.mem_track)
		return -EOPNOTSUPP;
	r = run_request(o, true, criu_local_pre_dump);
	return r < 0 ? r : 0;
}

int snapshot_lazy_supported(const struct snapshot_opts *o)
{
	struct criu_feature_check f = {.lazy_pages = true};
	int r = feature_check(o, &f);

	if (r < 0)
		return r;
	return f.lazy_pages ? 0 : -EOPNOTSUPP;
}

/*
 * With --leave-stopped, CRIU sends each task a SIGSTOP while it still traces it, after the
 * restorer gave it its credentials and seccomp filters, and detaches: each task stops on its
 * way back to user space, before it runs anything of its own. The tree is checked in that
 * state, then let go or killed. (Neither can be done while CRIU traces the tree, in its
 * "pre-resume" notification: a task killed there is a zombie for CRIU to reap while CRIU
 * waits for the root task alone, and a signal sent there can make its PTRACE_DETACH fail.)
 */
static int check_tree(const struct snapshot_opts *o, pid_t root)
{
	int r = o->check_tree(root, o->userdata);

	if (r < 0) {
		int k = snapshot_tree_kill(root);
		if (k < 0)
			log_debug("kill the restored tree of %d: %s", (int)root, strerror(-k));
		return r;
	}
	if ((r = snapshot_tree_continue(root)) < 0) {
		log_debug("continue the restored tree of %d: %s", (int)root, strerror(-r));
		(void)snapshot_tree_kill(root);
		return r;
	}
	return 0;
}

int snapshot_restore(const struct snapshot_opts *o, pid_t *ret_pid)
{
	int r = run_request(o, false, criu_local_restore);

	if (r < 0)
		return r;
	if (r == 0)
		return -EIO;
	pid_t root = r;
	if (o->check_tree && (r = check_tree(o, root)) < 0)
		return r;
	*ret_pid = root;
	return 0;
}
