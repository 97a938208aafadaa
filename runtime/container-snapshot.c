/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>
#include <net/if.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "gpu/gpu.h"
#include "caps.h"
#include "cgroup.h"
#include "container-snapshot.h"
#include "process.h"
#include "seccomp-filter.h"

void ext_mounts_done(struct ext_mounts *m)
{
	free(m->pairs);
	strv_free(m->keys);
	for (size_t i = 0; i < m->n_owned; i++)
		free(m->owned[i]);
	free(m->owned);
	m->pairs = NULL;
	m->keys = NULL;
	m->owned = NULL;
	m->n = m->n_owned = 0;
}

int ext_mounts_add(struct ext_mounts *m, const char *key, const char *value)
{
	struct snapshot_pair *p = realloc(m->pairs, (m->n + 2) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	m->pairs = p;
	m->pairs[m->n++] = (struct snapshot_pair){.key = key, .value = value};
	m->pairs[m->n] = (struct snapshot_pair){0};
	return 0;
}

/* PATH is the root of a tmpfs mount, read-only or not as RO says; its mode in *RET_ST. */
static bool is_tmpfs_mount(const char *path, bool ro, struct stat *ret_st)
{
	_cleanup_free_ char *parent = path_join(path, "..");
	struct stat st, pst;
	struct statfs sf;

	if (!parent || lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) || stat(parent, &pst) < 0 ||
	    st.st_dev == pst.st_dev || statfs(path, &sf) < 0 || sf.f_type != TMPFS_MAGIC ||
	    !(sf.f_flags & ST_RDONLY) != !ro)
		return false;
	if (ret_st)
		*ret_st = st;
	return true;
}

/* PATH is the root of an empty tmpfs mount, read-only or not as RO says; its mode in *RET_ST. */
static bool is_empty_tmpfs(const char *path, bool ro, struct stat *ret_st)
{
	if (!is_tmpfs_mount(path, ro, ret_st))
		return false;
	_cleanup_closedir_ DIR *d = opendir(path);
	struct dirent *de;
	if (!d)
		return false;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			return false;
	return true;
}

int ext_mounts_add_masked(const struct spec *s, pid_t pid, struct ext_mounts *m)
{
	for (char **p = s->masked_paths; p && *p; p++) {
		char path[PATH_MAX];
		int r;

		if (**p != '/' ||
		    snprintf(path, sizeof(path), "/proc/%d/root%s", pid, *p) >= (int)sizeof(path))
			continue;
		if (is_empty_tmpfs(path, true, NULL) &&
		    (r = ext_mounts_add(m, *p, SNAPSHOT_MASKED_KEY)) < 0)
			return r;
	}
	return 0;
}

bool spec_mount_is_tmpfs(const struct spec_mount *m)
{
	return !(m->kind & MOUNT_BIND) && m->type && strcmp(m->type, "tmpfs") == 0 &&
	       m->destination && m->destination[0] == '/' && !(m->flags & MS_RDONLY);
}

/* The value of OPT= in the mount data DATA ("mode=755,size=65536k"), parsed in BASE. */
static unsigned long data_option(const char *data, const char *opt, int base, unsigned long def)
{
	size_t len = strlen(opt);

	for (const char *p = data; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, opt, len) == 0 && p[len] == '=')
			return strtoul(p + len + 1, NULL, base);
	return def;
}

const char *ext_mounts_tmpfs_key(struct ext_mounts *em, const struct spec_mount *m)
{
	char **o = reallocarray(em->owned, em->n_owned + 2, sizeof(char *));
	char *key;

	if (!o)
		return NULL;
	em->owned = o;
	if (asprintf(&key, "%s%s", SNAPSHOT_TMPFS_KEY_PREFIX, m->destination) < 0)
		return NULL;
	em->owned[em->n_owned++] = key;
	em->owned[em->n_owned] = NULL;
	return key;
}

bool spec_mount_is_cgroup_tmpfs(const struct spec_mount *m)
{
	return !(m->kind & MOUNT_BIND) && m->type && strcmp(m->type, "cgroup") == 0 &&
	       m->destination && m->destination[0] == '/' &&
	       access("/sys/fs/cgroup/cgroup.controllers", F_OK) < 0;
}

int cgroup_tmpfs_entries(char ***ret_dirs, char ***ret_links)
{
	_cleanup_strv_free_ char **dirs = NULL, **links = NULL;
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t n = 0, nd = 0, nl = 0;

	if (!f)
		return -errno;
	while (getline(&line, &n, f) > 0) {
		char mp[512], fstype[64];
		char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %*s %511s", mp) != 1 ||
		    sscanf(dash + 3, "%63s", fstype) != 1)
			continue;
		if (strncmp(mp, "/sys/fs/cgroup/", 15) != 0 || strchr(mp + 15, '/') ||
		    (strcmp(fstype, "cgroup") != 0 && strcmp(fstype, "cgroup2") != 0))
			continue;
		const char *name = mp + 15;
		char **d = reallocarray(dirs, nd + 2, sizeof(char *));
		if (!d)
			return -ENOMEM;
		dirs = d;
		if (!(dirs[nd++] = strdup(name)))
			return -ENOMEM;
		dirs[nd] = NULL;
		/* co-mounted controllers: cpu -> cpu,cpuacct */
		if (strcmp(fstype, "cgroup") != 0 || !strchr(name, ','))
			continue;
		for (char *save = NULL, *ctl = strtok_r(strdupa(name), ",", &save); ctl;
		     ctl = strtok_r(NULL, ",", &save)) {
			char **l = reallocarray(links, nl + 2, sizeof(char *));
			if (!l)
				return -ENOMEM;
			links = l;
			if (asprintf(&links[nl], "%s/%s", ctl, name) < 0)
				return -ENOMEM;
			links[++nl] = NULL;
		}
	}
	if (!dirs && !(dirs = calloc(1, sizeof(char *))))
		return -ENOMEM;
	if (!links && !(links = calloc(1, sizeof(char *))))
		return -ENOMEM;
	*ret_dirs = TAKE_PTR(dirs);
	*ret_links = TAKE_PTR(links);
	return 0;
}

/* PATH (the container's /sys/fs/cgroup) holds what rootfs.c made there, and no more. */
static bool is_cgroup_tmpfs_as_made(const char *path, bool ro)
{
	_cleanup_strv_free_ char **dirs = NULL, **links = NULL;
	struct stat st;

	if (!is_tmpfs_mount(path, ro, &st) || (st.st_mode & 07777) != 0755 || st.st_uid != 0 ||
	    st.st_gid != 0 || cgroup_tmpfs_entries(&dirs, &links) < 0)
		return false;
	_cleanup_closedir_ DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0, want = 0;
	for (char **p = dirs; *p; p++)
		want++;
	for (char **p = links; *p; p++)
		want++;
	if (!d)
		return false;
	while ((de = readdir(d))) {
		bool found = false;
		char target[512];
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return false;
		for (char **p = dirs; S_ISDIR(st.st_mode) && *p && !found; p++)
			found = strcmp(*p, de->d_name) == 0 && (st.st_mode & 07777) == 0755;
		for (char **p = links; S_ISLNK(st.st_mode) && *p && !found; p++) {
			size_t len = strlen(de->d_name);
			ssize_t k = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
			if (k < 0)
				return false;
			target[k] = '\0';
			found = strncmp(*p, de->d_name, len) == 0 && (*p)[len] == '/' &&
				strcmp(*p + len + 1, target) == 0;
		}
		if (!found)
			return false;
		n++;
	}
	return n == want;
}

int ext_mounts_add_empty_tmpfs(const struct spec *s, pid_t pid, struct ext_mounts *m)
{
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *sm = &s->mounts[i];
		char path[PATH_MAX];
		struct stat st;
		const char *key;
		int r;

		if ((!spec_mount_is_tmpfs(sm) && !spec_mount_is_cgroup_tmpfs(sm)) ||
		    snprintf(path, sizeof(path), "/proc/%d/root%s", pid, sm->destination) >=
			(int)sizeof(path))
			continue;
		/* a restore makes it again as the spec and the host's cgroups make it */
		if (spec_mount_is_cgroup_tmpfs(sm) &&
		    !is_cgroup_tmpfs_as_made(path, sm->flags & MS_RDONLY))
			continue;
		/* a restore makes it again from the spec: its root must be as the spec made it */
		if (!spec_mount_is_cgroup_tmpfs(sm) &&
		    (!is_empty_tmpfs(path, false, &st) ||
		     (st.st_mode & 07777) != data_option(sm->data, "mode", 8, 01777) ||
		     st.st_uid != data_option(sm->data, "uid", 10, 0) ||
		     st.st_gid != data_option(sm->data, "gid", 10, 0)))
			continue;
		if (!(key = ext_mounts_tmpfs_key(m, sm)))
			return -ENOMEM;
		if ((r = ext_mounts_add(m, sm->destination, key)) < 0)
			return r;
	}
	return 0;
}

/* Has M an external pair for destination DEST already (an empty tmpfs, say)? */
static bool ext_mounts_has(const struct ext_mounts *m, const char *dest)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->pairs[i].key, dest) == 0)
			return true;
	return false;
}

static int tree_add(struct snapshot_tree *t, const char *prefix, const char *name,
		    const struct stat *st, struct snapshot_tree_entry **ret)
{
	struct snapshot_tree_entry *e;

	if (t->n_entries % 64 == 0) {
		e = reallocarray(t->entries, t->n_entries + 64, sizeof(*e));
		if (!e)
			return -ENOMEM;
		t->entries = e;
	}
	e = &t->entries[t->n_entries];
	*e = (struct snapshot_tree_entry){.mode = st->st_mode & (S_IFMT | 07777),
					  .uid = st->st_uid,
					  .gid = st->st_gid,
					  .major = major(st->st_rdev),
					  .minor = minor(st->st_rdev)};
	if (asprintf(&e->path, "%s%s", prefix, name) < 0)
		return -ENOMEM;
	t->n_entries++;
	*ret = e;
	return 0;
}

/* List the directory DFD into T, PREFIX before each name: 0, 1 when it holds anything but
 * directories, symlinks and device nodes (or too much), or -errno. */
static int tree_walk(int dfd, const char *prefix, unsigned depth, struct snapshot_tree *t)
{
	_cleanup_closedir_ DIR *d = NULL;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;

	if (fd < 0 || !(d = fdopendir(fd))) {
		int r = -errno;
		safe_close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		struct snapshot_tree_entry *e;
		struct stat st;
		int r;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode) && !S_ISCHR(st.st_mode) &&
		    !S_ISBLK(st.st_mode) && !S_ISFIFO(st.st_mode))
			return 1; /* a file or a socket: CRIU keeps it */
		if (t->n_entries >= SNAPSHOT_TREE_MAX_ENTRIES || depth > 16)
			return 1;
		if ((r = tree_add(t, prefix, de->d_name, &st, &e)) < 0)
			return r;
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
			if (n <= 0)
				return n < 0 ? -errno : 1;
			target[n] = '\0';
			if (!(e->target = strdup(target)))
				return -ENOMEM;
		}
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(
			    dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			_cleanup_free_ char *p = NULL;
			if (sub < 0)
				return -errno;
			if (asprintf(&p, "%s/", e->path) < 0)
				return -ENOMEM;
			if ((r = tree_walk(sub, p, depth + 1, t)) != 0)
				return r;
		}
	}
	return 0;
}

/*
 * In a child in the mount namespace MNTNS: clone the mount at ROOTFD/DEST alone (not the
 * mounts on it, so that the directories under them show what they hide) and list it into
 * OUT as JSON. Exit status 0: listed; 1: not a tree; 2: failed.
 */
static _Noreturn void tree_child(int mntns, int rootfd, const char *dest, int out)
{
	struct snapshot_tree t = {.destination = (char *)dest};
	struct statfs sf;
	struct stat st;

	if (setns(mntns, CLONE_NEWNS) < 0)
		_exit(2);
	int tree = (int)syscall(SYS_open_tree, rootfd, dest + 1,
				OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
	if (tree < 0 || fstatfs(tree, &sf) < 0 || fstat(tree, &st) < 0)
		_exit(2);
	if (sf.f_type != TMPFS_MAGIC)
		_exit(1);
	t.mode = st.st_mode & (S_IFMT | 07777);
	t.uid = st.st_uid;
	t.gid = st.st_gid;
	int r = tree_walk(tree, "", 0, &t);
	if (r != 0)
		_exit(r > 0 ? 1 : 2);
	struct json_object *j = snapshot_tree_to_json(&t);
	const char *text = j ? json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
								     JSON_C_TO_STRING_NOSLASHESCAPE)
			     : NULL;
	_exit(text && write_all(out, text, strlen(text)) == 0 ? 0 : 2);
}

/* The tree of the tmpfs mount DEST of PID: 0, 1 when it is none (*RET untouched), -errno. */
static int tree_read(pid_t pid, const char *dest, struct snapshot_tree *ret)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int mntns = -EBADF, rootfd = -EBADF;
	char path[64];
	size_t len = 0;
	int p[2], st, r;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	if ((mntns = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	if ((rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t child = fork();
	if (child < 0) {
		r = -errno;
		safe_close(p[0]);
		safe_close(p[1]);
		return r;
	}
	if (child == 0) {
		safe_close(p[0]);
		tree_child(mntns, rootfd, dest, p[1]);
	}
	safe_close(p[1]);
	r = read_fd_all(p[0], 16u << 20, &buf, &len);
	safe_close(p[0]);
	if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st))
		return r < 0 ? r : -EIO;
	if (r < 0 || WEXITSTATUS(st) == 2)
		return r < 0 ? r : -EIO;
	if (WEXITSTATUS(st) == 1)
		return 1;
	_cleanup_json_ struct json_object *j = NULL;
	if ((r = json_parse(buf, len, &j)) < 0)
		return r;
	return snapshot_tree_from_json(j, ret);
}

int ext_mounts_add_tmpfs_trees(const struct spec *s, pid_t pid, struct ext_mounts *em,
			       struct snapshot_tree **ret_trees, size_t *ret_n)
{
	struct snapshot_tree *trees = NULL;
	size_t n = 0;
	int r = 0;

	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *sm = &s->mounts[i];
		struct snapshot_tree t = {0};
		char path[PATH_MAX];
		const char *key;

		if (!spec_mount_is_tmpfs(sm) || ext_mounts_has(em, sm->destination) ||
		    snprintf(path, sizeof(path), "/proc/%d/root%s", pid, sm->destination) >=
			(int)sizeof(path) ||
		    !is_tmpfs_mount(path, false, NULL))
			continue;
		if ((r = tree_read(pid, sm->destination, &t)) < 0) {
			log_debug_errno(r, "list the tmpfs '%s': %m; CRIU dumps it",
					sm->destination);
			r = 0;
			continue;
		}
		if (r > 0) {
			r = 0;
			continue;
		}
		struct snapshot_tree *tt = reallocarray(trees, n + 1, sizeof(*trees));
		if (!tt) {
			snapshot_tree_done(&t);
			r = -ENOMEM;
			break;
		}
		trees = tt;
		trees[n++] = t;
		if (!(key = ext_mounts_tmpfs_key(em, sm)) ||
		    (r = ext_mounts_add(em, sm->destination, key)) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			snapshot_tree_done(&trees[i]);
		free(trees);
		return r;
	}
	*ret_trees = trees;
	*ret_n = n;
	return 0;
}

int tmpfs_tree_make(const char *path, const struct snapshot_tree *t)
{
	_cleanup_close_ int root = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (root < 0)
		return log_error_errno(-errno, "open '%s': %m", path);
	for (size_t i = 0; i < t->n_entries; i++) {
		const struct snapshot_tree_entry *e = &t->entries[i];
		_cleanup_free_ char *parent = strdup(e->path);
		const char *base;
		int r = 0;

		if (!parent)
			return -ENOMEM;
		char *slash = strrchr(parent, '/');
		if (slash) {
			*slash = '\0';
			base = slash + 1;
		} else {
			base = e->path;
		}
		/* the parent resolved inside the tree: a symlink of it cannot lead out */
		_cleanup_close_ int dfd = slash
					      ? open_in_root(root, parent, O_PATH | O_DIRECTORY, 0)
					      : fcntl(root, F_DUPFD_CLOEXEC, 3);
		if (dfd < 0)
			return log_error_errno(dfd < 0 && slash ? dfd : -errno,
					       "'%s' in the tmpfs of '%s': %m", parent,
					       t->destination);
		if (S_ISDIR(e->mode))
			r = mkdirat(dfd, base, 0700);
		else if (S_ISLNK(e->mode))
			r = symlinkat(e->target, dfd, base);
		else
			r = mknodat(dfd, base, (e->mode & S_IFMT) | 0600,
				    makedev(e->major, e->minor));
		if (r < 0 || fchownat(dfd, base, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (!S_ISLNK(e->mode) && fchmodat(dfd, base, e->mode & 07777, 0) < 0))
			return log_error_errno(-errno, "make '%s' in the tmpfs of '%s': %m",
					       e->path, t->destination);
	}
	if (fchown(root, t->uid, t->gid) < 0 || fchmod(root, t->mode & 07777) < 0)
		return log_error_errno(-errno, "set owner and mode of the tmpfs of '%s': %m",
				       t->destination);
	return 0;
}

int ext_mounts_from_spec(const struct spec *s, bool restore, struct ext_mounts *ret)
{
	struct ext_mounts m = {0};

	m.pairs = calloc(s->n_mounts + 1, sizeof(*m.pairs));
	m.keys = calloc(s->n_mounts + 1, sizeof(char *));
	if (!m.pairs || !m.keys) {
		ext_mounts_done(&m);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *sm = &s->mounts[i];

		if (!(sm->kind & MOUNT_BIND) || !sm->source)
			continue;
		m.keys[m.n] = strdup(sm->destination);
		if (!m.keys[m.n]) {
			ext_mounts_done(&m);
			return -ENOMEM;
		}
		m.pairs[m.n].key = sm->destination;
		m.pairs[m.n].value = restore ? sm->source : sm->destination;
		m.n++;
	}
	*ret = m;
	return 0;
}

/* The pid of PID in its innermost pid namespace (the last field of NSpid). */
static int ns_pid_of(pid_t pid, int *ret)
{
	_cleanup_free_ char *status = NULL;
	char path[64];
	size_t len;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((r = read_file_at(AT_FDCWD, path, 65536, &status, &len)) < 0)
		return r;
	char *p = strstr(status, "\nNSpid:");
	if (!p)
		return -ENOTSUP;
	p += 7;
	char *end = strchr(p, '\n');
	if (end)
		*end = '\0';
	char *last = strrchr(p, '\t');
	return parse_int(last ? last + 1 : p, ret);
}

static int processes(struct cgroup *cg, pid_t init, pid_t **ret, size_t *ret_n)
{
	if (cg)
		return cgroup_get_pids(cg, ret, ret_n);
	*ret = malloc(sizeof(pid_t));
	if (!*ret)
		return -ENOMEM;
	(*ret)[0] = init;
	*ret_n = 1;
	return 0;
}

void container_gpu_done(struct container_gpu *g)
{
	g->gpu = gpu_close(g->gpu);
	free(g->pids);
	free(g->ns_pids);
	g->pids = NULL;
	g->ns_pids = NULL;
	g->n = 0;
}

int container_gpu_find(struct cgroup *cg, pid_t init, struct container_gpu *ret)
{
	_cleanup_(gpu_closep) struct gpu *g = NULL;
	_cleanup_free_ pid_t *pids = NULL, *cuda = NULL;
	_cleanup_free_ int *ns = NULL;
	pid_t user = 0;
	size_t n = 0, k = 0;
	char v[16];
	int r;

	if ((r = processes(cg, init, &pids, &n)) < 0)
		return r;
	for (size_t i = 0; i < n && !user; i++)
		if (gpu_pid_uses_driver(pids[i]))
			user = pids[i];
	if (!user && !gpu_host_has_driver())
		return 0;
	r = gpu_open(&g);
	if (r == -EOPNOTSUPP && user)
		log_warning("process %d uses an NVIDIA GPU but brisk was built without GPU "
			    "support: its device memory is not saved",
			    (int)user);
	if (r == -EOPNOTSUPP)
		return 0;
	if (r == -ENOSYS && user)
		return log_error_errno(r,
				       "CUDA driver %s has no checkpoint API (needs >= %s), and "
				       "process %d uses the GPU",
				       gpu_version_string(gpu_driver_version(g), v, sizeof(v)),
				       GPU_MIN_DRIVER_STRING, (int)user);
	if (r == -ENOENT && user)
		return log_error_errno(r,
				       "process %d uses an NVIDIA GPU but the CUDA driver could "
				       "not be loaded: %s",
				       (int)user, gpu_error(g));
	if (r == -ENOSYS || r == -ENOENT)
		return 0;
	if (r < 0)
		return log_error_errno(r, "load the CUDA driver: %m");
	if ((r = gpu_find(g, pids, n, &cuda, &k)) < 0)
		return log_error_errno(r, "find the CUDA processes: %s", gpu_error(g));
	if (k == 0)
		return 0;
	ns = calloc(k, sizeof(int));
	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < k; i++)
		if ((r = ns_pid_of(cuda[i], &ns[i])) < 0)
			return log_error_errno(r, "CUDA process %d: its pid namespace: %m",
					       (int)cuda[i]);
	ret->gpu = TAKE_PTR(g);
	ret->pids = TAKE_PTR(cuda);
	ret->ns_pids = TAKE_PTR(ns);
	ret->n = k;
	return 0;
}

void container_gpu_criu_env(const char *plugin_free_dir)
{
	/*
	 * brisk drives the driver itself; CRIU's cuda plugin (4.1 and later, in
	 * /usr/lib/criu) would lock, checkpoint or restore the same processes again. CRIU
	 * loads its plugins from $CRIU_LIBS_DIR when no --libdir is given, only *.so files.
	 */
	char abs[PATH_MAX];

	/* absolute: the CRIU worker may change its directory before it loads plugins */
	setenv("CRIU_LIBS_DIR", realpath(plugin_free_dir, abs) ? abs : plugin_free_dir, 1);
}

int container_gpu_dump(struct container_gpu *cg, unsigned timeout_ms, bool leave_running,
		       const char *plugin_free_dir, int (*dump)(void *userdata), void *userdata,
		       enum gpu_step *ret_failed)
{
	int r;

	container_gpu_criu_env(plugin_free_dir);
	r = gpu_checkpoint_around(cg->gpu, cg->pids, cg->n, timeout_ms, leave_running, dump,
				  userdata, ret_failed);
	unsetenv("CRIU_LIBS_DIR");
	if (r < 0 && *ret_failed == GPU_STEP_CHECKPOINT)
		return log_error_errno(r,
				       "checkpoint the CUDA processes: %s (the container runs on)",
				       gpu_error(cg->gpu));
	if (r < 0 && *ret_failed == GPU_STEP_RESUME)
		return log_error_errno(
		    r,
		    "the checkpoint is complete, but bringing the CUDA processes "
		    "back failed: %s",
		    gpu_error(cg->gpu));
	if (*ret_failed == GPU_STEP_DUMP && *gpu_error(cg->gpu))
		log_error("bring the CUDA processes back after the failed dump: %s",
			  gpu_error(cg->gpu));
	return r;
}

/* Append the descendants of PID (from /proc/PID/task/TID/children) to *PIDS. */
static int add_descendants(pid_t pid, pid_t **pids, size_t *n, size_t *cap, int depth)
{
	_cleanup_(closedirp) DIR *d = NULL;
	char path[64];
	struct dirent *de;

	if (depth > 64)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(d = opendir(path)))
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		_cleanup_free_ char *kids = NULL;
		char file[384];
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s/children", path, de->d_name);
		if (read_file_at(AT_FDCWD, file, 1 << 20, &kids, &len) < 0)
			continue;
		for (char *sp, *tok = strtok_r(kids, " \n", &sp); tok;
		     tok = strtok_r(NULL, " \n", &sp)) {
			int kid, r;
			if (parse_int(tok, &kid) < 0)
				continue;
			if (*n == *cap) {
				pid_t *p = reallocarray(*pids, *cap * 2 + 16, sizeof(pid_t));
				if (!p)
					return -ENOMEM;
				*pids = p;
				*cap = *cap * 2 + 16;
			}
			(*pids)[(*n)++] = kid;
			if ((r = add_descendants(kid, pids, n, cap, depth + 1)) < 0)
				return r;
		}
	}
	return 0;
}

int container_gpu_restore(pid_t init, const int *ns_pids, size_t n)
{
	_cleanup_(gpu_closep) struct gpu *g = NULL;
	_cleanup_free_ pid_t *pids = NULL, *host = NULL;
	size_t np = 1, cap = 16;
	char v[16];
	int r;

	r = gpu_open(&g);
	if (r == -EOPNOTSUPP)
		return log_error_errno(r, "the checkpoint has CUDA processes and brisk was built "
					  "without GPU support");
	if (r == -ENOSYS)
		return log_error_errno(r,
				       "the checkpoint has CUDA processes and CUDA driver %s has "
				       "no checkpoint API (needs >= %s)",
				       gpu_version_string(gpu_driver_version(g), v, sizeof(v)),
				       GPU_MIN_DRIVER_STRING);
	if (r < 0)
		return log_error_errno(r,
				       "the checkpoint has CUDA processes and the CUDA driver "
				       "could not be loaded: %s",
				       r == -ENOENT ? gpu_error(g) : strerror(-r));
	/*
	 * The restored tree, not the cgroup: CRIU may have put the tasks back into the
	 * cgroups they were dumped from.
	 */
	pids = calloc(cap, sizeof(pid_t));
	host = calloc(n + 1, sizeof(pid_t));
	if (!pids || !host)
		return -ENOMEM;
	pids[0] = init;
	if ((r = add_descendants(init, &pids, &np, &cap, 0)) < 0)
		return log_error_errno(r, "list the restored processes: %m");
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < np && !host[i]; j++) {
			int ns = 0;
			r = ns_pid_of(pids[j], &ns);
			log_debug("restored process %d is %d in its pid namespace", (int)pids[j],
				  ns);
			if (r == 0 && ns == ns_pids[i])
				host[i] = pids[j];
		}
		if (!host[i])
			return log_error_errno(-ESRCH,
					       "CUDA process %d of the checkpoint is not among the "
					       "restored processes",
					       ns_pids[i]);
	}
	if ((r = gpu_resume(g, host, n)) < 0)
		return log_error_errno(r, "restore the CUDA processes: %s", gpu_error(g));
	return 0;
}

/* The flags of lo in the network namespace NETNS (an fd), or -errno. */
static int loopback_flags(int netns)
{
	_cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	struct ifreq ifr = {0};
	int r = 0;

	if (self < 0)
		return -errno;
	if (setns(netns, CLONE_NEWNET) < 0)
		return -errno;
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr) < 0)
		r = -errno;
	if (sk >= 0)
		close(sk);
	if (setns(self, CLONE_NEWNET) < 0) {
		/* we would go on in the container's network: nothing sane is left to do */
		log_error_errno(-errno, "return to our network namespace: %m");
		abort();
	}
	return r < 0 ? r : ifr.ifr_flags;
}

int netns_loopback_only(const struct spec *s, pid_t pid, const char **ret_state,
			unsigned long long *ret_ino)
{
	const struct spec_namespace *ns = spec_find_namespace(s, CLONE_NEWNET);
	char path[64];
	_cleanup_free_ char *dev = NULL;
	struct stat st, self;
	size_t len;
	int r;

	*ret_state = NULL;
	*ret_ino = 0;
	if (!ns || ns->path || spec_find_namespace(s, CLONE_NEWUSER))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &st) < 0 || stat("/proc/self/ns/net", &self) < 0)
		return -errno;
	if (st.st_ino == self.st_ino)
		return 0;
	/* "Inter-| Receive...", " face |bytes...", then one "NAME: counters" line each */
	snprintf(path, sizeof(path), "/proc/%d/net/dev", pid);
	if ((r = read_file_at(AT_FDCWD, path, 1 << 20, &dev, &len)) < 0)
		return r;
	char *line = dev, *save = NULL;
	int n = 0;
	for (char *l = strtok_r(line, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (n++ < 2)
			continue;
		l += strspn(l, " ");
		if (strncmp(l, "lo:", 3) != 0)
			return 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((r = loopback_flags(fd)) < 0)
		return r;
	*ret_state = (r & IFF_UP) ? SNAPSHOT_NETNS_LO_UP : SNAPSHOT_NETNS_LO_DOWN;
	*ret_ino = (unsigned long long)st.st_ino;
	return 0;
}

int netns_new_loopback(bool up, int *ret_fd)
{
	_cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int fd = -EBADF, r = 0;

	if (self < 0)
		return -errno;
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		r = -errno;
	if (r == 0 && up) {
		struct ifreq ifr = {0};
		int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
		if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr) < 0)
			r = -errno;
		ifr.ifr_flags |= IFF_UP;
		if (r == 0 && ioctl(sk, SIOCSIFFLAGS, &ifr) < 0)
			r = -errno;
		if (sk >= 0)
			close(sk);
	}
	if (setns(self, CLONE_NEWNET) < 0) {
		log_error_errno(-errno, "return to our network namespace: %m");
		abort();
	}
	if (r < 0) {
		safe_close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* ID of the container's user namespace as the host sees it; -ERANGE where no mapping has it. */
static int map_id(const struct spec_id_map *maps, size_t n, uint32_t id, uint32_t *ret)
{
	if (n == 0) {
		*ret = id;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (id >= maps[i].container_id && id - maps[i].container_id < maps[i].size) {
			*ret = maps[i].host_id + (id - maps[i].container_id);
			return 0;
		}
	return -ERANGE;
}

void restore_grant_done(struct restore_grant *g)
{
	free(g->groups);
	free(g->maps);
	free(g->mounts);
	free(g->rlimits);
	seccomp_prog_free(g->seccomp);
	*g = (struct restore_grant){0};
}

static int grant_ids(const struct spec *s, struct restore_grant *rg)
{
	struct snapshot_grant *g = &rg->g;
	const struct spec_namespace *user = spec_find_namespace(s, CLONE_NEWUSER);
	size_t nu = user && !user->path ? s->n_uid_maps : 0;
	size_t ng = user && !user->path ? s->n_gid_maps : 0;
	uint32_t id;

	if (user && user->path)
		return log_error_errno(-EOPNOTSUPP,
				       "restore into the user namespace '%s' of the bundle: its "
				       "ids cannot be checked",
				       user->path);
	if (map_id(s->uid_maps, nu, s->process.uid, &id) < 0)
		return log_error_errno(-ERANGE, "process.user.uid %u is not in linux.uidMappings",
				       (unsigned)s->process.uid);
	g->uid = id;
	if (map_id(s->gid_maps, ng, s->process.gid, &id) < 0)
		return log_error_errno(-ERANGE, "process.user.gid %u is not in linux.gidMappings",
				       (unsigned)s->process.gid);
	g->gid = id;
	rg->groups = calloc(s->process.n_additional_gids + 1, sizeof(gid_t));
	rg->maps = calloc(nu + ng + 1, sizeof(*rg->maps));
	if (!rg->groups || !rg->maps)
		return -ENOMEM;
	for (size_t i = 0; i < s->process.n_additional_gids; i++) {
		if (map_id(s->gid_maps, ng, s->process.additional_gids[i], &id) < 0)
			return log_error_errno(-ERANGE,
					       "process.user.additionalGids: %u is not in "
					       "linux.gidMappings",
					       (unsigned)s->process.additional_gids[i]);
		rg->groups[i] = id;
	}
	g->groups = rg->groups;
	g->n_groups = s->process.n_additional_gids;
	for (size_t i = 0; i < nu + ng; i++) {
		const struct spec_id_map *m = i < nu ? &s->uid_maps[i] : &s->gid_maps[i - nu];
		rg->maps[i] = (struct snapshot_id_map){m->container_id, m->host_id, m->size};
	}
	if (user && !user->path) {
		g->uid_map = rg->maps;
		g->n_uid_map = nu;
		g->gid_map = rg->maps + nu;
		g->n_gid_map = ng;
	}
	return 0;
}

#define GRANT_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)

/* mount_setattr's recursive attributes as MS_* flags */
static unsigned long attr_flags(uint64_t attr)
{
	return (attr & MOUNT_ATTR_RDONLY ? MS_RDONLY : 0) |
	       (attr & MOUNT_ATTR_NOSUID ? MS_NOSUID : 0) |
	       (attr & MOUNT_ATTR_NODEV ? MS_NODEV : 0) |
	       (attr & MOUNT_ATTR_NOEXEC ? MS_NOEXEC : 0);
}

/*
 * The mounts of S that a container has, as rootfs.c, init.c and the restore make them: the
 * spec's (a bind from its source; a recursive one, and the cgroup tmpfs of a v1 host, with
 * mounts below), the masked and read-only paths, /dev/console with a terminal, the devices
 * bound from the host in a user namespace, and the rootfs.
 */
static int grant_mounts(const struct spec *s, struct restore_grant *rg)
{
	size_t n = 0, max = s->n_mounts + s->n_devices + 2;
	struct snapshot_mount_grant *m;

	for (char **p = s->masked_paths; p && *p; p++)
		max++;
	for (char **p = s->readonly_paths; p && *p; p++)
		max++;
	if (!(m = rg->mounts = calloc(max, sizeof(*m))))
		return -ENOMEM;
	m[n++] = (struct snapshot_mount_grant){
	    .destination = "/", .what = "root", .flags = s->root_readonly ? MS_RDONLY : 0};
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *sm = &s->mounts[i];
		struct snapshot_mount_grant *g = &m[n++];
		struct stat st;

		*g = (struct snapshot_mount_grant){
		    .destination = sm->destination,
		    .what = "mounts",
		    .flags = (sm->flags & GRANT_FLAGS) | attr_flags(sm->attr_set),
		    .below_flags = attr_flags(sm->attr_set),
		};
		if (sm->type && strcmp(sm->type, "cgroup") == 0) {
			g->below = true;
			g->below_flags = g->flags;
		}
		/* what the runtime mounts there (a cgroup mount is a tmpfs of cgroup v1 mounts, or
		 * cgroup2) */
		if (!(sm->kind & MOUNT_BIND) && sm->type && strcmp(sm->type, "cgroup") != 0 &&
		    strcmp(sm->type, "cgroup2") != 0 && strcmp(sm->type, "none") != 0)
			g->fstype = sm->type;
		if (!(sm->kind & MOUNT_BIND) || !sm->source)
			continue;
		g->required = true;
		g->below = sm->kind & MOUNT_RECURSIVE;
		if (stat(sm->source, &st) < 0)
			return log_error_errno(-errno, "bind mount source '%s': %m", sm->source);
		g->has_source = true;
		g->dev = st.st_dev;
		g->ino = st.st_ino;
	}
	for (char **p = s->masked_paths; p && *p; p++)
		m[n++] = (struct snapshot_mount_grant){.destination = *p,
						       .what = "linux.maskedPaths",
						       .if_exists = true,
						       .mask = true};
	for (char **p = s->readonly_paths; p && *p; p++)
		m[n++] = (struct snapshot_mount_grant){.destination = *p,
						       .what = "linux.readonlyPaths",
						       .flags = MS_RDONLY,
						       .if_exists = true};
	if (s->process.terminal)
		m[n++] = (struct snapshot_mount_grant){.destination = "/dev/console",
						       .what = "process.terminal"};
	for (size_t i = 0; spec_find_namespace(s, CLONE_NEWUSER) && i < s->n_devices; i++)
		m[n++] = (struct snapshot_mount_grant){.destination = s->devices[i].path,
						       .what = "linux.devices"};
	/* without a mount namespace of its own the container has the host's */
	if (spec_find_namespace(s, CLONE_NEWNS)) {
		rg->g.mounts = m;
		rg->g.n_mounts = n;
	}
	return 0;
}

int restore_grant_from_spec(const struct spec *s, struct restore_grant *ret)
{
	static const enum caps_set sets[_SNAPSHOT_CAP_MAX] = {
	    [SNAPSHOT_CAP_BOUNDING] = CAPS_BOUNDING,
	    [SNAPSHOT_CAP_EFFECTIVE] = CAPS_EFFECTIVE,
	    [SNAPSHOT_CAP_INHERITABLE] = CAPS_INHERITABLE,
	    [SNAPSHOT_CAP_PERMITTED] = CAPS_PERMITTED,
	    [SNAPSHOT_CAP_AMBIENT] = CAPS_AMBIENT,
	};
	_cleanup_(caps_freep) struct caps *caps = NULL;
	struct restore_grant rg = {0};
	struct snapshot_grant *g = &rg.g;
	int r;

	if ((r = caps_parse(s->process.capabilities, &caps)) < 0 || (r = grant_ids(s, &rg)) < 0 ||
	    (r = grant_mounts(s, &rg)) < 0) {
		restore_grant_done(&rg);
		return r;
	}
	for (int i = 0; i < _SNAPSHOT_CAP_MAX; i++)
		g->caps[i] = caps_get_mask(caps, sets[i]);
	/* what the process could have done itself with the capabilities it is given */
	g->any_uid = g->caps[SNAPSHOT_CAP_PERMITTED] & (UINT64_C(1) << CAP_SETUID);
	g->any_gid = g->caps[SNAPSHOT_CAP_PERMITTED] & (UINT64_C(1) << CAP_SETGID);
	g->any_ns = g->caps[SNAPSHOT_CAP_PERMITTED] & (UINT64_C(1) << CAP_SYS_ADMIN);
	g->any_mount = g->any_ns;
	g->no_new_privs = s->process.no_new_privileges;
	/* the runtime installs linux.seccomp as one filter: this one */
	g->seccomp_filters = s->seccomp ? 1 : 0;
	if (s->seccomp && (r = seccomp_prog_compile(s->seccomp, &rg.seccomp)) < 0) {
		restore_grant_done(&rg);
		return r;
	}
	g->seccomp_bpf = seccomp_prog_bpf(rg.seccomp);
	g->seccomp_len = seccomp_prog_size(rg.seccomp);
	/* an LSM the host lacks: refused, as create refuses it */
	if ((r = process_check_lsm(&s->process)) < 0) {
		restore_grant_done(&rg);
		return r;
	}
	if (s->process.apparmor_profile && *s->process.apparmor_profile)
		g->apparmor_profile = s->process.apparmor_profile;
	if (s->process.selinux_label && *s->process.selinux_label)
		g->selinux_label = s->process.selinux_label;
	/* CAP_SYS_RESOURCE: the process could have raised its hard limits itself */
	if (s->process.n_rlimits &&
	    !(g->caps[SNAPSHOT_CAP_PERMITTED] & (UINT64_C(1) << CAP_SYS_RESOURCE))) {
		if (!(rg.rlimits = calloc(s->process.n_rlimits, sizeof(*rg.rlimits)))) {
			restore_grant_done(&rg);
			return -ENOMEM;
		}
		for (size_t i = 0; i < s->process.n_rlimits; i++)
			rg.rlimits[i] = (struct snapshot_rlimit){
			    .resource = s->process.rlimits[i].resource,
			    .hard = s->process.rlimits[i].hard,
			    .name = spec_rlimit_name(s->process.rlimits[i].resource)};
		g->rlimits = rg.rlimits;
		g->n_rlimits = s->process.n_rlimits;
	}
	for (size_t i = 0; i < s->n_namespaces && g->n_ns < SNAPSHOT_NS_TYPES; i++) {
		const struct spec_namespace *ns = &s->namespaces[i];
		struct snapshot_ns_grant *ng = &g->ns[g->n_ns++];
		struct stat st;

		*ng = (struct snapshot_ns_grant){.type = ns->type, .want = SNAPSHOT_NS_NEW};
		if (!ns->path)
			continue;
		if (stat(ns->path, &st) < 0) {
			r = log_error_errno(-errno, "%s namespace '%s': %m",
					    spec_namespace_name(ns->type), ns->path);
			restore_grant_done(&rg);
			return r;
		}
		ng->want = SNAPSHOT_NS_JOIN;
		ng->dev = st.st_dev;
		ng->ino = st.st_ino;
	}
	*ret = rg;
	return 0;
}

static const char *const cap_set_keys[_SNAPSHOT_CAP_MAX] = {
    [SNAPSHOT_CAP_BOUNDING] = "bounding",	[SNAPSHOT_CAP_EFFECTIVE] = "effective",
    [SNAPSHOT_CAP_INHERITABLE] = "inheritable", [SNAPSHOT_CAP_PERMITTED] = "permitted",
    [SNAPSHOT_CAP_AMBIENT] = "ambient",
};

int restore_grant_check(const struct restore_grant *g, pid_t root)
{
	struct snapshot_violation v;
	char thread[32] = "", caps[512], detail[768];
	int r = snapshot_tree_check(root, &g->g, &v);

	if (r == -EPERM && v.tid != v.pid)
		snprintf(thread, sizeof(thread), ", thread %d", (int)v.tid);
	if (r == -EPERM && strcmp(v.field, "capabilities") == 0) {
		caps_mask_names(v.extra_caps, caps, sizeof(caps));
		snprintf(detail, sizeof(detail),
			 "%s in its %s set, beyond the bundle's process.capabilities.%s", caps,
			 cap_set_keys[v.set], cap_set_keys[v.set]);
	}
	if (r == -EPERM && strcmp(v.field, "mounts") == 0)
		return log_error_errno(r,
				       "refused: the checkpoint's mounts are not the bundle's: %s; "
				       "the restored tree is killed",
				       v.detail);
	if (r == -EPERM)
		return log_error_errno(r,
				       "refused: task %d (%s)%s of the checkpoint holds what the "
				       "bundle does not give: %s; the restored tree is killed",
				       (int)v.pid, v.comm, thread,
				       strcmp(v.field, "capabilities") == 0 ? detail : v.detail);
	if (r < 0)
		return log_error_errno(r, "check the restored tree of %d against the bundle: %m",
				       (int)root);
	return 0;
}

static bool maps_equal(const struct spec_id_map *a, size_t na, const struct spec_id_map *b,
		       size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].container_id != b[i].container_id || a[i].host_id != b[i].host_id ||
		    a[i].size != b[i].size)
			return false;
	return true;
}

/* "pid, network (joined), mount" */
static void ns_list(const struct spec *s, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n_namespaces && len < size; i++) {
		int n = snprintf(buf + len, size - len, "%s%s%s", len ? ", " : "",
				 spec_namespace_name(s->namespaces[i].type),
				 s->namespaces[i].path ? " (joined)" : "");
		if (n < 0)
			return;
		len += (size_t)n;
	}
	if (!len)
		snprintf(buf, size, "none");
}

static bool ns_same(const struct spec *a, const struct spec *b)
{
	if (a->n_namespaces != b->n_namespaces)
		return false;
	for (size_t i = 0; i < a->n_namespaces; i++) {
		const struct spec_namespace *o = spec_find_namespace(b, a->namespaces[i].type);
		if (!o || !o->path != !a->namespaces[i].path)
			return false;
	}
	return true;
}

static bool gids_equal(const struct spec_process *a, const struct spec_process *b)
{
	if (a->n_additional_gids != b->n_additional_gids)
		return false;
	for (size_t i = 0; i < a->n_additional_gids; i++)
		if (a->additional_gids[i] != b->additional_gids[i])
			return false;
	return true;
}

int restore_compare_config(const struct spec *s, struct json_object *checkpoint)
{
	_cleanup_(spec_freep) struct spec *c = NULL;
	char a[256], b[256];
	int r;

	if ((r = spec_parse(checkpoint, &c)) < 0)
		return log_error_errno(r, "the checkpoint's config (in %s) is not valid",
				       SNAPSHOT_META_FILE);
	if (c->process.uid != s->process.uid || c->process.gid != s->process.gid)
		return log_error_errno(-EPERM,
				       "the bundle's process.user (uid %u, gid %u) is not the "
				       "checkpoint's (uid %u, gid %u): restore it with the user it "
				       "was checkpointed with",
				       (unsigned)s->process.uid, (unsigned)s->process.gid,
				       (unsigned)c->process.uid, (unsigned)c->process.gid);
	if (!gids_equal(&s->process, &c->process))
		return log_error_errno(-EPERM, "the bundle's process.user.additionalGids are not "
					       "the checkpoint's");
	if (!ns_same(s, c)) {
		ns_list(s, a, sizeof(a));
		ns_list(c, b, sizeof(b));
		return log_error_errno(-EPERM,
				       "the bundle's linux.namespaces (%s) are not the "
				       "checkpoint's (%s)",
				       a, b);
	}
	if (spec_find_namespace(s, CLONE_NEWUSER) &&
	    (!maps_equal(s->uid_maps, s->n_uid_maps, c->uid_maps, c->n_uid_maps) ||
	     !maps_equal(s->gid_maps, s->n_gid_maps, c->gid_maps, c->n_gid_maps)))
		return log_error_errno(-EPERM, "the bundle's user namespace mappings "
					       "(linux.uidMappings, linux.gidMappings) are not the "
					       "checkpoint's");
	return 0;
}

struct allowed_dev {
	const char *path;
	mode_t type; /* S_IFCHR, S_IFBLK */
	unsigned major, minor;
	bool any_minor;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

/* The devices rootfs.c makes in a /dev tmpfs: all 0666, root's. */
static const struct allowed_dev default_devs[] = {
    {"/dev/null", S_IFCHR, 1, 3, false, 0666, 0, 0},
    {"/dev/zero", S_IFCHR, 1, 5, false, 0666, 0, 0},
    {"/dev/full", S_IFCHR, 1, 7, false, 0666, 0, 0},
    {"/dev/random", S_IFCHR, 1, 8, false, 0666, 0, 0},
    {"/dev/urandom", S_IFCHR, 1, 9, false, 0666, 0, 0},
    {"/dev/tty", S_IFCHR, 5, 0, false, 0666, 0, 0},
};

/* E's permissions within A's: the same bits or fewer, and an owner or group other than A's
 * gets no more than A gives everyone. */
static bool dev_perms_ok(const struct snapshot_tree_entry *e, const struct allowed_dev *a)
{
	mode_t m = e->mode & 0777, other = a->mode & 07;

	if (m & ~(a->mode & 0777))
		return false;
	if (e->uid != a->uid && ((m >> 6) & ~other))
		return false;
	if (e->gid != a->gid && ((m >> 3) & 07 & ~other))
		return false;
	return true;
}

static bool dev_matches(const struct snapshot_tree_entry *e, const char *path,
			const struct allowed_dev *a)
{
	return strcmp(path, a->path) == 0 && (e->mode & S_IFMT) == a->type &&
	       e->major == a->major && (a->any_minor || e->minor == a->minor) && dev_perms_ok(e, a);
}

static bool dev_allowed(const struct spec *s, const struct snapshot_tree_entry *e, const char *path,
			bool dev_tmpfs)
{
	for (size_t i = 0; dev_tmpfs && i < ELEMENTSOF(default_devs); i++)
		if (dev_matches(e, path, &default_devs[i]))
			return true;
	for (size_t i = 0; i < s->n_devices; i++) {
		const struct spec_device *d = &s->devices[i];
		struct allowed_dev a = {
		    .path = d->path,
		    .type = d->type == 'b' ? S_IFBLK : S_IFCHR,
		    .major = (unsigned)d->major,
		    .minor = (unsigned)d->minor,
		    .mode = d->has_mode ? d->mode & 0777 : 0666,
		    .uid = d->has_uid ? d->uid : 0,
		    .gid = d->has_gid ? d->gid : 0,
		};
		if (d->type != 'p' && dev_matches(e, path, &a))
			return true;
	}
	/* the console of a terminal: a pty of the devpts (majors 136-143), bound by init.c */
	struct allowed_dev console = {"/dev/console", S_IFCHR, e->major, 0,
				      true,	      0666,    e->uid,	 e->gid};
	return s->process.terminal && e->major >= 136 && e->major <= 143 &&
	       dev_matches(e, path, &console);
}

int tmpfs_tree_check(const struct spec *s, const struct snapshot_tree *t)
{
	const struct spec_mount *m = NULL;
	char path[PATH_MAX];

	for (size_t i = 0; i < s->n_mounts && !m; i++)
		if (strcmp(s->mounts[i].destination, t->destination) == 0 &&
		    spec_mount_is_tmpfs(&s->mounts[i]))
			m = &s->mounts[i];
	if (!m)
		return log_error_errno(
		    -EPERM,
		    "refused: %s lists a tree for '%s', which is no tmpfs of the "
		    "bundle's mounts",
		    SNAPSHOT_META_FILE, t->destination);
	if (t->mode & (S_ISUID | S_ISGID))
		return log_error_errno(-EPERM, "refused: %s gives the tmpfs of '%s' mode %04o",
				       SNAPSHOT_META_FILE, t->destination,
				       (unsigned)(t->mode & 07777));
	for (size_t i = 0; i < t->n_entries; i++) {
		const struct snapshot_tree_entry *e = &t->entries[i];

		if (snprintf(path, sizeof(path), "%s%s%s", t->destination,
			     strcmp(t->destination, "/") == 0 ? "" : "/",
			     e->path) >= (int)sizeof(path))
			return log_error_errno(-ENAMETOOLONG, "refused: '%s' in %s is too long",
					       e->path, SNAPSHOT_META_FILE);
		if (e->mode & (S_ISUID | S_ISGID))
			return log_error_errno(-EPERM,
					       "refused: %s would make '%s' with mode %04o: no "
					       "setuid or setgid bit is made",
					       SNAPSHOT_META_FILE, path,
					       (unsigned)(e->mode & 07777));
		if (!S_ISCHR(e->mode) && !S_ISBLK(e->mode))
			continue;
		if (!dev_allowed(s, e, path, strcmp(t->destination, "/dev") == 0))
			return log_error_errno(
			    -EPERM,
			    "refused: %s would make '%s' (%s %u:%u, mode %04o, owner %u:%u), "
			    "which the bundle does not (its default devices and linux.devices)",
			    SNAPSHOT_META_FILE, path, S_ISBLK(e->mode) ? "block" : "char", e->major,
			    e->minor, (unsigned)(e->mode & 07777), (unsigned)e->uid,
			    (unsigned)e->gid);
	}
	return 0;
}
