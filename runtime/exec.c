/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fault.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "caps.h"
#include "cgroup.h"
#include "exec.h"
#include "process.h"
#include "relay.h"
#include "seccomp-filter.h"
#include "spec.h"
#include "sync.h"
#include "terminal.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* The order the child joins them in: the user namespace first (it owns the others), the mount
 * namespace last. pid and time are joined by the parent before it forks: pid applies to
 * children only, and the time namespace is owned by the host's user namespace (create makes it
 * before the container's user namespace), so it must be joined with the host's privileges. */
static const struct {
	const char *name;
	int type;
} ns_kinds[] = {
    {"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC},	  {"uts", CLONE_NEWUTS},
    {"net", CLONE_NEWNET},   {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
    {"pid", CLONE_NEWPID},   {"mnt", CLONE_NEWNS},
};
#define N_NS ELEMENTSOF(ns_kinds)

struct exec_job {
	struct runtime_ctx *rt;
	const struct exec_opts *o;
	struct container_state *st;
	struct spec *spec;
	struct spec_process p;
	struct caps *caps;
	struct seccomp_prog *seccomp;
	struct cgroup *cg;
	int ns_fds[N_NS]; /* -1: the container shares ours */
	int root_fd;	  /* the init's root directory, O_PATH */
	int sync[2];
	int console_fd;
	int pty_master;
	bool setgroups_allowed;
	pid_t pid;
};

static char errbuf[2048];

static int load_spec(struct runtime_ctx *rt, const struct container_state *st, struct spec **ret)
{
	_cleanup_close_ int dfd = -EBADF;
	_cleanup_json_ struct json_object *cfg = NULL;

	/* create keeps a copy when hooks need one; the bundle's otherwise */
	if (state_open_dir(rt->rootfd, st->id, &dfd) == 0 &&
	    json_parse_file_at(dfd, "config.json", &cfg) == 0)
		return spec_parse(cfg, ret);
	return spec_load(st->bundle, ret);
}

static int load_running(struct runtime_ctx *rt, const char *id, bool ignore_paused,
			struct container_state **ret)
{
	_cleanup_(state_freep) struct container_state *st = NULL;
	enum container_status status;
	int r = container_load(rt, id, &st, &status);

	if (r == -ENOENT)
		return container_not_found(id);
	if (r < 0)
		return log_error_errno(r, "load state of '%s': %m", id);
	if (status == STATUS_STOPPED)
		return log_error_errno(-ESRCH, "cannot exec in a stopped container");
	if (status == STATUS_PAUSED && !ignore_paused)
		return log_error_errno(-EBUSY, "cannot exec in a paused container (use "
					       "--ignore-paused to override)");
	*ret = TAKE_PTR(st);
	return 0;
}

int exec_default_process(struct runtime_ctx *rt, const char *id, struct json_object **ret)
{
	_cleanup_(state_freep) struct container_state *st = NULL;
	_cleanup_(spec_freep) struct spec *spec = NULL;
	struct json_object *p = NULL;
	int r;

	if ((r = load_running(rt, id, true, &st)) < 0 || (r = load_spec(rt, st, &spec)) < 0)
		return r;
	if (json_get_object(spec->json, "process", &p) < 0)
		p = NULL;
	if (!p) {
		*ret = json_object_new_object();
		return *ret ? 0 : -ENOMEM;
	}
	return json_object_deep_copy(p, ret, NULL) < 0 ? -ENOMEM : 0;
}

/* Open the namespaces of the container's init that differ from ours, then check the init is
 * still the process the state names (its pid could have been reused meanwhile). */
static int open_namespaces(struct exec_job *j)
{
	unsigned long long t;
	bool zombie;
	int r;

	for (size_t i = 0; i < N_NS; i++) {
		char path[64], self[64];
		struct stat a, b;

		snprintf(path, sizeof(path), "/proc/%d/ns/%s", j->st->pid, ns_kinds[i].name);
		snprintf(self, sizeof(self), "/proc/self/ns/%s", ns_kinds[i].name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue; /* a kernel without this namespace type */
		if (fd < 0)
			return log_error_errno(-errno, "open '%s': %m", path);
		if (fstat(fd, &a) == 0 && stat(self, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino) {
			close(fd);
			continue;
		}
		j->ns_fds[i] = fd;
	}
	/* The root the init runs in: without a mount namespace of its own the container is
	 * only chrooted, and joining the namespaces would leave us in the host's root. */
	char root[64];
	snprintf(root, sizeof(root), "/proc/%d/root", j->st->pid);
	j->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (j->root_fd < 0)
		return log_error_errno(-errno, "open '%s': %m", root);
	if ((r = proc_start_time(j->st->pid, &t, &zombie)) < 0 || t != j->st->start_time || zombie)
		return log_error_errno(-ESRCH, "cannot exec: the container's init has exited");
	return 0;
}

static int prepare(struct exec_job *j)
{
	const struct exec_opts *o = j->o;
	char path[64];
	int r;

	if ((r = load_running(j->rt, o->id, o->ignore_paused, &j->st)) < 0 ||
	    (r = load_spec(j->rt, j->st, &j->spec)) < 0)
		return r;
	if ((r = spec_parse_process(o->process, &j->p)) < 0)
		return r;
	if (j->p.terminal && o->detach && !o->console_socket)
		return log_error_errno(-EINVAL, "--tty with --detach needs --console-socket");
	if (!j->p.terminal && o->console_socket)
		return log_error_errno(-EINVAL, "--console-socket given but the process has no "
						"terminal (--tty)");
	if ((r = caps_parse(j->p.capabilities, &j->caps)) < 0)
		return r;
	if (j->spec->seccomp && (r = seccomp_prog_compile(j->spec->seccomp, &j->seccomp)) < 0)
		return r;
	if (j->st->cgroup && (r = cgroup_deserialize(j->st->cgroup, &j->cg)) < 0)
		return r;
	if (o->n_cgroups && !j->cg)
		return log_error_errno(-EINVAL, "exec --cgroup: container '%s' has no cgroup",
				       o->id);
	for (size_t i = 0; i < o->n_cgroups; i++)
		if ((r = cgroup_use_sub(j->cg, o->cgroups[i])) < 0)
			return r;
	if ((r = open_namespaces(j)) < 0)
		return r;
	/* A user namespace that denies setgroups denies it to us too. */
	_cleanup_free_ char *sg = NULL;
	snprintf(path, sizeof(path), "/proc/%d/setgroups", j->st->pid);
	j->setgroups_allowed =
	    read_file_at(AT_FDCWD, path, 64, &sg, NULL) < 0 || strncmp(sg, "deny", 4) != 0;
	if (o->console_socket &&
	    (r = terminal_connect_console(o->console_socket, &j->console_fd)) < 0)
		return log_error_errno(r, "connect to console socket '%s': %m", o->console_socket);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, j->sync) < 0)
		return log_error_errno(-errno, "socketpair: %m");
	return 0;
}

static int join_namespaces(struct exec_job *j)
{
	for (size_t i = 0; i < N_NS; i++) {
		if (j->ns_fds[i] < 0 || ns_kinds[i].type == CLONE_NEWPID ||
		    ns_kinds[i].type == CLONE_NEWTIME)
			continue;
		if (FAULT_OR("namespace", setns(j->ns_fds[i], ns_kinds[i].type)) < 0)
			return log_error_errno(-errno, "join the container's %s namespace: %m",
					       ns_kinds[i].name);
		j->ns_fds[i] = safe_close(j->ns_fds[i]);
		/* In a user namespace our uid may be unmapped until we become its root. */
		if (ns_kinds[i].type == CLONE_NEWUSER &&
		    (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
			return log_error_errno(-errno, "become root in the user namespace: %m");
	}
	if (fchdir(j->root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return log_error_errno(-errno, "enter the root of the container's init: %m");
	j->root_fd = safe_close(j->root_fd);
	return 0;
}

static int child_setup(struct exec_job *j, struct process_ctx *pc, int *listener)
{
	int r;

	if ((r = join_namespaces(j)) < 0)
		return r;
	if (j->p.terminal) {
		_cleanup_close_ int master = -EBADF, peer = -EBADF;
		char name[64];
		if ((r = terminal_open(&j->p, &master, &peer, name, sizeof(name))) < 0)
			return r;
		if (j->console_fd >= 0)
			r = send_fd_with_name(j->console_fd, master, name);
		else
			r = sync_send_fd(j->sync[1], SYNC_PTY, master);
		if (r < 0)
			return log_error_errno(r, "send the pty to the console socket: %m");
		j->console_fd = safe_close(j->console_fd);
		if ((r = terminal_attach(peer)) < 0)
			return r;
	}
	if ((r = process_prepare_env(pc)) < 0 || (r = process_find_exec(pc)) < 0 ||
	    (r = process_apply_limits(pc)) < 0 ||
	    (r = process_apply_seccomp_early(pc, listener)) < 0 ||
	    (r = process_apply_identity(pc)) < 0)
		return r;
	return 0;
}

/*
 * The new process, forked already in the container's pid namespace. Until execve it runs
 * the runtime's binary inside the container and must stay non-dumpable, so that no process
 * of the container can open its /proc/PID/exe or ptrace it (CVE-2019-5736); execve of the
 * container's program makes it dumpable again. Errors go to the runtime over the sync socket.
 */
static _Noreturn void exec_child(struct exec_job *j)
{
	struct process_ctx pc = {.p = &j->p,
				 .caps = j->caps,
				 .seccomp = j->seccomp,
				 .preserve_fds = j->o->preserve_fds,
				 .setgroups_allowed = j->setgroups_allowed};
	struct sync_msg m;
	int listener = -1, r;

	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	log_set_capture(errbuf, sizeof(errbuf));
	j->sync[0] = safe_close(j->sync[0]);
	if (sync_recv(j->sync[1], &m, NULL) < 0 || m.type != SYNC_GO)
		_exit(1);
	if ((r = child_setup(j, &pc, &listener)) < 0)
		goto fail;
	/* Last word before the filter: it may forbid sendmsg. */
	if ((r = sync_send(j->sync[1], SYNC_CREATED, 0, NULL)) < 0)
		_exit(1);
	if ((r = process_apply_seccomp_late(&pc, &listener)) < 0)
		goto fail;
	/* listenerPath is a host path: the runtime, outside, connects to it. */
	if (listener >= 0) {
		if ((r = sync_send_fd(j->sync[1], SYNC_SECCOMP, listener)) < 0)
			_exit(1);
		safe_close(listener);
	}
	r = process_exec(&pc);
fail:
	if (!errbuf[0])
		snprintf(errbuf, sizeof(errbuf), "exec: %s", strerror(-r));
	sync_send(j->sync[1], SYNC_ERROR, r, errbuf);
	_exit(127);
}

/* Until the child says it is about to exec: move it into the cgroup, let it go, take its pty.
 * Then its sync socket closes on execve, or it reports why exec failed. */
static int parent_handshake(struct exec_job *j)
{
	struct sync_msg m;
	bool ready = false;
	int r, fd;

	if (j->cg && (r = cgroup_add_pid(j->cg, j->pid)) < 0)
		return r;
	if ((r = sync_send(j->sync[0], SYNC_GO, 0, NULL)) < 0)
		return log_error_errno(r, "sync with the exec process: %m");
	for (;;) {
		r = sync_recv(j->sync[0], &m, &fd);
		if (r == -EPIPE || r == -ECONNRESET)
			return ready ? 0
				     : log_error_errno(-EIO, "exec process exited before it ran");
		if (r < 0)
			return log_error_errno(r, "sync with the exec process: %m");
		switch (m.type) {
		case SYNC_ERROR:
			return log_error_errno(m.error < 0 ? m.error : -EIO, "%s", m.text);
		case SYNC_PTY:
			j->pty_master = fd;
			terminal_clear_onlcr(fd);
			break;
		case SYNC_CREATED:
			ready = true;
			break;
		case SYNC_SECCOMP:
			r = container_send_listener(j->seccomp, j->st, STATUS_RUNNING, j->pid, fd);
			safe_close(fd);
			if (r < 0)
				return r;
			break;
		default:
			return log_error_errno(
			    -EBADMSG, "unexpected message %u from the exec process", m.type);
		}
	}
}

static int spawn(struct exec_job *j)
{
	/* our own pid namespace, to go back to once the child is forked */
	_cleanup_close_ int own_pid = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);

	for (size_t i = 0; i < N_NS; i++) {
		int t = ns_kinds[i].type;
		if (j->ns_fds[i] < 0 || (t != CLONE_NEWPID && t != CLONE_NEWTIME))
			continue;
		/* pid: our children from now on, not us; time: us too, harmlessly */
		if (FAULT_OR("namespace", setns(j->ns_fds[i], t)) < 0)
			return log_error_errno(-errno, "join the container's %s namespace: %m",
					       ns_kinds[i].name);
	}
	j->pid = fork();
	if (j->pid < 0)
		return log_error_errno(-errno, "fork the exec process: %m");
	if (j->pid == 0)
		exec_child(j);
	/* Any later child of ours is ours, not the container's (a sanitizer's helper thread
	 * would not find us from in there). */
	if (own_pid >= 0 && setns(own_pid, CLONE_NEWPID) < 0)
		log_debug("return to our pid namespace: %m, ignoring");
	j->sync[1] = safe_close(j->sync[1]);
	j->console_fd = safe_close(j->console_fd);
	return 0;
}

static void job_done(struct exec_job *j)
{
	for (size_t i = 0; i < N_NS; i++)
		safe_close(j->ns_fds[i]);
	safe_close(j->sync[0]);
	safe_close(j->sync[1]);
	safe_close(j->console_fd);
	safe_close(j->pty_master);
	safe_close(j->root_fd);
	cgroup_free(j->cg);
	caps_free(j->caps);
	seccomp_prog_free(j->seccomp);
	spec_process_done(&j->p);
	spec_free(j->spec);
	state_free(j->st);
}

int container_exec(struct runtime_ctx *rt, const struct exec_opts *o)
{
	struct exec_job j = {.rt = rt,
			     .o = o,
			     .sync = {-EBADF, -EBADF},
			     .console_fd = -EBADF,
			     .pty_master = -EBADF,
			     .root_fd = -EBADF};
	sigset_t set;
	int r;

	for (size_t i = 0; i < N_NS; i++)
		j.ns_fds[i] = -EBADF;
	/* Nothing of ours is for the container to read through /proc. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	relay_signal_set(&set);
	if ((r = prepare(&j)) < 0)
		goto out;
	if (!o->detach)
		sigprocmask(SIG_BLOCK, &set, NULL);
	if ((r = spawn(&j)) < 0)
		goto out;
	if ((r = parent_handshake(&j)) < 0 ||
	    (o->pid_file && (r = state_write_pid_file(o->pid_file, j.pid)) < 0)) {
		kill(j.pid, SIGKILL);
		waitpid(j.pid, NULL, 0);
		goto out;
	}
	if (o->detach) {
		r = 0;
		goto out;
	}
	r = relay_wait(j.pid, j.pty_master);
out:
	job_done(&j);
	return r;
}
