/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fault.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mountinfo.h"
#include "common/pidfd.h"
#include "caps.h"
#include "cgroup.h"
#include "container.h"
#include "hooks.h"
#include "idmap.h"
#include "init.h"
#include "lazy-rootfs.h"
#include "notify-socket.h"
#include "seccomp-filter.h"
#include "spec.h"
#include "sync.h"
#include "terminal.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int container_not_found(const char *id)
{
	return log_error_errno(-ENOENT, "container '%s' does not exist", id);
}

int signal_from_string(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = {
	    {"HUP", SIGHUP},	   {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
	    {"TRAP", SIGTRAP},	   {"ABRT", SIGABRT}, {"IOT", SIGIOT},	     {"BUS", SIGBUS},
	    {"FPE", SIGFPE},	   {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
	    {"USR2", SIGUSR2},	   {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
	    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
	    {"TSTP", SIGTSTP},	   {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
	    {"XCPU", SIGXCPU},	   {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
	    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
	    {"SYS", SIGSYS},
	};
	int n;

	if (parse_int(s, &n) == 0)
		return n > 0 && n < NSIG ? n : -EINVAL;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (strcasecmp(s, names[i].name) == 0)
			return names[i].sig;
	if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
		int base = strncasecmp(s, "RTMIN", 5) == 0 ? SIGRTMIN : SIGRTMAX;
		int off = 0;
		if (s[5] && (parse_int(s + 5, &off) < 0))
			return -EINVAL;
		n = base + off;
		return n >= SIGRTMIN && n <= SIGRTMAX ? n : -EINVAL;
	}
	return -EINVAL;
}

/* Namespaces that apply to children only are joined or created here, before clone. */
static int prepare_parent_namespaces(const struct spec *s)
{
	for (size_t i = 0; i < s->n_namespaces; i++) {
		const struct spec_namespace *ns = &s->namespaces[i];

		if (ns->type != CLONE_NEWPID && ns->type != CLONE_NEWTIME)
			continue;
		if (ns->path) {
			_cleanup_close_ int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return log_error_errno(-errno, "open %s namespace '%s': %m",
						       spec_namespace_name(ns->type), ns->path);
			if (FAULT_OR("namespace", setns(fd, ns->type)) < 0)
				return log_error_errno(-errno, "join %s namespace '%s': %m",
						       spec_namespace_name(ns->type), ns->path);
		} else if (ns->type == CLONE_NEWTIME) {
			if (FAULT_OR("namespace", unshare(CLONE_NEWTIME)) < 0)
				return log_error_errno(-errno, "create a time namespace: %m");
			if (s->has_time_offsets) {
				char buf[128];
				snprintf(buf, sizeof(buf),
					 "monotonic %lld %lld\nboottime %lld %lld\n",
					 (long long)s->time_offsets[0][0],
					 (long long)s->time_offsets[0][1],
					 (long long)s->time_offsets[1][0],
					 (long long)s->time_offsets[1][1]);
				int r = write_string_at(AT_FDCWD, "/proc/self/timens_offsets", buf);
				if (r < 0)
					return log_error_errno(r, "set time namespace offsets: %m");
			}
		}
	}
	if (s->has_time_offsets && !spec_find_namespace(s, CLONE_NEWTIME))
		return log_error_errno(-EINVAL,
				       "config.json: linux.timeOffsets needs a new time namespace");
	return 0;
}

static unsigned long clone_flags(const struct spec *s)
{
	unsigned long f = 0;

	for (size_t i = 0; i < s->n_namespaces; i++) {
		int t = s->namespaces[i].type;
		if (!s->namespaces[i].path && t != CLONE_NEWTIME && t != CLONE_NEWPID &&
		    t != CLONE_NEWCGROUP)
			f |= (unsigned long)t;
		if (!s->namespaces[i].path && t == CLONE_NEWPID)
			f |= CLONE_NEWPID;
	}
	return f;
}

/* The state hooks and the init's startContainer hooks see. */
static char *hook_state(const struct container_state *st, enum container_status status)
{
	_cleanup_json_ struct json_object *o = NULL;

	if (state_to_json(st, status, &o) < 0)
		return NULL;
	return strdup(json_to_string(o));
}

static struct json_object *device_rule(bool allow, const char *type, int64_t major, int64_t minor,
				       const char *access)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "allow", json_object_new_boolean(allow));
	json_object_object_add(r, "type", json_object_new_string(type));
	if (major >= 0)
		json_object_object_add(r, "major", json_object_new_int64(major));
	if (minor >= 0)
		json_object_object_add(r, "minor", json_object_new_int64(minor));
	json_object_object_add(r, "access", json_object_new_string(access));
	return r;
}

/*
 * The device rules the cgroup gets: the spec's own, then the devices every container
 * needs (null, zero, full, random, urandom, tty, ptmx, pts, tun; mknod of anything), in
 * runc's order. A node of linux.devices gets no rule of its own: as with runc, only
 * linux.resources.devices lets it be used, and a device it denies stays denied.
 */
int container_effective_resources(const struct spec *s, struct json_object **ret)
{
	static const struct {
		const char *type;
		int64_t major, minor;
		const char *access;
	} defaults[] = {
	    {"c", -1, -1, "m"},	   {"b", -1, -1, "m"}, {"c", 1, 3, "rwm"},    {"c", 1, 8, "rwm"},
	    {"c", 1, 7, "rwm"},	   {"c", 5, 0, "rwm"}, {"c", 1, 5, "rwm"},    {"c", 1, 9, "rwm"},
	    {"c", 136, -1, "rwm"}, {"c", 5, 2, "rwm"}, {"c", 10, 200, "rwm"},
	};
	struct json_object *res = NULL, *devs;

	if (s->resources) {
		/* a deep copy: the spec's tree stays as written */
		if (json_object_deep_copy(s->resources, &res, NULL) < 0)
			return -ENOMEM;
	} else {
		res = json_object_new_object();
	}
	if (json_get_array(res, "devices", &devs) < 0) {
		devs = json_object_new_array();
		json_object_object_add(res, "devices", devs);
	}
	for (size_t i = 0; i < ELEMENTSOF(defaults); i++)
		json_object_array_add(devs, device_rule(true, defaults[i].type, defaults[i].major,
							defaults[i].minor, defaults[i].access));
	*ret = res;
	return 0;
}

struct create_job {
	struct runtime_ctx *rt;
	const struct create_opts *o;
	struct spec *spec;
	struct container_state st;
	struct cgroup *cg;
	struct caps *caps;
	struct seccomp_prog *seccomp;
	int dirfd;
	int sync[2];
	int fifo_fd;
	int console_fd;
	pid_t pid;
	int pty_master;
	bool userns;
	int listen_fds; /* socket activation's, passed before the preserved ones */
};

int container_send_listener(const struct seccomp_prog *p, const struct container_state *st,
			    enum container_status status, pid_t pid, int fd)
{
	const char *path = seccomp_prog_listener_path(p);
	_cleanup_json_ struct json_object *state = NULL;
	_cleanup_free_ char *msg = NULL;
	int r;

	if (fd < 0 || !path)
		return log_error_errno(-EBADMSG, "the container process sent no seccomp listener");
	if ((r = state_to_json(st, status, &state)) < 0 ||
	    (r = seccomp_listener_state(p, pid, state, &msg)) < 0)
		return log_error_errno(r, "seccomp listener state: %m");
	if ((r = seccomp_send_listener(path, fd, msg)) < 0)
		return log_error_errno(r, "send the seccomp listener to '%s': %m", path);
	return 0;
}

/* A send to the init failed: it has most likely exited, after queueing why. */
static int init_failure(struct create_job *j, int r)
{
	struct sync_msg m;

	if (sync_recv(j->sync[0], &m, NULL) == 0 && m.type == SYNC_ERROR)
		return log_error_errno(m.error < 0 ? m.error : -EIO, "%s", m.text);
	return log_error_errno(r, "sync with the container init: %m");
}

/*
 * The state before anything outside the state directory is made: the init's pid, the
 * cgroup as it is about to be, the lazy image. Should this process be killed from here on,
 * `delete --force` finds what to undo. Written while the init mounts, off the start path.
 */
static int save_early_state(struct create_job *j)
{
	unsigned long long t;
	int r;

	if (j->pid > 0) {
		if ((r = proc_start_time(j->pid, &t, NULL)) < 0)
			return log_error_errno(r, "container init %d is gone", j->pid);
		j->st.pid = j->pid;
		j->st.start_time = t;
	}
	j->st.systemd_cgroup = j->rt->systemd_cgroup;
	json_putp(&j->st.cgroup);
	if (j->cg && (r = cgroup_serialize_planned(j->cg, &j->st.cgroup)) < 0)
		return log_error_errno(r, "serialise cgroup: %m");
	if ((r = state_save(j->dirfd, &j->st)) < 0)
		return log_error_errno(r, "save state: %m");
	return 0;
}

/* A bind mount the init makes from a source path (an idmapped one is the runtime's mount). */
static bool bind_source_sent(const struct spec_mount *m)
{
	return (m->kind & MOUNT_BIND) && !(m->kind & MOUNT_IDMAP) && m->source;
}

static int send_bind_sources_here(struct create_job *j)
{
	const struct spec *s = j->spec;
	int r;

	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *m = &s->mounts[i];
		if (!bind_source_sent(m))
			continue;
		_cleanup_close_ int fd = open(m->source, O_PATH | O_CLOEXEC);
		if (fd < 0)
			return log_error_errno(-errno, "bind mount source '%s' for '%s': %m",
					       m->source, m->destination);
		if ((r = sync_send_fd_error(j->sync[0], SYNC_BIND_SOURCE, (int)i, fd)) < 0)
			return init_failure(j, r);
	}
	return 0;
}

/*
 * Bind mount sources of a container with a user namespace of its own, opened as runc opens
 * them: by the runtime, with its credentials, in the init's mount namespace (a mount can be
 * bound only in the namespace it is in). The init, root of its own user namespace only, may
 * not be able to resolve a source's path (one under a directory only the host's root may
 * pass); it binds the fd sent here instead. Joining the init's mount namespace needs
 * CAP_SYS_ADMIN over its user namespace, which a rootless runtime lacks: as runc, it leaves
 * the sources to the init. Nothing else runs until we are back in our own namespace, root
 * and cwd (setns() moves both to the namespace's root).
 */
static int send_bind_sources(struct create_job *j)
{
	const struct spec *s = j->spec;
	_cleanup_close_ int own = -EBADF, theirs = -EBADF, root = -EBADF, cwd = -EBADF;
	char path[64];
	bool any = false;
	int r;

	for (size_t i = 0; i < s->n_mounts; i++)
		any = any || bind_source_sent(&s->mounts[i]);
	if (!any || !j->userns || j->rt->rootless || !(clone_flags(s) & CLONE_NEWNS))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", j->pid);
	if ((own = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC)) < 0 ||
	    (theirs = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    (root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return log_error_errno(-errno,
				       "open the mount namespaces for bind mount sources: %m");
	if (FAULT_OR("namespace", setns(theirs, CLONE_NEWNS)) < 0)
		return log_error_errno(-errno, "join the container init's mount namespace: %m");
	/* a relative source is where it was before the setns */
	r = fchdir(cwd) < 0 ? log_error_errno(-errno, "chdir back to our cwd: %m")
			    : send_bind_sources_here(j);
	if (setns(own, CLONE_NEWNS) < 0 || fchdir(root) < 0 || chroot(".") < 0 || fchdir(cwd) < 0)
		return log_error_errno(-errno, "return to the runtime's mount namespace: %m");
	return r;
}

static int parent_handshake(struct create_job *j)
{
	const struct spec *s = j->spec;
	struct sync_msg m;
	int r, fd;

	if (j->userns) {
		/* Without CAP_SETGID over the parent namespace's gids, setgroups must be denied
		 * before gid_map can be written; rootless does this. */
		if (j->rt->rootless) {
			char path[64];

			snprintf(path, sizeof(path), "/proc/%d/setgroups", j->pid);
			(void)write_string_at(AT_FDCWD, path, "deny");
		}
		if ((r = idmap_write(j->pid, "uid_map", s->uid_maps, s->n_uid_maps)) < 0)
			return log_error_errno(r, "write uid_map of the user namespace: %m");
		if ((r = idmap_write(j->pid, "gid_map", s->gid_maps, s->n_gid_maps)) < 0)
			return log_error_errno(r, "write gid_map of the user namespace: %m");
	}
	if ((r = send_bind_sources(j)) < 0)
		return r;
	/* The init sets up its mounts while we make its cgroups: on a v1 host that is a
	 * dozen directories and the writes of every limit, ~4 ms here. It forks nothing
	 * and runs no code of the container until SYNC_HOOKS_DONE, which follows this. */
	if ((r = sync_send(j->sync[0], SYNC_GO, 0, NULL)) < 0)
		return init_failure(j, r);
	if ((r = save_early_state(j)) < 0)
		return r;
	if ((r = cgroup_enter(j->cg, j->pid)) < 0)
		return r;
	if ((r = sync_send(j->sync[0], SYNC_CGROUP_DONE, 0, NULL)) < 0)
		return init_failure(j, r);
	for (;;) {
		r = sync_recv(j->sync[0], &m, &fd);
		if (r == -EPIPE)
			return log_error_errno(r, "container init exited before it was ready");
		if (r < 0)
			return log_error_errno(r, "sync with the container init: %m");
		switch (m.type) {
		case SYNC_ERROR:
			return log_error_errno(m.error < 0 ? m.error : -EIO, "%s", m.text);
		case SYNC_PTY:
			j->pty_master = fd;
			terminal_clear_onlcr(fd);
			break;
		case SYNC_SECCOMP:
			j->st.pid = j->pid;
			r = container_send_listener(j->seccomp, &j->st, STATUS_CREATING, j->pid,
						    fd);
			safe_close(fd);
			if (r < 0)
				return r;
			break;
		case SYNC_HOOKS: {
			_cleanup_free_ char *state = hook_state(&j->st, STATUS_CREATING);
			if (!state)
				return -ENOMEM;
			r = hooks_run(&s->hooks[HOOK_PRESTART], "prestart", state);
			if (r >= 0)
				r = hooks_run(&s->hooks[HOOK_CREATE_RUNTIME], "createRuntime",
					      state);
			if (r < 0)
				return r;
			if (strlen(state) >= sizeof(m.text))
				return log_error_errno(-E2BIG,
						       "container state too large for hooks");
			if ((r = sync_send(j->sync[0], SYNC_HOOKS_DONE, 0, state)) < 0)
				return init_failure(j, r);
			break;
		}
		case SYNC_CREATED:
			return 0;
		default:
			return log_error_errno(
			    -EBADMSG, "unexpected message %u from the container init", m.type);
		}
	}
}

static int spawn_init(struct create_job *j)
{
	unsigned long flags = clone_flags(j->spec);
	struct init_ctx ic = {
	    .spec = j->spec,
	    .id = j->o->id,
	    .rootfs = j->st.rootfs,
	    .sync_fd = j->sync[1],
	    .fifo_fd = j->fifo_fd,
	    .console_fd = j->console_fd,
	    .pty_to_parent = j->o->pty_to_parent,
	    .new_userns = (flags & CLONE_NEWUSER) != 0,
	    .setgroups_denied = j->rt->rootless && (flags & CLONE_NEWUSER),
	    .no_pivot = j->o->no_pivot,
	    .no_new_keyring = j->o->no_new_keyring,
	    .preserve_fds = j->o->preserve_fds + j->listen_fds,
	    .caps = j->caps,
	    .seccomp = j->seccomp,
	};
	int r;

	j->userns = ic.new_userns;
	/* The pid and time namespaces joined or made for the init apply to every later child:
	 * once it is cloned, ours again, so that hooks (and any other child of the runtime)
	 * run where the runtime runs. Only when there is one to leave. */
	const struct spec_namespace *pidns = spec_find_namespace(j->spec, CLONE_NEWPID);
	bool joins_pid = pidns && pidns->path;
	bool joins_time = spec_find_namespace(j->spec, CLONE_NEWTIME) != NULL;
	_cleanup_close_ int own_pid =
	    joins_pid ? open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC) : -EBADF;
	_cleanup_close_ int own_time =
	    joins_time ? open("/proc/self/ns/time", O_RDONLY | O_CLOEXEC) : -EBADF;
	if ((r = prepare_parent_namespaces(j->spec)) < 0)
		return r;
	pid_t pid = (pid_t)FAULT_OR("namespace",
				    syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL));
	if (pid < 0)
		return log_error_errno(-errno, "clone the container init: %m");
	if (pid == 0) {
		safe_close(j->sync[0]);
		init_main(&ic);
	}
	if (own_pid >= 0 && setns(own_pid, CLONE_NEWPID) < 0)
		log_debug("return to our pid namespace: %m, ignoring");
	if (own_time >= 0 && setns(own_time, CLONE_NEWTIME) < 0)
		log_debug("return to our time namespace: %m, ignoring");
	j->pid = pid;
	j->sync[1] = safe_close(j->sync[1]);
	return 0;
}

static int prepare(struct create_job *j)
{
	const struct create_opts *o = j->o;
	struct spec *s = j->spec;
	char path[PATH_MAX];
	int r;

	if (!(j->st.id = strdup(o->id)) || !(j->st.created = now_rfc3339()))
		return -ENOMEM;
	if (!realpath(o->bundle, path))
		return log_error_errno(-errno, "bundle '%s': %m", o->bundle);
	if (!(j->st.bundle = strdup(path)))
		return -ENOMEM;
	j->st.owner = getuid();
	j->st.annotations = s->annotations ? json_object_get(s->annotations) : NULL;
	/* a lazy image named by the annotations, else root.path, relative to the bundle */
	if ((r = lazy_rootfs_resolve(j->rt->root, o->id, s->annotations, true, s->root_path,
				     o->bundle, &j->st.extra, &j->st.rootfs, NULL)) < 0)
		return r;
	/* what a killed create leaves of the lazy image, `delete --force` releases */
	if (j->st.extra && (r = save_early_state(j)) < 0)
		return r;
	if (s->process.terminal && !o->console_socket && !o->pty_to_parent)
		return log_error_errno(-EINVAL,
				       "process.terminal is set: --console-socket is required");
	if (!s->process.terminal && o->console_socket)
		return log_error_errno(-EINVAL,
				       "--console-socket given but process.terminal is false");
	/* Settings that would change the host where the container shares its namespace. */
	const struct spec_namespace *uts = spec_find_namespace(s, CLONE_NEWUTS);
	/* a uts namespace joined by path is the container's own too, as runc sees it */
	if ((s->hostname || s->domainname) && !uts)
		return log_error_errno(
		    -EINVAL,
		    "config.json: hostname and domainname need a uts namespace of the container");
	if (s->sysctl) {
		const struct spec_namespace *net = spec_find_namespace(s, CLONE_NEWNET);
		const struct spec_namespace *ipc = spec_find_namespace(s, CLONE_NEWIPC);
		json_object_object_foreach(s->sysctl, key, val)
		{
			const char *v = json_object_get_string(val);
			/* as runc: the hostname is the hostname field's alone, and a domainname
			 * given twice must agree */
			if (strcmp(key, "kernel.hostname") == 0)
				return log_error_errno(
				    -EINVAL, "config.json: sysctl 'kernel.hostname' is not "
					     "allowed: it conflicts with the hostname field");
			if (strcmp(key, "kernel.domainname") == 0 && s->domainname &&
			    strcmp(s->domainname, v ? v : "") != 0)
				return log_error_errno(
				    -EINVAL,
				    "config.json: sysctl 'kernel.domainname' = '%s' "
				    "conflicts with the domainname field '%s'",
				    v ? v : "", s->domainname);
			bool ok = (strncmp(key, "net.", 4) == 0 && net) ||
				  ((strncmp(key, "kernel.msg", 10) == 0 ||
				    strcmp(key, "kernel.sem") == 0 ||
				    strncmp(key, "kernel.shm", 10) == 0 ||
				    strncmp(key, "fs.mqueue.", 10) == 0) &&
				   ipc) ||
				  ((strcmp(key, "kernel.hostname") == 0 ||
				    strcmp(key, "kernel.domainname") == 0) &&
				   uts);
			if (!ok)
				return log_error_errno(-EINVAL,
						       "config.json: sysctl '%s' is not in a "
						       "namespace of the container",
						       key);
		}
	}
	if (s->has_intel_rdt)
		return log_error_errno(-EOPNOTSUPP,
				       "config.json: linux.intelRdt is not supported on this host");
	if (!s->has_process)
		return log_error_errno(-EINVAL,
				       "config.json: process is required to create a container");
	/* Without SELinux there is no label to give the mounts: crun ignores it, as podman and
	 * CRI-O expect (runc passes context= to the kernel, which refuses it on tmpfs). */
	if (s->mount_label && *s->mount_label && access("/sys/fs/selinux/enforce", F_OK) < 0)
		log_debug("linux.mountLabel '%s': SELinux is not enabled, ignoring",
			  s->mount_label);
	if (spec_find_namespace(s, CLONE_NEWUSER) && !spec_find_namespace(s, CLONE_NEWUSER)->path &&
	    (!s->n_uid_maps || !s->n_gid_maps))
		return log_error_errno(
		    -EINVAL,
		    "config.json: a new user namespace needs linux.uidMappings and gidMappings");
	if ((r = caps_parse(s->process.capabilities, &j->caps)) < 0)
		return r;
	if (s->seccomp && (r = seccomp_prog_compile(s->seccomp, &j->seccomp)) < 0)
		return r;
	_cleanup_json_ struct json_object *res = NULL;
	if ((r = container_effective_resources(s, &res)) < 0)
		return log_error_errno(r, "linux.resources: %m");
	struct cgroup_opts co = {.root = "/sys/fs/cgroup",
				 .path = s->cgroups_path,
				 .id = o->id,
				 .resources = res,
				 .rootless = j->rt->rootless};
	const char *policy = NULL;
	if (s->process.scheduler && json_get_string(s->process.scheduler, "policy", &policy) == 0 &&
	    (strcmp(policy, "SCHED_FIFO") == 0 || strcmp(policy, "SCHED_RR") == 0))
		co.realtime_policy = policy;
	if ((r = cgroup_new(&co, &j->cg)) < 0)
		return r;
	for (size_t i = 0; i < s->n_mounts; i++)
		if ((s->mounts[i].kind & MOUNT_IDMAP) &&
		    (r = idmap_mount_open(&s->mounts[i], &s->mounts[i].idmap_fd)) < 0)
			return r;
	if (o->console_socket &&
	    (r = terminal_connect_console(o->console_socket, &j->console_fd)) < 0)
		return log_error_errno(r, "connect to console socket '%s': %m", o->console_socket);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, j->sync) < 0)
		return log_error_errno(-errno, "socketpair: %m");
	return 0;
}

static int make_state_dir(struct create_job *j)
{
	if (mkdirat(j->rt->rootfd, j->o->id, 0700) < 0) {
		if (errno == EEXIST)
			return log_error_errno(-EEXIST, "container '%s' already exists", j->o->id);
		return log_error_errno(-errno, "create state directory '%s/%s': %m", j->rt->root,
				       j->o->id);
	}
	j->dirfd = openat(j->rt->rootfd, j->o->id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0)
		return -errno;
	if (mkfifoat(j->dirfd, EXEC_FIFO, 0600) < 0)
		return log_error_errno(-errno, "create exec fifo: %m");
	/* O_RDWR never blocks; the init blocks reading it until start writes a byte. */
	j->fifo_fd = openat(j->dirfd, EXEC_FIFO, O_RDWR | O_CLOEXEC);
	if (j->fifo_fd < 0)
		return log_error_errno(-errno, "open exec fifo: %m");
	return 0;
}

static int finish(struct create_job *j)
{
	int r;

	json_putp(&j->st.cgroup);
	if ((r = cgroup_serialize(j->cg, &j->st.cgroup)) < 0)
		return log_error_errno(r, "serialise cgroup: %m");
	bool later_hooks = j->spec->hooks[HOOK_POSTSTOP].n || j->spec->hooks[HOOK_POSTSTART].n;
	return state_commit(j->dirfd, &j->st, later_hooks ? j->spec->json : NULL, j->o->pid_file);
}

static void job_undo(struct create_job *j)
{
	if (j->pid > 0) {
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
	}
	if (j->cg)
		(void)cgroup_destroy(j->cg);
	(void)lazy_rootfs_release(j->st.extra);
	if (j->dirfd >= 0)
		(void)rm_rf_at(j->rt->rootfd, j->o->id);
}

static void job_done(struct create_job *j)
{
	safe_close(j->dirfd);
	safe_close(j->sync[0]);
	safe_close(j->sync[1]);
	safe_close(j->fifo_fd);
	safe_close(j->console_fd);
	cgroup_free(j->cg);
	caps_free(j->caps);
	seccomp_prog_free(j->seccomp);
	spec_free(j->spec);
	state_done(&j->st);
}

int container_create(struct runtime_ctx *rt, const struct create_opts *o, struct created *ret)
{
	struct create_job j = {.rt = rt,
			       .o = o,
			       .dirfd = -EBADF,
			       .sync = {-EBADF, -EBADF},
			       .fifo_fd = -EBADF,
			       .console_fd = -EBADF,
			       .pty_master = -EBADF};
	int r;

	if (state_check_id(o->id) < 0) {
		r = log_error_errno(-EINVAL, "invalid container id '%s'", o->id);
		goto out;
	}
	if ((r = spec_load(o->bundle, &j.spec)) < 0 || (r = make_state_dir(&j)) < 0 ||
	    (r = listen_fds_prepare(j.spec, o->preserve_fds, &j.listen_fds)) < 0 ||
	    (r = notify_socket_prepare(j.spec, rt->root, o->id, j.dirfd)) < 0 ||
	    (r = prepare(&j)) < 0 || (r = spawn_init(&j)) < 0 || (r = parent_handshake(&j)) < 0 ||
	    (r = finish(&j)) < 0) {
		job_undo(&j);
		goto out;
	}
	ret->pid = j.pid;
	ret->pty_master = TAKE_FD(j.pty_master);
	r = 0;
out:
	safe_close(j.pty_master);
	job_done(&j);
	return r;
}

int container_load(struct runtime_ctx *rt, const char *id, struct container_state **ret_state,
		   enum container_status *ret_status)
{
	_cleanup_(state_freep) struct container_state *st = NULL;
	enum container_status status;
	int r;

	r = state_load(rt->rootfd, id, &st);
	if (r < 0)
		return r;
	if ((r = state_status(rt->rootfd, st, &status)) < 0)
		return r;
	if (status == STATUS_RUNNING && st->cgroup) {
		_cleanup_(cgroup_freep) struct cgroup *cg = NULL;
		bool frozen = false;
		if (cgroup_deserialize(st->cgroup, &cg) == 0 &&
		    cgroup_is_frozen(cg, &frozen) == 0 && frozen)
			status = STATUS_PAUSED;
	}
	*ret_state = TAKE_PTR(st);
	*ret_status = status;
	return 0;
}

int container_start(struct runtime_ctx *rt, const char *id)
{
	_cleanup_(state_freep) struct container_state *st = NULL;
	_cleanup_close_ int dfd = -EBADF, fifo = -EBADF;
	enum container_status status;
	int r;

	r = container_load(rt, id, &st, &status);
	if (r == -ENOENT)
		return container_not_found(id);
	if (r < 0)
		return log_error_errno(r, "load state of '%s': %m", id);
	if (status != STATUS_CREATED)
		return log_error_errno(-EINVAL,
				       "cannot start container '%s': it is %s, not created", id,
				       state_status_name(status));
	if ((r = state_open_dir(rt->rootfd, id, &dfd)) < 0)
		return log_error_errno(r, "open state of '%s': %m", id);
	/* A read end of our own tells when the init has exec'd: its fifo fd is close-on-exec,
	 * and with no writer left the read end reports POLLHUP. */
	_cleanup_close_ int watch = openat(dfd, EXEC_FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	/* The init holds the fifo open, so this does not block; ENXIO means it is gone. */
	fifo = openat(dfd, EXEC_FIFO, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fifo < 0 || watch < 0)
		return log_error_errno(-errno, "container init is not waiting: %m");
	if (write(fifo, "0", 1) != 1)
		return log_error_errno(-errno, "wake the container init: %m");
	fifo = safe_close(fifo);
	(void)unlinkat(dfd, EXEC_FIFO, 0);
	/* Return once the program runs, as runc does in effect: a signal sent right after
	 * start must reach the program, not the init before its exec. Bounded, in case a
	 * startContainer hook hangs. */
	for (int waited = 0; waited < 10000;) {
		struct pollfd p = {.fd = watch, .events = 0};
		int n = poll(&p, 1, 100);
		if (n > 0 && (p.revents & (POLLHUP | POLLERR)))
			break;
		if (n < 0 && errno != EINTR)
			break;
		waited += 100;
		if (kill(st->pid, 0) < 0)
			break;
	}

	/* poststart hooks; a failure is a warning (runtime-spec). */
	_cleanup_json_ struct json_object *cfg = NULL;
	_cleanup_(spec_freep) struct spec *spec = NULL;
	if (json_parse_file_at(dfd, "config.json", &cfg) == 0 && spec_parse(cfg, &spec) == 0 &&
	    spec->hooks[HOOK_POSTSTART].n) {
		_cleanup_free_ char *state = hook_state(st, STATUS_RUNNING);
		if (state && hooks_run(&spec->hooks[HOOK_POSTSTART], "poststart", state) < 0)
			log_warning("start '%s': a poststart hook failed, ignoring", id);
	}
	return 0;
}

static struct cgroup *load_cgroup(const struct container_state *st)
{
	struct cgroup *cg = NULL;

	if (st->cgroup && cgroup_deserialize(st->cgroup, &cg) < 0)
		return NULL;
	return cg;
}

int container_kill(struct runtime_ctx *rt, const char *id, int sig, bool all)
{
	_cleanup_(state_freep) struct container_state *st = NULL;
	enum container_status status;
	int r;

	r = container_load(rt, id, &st, &status);
	if (r == -ENOENT)
		return container_not_found(id);
	if (r < 0)
		return log_error_errno(r, "load state of '%s': %m", id);
	if (status == STATUS_STOPPED && !all)
		return log_error_errno(-ESRCH, "container not running");
	if (all) {
		_cleanup_(cgroup_freep) struct cgroup *cg = load_cgroup(st);
		if (cg && (r = cgroup_kill_all(cg, sig)) < 0)
			return log_error_errno(r, "kill all processes of '%s': %m", id);
		if (status != STATUS_STOPPED)
			(void)kill(st->pid, sig);
		return 0;
	}
	if (kill(st->pid, sig) < 0)
		return log_error_errno(-errno, "kill container '%s' (pid %d): %m", id, st->pid);
	return 0;
}

/* Wait until PID is gone (up to TIMEOUT_MS); works for non-children through a pidfd. */
static int wait_gone(pid_t pid, unsigned long long start_time, int timeout_ms)
{
	_cleanup_close_ int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	unsigned long long t;
	bool zombie;

	if (pfd < 0)
		return errno == ESRCH ? 0 : -errno;
	if (proc_start_time(pid, &t, &zombie) < 0 || t != start_time)
		return 0;
	return pidfd_wait(pfd, timeout_ms);
}

struct under_dir {
	const char *dir;
	size_t len;
	char **found; /* NULL-terminated */
	size_t n;
};

static int collect_under(const struct mountinfo_entry *e, void *userdata)
{
	struct under_dir *u = userdata;

	if (strncmp(e->mount_point, u->dir, u->len) != 0 || e->mount_point[u->len] != '/')
		return 0;
	char **nf = realloc(u->found, (u->n + 2) * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	u->found = nf;
	if (!(u->found[u->n] = strdup(e->mount_point)))
		return -ENOMEM;
	u->found[++u->n] = NULL;
	return 0;
}

/*
 * Unmount whatever is mounted under the state directory of ID (a restore's root, the masked
 * tmpfs, a lazy image's overlay), deepest first: what a runtime killed half-way left there.
 */
static void umount_state_dir(struct runtime_ctx *rt, const char *id)
{
	_cleanup_free_ char *dir = path_join(rt->root, id);
	struct under_dir u = {.dir = dir, .len = dir ? strlen(dir) : 0};

	if (!dir)
		return;
	int r = mountinfo_foreach("/proc/self/mountinfo", collect_under, &u);
	if (r < 0)
		log_warning_errno(r, "delete '%s': read the mount table: %m, ignoring", id);
	/* mountinfo lists parents before children */
	while (u.n-- > 0)
		if (umount2(u.found[u.n], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			log_warning("delete '%s': unmount '%s': %m, ignoring", id, u.found[u.n]);
	strv_free(u.found);
}

int container_delete(struct runtime_ctx *rt, const char *id, bool force)
{
	_cleanup_(state_freep) struct container_state *st = NULL;
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;
	_cleanup_close_ int dfd = -EBADF;
	enum container_status status;
	int r;

	r = container_load(rt, id, &st, &status);
	if (r == -ENOENT) {
		/* A create killed half-way leaves a directory without state, and maybe part of a
		 * lazy rootfs: --force removes them. */
		if (force && state_check_id(id) == 0) {
			if ((r = lazy_rootfs_forget(rt->root, id)) < 0)
				log_warning_errno(r, "delete '%s': its lazy rootfs: %m, ignoring",
						  id);
			umount_state_dir(rt, id);
			(void)rm_rf_at(rt->rootfd, id);
			return 0;
		}
		return force ? 0 : container_not_found(id);
	}
	if (r < 0 && !force)
		return log_error_errno(r, "load state of '%s': %m", id);
	if (r < 0) {
		(void)lazy_rootfs_forget(rt->root, id);
		umount_state_dir(rt, id);
		return rm_rf_at(rt->rootfd, id);
	}
	if ((status == STATUS_RUNNING || status == STATUS_PAUSED) && !force)
		return log_error_errno(-EBUSY,
				       "cannot delete container '%s' that is not stopped: %s", id,
				       state_status_name(status));
	cg = load_cgroup(st);
	if (status != STATUS_STOPPED) {
		if (cg) {
			if (status == STATUS_PAUSED)
				(void)cgroup_freeze(cg, false);
			(void)cgroup_kill_all(cg, SIGKILL);
		}
		(void)kill(st->pid, SIGKILL);
		if (wait_gone(st->pid, st->start_time, 10000) < 0)
			log_warning("delete '%s': pid %d did not exit within 10 s", id, st->pid);
	}
	if (state_open_dir(rt->rootfd, id, &dfd) == 0) {
		_cleanup_json_ struct json_object *cfg = NULL;
		_cleanup_(spec_freep) struct spec *spec = NULL;
		if (json_parse_file_at(dfd, "config.json", &cfg) == 0 &&
		    spec_parse(cfg, &spec) == 0 && spec->hooks[HOOK_POSTSTOP].n) {
			_cleanup_free_ char *state = hook_state(st, STATUS_STOPPED);
			if (state && hooks_run(&spec->hooks[HOOK_POSTSTOP], "poststop", state) < 0)
				log_warning("delete '%s': a poststop hook failed, ignoring", id);
		}
	}
	/* --force leaves no process: the init may be gone and others not (a shared pid
	 * namespace, a create or restore killed half-way) */
	if (cg && force)
		(void)cgroup_kill_all(cg, SIGKILL);
	if (cg && (r = cgroup_destroy(cg)) < 0)
		log_warning_errno(r, "delete '%s': remove its cgroup: %m, ignoring", id);
	if ((r = lazy_rootfs_release(st->extra)) < 0)
		log_warning_errno(r, "delete '%s': release its lazy image: %m, ignoring", id);
	umount_state_dir(rt, id);
	if ((r = rm_rf_at(rt->rootfd, id)) < 0)
		return log_error_errno(r, "delete '%s': remove its state: %m", id);
	return 0;
}
