/* SPDX-License-Identifier: Apache-2.0 */
/*
 * brisk-image export: materialise an image's tree in a directory (types, modes, owners,
 * xattrs, times, contents, hard links, holes). Every chunk's digest is checked before its
 * bytes are written. Everything is created with *at() calls below directory fds opened
 * with O_NOFOLLOW, and the index is a checked tree, so nothing lands outside the target, and
 * the target appears complete or not at all (export_atomic()).
 *
 * An image is untrusted: unless asked (keep_special), what would give it power on the host is
 * left out: character and block devices are not created, setuid and setgid bits of files are
 * cleared (a directory's setgid, which only passes its group on, stays) and security.capability
 * xattrs are not set. FIFOs, sockets and symlinks (created, never followed) stay.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zstd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "imagefs-internal.h"

struct export
{
	struct imagefs_store *s;
	struct imagefs_index *idx;
	int rootfd;
	char **link_paths; /* inode -> path of its first name, for nlink > 1 */
	void *cbuf, *dbuf;
	size_t cbuf_size;
	bool keep_special;
	struct ifs_spool spool;		/* a remote store's packs, fetched ahead */
	struct imagefs_export_stats st; /* what was left out */
};

int ifs_read_chunk(struct imagefs_store *s, const struct imagefs_index *idx,
		   const struct imagefs_chunk *c, void *cbuf, size_t cbuf_size, void *dst)
{
	struct digest bd;
	int r;

	if (c->compressed_size > cbuf_size)
		return -EBADMSG;
	if ((r = imagefs_index_blob(idx, c->blob, &bd, NULL)) < 0)
		return r;
	if ((r = imagefs_store_read_range(s, &bd, c->blob_offset, c->compressed_size, cbuf)) < 0)
		return r;
	return imagefs_chunk_decode(c, cbuf, dst);
}

/* Chunk C into e->dbuf: from the spool, else from the store. */
static int read_chunk(struct export *e, const struct imagefs_chunk *c)
{
	int r;

	if (c->compressed_size > e->cbuf_size)
		return -EBADMSG;
	r = ifs_spool_read(&e->spool, c->blob, c->blob_offset, c->compressed_size, e->cbuf);
	if (r == -ENOENT)
		return ifs_read_chunk(e->s, e->idx, c, e->cbuf, e->cbuf_size, e->dbuf);
	return r < 0 ? r : imagefs_chunk_decode(c, e->cbuf, e->dbuf);
}

static int write_content(struct export *e, uint32_t ino, const struct imagefs_stat *st, int fd)
{
	struct imagefs_chunk c;
	uint32_t n;
	int r;

	if (st->inline_data) {
		const void *p;
		size_t len;

		if ((r = imagefs_index_inline_data(e->idx, ino, &p, &len)) < 0)
			return r;
		return write_all(fd, p, len);
	}
	if ((r = imagefs_index_file_chunk_count(e->idx, ino, &n)) < 0)
		return r;
	for (uint32_t i = 0; i < n; i++) {
		if ((r = imagefs_index_file_chunk(e->idx, ino, i, &c)) < 0)
			return r;
		if ((r = read_chunk(e, &c)) < 0 ||
		    (r = pwrite_all(fd, e->dbuf, c.size, c.file_offset)) < 0)
			return r;
	}
	/* the rest, and ranges no chunk covers, are holes */
	return ftruncate(fd, (off_t)st->size) < 0 ? -errno : 0;
}

static int set_xattrs(struct export *e, uint32_t ino, int fd, const char *proc_path)
{
	const char *name;
	size_t name_len, vlen;
	const void *v;
	char buf[256];
	int r;

	for (uint32_t i = 0;; i++) {
		r = imagefs_index_listxattr(e->idx, ino, i, &name, &name_len, &v, &vlen);
		if (r <= 0)
			return r;
		memcpy(buf, name, name_len);
		buf[name_len] = '\0';
		if (!e->keep_special && strcmp(buf, "security.capability") == 0) {
			e->st.capabilities++;
			continue;
		}
		r = fd >= 0 ? fsetxattr(fd, buf, v, vlen, 0)
			    : lsetxattr(proc_path, buf, v, vlen, 0);
		if (r < 0)
			return log_error_errno(-errno, "set xattr '%s': %m", buf);
	}
}

/* Owner, mode, xattrs (after chown: it clears security.capability), times. */
static int set_meta(struct export *e, const struct imagefs_stat *st, int dfd, const char *name,
		    int fd)
{
	struct timespec ts[2] = {st->mtime, st->mtime};
	mode_t mode = st->mode & 07777;
	char proc[64 + 256];
	int r;

	if (!e->keep_special && !S_ISDIR(st->mode) && (mode & (S_ISUID | S_ISGID))) {
		mode &= ~(mode_t)(S_ISUID | S_ISGID);
		e->st.setid++;
	}
	if (fd >= 0) {
		if (fchown(fd, st->uid, st->gid) < 0 || fchmod(fd, mode) < 0)
			return -errno;
		if ((r = set_xattrs(e, st->ino, fd, NULL)) < 0)
			return r;
		return futimens(fd, ts) < 0 ? -errno : 0;
	}
	if (fchownat(dfd, name, st->uid, st->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISLNK(st->mode) && fchmodat(dfd, name, mode, 0) < 0)
		return -errno;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dfd, name);
	if ((r = set_xattrs(e, st->ino, -1, proc)) < 0)
		return r;
	return utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int export_dir(struct export *e, uint32_t dir, int dfd, const char *path);

static int export_entry(struct export *e, int dfd, const char *path, const char *name, uint32_t ino)
{
	struct imagefs_stat st;
	_cleanup_free_ char *sub = NULL;
	int r;

	if ((r = imagefs_index_getattr(e->idx, ino, &st)) < 0)
		return r;
	if (!e->keep_special && (S_ISCHR(st.mode) || S_ISBLK(st.mode))) {
		e->st.devices++;
		return 0;
	}
	if (asprintf(&sub, "%s%s%s", path, *path ? "/" : "", name) < 0)
		return -ENOMEM;
	if (!S_ISDIR(st.mode) && st.nlink > 1) {
		if (e->link_paths[ino])
			return linkat(e->rootfd, e->link_paths[ino], dfd, name, 0) < 0 ? -errno : 0;
		if (!(e->link_paths[ino] = strdup(sub)))
			return -ENOMEM;
	}
	switch (st.mode & S_IFMT) {
	case S_IFDIR: {
		_cleanup_close_ int fd = -EBADF;

		if (mkdirat(dfd, name, 0700) < 0)
			return -errno;
		fd = openat(dfd, name, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if ((r = export_dir(e, ino, fd, sub)) < 0)
			return r;
		return set_meta(e, &st, dfd, name, fd);
	}
	case S_IFREG: {
		_cleanup_close_ int fd =
		    openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		if ((r = write_content(e, ino, &st, fd)) < 0)
			return log_error_errno(r, "'%s': content: %m", sub);
		return set_meta(e, &st, dfd, name, fd);
	}
	case S_IFLNK: {
		_cleanup_free_ char *target = NULL;
		const char *t;
		size_t len;

		if ((r = imagefs_index_readlink(e->idx, ino, &t, &len)) < 0)
			return r;
		if (!(target = strndup(t, len)))
			return -ENOMEM;
		if (symlinkat(target, dfd, name) < 0)
			return -errno;
		return set_meta(e, &st, dfd, name, -1);
	}
	default:
		if (mknodat(dfd, name, st.mode & (S_IFMT | 0777),
			    makedev(st.rdev_major, st.rdev_minor)) < 0)
			return -errno;
		return set_meta(e, &st, dfd, name, -1);
	}
}

static int export_dir(struct export *e, uint32_t dir, int dfd, const char *path)
{
	const char *name;
	size_t len;
	uint32_t ino;
	char buf[256];
	int r;

	for (uint64_t pos = 0;; pos++) {
		r = imagefs_index_readdir(e->idx, dir, pos, &name, &len, &ino);
		if (r < 0)
			return r;
		if (r == 0)
			return 0;
		if (len >= sizeof(buf))
			return -ENAMETOOLONG;
		memcpy(buf, name, len);
		buf[len] = '\0';
		if ((r = export_entry(e, dfd, path, buf, ino)) < 0)
			return log_error_errno(r, "export '%s%s%s': %m", path, *path ? "/" : "",
					       buf);
	}
}

/* Export IDX into the new directory PATH (a sibling of the target, renamed by the caller). */
static int export_into(struct imagefs_store *s, struct imagefs_index *idx, const char *path,
		       bool keep_special, struct imagefs_export_stats *ret_stats)
{
	_cleanup_close_ int fd = -EBADF;
	struct imagefs_stat st;
	struct export e = {.s = s, .keep_special = keep_special};
	int r;

	fd = open(path, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(-errno, "'%s': %m", path);
	e.idx = idx;
	e.rootfd = fd;
	e.cbuf_size = ZSTD_compressBound(imagefs_index_chunk_size(idx));
	e.cbuf = malloc(e.cbuf_size);
	e.dbuf = malloc(imagefs_index_chunk_size(idx));
	e.link_paths = calloc(imagefs_index_inode_count(idx), sizeof(char *));
	if (!e.cbuf || !e.dbuf || !e.link_paths)
		r = -ENOMEM;
	else if ((r = ifs_spool_fetch(s, idx, path, &e.spool)) < 0)
		r = log_error_errno(r, "fetch the packs: %s%s%m", s->error, *s->error ? ": " : "");
	else if ((r = export_dir(&e, IMAGEFS_ROOT_INO, fd, "")) >= 0 &&
		 (r = imagefs_index_getattr(idx, IMAGEFS_ROOT_INO, &st)) >= 0)
		r = set_meta(&e, &st, -1, NULL, fd);
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	for (uint32_t i = 0; e.link_paths && i < imagefs_index_inode_count(idx); i++)
		free(e.link_paths[i]);
	free(e.link_paths);
	ifs_spool_done(&e.spool);
	free(e.cbuf);
	free(e.dbuf);
	if (r >= 0 && ret_stats)
		*ret_stats = e.st;
	return r;
}

/* PATH must be missing or an empty directory (which the rename replaces). */
static int check_target(const char *path)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		return errno == ENOENT ? 0 : log_error_errno(-errno, "'%s': %m", path);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			return log_error_errno(-ENOTEMPTY, "export target '%s' is not empty", path);
	return 0;
}

/*
 * The tree is written into a hidden sibling of PATH and renamed onto PATH when complete
 * (every file fsynced), so PATH either appears whole or not at all: a failed export (a
 * missing blob, a corrupt chunk, a full disk) leaves nothing.
 */
static int export_atomic(struct imagefs_store *s, const char *path, bool snapshot,
			 bool keep_special, struct imagefs_export_stats *ret_stats)
{
	_cleanup_(imagefs_index_freep) struct imagefs_index *idx = NULL;
	_cleanup_free_ char *copy = strdup(path), *tmp = NULL;
	char ds[DIGEST_STRING_SIZE];
	struct digest d;
	int r;

	if (!copy)
		return -ENOMEM;
	if ((r = check_target(path)) < 0)
		return r;
	if ((r = imagefs_store_open_index(s, &d, &idx)) < 0)
		return r;
	if (snapshot && !ifs_index_is_snapshot(idx))
		return log_error_errno(-EMEDIUMTYPE, "%s is an image, not a snapshot (no %s)",
				       digest_format(&d, ds), IFS_SNAPSHOT_META);
	/* a snapshot pulled is regular files and directories, as push-snapshot stores them */
	if (snapshot && (r = ifs_snapshot_index_check(idx)) < 0)
		return r;
	size_t n = strlen(copy);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	char *slash = strrchr(copy, '/');
	const char *base = slash ? slash + 1 : copy;
	if (asprintf(&tmp, "%.*s.%s.export-XXXXXX", slash ? (int)(slash - copy + 1) : 0, copy,
		     base) < 0) {
		tmp = NULL;
		return -ENOMEM;
	}
	if (!mkdtemp(tmp))
		return log_error_errno(-errno, "create a directory beside '%s': %m", path);
	r = export_into(s, idx, tmp, keep_special, ret_stats);
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)rm_rf_at(AT_FDCWD, tmp);
		return log_error_errno(r, "export to '%s': %m", path);
	}
	return 0;
}

int imagefs_export(struct imagefs_store *s, const char *path,
		   const struct imagefs_export_options *opts,
		   struct imagefs_export_stats *ret_stats)
{
	return export_atomic(s, path, false, opts && opts->keep_special, ret_stats);
}

int imagefs_export_snapshot(struct imagefs_store *s, const char *path)
{
	return export_atomic(s, path, true, false, NULL);
}
