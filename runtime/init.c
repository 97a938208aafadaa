/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <net/if.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "common/fault.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "hooks.h"
#include "init.h"
#include "process.h"
#include "rootfs.h"
#include "seccomp-filter.h"
#include "sync.h"
#include "terminal.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#define KEYCTL_JOIN_SESSION_KEYRING 1

static char errbuf[2048];
/* The OCI state the runtime sent with SYNC_HOOKS_DONE, for startContainer hooks. */
static char state_json[sizeof(((struct sync_msg *)0)->text)];

static _Noreturn void fail(struct init_ctx *c, int r)
{
	if (!errbuf[0])
		snprintf(errbuf, sizeof(errbuf), "container init: %s", strerror(-r));
	sync_send(c->sync_fd, SYNC_ERROR, r, errbuf);
	_exit(1);
}

static int join_namespaces(struct init_ctx *c)
{
	const struct spec *s = c->spec;

	/* The user namespace first: the others are owned by it. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < s->n_namespaces; i++) {
			const struct spec_namespace *ns = &s->namespaces[i];
			bool user = ns->type == CLONE_NEWUSER;

			/* pid and time namespaces were joined by the parent (they apply
			 * to children only). */
			if (!ns->path || ns->type == CLONE_NEWPID || ns->type == CLONE_NEWTIME ||
			    user != (pass == 0))
				continue;
			_cleanup_close_ int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return log_error_errno(-errno, "open %s namespace '%s': %m",
						       spec_namespace_name(ns->type), ns->path);
			if (FAULT_OR("namespace", setns(fd, ns->type)) < 0)
				return log_error_errno(-errno, "join %s namespace '%s': %m",
						       spec_namespace_name(ns->type), ns->path);
		}
	return 0;
}

/* A new network namespace starts with its loopback down; runc brings it up. */
static int loopback_up(void)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {.ifr_name = "lo"};

	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return log_error_errno(-errno, "bring up the loopback interface: %m");
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return log_error_errno(-errno, "bring up the loopback interface: %m");
	return 0;
}

static int apply_sysctl(const struct spec *s)
{
	if (!s->sysctl)
		return 0;
	json_object_object_foreach(s->sysctl, key, val)
	{
		char path[512];
		const char *v = json_object_get_string(val);

		if (strstr(key, "..") || strchr(key, '/'))
			return log_error_errno(-EINVAL, "sysctl '%s': not a valid name", key);
		snprintf(path, sizeof(path), "/proc/sys/%s", key);
		for (char *p = path + 10; *p; p++)
			if (*p == '.')
				*p = '/';
		int r = write_string_at(AT_FDCWD, path, v ? v : "");
		if (r < 0)
			return log_error_errno(r, "sysctl '%s' = '%s': %m", key, v ? v : "");
	}
	return 0;
}

static int setup_terminal(struct init_ctx *c)
{
	_cleanup_close_ int master = -EBADF, slave = -EBADF;
	char name[64];
	int r;

	if ((r = terminal_open(&c->spec->process, &master, &slave, name, sizeof(name))) < 0)
		return r;
	/* /dev/console is the pty, as runc makes it. */
	if (access("/dev", F_OK) == 0) {
		int f = open("/dev/console", O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (f >= 0) {
			safe_close(f);
			if (FAULT_OR("mount", mount(name, "/dev/console", NULL, MS_BIND, NULL)) < 0)
				return log_error_errno(-errno, "bind '%s' on '/dev/console': %m",
						       name);
		}
	}
	if (c->console_fd >= 0)
		r = send_fd_with_name(c->console_fd, master, name);
	else
		r = sync_send_fd(c->sync_fd, SYNC_PTY, master);
	if (r < 0)
		return log_error_errno(r, "send the pty to the console socket: %m");
	c->console_fd = safe_close(c->console_fd);
	return terminal_attach(slave);
}

static int wait_for_start(struct init_ctx *c)
{
	char b;
	ssize_t n;

	do
		n = read(c->fifo_fd, &b, 1);
	while (n < 0 && errno == EINTR);
	/* The fd stays open until execve closes it: `start` waits for that. */
	return n == 1 ? 0 : -EPIPE;
}

/* Once the runtime has put us in our cgroups: our own cgroup namespace, rooted there. */
static int after_cgroups(void *userdata)
{
	struct init_ctx *c = userdata;
	const struct spec_namespace *ns = spec_find_namespace(c->spec, CLONE_NEWCGROUP);
	struct sync_msg m;
	int r;

	if ((r = sync_recv(c->sync_fd, &m, NULL)) < 0)
		return log_error_errno(r, "sync with the runtime: %m");
	if (m.type != SYNC_CGROUP_DONE)
		_exit(1); /* the runtime failed and reports why */
	if (ns && !ns->path && FAULT_OR("namespace", unshare(CLONE_NEWCGROUP)) < 0)
		return log_error_errno(-errno, "create a cgroup namespace: %m");
	return 0;
}

/* A process.cwd missing in the rootfs is made, as runc makes it: by the init, before the
 * user changes and before the rootfs goes read-only, inside the root, mode 0755. */
static int create_cwd(const struct spec_process *p)
{
	_cleanup_close_ int root = -EBADF;
	int r;

	if (!p->cwd)
		return 0;
	if ((root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return log_error_errno(-errno, "open the container's root: %m");
	if ((r = mkdir_in_root(root, p->cwd, false)) < 0)
		return log_error_errno(r, "create cwd '%s' set in config.json: %m", p->cwd);
	return 0;
}

static int setup_container(struct init_ctx *c, struct process_ctx *pc)
{
	const struct spec *s = c->spec;
	struct rootfs_ctx rc = {.spec = s,
				.rootfs = c->rootfs,
				.userns = c->new_userns || spec_find_namespace(s, CLONE_NEWUSER),
				.no_pivot = c->no_pivot,
				.rootfd = -EBADF,
				.bind_fds = c->bind_fds,
				.before_cgroup_mounts = after_cgroups,
				.userdata = c};
	struct sync_msg m;
	int r;

	if (c->new_userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		return log_error_errno(-errno, "become root in the user namespace: %m");
	if ((r = join_namespaces(c)) < 0)
		return r;
	const struct spec_namespace *net = spec_find_namespace(s, CLONE_NEWNET);
	if (net && !net->path && (r = loopback_up()) < 0)
		return r;
	if (!c->no_new_keyring && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, c->id) < 0 &&
	    errno != ENOSYS && errno != EPERM)
		return log_error_errno(-errno, "join a new session keyring: %m");
	/* Without a mount namespace of its own the container shares the host's mounts:
	 * nothing is mounted, and the rootfs is entered with chroot, as runc does. */
	bool own_mounts = spec_find_namespace(s, CLONE_NEWNS) != NULL;
	if (own_mounts && (r = rootfs_prepare(&rc)) < 0)
		return r;
	for (size_t i = 0; c->bind_fds && i < s->n_mounts; i++)
		c->bind_fds[i] = safe_close(c->bind_fds[i]);
	if (!own_mounts && (r = after_cgroups(c)) < 0)
		return r;
	if ((r = sync_send(c->sync_fd, SYNC_HOOKS, 0, NULL)) < 0 ||
	    (r = sync_recv(c->sync_fd, &m, NULL)) < 0)
		return log_error_errno(r, "sync with the runtime: %m");
	if (m.type != SYNC_HOOKS_DONE)
		_exit(1); /* the parent failed and reports why */
	memcpy(state_json, m.text, sizeof(state_json));
	/* In the rootfs (runc's cwd here), with the runtime's environment. */
	if ((r = hooks_run_in(&s->hooks[HOOK_CREATE_CONTAINER], "createContainer", state_json,
			      c->rootfs, NULL)) < 0)
		return r;
	if (!own_mounts) {
		if (chroot(c->rootfs) < 0 || chdir("/") < 0)
			return log_error_errno(-errno, "chroot into '%s': %m", c->rootfs);
	} else if ((r = rootfs_pivot(&rc)) < 0) {
		return r;
	}
	if ((r = create_cwd(&s->process)) < 0)
		return r;
	if ((r = apply_sysctl(s)) < 0 || (own_mounts && (r = rootfs_finalize(&rc)) < 0))
		return r;
	safe_close(rc.rootfd);
	if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
		return log_error_errno(-errno, "set hostname '%s': %m", s->hostname);
	if (s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0)
		return log_error_errno(-errno, "set domainname '%s': %m", s->domainname);
	if (s->has_personality && personality(s->personality) < 0)
		return log_error_errno(-errno, "set personality: %m");
	if (s->process.terminal && (r = setup_terminal(c)) < 0)
		return r;
	/* The init leads a session of its own, as runc's does: CRIU refuses to dump a tree whose
	 * session leader is outside its pid namespace. */
	if (!s->process.terminal && setsid() < 0 && errno != EPERM)
		return log_error_errno(-errno, "create a new session: %m");
	if ((r = process_prepare_env(pc)) < 0 || (r = process_find_exec(pc)) < 0 ||
	    (r = process_apply_limits(pc)) < 0)
		return r;
	return 0;
}

/* Until SYNC_GO the runtime may send bind mount sources it opened (send_bind_sources()). */
static int wait_for_go(struct init_ctx *c)
{
	size_t n = c->spec->n_mounts;
	struct sync_msg m;
	int fd, r;

	for (;;) {
		if ((r = sync_recv(c->sync_fd, &m, &fd)) < 0)
			return r;
		if (m.type == SYNC_GO)
			return 0;
		if (m.type != SYNC_BIND_SOURCE || fd < 0 || m.error < 0 || (size_t)m.error >= n) {
			safe_close(fd);
			return -EBADMSG;
		}
		if (!c->bind_fds) {
			c->bind_fds = malloc(n * sizeof(int));
			if (!c->bind_fds)
				return -ENOMEM;
			for (size_t i = 0; i < n; i++)
				c->bind_fds[i] = -EBADF;
		}
		safe_close(c->bind_fds[m.error]);
		c->bind_fds[m.error] = fd;
	}
}

_Noreturn void init_main(struct init_ctx *c)
{
	struct process_ctx pc = {.p = &c->spec->process,
				 .caps = c->caps,
				 .seccomp = c->seccomp,
				 .preserve_fds = c->preserve_fds,
				 .setgroups_allowed = !c->setgroups_denied};
	int listener = -1, r;

	log_set_capture(errbuf, sizeof(errbuf));
	/* Until execve, no process of the container may open our /proc/PID/exe, the host's
	 * brisk binary (CVE-2019-5736). execve makes the new program dumpable again. In a new
	 * user namespace that waits for SYNC_GO: until then the parent writes our uid_map,
	 * gid_map and setgroups, which a non-dumpable process's /proc gives to root, so that
	 * a rootless parent could not open them (as runc's nsexec does). */
	if (!c->new_userns)
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (wait_for_go(c) < 0)
		_exit(1);
	if (c->new_userns)
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if ((r = setup_container(c, &pc)) < 0)
		fail(c, r);
	/* The container is set up (the user namespaces of idmapped mounts were used): of what
	 * the parent had open, a created init keeps stdio, the fds to preserve (the caller's
	 * alone, checked at start), its sync socket, the exec fifo, the console socket and the
	 * log file (close-on-exec). Hooks run before this close every fd above stdio. */
	int keep[] = {c->sync_fd, c->fifo_fd, c->console_fd, log_get_fd()};
	if ((r = close_fds_except(3 + c->preserve_fds, keep, ELEMENTSOF(keep))) < 0)
		fail(c, r);
	if ((r = process_apply_seccomp_early(&pc, &listener)) < 0 ||
	    (r = process_apply_identity(&pc)) < 0)
		fail(c, r);
	/* With no_new_privs the filter goes on here, after the identity change and before the
	 * exec fifo, as runc orders it: the runtime is still there to take a notify listener
	 * and hand it to listenerPath, which lives in the host's mount namespace. */
	if ((r = process_apply_seccomp_late(&pc, &listener)) < 0)
		fail(c, r);
	if (listener >= 0) {
		if ((r = sync_send_fd(c->sync_fd, SYNC_SECCOMP, listener)) < 0)
			_exit(1);
		listener = safe_close(listener);
	}
	if ((r = sync_send(c->sync_fd, SYNC_CREATED, 0, NULL)) < 0)
		_exit(1);
	/* From here on errors go to the log file and stderr: the parent is gone. */
	log_set_capture(NULL, 0);
	c->sync_fd = safe_close(c->sync_fd);
	if (!c->no_fifo && wait_for_start(c) < 0)
		_exit(1);
	if (c->spec->hooks[HOOK_START_CONTAINER].n) {
		/* The state the hooks see, with our pid as the runtime sees it; in the process's
		 * cwd, with its env (HOME included), as runc and crun. */
		r = hooks_run_in(&c->spec->hooks[HOOK_START_CONTAINER], "startContainer",
				 state_json, NULL, pc.env);
		if (r < 0)
			_exit(1);
	}
	process_exec(&pc);
	_exit(127);
}
