/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The restored tree against what its bundle grants. CRIU gives each task the uids, capability
 * sets, no_new_privs, seccomp filters, namespaces and mounts that its images say, and the
 * images come from whoever wrote the snapshot. This reads what the kernel says each task holds
 * (/proc of every process and thread, and each thread's seccomp filter through ptrace) while the
 * tree is stopped, before it ran anything of its own (CRIU's --leave-stopped), and compares it
 * with the grant. Nothing here trusts the images: only the kernel's view counts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/mountinfo.h"
#include "snapshot-internal.h"

/* Bounds on what a tree may be made of: a crafted one cannot make us loop or allocate forever. */
#define TREE_MAX_TASKS (1u << 20)

struct tree {
	pid_t *pids;
	size_t n, cap;
};

static int tree_push(struct tree *t, pid_t pid)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		pid_t *p;

		if (cap > TREE_MAX_TASKS)
			return -E2BIG;
		if (!(p = reallocarray(t->pids, cap, sizeof(pid_t))))
			return -ENOMEM;
		t->pids = p;
		t->cap = cap;
	}
	t->pids[t->n++] = pid;
	return 0;
}

/* Read /proc/PATH into BUF (NUL-terminated): its length, or -errno. */
static ssize_t read_proc(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = 0;

	if (fd < 0)
		return -errno;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

/* The threads of PID into TIDS (emptied first). */
static int list_threads(pid_t pid, struct tree *tids)
{
	_cleanup_closedir_ DIR *d = NULL;
	char path[64];
	struct dirent *de;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(d = opendir(path)))
		return -errno;
	tids->n = 0;
	while ((errno = 0, de = readdir(d))) {
		int tid;

		if (de->d_name[0] == '.' || parse_int(de->d_name, &tid) < 0)
			continue;
		if ((r = tree_push(tids, tid)) < 0)
			return r;
	}
	return errno ? -errno : 0;
}

/* Every process of the tree of ROOT, parents first; each thread's children included. */
static int tree_list(pid_t root, struct tree *ret)
{
	struct tree t = {0}, tids = {0};
	int r = tree_push(&t, root);

	/* a breadth-first walk: T is its own queue */
	for (size_t i = 0; r >= 0 && i < t.n; i++) {
		if ((r = list_threads(t.pids[i], &tids)) < 0) {
			/* a task that died (a zombie's threads are gone): it has no children */
			r = r == -ENOENT ? 0 : r;
			continue;
		}
		for (size_t k = 0; r >= 0 && k < tids.n; k++) {
			_cleanup_free_ char *buf = NULL;
			char path[96];
			size_t len;

			snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)t.pids[i],
				 (int)tids.pids[k]);
			if (read_file_at(AT_FDCWD, path, 16u << 20, &buf, &len) < 0)
				continue; /* the thread is gone */
			for (char *sp, *tok = strtok_r(buf, " \n", &sp); tok && r >= 0;
			     tok = strtok_r(NULL, " \n", &sp)) {
				int kid;
				if (parse_int(tok, &kid) == 0 && kid > 0)
					r = tree_push(&t, kid);
			}
		}
	}
	free(tids.pids);
	if (r < 0) {
		free(t.pids);
		return r;
	}
	*ret = t;
	return 0;
}

int snapshot_tree_continue(pid_t root)
{
	struct tree t = {0};
	int r = tree_list(root, &t);

	for (size_t i = 0; r >= 0 && i < t.n; i++)
		if (kill(t.pids[i], SIGCONT) < 0 && errno != ESRCH)
			r = -errno;
	free(t.pids);
	return r;
}

int snapshot_tree_kill(pid_t root)
{
	struct tree t = {0};
	int r;

	/* a stopped tree cannot fork; kill what we found even if the walk failed halfway */
	r = tree_list(root, &t);
	if (kill(root, SIGKILL) < 0 && errno != ESRCH && r >= 0)
		r = -errno;
	for (size_t i = 0; i < t.n; i++)
		(void)kill(t.pids[i], SIGKILL);
	free(t.pids);
	return r;
}

/* "Key:\tVALUE" of a status file: VALUE, or NULL. */
static const char *status_field(const char *status, const char *key)
{
	size_t len = strlen(key);

	for (const char *p = status; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, key, len) == 0 && p[len] == ':')
			return p + len + 1 + strspn(p + len + 1, " \t");
	return NULL;
}

/* The task's name ("Name:"), at most 15 bytes. */
static void status_comm(const char *status, char comm[16])
{
	const char *name = status_field(status, "Name");

	snprintf(comm, 16, "%.*s", name ? (int)strcspn(name, "\n") : 0, name ? name : "");
}

static int field_u64(const char *status, const char *key, int base, uint64_t *ret)
{
	const char *v = status_field(status, key);
	char *end;

	if (!v)
		return -ENOENT;
	errno = 0;
	*ret = strtoull(v, &end, base);
	if (errno || end == v)
		return -EBADMSG;
	return 0;
}

static void violation(struct snapshot_violation *v, pid_t pid, pid_t tid, const char *comm,
		      const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void violation(struct snapshot_violation *v, pid_t pid, pid_t tid, const char *comm,
		      const char *field, const char *fmt, ...)
{
	va_list ap;

	*v = (struct snapshot_violation){.pid = pid, .tid = tid, .field = field};
	snprintf(v->comm, sizeof(v->comm), "%s", comm);
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
}

/* The four ids of "Uid:" or "Gid:" all equal WANT. */
static int check_ids(const char *status, const char *key, uint32_t want, uint32_t *ret_bad)
{
	const char *v = status_field(status, key);
	char *end;

	if (!v)
		return -EBADMSG;
	for (int i = 0; i < 4; i++) {
		errno = 0;
		unsigned long id = strtoul(v, &end, 10);
		if (errno || end == v)
			return -EBADMSG;
		if (id != want) {
			*ret_bad = (uint32_t)id;
			return 1;
		}
		v = end;
	}
	return 0;
}

static bool group_granted(const struct snapshot_grant *g, unsigned long gid)
{
	if (gid == g->gid)
		return true;
	for (size_t i = 0; i < g->n_groups; i++)
		if (g->groups[i] == gid)
			return true;
	return false;
}

static const char *const cap_keys[_SNAPSHOT_CAP_MAX] = {
    [SNAPSHOT_CAP_BOUNDING] = "CapBnd",	   [SNAPSHOT_CAP_EFFECTIVE] = "CapEff",
    [SNAPSHOT_CAP_INHERITABLE] = "CapInh", [SNAPSHOT_CAP_PERMITTED] = "CapPrm",
    [SNAPSHOT_CAP_AMBIENT] = "CapAmb",
};

/* One thread's status against G: 0, 1 (*V filled), or -errno. */
static int check_status(const char *st, pid_t pid, pid_t tid, const struct snapshot_grant *g,
			struct snapshot_violation *v)
{
	uint64_t x, filters;
	uint32_t bad;
	char comm[16];
	int r;

	status_comm(st, comm);
	if (!g->any_uid && (r = check_ids(st, "Uid", g->uid, &bad)) != 0) {
		if (r > 0)
			violation(v, pid, tid, comm, "uid",
				  "uid %" PRIu32 ", the bundle's process.user.uid is %u", bad,
				  (unsigned)g->uid);
		return r;
	}
	if (!g->any_gid && (r = check_ids(st, "Gid", g->gid, &bad)) != 0) {
		if (r > 0)
			violation(v, pid, tid, comm, "gid",
				  "gid %" PRIu32 ", the bundle's process.user.gid is %u", bad,
				  (unsigned)g->gid);
		return r;
	}
	const char *groups = status_field(st, "Groups");
	if (!groups)
		return -EBADMSG;
	for (const char *p = groups; !g->any_gid && *p && *p != '\n';) {
		char *end;
		unsigned long gid = strtoul(p, &end, 10);
		if (end == p)
			break;
		if (!group_granted(g, gid)) {
			violation(v, pid, tid, comm, "groups",
				  "supplementary group %lu, not the bundle's process.user.gid nor "
				  "in its additionalGids",
				  gid);
			return 1;
		}
		p = end + strspn(end, " \t");
	}
	for (int s = 0; s < _SNAPSHOT_CAP_MAX; s++) {
		if ((r = field_u64(st, cap_keys[s], 16, &x)) < 0)
			return r == -ENOENT && s == SNAPSHOT_CAP_AMBIENT ? 0 : -EBADMSG;
		if (x & ~g->caps[s]) {
			violation(v, pid, tid, comm, "capabilities",
				  "%s %016" PRIx64 ", the bundle's %016" PRIx64, cap_keys[s], x,
				  g->caps[s]);
			v->set = (enum snapshot_cap_set)s;
			v->extra_caps = x & ~g->caps[s];
			return 1;
		}
	}
	if (g->no_new_privs && (field_u64(st, "NoNewPrivs", 10, &x) < 0 || x != 1)) {
		violation(v, pid, tid, comm, "noNewPrivileges",
			  "no_new_privs unset, the bundle's process.noNewPrivileges is true");
		return 1;
	}
	if (g->seccomp_filters == 0)
		return 0;
	/* mode 1 (strict) confines more than any filter */
	if ((r = field_u64(st, "Seccomp", 10, &x)) < 0)
		return r == -ENOENT ? -EOPNOTSUPP : r;
	if (x == 0) {
		violation(v, pid, tid, comm, "seccomp",
			  "no seccomp filter, the bundle's linux.seccomp installs %u",
			  g->seccomp_filters);
		return 1;
	}
	/* Seccomp_filters: since Linux 5.9; CRIU restores every filter a task had */
	if (x == 2 && field_u64(st, "Seccomp_filters", 10, &filters) == 0 &&
	    filters < g->seccomp_filters) {
		violation(v, pid, tid, comm, "seccomp",
			  "%" PRIu64 " seccomp filters, the bundle's linux.seccomp installs %u",
			  filters, g->seccomp_filters);
		return 1;
	}
	return 0;
}

/* ---- seccomp filters ------------------------------------------------------------------- */

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

/*
 * Attach to the stopped thread TID so that ptrace's requests work on it. Attaching to a task in
 * a group stop re-traps it at once; the interrupt covers a thread that was not stopped.
 */
static int seize(pid_t tid)
{
	int status, r;

	if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0)
		return -errno;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) {
		r = -errno;
		goto fail;
	}
	for (;;) {
		pid_t w = waitpid(tid, &status, __WALL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			r = -errno;
			goto fail;
		}
		if (WIFSTOPPED(status))
			return 0;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return -ESRCH;
	}
fail:
	(void)ptrace(PTRACE_DETACH, tid, 0, 0);
	return r;
}

/* Filter INDEX (0: the newest) of the traced thread TID: its length, or -errno (-ENOENT past
 * the oldest). With BUF, the instructions too (BUF holds BPF_MAXINSNS). */
static long get_filter(pid_t tid, unsigned long index, struct sock_filter *buf)
{
	long n = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)index, buf);

	return n < 0 ? -errno : n;
}

/*
 * The oldest filter of TID (COUNT filters, from its status; 0: unknown, walk them) against the
 * bundle's. Filters stack, and the most restrictive answer wins, so the bundle's filter at the
 * bottom of the stack confines whatever a task stacked above it; what is never allowed is a
 * bottom filter of the snapshot's choosing.
 */
static int check_filter(pid_t pid, pid_t tid, const char *comm, uint64_t count,
			const struct snapshot_grant *g, struct snapshot_violation *v)
{
	_cleanup_free_ struct sock_filter *buf = NULL;
	long n;
	int r;

	if ((r = seize(tid)) < 0)
		return r == -ESRCH ? 0 : r;
	if (count == 0)
		while ((n = get_filter(tid, count, NULL)) > 0)
			count++;
	n = count ? get_filter(tid, count - 1, NULL) : -ENOENT;
	if (n < 0) {
		r = n == -ENOENT ? -EBADMSG : (int)n;
		goto out;
	}
	if ((size_t)n != g->seccomp_len) {
		violation(v, pid, tid, comm, "seccomp",
			  "a seccomp filter of %ld instructions in the place of the bundle's "
			  "linux.seccomp (%zu instructions)",
			  n, g->seccomp_len);
		r = 1;
		goto out;
	}
	if (!(buf = calloc(BPF_MAXINSNS, sizeof(*buf)))) {
		r = -ENOMEM;
		goto out;
	}
	if ((n = get_filter(tid, count - 1, buf)) < 0) {
		r = (int)n;
		goto out;
	}
	r = 0;
	for (size_t i = 0; i < g->seccomp_len && r == 0; i++)
		if (memcmp(&buf[i], &g->seccomp_bpf[i], sizeof(*buf)) != 0) {
			violation(v, pid, tid, comm, "seccomp",
				  "a seccomp filter that is not the bundle's linux.seccomp (they "
				  "differ at instruction %zu of %zu)",
				  i, g->seccomp_len);
			r = 1;
		}
out:
	(void)ptrace(PTRACE_DETACH, tid, 0, 0);
	return r;
}

/* ---- LSM ------------------------------------------------------------------------------- */

/* attr/NAME of the thread DIR (the LSM's own directory first, as the kernel has it since 5.8) */
static ssize_t read_attr(const char *dir, const char *lsm, char *buf, size_t size)
{
	char path[160];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/attr/%s/current", dir, lsm);
	if ((n = read_proc(path, buf, size)) == -ENOENT) {
		snprintf(path, sizeof(path), "%s/attr/current", dir);
		n = read_proc(path, buf, size);
	}
	if (n >= 0)
		buf[strcspn(buf, "\n")] = '\0';
	return n;
}

/*
 * The thread DIR runs confined as the bundle says. AppArmor's "PROFILE (MODE)": the profile,
 * or a hat of it ("PROFILE//HAT"), which the application may change to itself; SELinux's
 * context exactly.
 */
static int check_lsm(const char *dir, pid_t pid, pid_t tid, const char *comm,
		     const struct snapshot_grant *g, struct snapshot_violation *v)
{
	char cur[512];
	ssize_t n;

	if (g->apparmor_profile) {
		size_t len = strlen(g->apparmor_profile);
		if ((n = read_attr(dir, "apparmor", cur, sizeof(cur))) < 0)
			return n == -ENOENT ? 0 : (int)n;
		if (strncmp(cur, g->apparmor_profile, len) != 0 ||
		    (cur[len] != '\0' && cur[len] != ' ' && strncmp(cur + len, "//", 2) != 0)) {
			violation(v, pid, tid, comm, "lsm",
				  "AppArmor confinement '%.200s', the bundle's "
				  "process.apparmorProfile is '%.40s'",
				  cur, g->apparmor_profile);
			return 1;
		}
	}
	if (g->selinux_label) {
		if ((n = read_attr(dir, "selinux", cur, sizeof(cur))) < 0)
			return n == -ENOENT ? 0 : (int)n;
		if (strcmp(cur, g->selinux_label) != 0) {
			violation(v, pid, tid, comm, "lsm",
				  "SELinux context '%.200s', the bundle's process.selinuxLabel "
				  "is '%.40s'",
				  cur, g->selinux_label);
			return 1;
		}
	}
	return 0;
}

/* ---- rlimits --------------------------------------------------------------------------- */

/*
 * /proc/PID/limits: a heading, then one line per resource in RLIMIT_* order, each a name
 * padded to 26 columns, the soft and the hard limit ("unlimited" or a number), the units.
 */
static int check_rlimits(pid_t pid, const char *comm, const struct snapshot_grant *g,
			 struct snapshot_violation *v)
{
	char path[64], text[4096];
	uint64_t hard[RLIM_NLIMITS];
	bool known[RLIM_NLIMITS] = {0};
	const char *line;
	ssize_t n;
	int res = -1;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	if ((n = read_proc(path, text, sizeof(text))) < 0)
		return n == -ENOENT ? 0 : (int)n;
	for (line = text; line && *line && res < RLIM_NLIMITS; res++) {
		const char *next = strchr(line, '\n');
		char soft_s[32], hard_s[32];

		if (res >= 0 && (size_t)(next ? next - line : (ptrdiff_t)strlen(line)) > 26 &&
		    sscanf(line + 26, "%31s %31s", soft_s, hard_s) == 2) {
			known[res] = true;
			hard[res] = strcmp(hard_s, "unlimited") == 0 ? UINT64_MAX
								     : strtoull(hard_s, NULL, 10);
		}
		line = next ? next + 1 : NULL;
	}
	for (size_t i = 0; i < g->n_rlimits; i++) {
		const struct snapshot_rlimit *l = &g->rlimits[i];
		if (l->resource < 0 || l->resource >= RLIM_NLIMITS)
			continue;
		if (!known[l->resource])
			return -EBADMSG;
		if (hard[l->resource] > l->hard) {
			char have[24] = "unlimited";
			if (hard[l->resource] != UINT64_MAX)
				snprintf(have, sizeof(have), "%" PRIu64, hard[l->resource]);
			violation(v, pid, pid, comm, "rlimits",
				  "a hard %s of %s, the bundle's process.rlimits give %" PRIu64,
				  l->name ? l->name : "limit", have, l->hard);
			return 1;
		}
	}
	return 0;
}

static const struct {
	int type;
	const char *file, *name;
} ns_names[SNAPSHOT_NS_TYPES] = {
    {CLONE_NEWNS, "mnt", "mount"},	   {CLONE_NEWUTS, "uts", "uts"},
    {CLONE_NEWIPC, "ipc", "ipc"},	   {CLONE_NEWNET, "net", "network"},
    {CLONE_NEWPID, "pid", "pid"},	   {CLONE_NEWUSER, "user", "user"},
    {CLONE_NEWCGROUP, "cgroup", "cgroup"}, {CLONE_NEWTIME, "time", "time"},
};

struct ns_ids {
	dev_t dev[SNAPSHOT_NS_TYPES];
	ino_t ino[SNAPSHOT_NS_TYPES];
	bool known[SNAPSHOT_NS_TYPES];
};

static int ns_read(const char *proc_dir, struct ns_ids *ret)
{
	for (int i = 0; i < SNAPSHOT_NS_TYPES; i++) {
		char path[96];
		struct stat st;

		snprintf(path, sizeof(path), "%s/ns/%s", proc_dir, ns_names[i].file);
		if (stat(path, &st) < 0) {
			if (errno != ENOENT) /* a kernel without this type */
				return -errno;
			ret->known[i] = false;
			continue;
		}
		ret->dev[i] = st.st_dev;
		ret->ino[i] = st.st_ino;
		ret->known[i] = true;
	}
	return 0;
}

static const struct snapshot_ns_grant *ns_granted(const struct snapshot_grant *g, int type)
{
	for (size_t i = 0; i < g->n_ns; i++)
		if (g->ns[i].type == type)
			return &g->ns[i];
	return NULL;
}

/*
 * The namespaces of process PID (IDS) against G, HOST (ours) and ROOT (the tree's root task's):
 * the root task's are the bundle's; another task's are the root's, or ones of its own where
 * the bundle lets it make them (never ours where the bundle wants another).
 */
static int check_ns(pid_t pid, const char *comm, const struct ns_ids *ids,
		    const struct ns_ids *host, const struct ns_ids *root, bool is_root,
		    const struct snapshot_grant *g, struct snapshot_violation *v)
{
	for (int i = 0; i < SNAPSHOT_NS_TYPES; i++) {
		const struct snapshot_ns_grant *ng = ns_granted(g, ns_names[i].type);
		enum snapshot_ns_want want = ng ? ng->want : SNAPSHOT_NS_HOST;
		bool is_host, is_root_ns;

		if (!ids->known[i] || !host->known[i])
			continue;
		is_host = ids->dev[i] == host->dev[i] && ids->ino[i] == host->ino[i];
		is_root_ns = ids->dev[i] == root->dev[i] && ids->ino[i] == root->ino[i];
		if (!is_root && !is_root_ns && g->any_ns && !(want != SNAPSHOT_NS_HOST && is_host))
			continue;
		if (!is_root && !is_root_ns) {
			violation(v, pid, pid, comm, "namespaces",
				  "a %s namespace other than the container's, which the bundle's "
				  "capabilities could not make",
				  ns_names[i].name);
			return 1;
		}
		if (!is_root)
			continue;
		/* CRIU gives a restored tree a time namespace of its own, so that its monotonic
		 * clocks go on from the dump's; clock offsets are no privilege */
		if (want == SNAPSHOT_NS_HOST && !is_host && ns_names[i].type != CLONE_NEWTIME) {
			violation(v, pid, pid, comm, "namespaces",
				  "a %s namespace of its own, which the bundle's linux.namespaces "
				  "does not ask for",
				  ns_names[i].name);
			return 1;
		}
		if (want == SNAPSHOT_NS_NEW && is_host) {
			violation(v, pid, pid, comm, "namespaces",
				  "the host's %s namespace, the bundle's linux.namespaces asks for "
				  "a new one",
				  ns_names[i].name);
			return 1;
		}
		if (want == SNAPSHOT_NS_JOIN &&
		    (ids->dev[i] != ng->dev || ids->ino[i] != ng->ino)) {
			violation(
			    v, pid, pid, comm, "namespaces",
			    "a %s namespace other than the one the bundle's linux.namespaces joins",
			    ns_names[i].name);
			return 1;
		}
	}
	return 0;
}

/* /proc/PID/{uid,gid}_map against the grant's mappings, in any order. */
static int check_map(pid_t pid, const char *comm, const char *file, const char *field,
		     const struct snapshot_id_map *want, size_t n_want,
		     struct snapshot_violation *v)
{
	char path[64], buf[4096];
	size_t n = 0;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if ((len = read_proc(path, buf, sizeof(buf))) < 0)
		return (int)len;
	for (char *sp, *line = strtok_r(buf, "\n", &sp); line; line = strtok_r(NULL, "\n", &sp)) {
		unsigned long in, out, count;
		bool found = false;

		if (sscanf(line, "%lu %lu %lu", &in, &out, &count) != 3)
			return -EBADMSG;
		for (size_t i = 0; i < n_want && !found; i++)
			found = want[i].inside == in && want[i].outside == out &&
				want[i].count == count;
		if (!found) {
			violation(v, pid, pid, comm, field,
				  "a user namespace that maps %lu to %lu (%lu ids), which the "
				  "bundle's linux.%s does not",
				  in, out, count, field);
			return 1;
		}
		n++;
	}
	if (n != n_want) {
		violation(v, pid, pid, comm, field,
			  "a user namespace with %zu %s, the bundle's linux.%s has %zu", n, field,
			  field, n_want);
		return 1;
	}
	return 0;
}

/* The namespaces of process PID (those of its thread DIR), a new user namespace's mappings. */
static int check_process_ns(pid_t pid, const char *dir, const char *st, bool is_root,
			    const struct snapshot_grant *g, const struct ns_ids *host,
			    struct ns_ids *root, struct snapshot_violation *v)
{
	struct ns_ids ids;
	char comm[16];
	int r;

	status_comm(st, comm);
	if ((r = ns_read(dir, &ids)) < 0)
		return r;
	if (is_root)
		*root = ids;
	if ((r = check_ns(pid, comm, &ids, host, root, is_root, g, v)) != 0)
		return r;
	if (!is_root || !g->n_uid_map)
		return 0;
	if ((r = check_map(pid, comm, "uid_map", "uidMappings", g->uid_map, g->n_uid_map, v)) != 0)
		return r;
	return check_map(pid, comm, "gid_map", "gidMappings", g->gid_map, g->n_gid_map, v);
}

/*
 * Process PID: each live thread's status, and the namespaces of the first (a leader that
 * exited leaves its threads running, without namespaces of its own to show).
 */
static int check_process(pid_t pid, bool is_root, const struct snapshot_grant *g,
			 const struct ns_ids *host, struct ns_ids *root, struct tree *tids,
			 struct snapshot_violation *v)
{
	char dir[96], path[128], st[8192], comm[16] = "";
	uint64_t mode, count;
	bool ns_done = false;
	ssize_t n;
	int r;

	if ((r = list_threads(pid, tids)) < 0)
		return r == -ENOENT ? 0 : r;
	for (size_t k = 0; k < tids->n; k++) {
		snprintf(dir, sizeof(dir), "/proc/%d/task/%d", (int)pid, (int)tids->pids[k]);
		snprintf(path, sizeof(path), "%s/status", dir);
		if ((n = read_proc(path, st, sizeof(st))) < 0) {
			if (n == -ENOENT)
				continue;
			return (int)n;
		}
		const char *state = status_field(st, "State");
		if (state && (*state == 'Z' || *state == 'X'))
			continue; /* a zombie runs nothing again */
		if (!ns_done) {
			ns_done = true;
			if ((r = check_process_ns(pid, dir, st, is_root, g, host, root, v)) != 0)
				return r;
		}
		if ((r = check_status(st, pid, tids->pids[k], g, v)) != 0)
			return r;
		if (!*comm)
			status_comm(st, comm);
		if ((g->apparmor_profile || g->selinux_label) &&
		    (r = check_lsm(dir, pid, tids->pids[k], comm, g, v)) != 0)
			return r;
		if (!g->seccomp_len || field_u64(st, "Seccomp", 10, &mode) < 0 || mode != 2)
			continue; /* strict mode confines more than any filter */
		if (field_u64(st, "Seccomp_filters", 10, &count) < 0)
			count = 0;
		if ((r = check_filter(pid, tids->pids[k], comm, count, g, v)) != 0)
			return r;
	}
	/* limits are the process's, shared by its threads */
	return g->n_rlimits && *comm ? check_rlimits(pid, comm, g, v) : 0;
}

/* ---- mounts ---------------------------------------------------------------------------- */

struct mnt {
	char *point; /* in the container (unescaped, in the line's buffer) */
	char *fstype;
	unsigned long flags; /* MS_RDONLY (of the mount or its superblock), NOSUID, NODEV, NOEXEC */
	bool top;	     /* the last mount on its point: what a lookup of it finds */
};

#define MNT_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)

static unsigned long opt_flags(const char *opts)
{
	unsigned long f = 0;
	const char *p = opts;

	while (p && *p) {
		size_t len = strcspn(p, ",");
		if (len == 2 && strncmp(p, "ro", 2) == 0)
			f |= MS_RDONLY;
		else if (len == 6 && strncmp(p, "nosuid", 6) == 0)
			f |= MS_NOSUID;
		else if (len == 5 && strncmp(p, "nodev", 5) == 0)
			f |= MS_NODEV;
		else if (len == 6 && strncmp(p, "noexec", 6) == 0)
			f |= MS_NOEXEC;
		p = p[len] ? p + len + 1 : NULL;
	}
	return f;
}

/* One line of mountinfo into M (pointing into LINE, decoded); -EBADMSG when it is not one. */
static int mnt_parse(char *line, struct mnt *m)
{
	struct mountinfo_entry e;
	int r = mountinfo_parse_line(line, &e);

	if (r < 0)
		return r;
	*m = (struct mnt){.point = (char *)e.mount_point,
			  .fstype = (char *)e.fstype,
			  .flags = opt_flags(e.mount_options) |
				   (opt_flags(e.super_options) & MS_RDONLY)};
	return 0;
}

static bool path_below(const char *path, const char *dir)
{
	size_t len = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return path[0] == '/' && path[1];
	return strncmp(path, dir, len) == 0 && path[len] == '/';
}

static const char *flag_names(unsigned long f, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s%s", f & MS_RDONLY ? " read-only" : "",
		 f & MS_NOSUID ? " nosuid" : "", f & MS_NODEV ? " nodev" : "",
		 f & MS_NOEXEC ? " noexec" : "");
	return buf[0] ? buf + 1 : buf;
}

/* The grant of M: one on its point that it satisfies (or the first on it), else the nearest
 * one above it that covers what is below. */
static const struct snapshot_mount_grant *mnt_grant(const struct snapshot_grant *g,
						    const struct mnt *m)
{
	const struct snapshot_mount_grant *exact = NULL, *above = NULL;

	for (size_t i = 0; i < g->n_mounts; i++) {
		const struct snapshot_mount_grant *mg = &g->mounts[i];
		if (strcmp(mg->destination, m->point) == 0) {
			if (!exact || !(mg->flags & ~m->flags))
				exact = mg;
		} else if (mg->below && path_below(m->point, mg->destination) &&
			   (!above || strlen(mg->destination) > strlen(above->destination))) {
			above = mg;
		}
	}
	return exact ? exact : above;
}

/* What a lookup of DEST in the container finds: -ENOENT when nothing is there. */
static int stat_in_root(int rootfd, const char *dest, struct stat *ret)
{
	_cleanup_close_ int fd = open_in_root(rootfd, dest, O_PATH | O_NOFOLLOW, 0);

	if (fd < 0)
		return fd;
	return fstat(fd, ret) < 0 ? -errno : 0;
}

static int check_mount(int rootfd, pid_t root, const struct mnt *m, const struct snapshot_grant *g,
		       struct snapshot_violation *v)
{
	const struct snapshot_mount_grant *mg = mnt_grant(g, m);
	bool exact = mg && strcmp(mg->destination, m->point) == 0;
	unsigned long missing;
	char names[64];
	struct stat st;
	int r;

	if (!mg) {
		if (g->any_mount)
			return 0;
		violation(v, root, root, "", "mounts",
			  "a %s mount on '%s', which the bundle does not make", m->fstype,
			  m->point);
		return 1;
	}
	if (exact && mg->fstype && strcmp(mg->fstype, m->fstype) != 0) {
		violation(v, root, root, "", "mounts",
			  "a %s mount on '%s', where the bundle's %s makes %s", m->fstype, m->point,
			  mg->what, mg->fstype);
		return 1;
	}
	if ((missing = (exact ? mg->flags : mg->below_flags) & ~m->flags)) {
		violation(v, root, root, "", "mounts",
			  "the mount on '%s' is not %s, as the bundle's %s makes it", m->point,
			  flag_names(missing, names, sizeof(names)), mg->what);
		return 1;
	}
	if (!exact || !m->top || (!mg->has_source && !mg->mask))
		return 0;
	if ((r = stat_in_root(rootfd, m->point, &st)) < 0)
		return r;
	if (mg->has_source && (st.st_dev != mg->dev || st.st_ino != mg->ino)) {
		violation(v, root, root, "", "mounts",
			  "the mount on '%s' is not of the source the bundle's %s names", m->point,
			  mg->what);
		return 1;
	}
	if (mg->mask && !(m->flags & MS_RDONLY) &&
	    !(S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3)) {
		violation(v, root, root, "", "mounts",
			  "'%s' is not masked (the bundle's %s): neither an empty read-only tmpfs "
			  "nor the null device",
			  m->point, mg->what);
		return 1;
	}
	return 0;
}

/* The bundle's binds, and its masked and read-only paths that exist, are all there. */
static int check_required(int rootfd, pid_t root, const struct mnt *ms, size_t n,
			  const struct snapshot_grant *g, struct snapshot_violation *v)
{
	for (size_t i = 0; i < g->n_mounts; i++) {
		const struct snapshot_mount_grant *mg = &g->mounts[i];
		struct stat st;
		bool found = false;
		int r;

		if (!mg->required && !mg->if_exists)
			continue;
		for (size_t k = 0; k < n && !found; k++)
			found = strcmp(ms[k].point, mg->destination) == 0;
		if (found)
			continue;
		if (mg->if_exists && (r = stat_in_root(rootfd, mg->destination, &st)) < 0) {
			if (r == -ENOENT || r == -ENOTDIR)
				continue;
			return r;
		}
		violation(v, root, root, "", "mounts", "no mount on '%s', which the bundle's %s %s",
			  mg->destination, mg->what, mg->mask ? "masks" : "makes");
		return 1;
	}
	return 0;
}

static int check_mounts(pid_t root, const struct snapshot_grant *g, struct snapshot_violation *v)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ struct mnt *ms = NULL;
	_cleanup_close_ int rootfd = -EBADF;
	char path[64];
	size_t len, n = 0, cap = 0;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)root);
	if ((r = read_file_at(AT_FDCWD, path, 16u << 20, &buf, &len)) < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/root", (int)root);
	if ((rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	for (char *sp, *line = strtok_r(buf, "\n", &sp); line; line = strtok_r(NULL, "\n", &sp)) {
		if (n == cap) {
			struct mnt *p = reallocarray(ms, cap ? cap * 2 : 64, sizeof(*ms));
			if (!p)
				return -ENOMEM;
			ms = p;
			cap = cap ? cap * 2 : 64;
		}
		if ((r = mnt_parse(line, &ms[n])) < 0)
			return r;
		n++;
	}
	/* mountinfo lists a mount after those it covers */
	for (size_t i = 0; i < n; i++) {
		ms[i].top = true;
		for (size_t k = i + 1; k < n && ms[i].top; k++)
			ms[i].top = strcmp(ms[i].point, ms[k].point) != 0;
	}
	/* a destination through a symlink is where the runtime resolved it, in the tree's root */
	struct snapshot_grant rg = *g;
	_cleanup_free_ struct snapshot_mount_grant *mg = NULL;
	_cleanup_strv_free_ char **dests = NULL;
	if (!(mg = calloc(g->n_mounts, sizeof(*mg))) ||
	    !(dests = calloc(g->n_mounts + 1, sizeof(char *))))
		return -ENOMEM;
	for (size_t i = 0; i < g->n_mounts; i++) {
		char resolved[PATH_MAX];
		mg[i] = g->mounts[i];
		if ((r = proc_root_resolve(root, mg[i].destination, resolved, sizeof(resolved))) <
		    0)
			return r;
		if (!(dests[i] = strdup(resolved)))
			return -ENOMEM;
		mg[i].destination = dests[i];
	}
	rg.mounts = mg;
	for (size_t i = 0; i < n; i++)
		if ((r = check_mount(rootfd, root, &ms[i], &rg, v)) != 0)
			return r;
	return check_required(rootfd, root, ms, n, &rg, v);
}

int snapshot_tree_check(pid_t root, const struct snapshot_grant *g, struct snapshot_violation *ret)
{
	struct tree t = {0}, tids = {0};
	struct ns_ids host, root_ns = {0};
	int r;

	if ((r = ns_read("/proc/self", &host)) < 0 || (r = tree_list(root, &t)) < 0)
		return r;
	for (size_t i = 0; r == 0 && i < t.n; i++)
		r = check_process(t.pids[i], i == 0, g, &host, &root_ns, &tids, ret);
	if (r == 0 && g->n_mounts)
		r = check_mounts(root, g, ret);
	free(t.pids);
	free(tids.pids);
	if (r > 0)
		return -EPERM;
	return r;
}
