/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The FUSE low-level handlers of the lazy mount. The image never changes, so everything is
 * cached by the kernel for as long as it likes: entries (negative ones too) and attributes
 * with long timeouts, file pages kept across opens, directory listings cached. opendir is not
 * implemented (the kernel then stops sending it); open is, for FUSE passthrough of cached
 * files (passthrough.c), and without passthrough it answers ENOSYS, so that the kernel stops
 * sending it too and keeps the page cache. readdir is always readdirplus, so a cold tree walk
 * costs one request per directory. getxattr of an image without xattrs answers ENOSYS once.
 * The daemon's counters and pid are read with ioctls of the root (IFS_IOC_*), not xattrs, so
 * that they need no getxattr.
 * Index inode N is FUSE inode N + 1. Every handler replies exactly once.
 */
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "lazy-internal.h"

_Static_assert(sizeof(fuse_ino_t) >= sizeof(uint64_t), "fuse_ino_t holds index inode + 1");

#define TIMEOUT 1e9 /* seconds: the image is immutable */
#define MAX_READ_CHUNKS 64
#define LOOKUP_HINT_MAX (128u << 10) /* the largest file whose check a lookup starts */

/* Read replies are copied into the worker's own buffer and written in one go. libfuse splices
 * an fd-backed reply only when it fits its pipe (pipe-max-size, 1 MiB by default, header
 * included), and otherwise copies it through a buffer it mallocs and frees per reply, one page
 * fault per 4 KiB; and for small replies a pread + writev costs fewer system calls than the
 * splice's vmsplice + splice + splice. */
#define FLAT_MAX (1 << 20)

static const char zeros[128 << 10];
static pthread_key_t flat_key;
static pthread_once_t flat_once = PTHREAD_ONCE_INIT;
static __thread char *flat_buf;

static struct ifs_fs *FS(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void count(struct ifs_fs *fs, int op)
{
	fs->stats.requests[op]++;
	ifs_fs_busy(fs);
}

static bool to_index(fuse_ino_t ino, uint32_t *ret)
{
	if (ino < 1 || ino - 1 > UINT32_MAX)
		return false;
	*ret = (uint32_t)(ino - 1);
	return true;
}

static void to_stat(const struct imagefs_stat *s, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = (ino_t)s->ino + 1;
	st->st_mode = s->mode;
	st->st_nlink = s->nlink;
	st->st_uid = s->uid;
	st->st_gid = s->gid;
	st->st_rdev = makedev(s->rdev_major, s->rdev_minor);
	st->st_size = (off_t)s->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((s->size + 511) / 512);
	st->st_mtim = s->mtime;
	st->st_atim = s->mtime;
	st->st_ctim = s->ctime;
}

static int entry_for(struct ifs_fs *fs, uint32_t ino, struct fuse_entry_param *e)
{
	struct imagefs_stat s;
	int r;

	memset(e, 0, sizeof(*e));
	if ((r = imagefs_index_getattr(fs->idx, ino, &s)) < 0)
		return r;
	e->ino = (fuse_ino_t)ino + 1;
	e->attr_timeout = TIMEOUT;
	e->entry_timeout = TIMEOUT;
	to_stat(&s, &e->attr);
	return 0;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	unsigned want = FUSE_CAP_NO_OPEN_SUPPORT | FUSE_CAP_NO_OPENDIR_SUPPORT |
			FUSE_CAP_READDIRPLUS | FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_PARALLEL_DIROPS |
			FUSE_CAP_ASYNC_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;

	(void)userdata;
	conn->want |= want & conn->capable;
	/* plain readdirplus every time: the entries come with their attributes */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	conn->time_gran = 1;
}

/* A small file looked up is usually opened next: the check of its cached bytes (cache.c), which
 * its open would wait for, is done now, after the lookup's reply and before the open comes. */
static void lookup_hint(struct ifs_fs *fs, uint32_t ino)
{
	struct imagefs_chunk c;
	uint32_t n;

	if (imagefs_index_file_chunk_count(fs->idx, ino, &n) < 0 || n != 1 ||
	    imagefs_index_file_chunk(fs->idx, ino, 0, &c) < 0 || c.size > LOOKUP_HINT_MAX)
		return;
	ifs_fs_hint(fs, c.chunk);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ifs_fs *fs = FS(req);
	struct fuse_entry_param e;
	uint32_t dir, ino;
	int r;

	count(fs, 1);
	if (!to_index(parent, &dir))
		return (void)fuse_reply_err(req, ENOENT);
	r = imagefs_index_lookup(fs->idx, dir, name, strlen(name), &ino);
	if (r == -ENOENT) {
		/* a negative entry, cached as long as the positive ones */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = TIMEOUT;
		return (void)fuse_reply_entry(req, &e);
	}
	if (r < 0 || (r = entry_for(fs, ino, &e)) < 0)
		return (void)fuse_reply_err(req, -r);
	ifs_profile_note_name(fs, dir, ino, name, strlen(name));
	ifs_spec_note_name(fs, dir, ino, name, strlen(name));
	fuse_reply_entry(req, &e);
	lookup_hint(fs, ino);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	(void)ino;
	(void)nlookup;
	count(FS(req), 2);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t n, struct fuse_forget_data *f)
{
	(void)n;
	(void)f;
	count(FS(req), 2);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ifs_fs *fs = FS(req);
	struct imagefs_stat s;
	struct stat st;
	uint32_t i;
	int r;

	(void)fi;
	count(fs, 3);
	if (!to_index(ino, &i))
		return (void)fuse_reply_err(req, ENOENT);
	if ((r = imagefs_index_getattr(fs->idx, i, &s)) < 0)
		return (void)fuse_reply_err(req, -r);
	to_stat(&s, &st);
	fuse_reply_attr(req, &st, TIMEOUT);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct ifs_fs *fs = FS(req);
	char buf[PATH_MAX + 1];
	const char *t;
	size_t len;
	uint32_t i;
	int r;

	count(fs, 5);
	if (!to_index(ino, &i))
		return (void)fuse_reply_err(req, ENOENT);
	if ((r = imagefs_index_readlink(fs->idx, i, &t, &len)) < 0)
		return (void)fuse_reply_err(req, -r);
	if (len > PATH_MAX)
		return (void)fuse_reply_err(req, ENAMETOOLONG);
	memcpy(buf, t, len);
	buf[len] = '\0';
	fuse_reply_readlink(req, buf);
}

/* Entry POS of DIR: "." and ".." first, then the index's entries. 1, or 0 at the end. */
static int dir_entry(struct ifs_fs *fs, uint32_t dir, const struct imagefs_stat *ds, uint64_t pos,
		     char name[256], uint32_t *ret_ino)
{
	const char *n;
	size_t len;
	int r;

	if (pos < 2) {
		strcpy(name, pos == 0 ? "." : "..");
		*ret_ino = pos == 0 ? dir : ds->parent;
		return 1;
	}
	r = imagefs_index_readdir(fs->idx, dir, pos - 2, &n, &len, ret_ino);
	if (r <= 0)
		return r;
	if (len > 255)
		return -EIO;
	memcpy(name, n, len);
	name[len] = '\0';
	return 1;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct ifs_fs *fs = FS(req);
	_cleanup_free_ char *buf = NULL;
	struct imagefs_stat ds;
	size_t used = 0;
	uint32_t dir;
	int r;

	count(fs, plus ? 44 : 28);
	if (!to_index(ino, &dir) || off < 0)
		return (void)fuse_reply_err(req, ENOENT);
	if ((r = imagefs_index_getattr(fs->idx, dir, &ds)) < 0)
		return (void)fuse_reply_err(req, -r);
	if (!S_ISDIR(ds.mode))
		return (void)fuse_reply_err(req, ENOTDIR);
	if (!(buf = malloc(size ? size : 1)))
		return (void)fuse_reply_err(req, ENOMEM);
	for (uint64_t pos = (uint64_t)off;; pos++) {
		struct fuse_entry_param e;
		char name[256];
		uint32_t child;
		size_t n;

		r = dir_entry(fs, dir, &ds, pos, name, &child);
		if (r < 0)
			return (void)fuse_reply_err(req, -r);
		if (r == 0)
			break;
		if ((r = entry_for(fs, child, &e)) < 0)
			return (void)fuse_reply_err(req, -r);
		if (plus) {
			n = fuse_add_direntry_plus(req, buf + used, size - used, name, &e,
						   (off_t)pos + 1);
		} else {
			n = fuse_add_direntry(req, buf + used, size - used, name, &e.attr,
					      (off_t)pos + 1);
		}
		if (n > size - used)
			break;
		used += n;
		if (plus && pos >= 2) {
			ifs_profile_note_name(fs, dir, child, name, strlen(name));
			ifs_spec_note_name(fs, dir, child, name, strlen(name));
		}
	}
	fuse_reply_buf(req, buf, used);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

struct read_parts {
	struct fuse_bufvec *bv;
	size_t cap;
	struct ifs_membuf *mem[MAX_READ_CHUNKS];
	int fds[MAX_READ_CHUNKS];
	size_t n_mem, n_fds;
};

static void parts_done(struct read_parts *p)
{
	for (size_t i = 0; i < p->n_mem; i++)
		ifs_membuf_unref(p->mem[i]);
	for (size_t i = 0; i < p->n_fds; i++)
		safe_close(p->fds[i]);
	free(p->bv);
	*p = (struct read_parts){0};
}

static int add_buf(struct read_parts *p, struct fuse_buf b)
{
	if (!p->bv || p->bv->count == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct fuse_bufvec *nb =
		    realloc(p->bv, sizeof(*nb) + cap * sizeof(struct fuse_buf));
		if (!nb)
			return -ENOMEM;
		if (!p->bv)
			*nb = (struct fuse_bufvec){.count = 0};
		p->bv = nb;
		p->cap = cap;
	}
	p->bv->buf[p->bv->count++] = b;
	return 0;
}

static int add_zeros(struct read_parts *p, uint64_t len)
{
	int r;

	while (len > 0) {
		size_t n = len < sizeof(zeros) ? len : sizeof(zeros);
		if ((r = add_buf(p, (struct fuse_buf){.size = n, .mem = (void *)zeros})) < 0)
			return r;
		len -= n;
	}
	return 0;
}

/* Gather the reply for [OFF, END) of INO; -EAGAIN when a chunk was evicted meanwhile. */
static int gather(struct ifs_fs *fs, uint32_t ino, uint64_t off, uint64_t end, struct read_parts *p)
{
	struct imagefs_chunk cs[MAX_READ_CHUNKS];
	uint32_t ks[MAX_READ_CHUNKS], pos, count;
	size_t n = 0;
	int r;

	if ((r = imagefs_index_file_chunk_count(fs->idx, ino, &count)) < 0 ||
	    (r = imagefs_index_file_chunk_find(fs->idx, ino, off, &pos)) < 0)
		return r;
	for (; pos < count && n < MAX_READ_CHUNKS; pos++) {
		if ((r = imagefs_index_file_chunk(fs->idx, ino, pos, &cs[n])) < 0)
			return r;
		if (cs[n].file_offset >= end)
			break;
		ks[n] = cs[n].chunk;
		n++;
	}
	if (n == MAX_READ_CHUNKS && end > cs[n - 1].file_offset + cs[n - 1].size)
		end = cs[n - 1].file_offset + cs[n - 1].size;
	for (size_t i = 0; i < n; i++) {
		ifs_profile_note_read(fs, ino, &cs[i]);
		ifs_spec_note_read(fs, cs[i].chunk);
	}
	if ((r = ifs_fs_ensure(fs, ks, n)) < 0)
		return r;
	uint64_t cur = off;
	for (size_t i = 0; i < n && cur < end; i++) {
		const struct imagefs_chunk *c = &cs[i];
		uint64_t cend = c->file_offset + c->size, stop = cend < end ? cend : end;
		struct ifs_membuf *m = NULL;
		bool close_it = false;
		int fd = -EBADF;

		if (c->file_offset > cur) {
			uint64_t hole_end = c->file_offset < end ? c->file_offset : end;
			if ((r = add_zeros(p, hole_end - cur)) < 0)
				return r;
			cur = hole_end;
		}
		if (cur >= stop)
			continue;
		if ((r = ifs_fs_chunk_data(fs, c->chunk, &fd, &close_it, &m)) < 0)
			return r;
		if (m) {
			p->mem[p->n_mem++] = m;
			r = add_buf(p, (struct fuse_buf){.size = stop - cur,
							 .mem = m->data + (cur - c->file_offset)});
		} else {
			if (close_it)
				p->fds[p->n_fds++] = fd;
			r = add_buf(p, (struct fuse_buf){.size = stop - cur,
							 .flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK,
							 .fd = fd,
							 .pos = (off_t)(cur - c->file_offset)});
		}
		if (r < 0)
			return r;
		cur = stop;
	}
	if (cur < end && (r = add_zeros(p, end - cur)) < 0)
		return r;
	return 0;
}

static void flat_init(void)
{
	(void)pthread_key_create(&flat_key, free);
}

/* This worker's reply buffer of FLAT_MAX bytes, freed when the worker ends; NULL without memory. */
static char *flat_buffer(void)
{
	if (!flat_buf) {
		(void)pthread_once(&flat_once, flat_init);
		if ((flat_buf = malloc(FLAT_MAX)) && pthread_setspecific(flat_key, flat_buf) != 0) {
			free(flat_buf);
			flat_buf = NULL;
		}
	}
	return flat_buf;
}

/* Copy the parts of P into BUF (at least their size). */
static int flatten(const struct read_parts *p, char *buf)
{
	size_t at = 0;

	for (size_t i = 0; i < p->bv->count; i++) {
		const struct fuse_buf *b = &p->bv->buf[i];

		if (!(b->flags & FUSE_BUF_IS_FD)) {
			memcpy(buf + at, b->mem, b->size);
			at += b->size;
			continue;
		}
		for (size_t done = 0; done < b->size;) {
			ssize_t n = pread(b->fd, buf + at, b->size - done, b->pos + (off_t)done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			done += (size_t)n;
			at += (size_t)n;
		}
	}
	return 0;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct ifs_fs *fs = FS(req);
	struct read_parts p = {0};
	struct imagefs_stat s;
	uint64_t end;
	uint32_t i;
	int r;

	(void)fi;
	count(fs, 15);
	if (!to_index(ino, &i) || off < 0)
		return (void)fuse_reply_err(req, EINVAL);
	if ((r = imagefs_index_getattr(fs->idx, i, &s)) < 0)
		return (void)fuse_reply_err(req, -r);
	if (!S_ISREG(s.mode))
		return (void)fuse_reply_err(req, EISDIR);
	if ((uint64_t)off >= s.size)
		return (void)fuse_reply_buf(req, NULL, 0);
	end = (uint64_t)off + size < s.size ? (uint64_t)off + size : s.size;
	if (s.inline_data) {
		const void *d;
		size_t len;

		if ((r = imagefs_index_inline_data(fs->idx, i, &d, &len)) < 0 || len < end)
			return (void)fuse_reply_err(req, EIO);
		fs->stats.read_bytes += end - (uint64_t)off;
		return (void)fuse_reply_buf(req, (const char *)d + off, end - (uint64_t)off);
	}
	ifs_spec_file(fs, i);
	for (int attempt = 0;; attempt++) {
		r = gather(fs, i, (uint64_t)off, end, &p);
		if (r != -EAGAIN || attempt == 3)
			break;
		parts_done(&p);
	}
	if (r < 0) {
		parts_done(&p);
		return (void)fuse_reply_err(req, r == -ENOMEM ? ENOMEM : EIO);
	}
	size_t len = fuse_buf_size(p.bv);
	char *flat = len <= FLAT_MAX ? flat_buffer() : NULL;
	fs->stats.read_bytes += len;
	if (flat && (r = flatten(&p, flat)) < 0)
		fuse_reply_err(req, EIO);
	else if (flat)
		fuse_reply_buf(req, flat, len);
	else
		fuse_reply_data(req, p.bv, FUSE_BUF_SPLICE_MOVE);
	parts_done(&p);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ifs_fs *fs = FS(req);
	uint32_t i;

	(void)fi;
	count(fs, 14);
	if (!to_index(ino, &i) || i >= imagefs_index_inode_count(fs->idx))
		return (void)fuse_reply_err(req, ENOENT);
	ifs_spec_opened(fs, i);
	ifs_pt_open(fs, req, i);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ifs_fs *fs = FS(req);
	uint32_t i;

	(void)fi;
	count(fs, 18);
	if (!to_index(ino, &i) || i >= imagefs_index_inode_count(fs->idx))
		return (void)fuse_reply_err(req, 0);
	ifs_pt_release(fs, req, i);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct ifs_fs *fs = FS(req);
	uint64_t bytes =
	    (uint64_t)imagefs_index_chunk_count(fs->idx) * imagefs_index_chunk_size(fs->idx);
	struct statvfs sv = {
	    .f_bsize = 4096,
	    .f_frsize = 4096,
	    .f_blocks = bytes / 4096,
	    .f_files = imagefs_index_inode_count(fs->idx),
	    .f_namemax = 255,
	};

	(void)ino;
	count(fs, 17);
	fuse_reply_statfs(req, &sv);
}

static void reply_xattr_value(fuse_req_t req, const void *v, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, v, len);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct ifs_fs *fs = FS(req);
	const void *v;
	size_t len;
	uint32_t i;
	int r;

	count(fs, 22);
	if (!to_index(ino, &i))
		return (void)fuse_reply_err(req, ENOENT);
	/* Overlayfs asks every file it looks up for trusted.overlay.metacopy: one round trip
	 * each. An image without xattrs answers ENOSYS, and the kernel asks no more (EOPNOTSUPP
	 * from then on, which overlayfs takes as "none"); listxattr still lists nothing. Unless
	 * the mount must answer as a file system with xattrs does (--exact-xattrs). */
	if (!imagefs_index_has_xattrs(fs->idx))
		return (void)fuse_reply_err(req, fs->exact_xattrs ? ENODATA : ENOSYS);
	if ((r = imagefs_index_getxattr(fs->idx, i, name, &v, &len)) < 0)
		return (void)fuse_reply_err(req, -r);
	reply_xattr_value(req, v, len, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct ifs_fs *fs = FS(req);
	_cleanup_free_ char *buf = NULL;
	size_t used = 0, cap = 0;
	uint32_t i;
	int r;

	count(fs, 23);
	if (!to_index(ino, &i))
		return (void)fuse_reply_err(req, ENOENT);
	for (uint32_t pos = 0;; pos++) {
		const char *name;
		const void *v;
		size_t len, vlen;

		r = imagefs_index_listxattr(fs->idx, i, pos, &name, &len, &v, &vlen);
		if (r < 0)
			return (void)fuse_reply_err(req, -r);
		if (r == 0)
			break;
		if (used + len + 1 > cap) {
			size_t ncap = (used + len + 1) * 2;
			char *nb = realloc(buf, ncap);
			if (!nb)
				return (void)fuse_reply_err(req, ENOMEM);
			buf = nb;
			cap = ncap;
		}
		memcpy(buf + used, name, len);
		used += len;
		buf[used++] = '\0';
	}
	reply_xattr_value(req, buf, used, size);
}

static void op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		     struct fuse_file_info *fi, unsigned flags, const void *in_buf, size_t in_bufsz,
		     size_t out_bufsz)
{
	struct ifs_fs *fs = FS(req);

	(void)arg;
	(void)fi;
	(void)in_buf;
	(void)in_bufsz;
	count(fs, 39);
	if (ino != IMAGEFS_ROOT_INO + 1 || (flags & FUSE_IOCTL_COMPAT))
		return (void)fuse_reply_err(req, ENOTTY);
	if (cmd == IFS_IOC_PID && out_bufsz == sizeof(int32_t)) {
		int32_t pid = (int32_t)fs->daemon_pid;
		return (void)fuse_reply_ioctl(req, 0, &pid, sizeof(pid));
	}
	if (cmd == IFS_IOC_STATS && out_bufsz == IFS_STATS_MAX) {
		_cleanup_free_ char *json = ifs_fs_stats_json(fs);
		if (!json)
			return (void)fuse_reply_err(req, ENOMEM);
		size_t len = strlen(json) + 1;
		if (len > IFS_STATS_MAX)
			return (void)fuse_reply_err(req, EOVERFLOW);
		return (void)fuse_reply_ioctl(req, 0, json, len);
	}
	fuse_reply_err(req, ENOTTY);
}

const struct fuse_lowlevel_ops ifs_fuse_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .readlink = op_readlink,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .statfs = op_statfs,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .ioctl = op_ioctl,
};
