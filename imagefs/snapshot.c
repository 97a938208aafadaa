/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshots as content (`brisk-image convert snapshot:DIR`, push-snapshot, pull-snapshot):
 * a checkpoint's image directory (CRIU's *.img and brisk-snapshot.json) becomes a tree of an
 * index like an image's, its files cut into the same content-addressed chunks, so that the
 * pages of two snapshots of one application, and chunks already in the store, are stored
 * once. Its manifest carries its own artifactType (FORMAT.md, "Snapshots").
 */
#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "imagefs-internal.h"

struct snap_walk {
	struct ifs_tree *t;
	struct ifs_chunker *c;
	struct imagefs_convert_stats *st;
	uint8_t *buf;
	uint32_t cs;
};

static void set_attrs(struct ifs_bnode *n, const struct stat *sb)
{
	n->uid = sb->st_uid;
	n->gid = sb->st_gid;
	n->mtime = sb->st_mtim;
	n->ctime = sb->st_ctim;
}

/* LEN bytes at OFF: -EIO when the file is shorter (it changed under us). */
static int read_full_at(int fd, void *buf, size_t len, uint64_t off)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

static int read_file(struct snap_walk *w, int fd, struct ifs_bnode *n)
{
	if (n->size <= IFS_INLINE_MAX) {
		if (n->size == 0)
			return 0;
		if (!(n->inline_data = calloc(1, n->size)))
			return -ENOMEM;
		return read_full_at(fd, n->inline_data, n->size, 0);
	}
	for (uint64_t off = 0; off < n->size; off += w->cs) {
		size_t len = (size_t)(n->size - off < w->cs ? n->size - off : w->cs);
		int r;

		if ((r = read_full_at(fd, w->buf, len, off)) < 0)
			return r;
		if ((r = ifs_bnode_add_chunk(w->c, n, off, w->buf, len, w->st)) < 0)
			return r;
	}
	return 0;
}

static int walk_dir(struct snap_walk *w, int dfd, struct ifs_bnode *dir, const char *path)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r, fd2;

	if ((fd2 = fcntl(dfd, F_DUPFD_CLOEXEC, 3)) < 0)
		return -errno;
	if (!(d = fdopendir(fd2))) {
		safe_close(fd2);
		return -errno;
	}
	while ((errno = 0, de = readdir(d))) {
		_cleanup_close_ int fd = -EBADF;
		struct ifs_bnode *n;
		struct stat sb;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &sb) < 0)
			return log_error_errno(-errno, "snapshot '%s%s%s': %m", path,
					       *path ? "/" : "", de->d_name);
		if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
			return log_error_errno(-EINVAL,
					       "snapshot '%s%s%s': not a regular file or directory",
					       path, *path ? "/" : "", de->d_name);
		if (!(n = ifs_bnode_new(sb.st_mode & (S_IFMT | 07777))))
			return -ENOMEM;
		set_attrs(n, &sb);
		if (S_ISREG(sb.st_mode)) {
			n->size = (uint64_t)sb.st_size;
			r = read_file(w, fd, n);
			w->st->files++;
			w->st->content_bytes += n->size;
		} else {
			r = 0;
		}
		if (r >= 0)
			r = ifs_tree_link(w->t, dir, de->d_name, n);
		if (r < 0) {
			ifs_bnode_unref(n);
			return log_error_errno(r, "snapshot '%s%s%s': %m", path, *path ? "/" : "",
					       de->d_name);
		}
		if (S_ISDIR(sb.st_mode)) {
			_cleanup_free_ char *sub = NULL;

			if (asprintf(&sub, "%s%s%s", path, *path ? "/" : "", de->d_name) < 0)
				return -ENOMEM;
			if ((r = walk_dir(w, fd, n, sub)) < 0)
				return r;
		}
	}
	return errno ? -errno : 0;
}

int imagefs_snapshot_dir_check(const char *dir)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat sb;

	if (dfd < 0)
		return log_error_errno(-errno, "snapshot '%s': %m", dir);
	if (fstatat(dfd, IFS_SNAPSHOT_META, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
		return log_error_errno(-EMEDIUMTYPE, "'%s' is not a checkpoint directory (no %s)",
				       dir, IFS_SNAPSHOT_META);
	return 0;
}

int ifs_snapshot_apply(struct ifs_tree *t, struct ifs_chunker *c, const char *dir,
		       struct imagefs_convert_stats *st)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct snap_walk w = {.t = t, .c = c, .st = st, .cs = ifs_chunker_chunk_size(c)};
	struct stat sb;
	int r;

	if ((r = imagefs_snapshot_dir_check(dir)) < 0)
		return r;
	if (dfd < 0)
		return log_error_errno(-errno, "snapshot '%s': %m", dir);
	if (fstat(dfd, &sb) < 0)
		return -errno;
	t->root->mode = S_IFDIR | (sb.st_mode & 07777);
	set_attrs(t->root, &sb);
	if (!(w.buf = malloc(w.cs)))
		return -ENOMEM;
	r = walk_dir(&w, dfd, t->root, "");
	free(w.buf);
	return r;
}

static int check_dir(const struct imagefs_index *idx, uint32_t dir, const char *path,
		     unsigned depth)
{
	const char *name;
	size_t len;
	uint32_t ino;
	int r;

	if (depth > 64)
		return log_error_errno(-ELOOP, "snapshot: '%s' is nested too deep", path);
	for (uint64_t pos = 0;; pos++) {
		_cleanup_free_ char *sub = NULL;
		struct imagefs_stat st;

		if ((r = imagefs_index_readdir(idx, dir, pos, &name, &len, &ino)) <= 0)
			return r;
		if (asprintf(&sub, "%s%s%.*s", path, *path ? "/" : "", (int)len, name) < 0)
			return -ENOMEM;
		if ((r = imagefs_index_getattr(idx, ino, &st)) < 0)
			return r;
		if (!S_ISREG(st.mode) && !S_ISDIR(st.mode))
			return log_error_errno(-EPERM,
					       "snapshot: '%s' is not a regular file or directory "
					       "(mode %06o): a snapshot holds nothing else",
					       sub, (unsigned)st.mode);
		if (st.mode & (S_ISUID | S_ISGID))
			return log_error_errno(-EPERM,
					       "snapshot: '%s' is setuid or setgid (mode %06o): a "
					       "snapshot holds no such file",
					       sub, (unsigned)st.mode);
		if (S_ISDIR(st.mode) && (r = check_dir(idx, ino, sub, depth + 1)) < 0)
			return r;
	}
}

int ifs_snapshot_index_check(const struct imagefs_index *idx)
{
	if (imagefs_index_has_xattrs(idx))
		return log_error_errno(-EPERM, "snapshot: its files have extended attributes, "
					       "which a snapshot does not hold");
	return check_dir(idx, IMAGEFS_ROOT_INO, "", 0);
}

bool ifs_index_is_snapshot(const struct imagefs_index *idx)
{
	struct imagefs_stat st;
	uint32_t ino;

	return imagefs_index_lookup(idx, IMAGEFS_ROOT_INO, IFS_SNAPSHOT_META,
				    strlen(IFS_SNAPSHOT_META), &ino) == 0 &&
	       imagefs_index_getattr(idx, ino, &st) == 0 && S_ISREG(st.mode);
}

const char *ifs_index_artifact_type(const struct imagefs_index *idx)
{
	return ifs_index_is_snapshot(idx) ? IFS_ARTIFACT_SNAPSHOT : IFS_ARTIFACT_TYPE;
}
