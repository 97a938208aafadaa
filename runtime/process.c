/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "caps.h"
#include "process.h"
#include "seccomp-filter.h"

static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);

	for (char **e = env; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static bool is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The fds open when brisk started, of its caller: only they may be preserved. */
#define MAX_PRESERVED 4096
static unsigned long inherited[MAX_PRESERVED / (8 * sizeof(long))];
static bool inherited_known;

void process_note_inherited_fds(void)
{
	inherited_known = fds_open_bitmap(inherited, MAX_PRESERVED) == 0;
}

int process_check_preserve_fds(int n)
{
	const size_t bits = 8 * sizeof(long);

	if (n > MAX_PRESERVED - 3)
		return log_error_errno(-EINVAL, "--preserve-fds %d: at most %d fds", n,
				       MAX_PRESERVED - 3);
	if (!inherited_known)
		return n > 0 ? log_error_errno(-EIO, "--preserve-fds: the fds brisk was given are "
						     "unknown")
			     : 0;
	/* An fd that the caller did not pass would be one of brisk's own. */
	for (int fd = 3; fd < 3 + n; fd++)
		if (!(inherited[(size_t)fd / bits] & (1UL << ((size_t)fd % bits))))
			return log_error_errno(
			    -EBADF, "--preserve-fds %d: fd %d was not passed to brisk", n, fd);
	return 0;
}

/* The home directory of UID in the container's /etc/passwd (a regular file, read whole). */
static char *passwd_home(uid_t uid)
{
	_cleanup_close_ int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	_cleanup_free_ char *buf = NULL;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    read_fd_all(fd, 4 << 20, &buf, NULL) < 0)
		return NULL;
	/* name:password:uid:gid:gecos:home:shell */
	for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[7] = {0}, *p = line;
		size_t n = 0;
		while (n < ELEMENTSOF(f) && p) {
			f[n++] = p;
			p = strchr(p, ':');
			if (p)
				*p++ = '\0';
		}
		unsigned long long u;
		if (n >= 6 && parse_uint64(f[2], &u) == 0 && u == uid && f[5][0])
			return strdup(f[5]);
	}
	return NULL;
}

/* Give the stdio of the process to its user, as runc does, so that it can reopen them
 * through /proc/self/fd: the owner only (the group may be the mount's own choice), never
 * /dev/null; where the owner or the group is not ours to change, leave it. */
static void chown_stdio(uid_t uid)
{
	struct stat null, st;

	if (stat("/dev/null", &null) < 0)
		null.st_rdev = makedev(1, 3);
	for (int fd = 0; fd < 3; fd++) {
		if (fstat(fd, &st) < 0 || (S_ISCHR(st.st_mode) && st.st_rdev == null.st_rdev) ||
		    st.st_uid == uid)
			continue;
		if (fchown(fd, uid, st.st_gid) < 0 && errno != EINVAL && errno != EPERM &&
		    errno != EROFS)
			log_debug("hand fd %d to uid %u: %m, ignoring", fd, (unsigned)uid);
	}
}

int process_prepare_env(struct process_ctx *c)
{
	const char *home = env_get(c->p->env, "HOME");
	size_t n = 0;

	chown_stdio(c->p->uid);
	if (home && *home)
		return 0;
	_cleanup_free_ char *dir = passwd_home(c->p->uid);
	for (char **e = c->p->env; e && *e; e++)
		n++;
	char **env = calloc(n + 2, sizeof(char *));
	if (!env)
		return -ENOMEM;
	size_t k = 0;
	for (char **e = c->p->env; e && *e; e++)
		if (strncmp(*e, "HOME=", 5) != 0)
			env[k++] = *e; /* borrowed from the spec, which outlives the exec */
	if (asprintf(&env[k], "HOME=%s", dir ? dir : "/") < 0) {
		free(env);
		return -ENOMEM;
	}
	c->env = env;
	return 0;
}

int process_find_exec(struct process_ctx *c)
{
	const char *name = c->p->args[0];
	const char *path;

	if (strchr(name, '/')) {
		if (!is_executable(name))
			return log_error_errno(-ENOENT, "exec: '%s': no such executable: %m", name);
		c->exec_path = strdup(name);
		return c->exec_path ? 0 : -ENOMEM;
	}
	path = env_get(c->p->env, "PATH");
	if (!path)
		path = DEFAULT_PATH;
	for (const char *s = path;;) {
		size_t n = strcspn(s, ":");
		char buf[PATH_MAX];

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)(n ? n : 1), n ? s : ".", name);
		if (is_executable(buf)) {
			c->exec_path = strdup(buf);
			return c->exec_path ? 0 : -ENOMEM;
		}
		if (!s[n])
			break;
		s += n + 1;
	}
	return log_error_errno(-ENOENT, "exec: '%s': executable file not found in $PATH", name);
}

static int apply_cpu_list(const char *list)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (const char *s = list; *s;) {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;
		if (end == s)
			return -EINVAL;
		if (*end == '-') {
			s = end + 1;
			b = strtoul(s, &end, 10);
			if (end == s || b < a)
				return -EINVAL;
		}
		for (unsigned long i = a; i <= b && i < CPU_SETSIZE; i++)
			CPU_SET(i, &set);
		if (*end == ',')
			end++;
		else if (*end)
			return -EINVAL;
		s = end;
	}
	return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

static int apply_scheduler(struct json_object *o)
{
	static const struct {
		const char *name;
		int policy;
	} policies[] = {
	    {"SCHED_OTHER", 0}, {"SCHED_FIFO", 1}, {"SCHED_RR", 2},
	    {"SCHED_BATCH", 3}, {"SCHED_IDLE", 5}, {"SCHED_DEADLINE", 6},
	};
	struct {
		uint32_t size;
		uint32_t sched_policy;
		uint64_t sched_flags;
		int32_t sched_nice;
		uint32_t sched_priority;
		uint64_t sched_runtime, sched_deadline, sched_period;
	} attr = {.size = 48};
	const char *policy;
	int v;
	uint64_t u;

	if (json_get_string(o, "policy", &policy) < 0)
		return log_error_errno(-EINVAL, "process.scheduler.policy is required");
	size_t i;
	for (i = 0; i < ELEMENTSOF(policies); i++)
		if (strcmp(policy, policies[i].name) == 0)
			break;
	if (i == ELEMENTSOF(policies))
		return log_error_errno(-EINVAL, "process.scheduler.policy: unknown '%s'", policy);
	attr.sched_policy = (uint32_t)policies[i].policy;
	if (json_get_int(o, "nice", &v) == 0)
		attr.sched_nice = v;
	if (json_get_int(o, "priority", &v) == 0)
		attr.sched_priority = (uint32_t)v;
	if (json_get_uint64(o, "runtime", &u) == 0)
		attr.sched_runtime = u;
	if (json_get_uint64(o, "deadline", &u) == 0)
		attr.sched_deadline = u;
	if (json_get_uint64(o, "period", &u) == 0)
		attr.sched_period = u;
	if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
		return log_error_errno(-errno, "set scheduler policy '%s': %m", policy);
	return 0;
}

int process_check_lsm(const struct spec_process *p)
{
	_cleanup_free_ char *enabled = NULL;

	if (p->apparmor_profile && *p->apparmor_profile &&
	    (read_file_at(AT_FDCWD, "/sys/module/apparmor/parameters/enabled", 16, &enabled, NULL) <
		 0 ||
	     enabled[0] != 'Y'))
		return log_error_errno(
		    -EOPNOTSUPP,
		    "apparmor profile '%s' requested but AppArmor is not enabled "
		    "on this host",
		    p->apparmor_profile);
	if (p->selinux_label && *p->selinux_label && access("/sys/fs/selinux/enforce", F_OK) < 0)
		return log_error_errno(
		    -EOPNOTSUPP,
		    "selinux label '%s' requested but SELinux is not enabled on this host",
		    p->selinux_label);
	return 0;
}

static int apply_lsm(const struct spec_process *p)
{
	int r;

	if ((r = process_check_lsm(p)) < 0)
		return r;
	if (p->apparmor_profile && *p->apparmor_profile) {
		_cleanup_free_ char *cmd = NULL;
		if (asprintf(&cmd, "exec %s", p->apparmor_profile) < 0)
			return -ENOMEM;
		r = write_string_at(AT_FDCWD, "/proc/self/attr/apparmor/exec", cmd);
		if (r == -ENOENT)
			r = write_string_at(AT_FDCWD, "/proc/self/attr/exec", cmd);
		if (r < 0)
			return log_error_errno(r, "set apparmor profile '%s': %m",
					       p->apparmor_profile);
	}
	if (p->selinux_label && *p->selinux_label) {
		r = write_string_at(AT_FDCWD, "/proc/self/attr/exec", p->selinux_label);
		if (r < 0)
			return log_error_errno(r, "set selinux label '%s': %m", p->selinux_label);
	}
	return 0;
}

int process_apply_limits(struct process_ctx *c)
{
	const struct spec_process *p = c->p;
	int r;

	for (size_t i = 0; i < p->n_rlimits; i++) {
		struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
		if (setrlimit(p->rlimits[i].resource, &rl) < 0)
			return log_error_errno(
			    -errno, "set rlimit %d to soft %llu hard %llu: %m%s",
			    p->rlimits[i].resource, (unsigned long long)rl.rlim_cur,
			    (unsigned long long)rl.rlim_max,
			    errno == EPERM ? " (raising a hard limit needs CAP_SYS_RESOURCE)" : "");
	}
	if (p->has_oom_score_adj) {
		char buf[16];
		snprintf(buf, sizeof(buf), "%d", p->oom_score_adj);
		r = write_string_at(AT_FDCWD, "/proc/self/oom_score_adj", buf);
		if (r < 0)
			return log_error_errno(r, "set oom_score_adj to %d: %m%s", p->oom_score_adj,
					       r == -EACCES || r == -EPERM
						   ? " (lowering it needs CAP_SYS_RESOURCE)"
						   : "");
	}
	if (p->has_io_priority && syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0,
					  p->io_priority_class << 13 | p->io_priority) < 0)
		return log_error_errno(-errno, "set I/O priority: %m");
	if (p->scheduler && (r = apply_scheduler(p->scheduler)) < 0)
		return r;
	if (p->exec_cpu_affinity_initial && (r = apply_cpu_list(p->exec_cpu_affinity_initial)) < 0)
		return log_error_errno(r, "set CPU affinity '%s': %m",
				       p->exec_cpu_affinity_initial);
	return apply_lsm(p);
}

int process_apply_identity(struct process_ctx *c)
{
	const struct spec_process *p = c->p;
	int r;

	/* The cwd is entered before the user changes, with the runtime's access, as runc does:
	 * a process may start in a directory its user could not enter. Where the runtime is
	 * denied (a user namespace's root, on a directory of an unmapped owner), again as the
	 * user, who may have access of its own. */
	bool in_cwd = chdir(p->cwd) == 0;
	if (!in_cwd && errno != EACCES && errno != EPERM)
		return log_error_errno(-errno, "chdir to cwd '%s' set in config.json: %m", p->cwd);
	if (c->caps && (r = caps_apply_bounding(c->caps)) < 0)
		return log_error_errno(r, "drop capabilities from the bounding set: %m");
	if (c->setgroups_allowed && setgroups(p->n_additional_gids, p->additional_gids) < 0)
		return log_error_errno(-errno, "setgroups: %m");
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return log_error_errno(-errno, "setgid %u: %m", p->gid);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return log_error_errno(-errno, "keep capabilities: %m");
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return log_error_errno(-errno, "setuid %u: %m", p->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return log_error_errno(-errno, "reset keep capabilities: %m");
	if (c->caps && (r = caps_apply_final(c->caps)) < 0)
		return log_error_errno(r, "set capabilities: %m");
	if (p->has_umask)
		umask(p->umask);
	if (!in_cwd && chdir(p->cwd) < 0)
		return log_error_errno(-errno, "chdir to cwd '%s' set in config.json: %m", p->cwd);
	/* The cwd must be reachable from the container's root (CVE-2024-21626 class). */
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)) || cwd[0] != '/')
		return log_error_errno(-EPERM, "cwd '%s' is outside the container", p->cwd);
	return 0;
}

static int install_seccomp(struct process_ctx *c, int *ret_listener_fd)
{
	int r;

	if (!c->seccomp)
		return 0;
	r = seccomp_prog_install(c->seccomp, ret_listener_fd);
	if (r < 0)
		return log_error_errno(r, "install seccomp filter: %m");
	return 0;
}

int process_apply_seccomp_early(struct process_ctx *c, int *ret_listener_fd)
{
	/* Without no_new_privs, the filter needs CAP_SYS_ADMIN: install it before the
	 * capabilities go. */
	if (c->p->no_new_privileges)
		return 0;
	return install_seccomp(c, ret_listener_fd);
}

int process_apply_seccomp_late(struct process_ctx *c, int *ret_listener_fd)
{
	if (!c->p->no_new_privileges)
		return 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return log_error_errno(-errno, "set no_new_privs: %m");
	return install_seccomp(c, ret_listener_fd);
}

int process_exec(struct process_ctx *c)
{
	int r;

	if (c->p->exec_cpu_affinity_final &&
	    (r = apply_cpu_list(c->p->exec_cpu_affinity_final)) < 0)
		return log_error_errno(r, "set CPU affinity '%s': %m",
				       c->p->exec_cpu_affinity_final);
	/* Only stdio and the preserved fds reach the program (containerd passes its own
	 * socket at fd 3; CVE-2024-21626 leaked a host directory fd). They close at execve
	 * itself, not before: the exec fifo among them, `start` returns only once the
	 * program runs, and a signal sent then reaches the program. */
	if (cloexec_fds_from(3 + c->preserve_fds) < 0)
		close_fds_from(3 + c->preserve_fds);
	/* The program starts with default dispositions and nothing blocked. */
	sigset_t none;
	sigemptyset(&none);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	char **env = c->env ? c->env : c->p->env ? c->p->env : (char *[]){NULL};
	/*
	 * CVE-2019-5736: until execve we are the host's brisk binary, and /proc/self/exe (or a
	 * path leading to it) would run it inside the container, where a process can then
	 * reopen it for writing. Open what we are about to run, refuse our own inode, and
	 * execute that very fd, so no path can be swapped in between. Scripts need a path
	 * for their interpreter: they, and filters that deny execveat, go through execve.
	 */
	_cleanup_close_ int fd = open(c->exec_path, O_RDONLY | O_CLOEXEC);
	struct stat self, target;
	if (fd >= 0 && fstat(fd, &target) == 0 && stat("/proc/self/exe", &self) == 0 &&
	    self.st_dev == target.st_dev && self.st_ino == target.st_ino)
		return log_error_errno(
		    -EPERM, "exec '%s': that is the runtime's own binary, refused", c->exec_path);
	char hdr[2];
	if (fd >= 0 && pread(fd, hdr, sizeof(hdr), 0) == 2 && !(hdr[0] == '#' && hdr[1] == '!')) {
		syscall(SYS_execveat, fd, "", c->p->args, env, AT_EMPTY_PATH);
		if (errno != EPERM && errno != ENOSYS && errno != EACCES)
			return log_error_errno(-errno, "exec '%s': %m", c->exec_path);
	}
	execve(c->exec_path, c->p->args, env);
	return log_error_errno(-errno, "exec '%s': %m", c->exec_path);
}
