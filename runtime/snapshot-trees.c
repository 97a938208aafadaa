/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small tmpfs trees (the container's /dev as rootfs.c makes it: directories, symlinks and
 * device nodes) saved in brisk-snapshot.json instead of CRIU's tar, made again at restore, and
 * held to what the restoring bundle allows: its devices only, never setuid or setgid.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/json.h"
#include "container-snapshot.h"

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
