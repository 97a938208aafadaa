/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Apply one OCI layer to the tree: the blob is streamed through libarchive (gzip, zstd or
 * plain, as its media type says and nothing else), its sha256 computed on the way and checked
 * at the end, whiteouts and opaque directories applied, file contents cut into fixed-size
 * chunks as they stream (holes and all-zero chunks are not stored). Memory is one chunk.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "imagefs-internal.h"

#define READ_SIZE (1u << 20)

struct reader {
	int fd;
	struct digest_ctx *ctx;
	uint64_t total;
	void *buf;
	int err;
};

struct apply {
	struct ifs_tree *t;
	struct ifs_chunker *c;
	const struct ifs_layer *l;
	struct imagefs_convert_stats *st;
	struct reader rd;
	uint8_t *chunk;
	uint32_t cs;
	bool progress;
	unsigned no, n;
	struct timespec last;
	char dstr[DIGEST_STRING_SIZE];
};

static la_ssize_t read_cb(struct archive *a, void *data, const void **buf)
{
	struct reader *rd = data;
	ssize_t n;

	do
		n = read(rd->fd, rd->buf, READ_SIZE);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		rd->err = -errno;
		if (a)
			archive_set_error(a, errno, "read: %m");
		return -1;
	}
	if (n > 0 && (rd->err = digest_ctx_update(rd->ctx, rd->buf, (size_t)n)) < 0)
		return -1;
	rd->total += (uint64_t)n;
	*buf = rd->buf;
	return n;
}

static void progress(struct apply *ap, bool force)
{
	struct timespec now;

	if (!ap->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force &&
	    (now.tv_sec - ap->last.tv_sec) * 1000 + (now.tv_nsec - ap->last.tv_nsec) / 1000000 <
		500)
		return;
	ap->last = now;
	fprintf(stderr, "\rlayer %u/%u: %.1f/%.1f MiB read, %llu files, %.1f MiB of content ",
		ap->no, ap->n, ap->rd.total / 1048576.0, ap->l->size / 1048576.0,
		(unsigned long long)ap->st->files, ap->st->content_bytes / 1048576.0);
	if (force)
		fputc('\n', stderr);
	fflush(stderr);
}

static int flush_window(struct apply *ap, struct ifs_bnode *n, uint64_t w)
{
	uint64_t off = w * ap->cs;
	size_t len = (size_t)(n->size - off < ap->cs ? n->size - off : ap->cs);

	return ifs_bnode_add_chunk(ap->c, n, off, ap->chunk, len, ap->st);
}

static int read_content(struct apply *ap, struct archive *a, struct ifs_bnode *n)
{
	uint64_t cur = UINT64_MAX;
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;

	if (n->size <= IFS_INLINE_MAX) {
		if (n->size == 0)
			return 0;
		n->inline_data = calloc(1, n->size);
		if (!n->inline_data)
			return -ENOMEM;
		la_ssize_t got = archive_read_data(a, n->inline_data, n->size);
		return got == (la_ssize_t)n->size ? 0 : -EBADMSG;
	}
	while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
		const uint8_t *p = buf;

		if (off < 0 || (uint64_t)off > n->size || len > n->size - (uint64_t)off)
			return -EBADMSG;
		while (len > 0) {
			uint64_t w = (uint64_t)off / ap->cs, in = (uint64_t)off - w * ap->cs;
			size_t k = len < ap->cs - in ? len : (size_t)(ap->cs - in);

			if (w != cur) {
				if (cur != UINT64_MAX && w < cur)
					return -EBADMSG;
				if (cur != UINT64_MAX && (r = flush_window(ap, n, cur)) < 0)
					return r;
				memset(ap->chunk, 0, ap->cs);
				cur = w;
			}
			memcpy(ap->chunk + in, p, k);
			p += k;
			off += (la_int64_t)k;
			len -= k;
		}
		progress(ap, false);
	}
	if (r != ARCHIVE_EOF)
		return -EBADMSG;
	if (cur != UINT64_MAX && (r = flush_window(ap, n, cur)) < 0)
		return r;
	return 0;
}

static int read_xattrs(struct archive_entry *e, struct ifs_bnode *n)
{
	const char *name;
	const void *value;
	size_t size;
	int cnt = archive_entry_xattr_reset(e);

	if (cnt <= 0)
		return 0;
	n->xattrs = calloc((size_t)cnt, sizeof(*n->xattrs));
	if (!n->xattrs)
		return -ENOMEM;
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK &&
	       n->n_xattrs < (size_t)cnt) {
		struct ifs_bxattr *x = &n->xattrs[n->n_xattrs];

		if (!*name || strlen(name) > 255)
			return -EINVAL;
		/* a later duplicate of a name replaces the earlier one */
		for (size_t i = 0; i < n->n_xattrs; i++)
			if (strcmp(n->xattrs[i].name, name) == 0) {
				x = &n->xattrs[i];
				free(x->name);
				free(x->value);
				n->n_xattrs--;
				break;
			}
		x->name = strdup(name);
		x->value = malloc(size ? size : 1);
		if (!x->name || !x->value)
			return -ENOMEM;
		if (size)
			memcpy(x->value, value, size);
		x->len = size;
		n->n_xattrs++;
	}
	return 0;
}

static int whiteout(struct apply *ap, const char *path, const char *base)
{
	_cleanup_free_ char *parent = strndup(path, (size_t)(base > path ? base - path - 1 : 0));
	struct ifs_bnode *dir;
	int r;

	if (!parent)
		return -ENOMEM;
	r = ifs_tree_resolve(ap->t, parent, &dir);
	if (r == -ENOENT)
		return 0; /* nothing below to hide */
	if (r < 0)
		return r;
	if (!S_ISDIR(dir->mode))
		return S_ISLNK(dir->mode) ? -ELOOP : -ENOTDIR;
	if (strcmp(base, ".wh..wh..opq") == 0)
		ifs_tree_make_opaque(ap->t, dir);
	else if (strncmp(base, ".wh..wh.", 8) != 0) /* other .wh..wh. names: aufs metadata */
		(void)ifs_tree_unlink(ap->t, dir, base + 4);
	return 0;
}

static int set_attrs(struct archive_entry *e, struct ifs_bnode *n)
{
	n->uid = (uint32_t)archive_entry_uid(e);
	n->gid = (uint32_t)archive_entry_gid(e);
	n->mtime.tv_sec = archive_entry_mtime(e);
	n->mtime.tv_nsec = archive_entry_mtime_nsec(e);
	if (archive_entry_ctime_is_set(e)) {
		n->ctime.tv_sec = archive_entry_ctime(e);
		n->ctime.tv_nsec = archive_entry_ctime_nsec(e);
	} else {
		n->ctime = n->mtime;
	}
	if (n->mtime.tv_nsec < 0 || n->mtime.tv_nsec >= 1000000000 || n->ctime.tv_nsec < 0 ||
	    n->ctime.tv_nsec >= 1000000000)
		return -EINVAL;
	return read_xattrs(e, n);
}

/* One tar entry. Returns -errno with *WHAT naming the problem for the message. */
static int apply_entry(struct apply *ap, struct archive *a, struct archive_entry *e,
		       const char *path, const char **what)
{
	const char *hl = archive_entry_hardlink(e), *base;
	unsigned type = archive_entry_filetype(e);
	struct ifs_bnode *dir, *n;
	int r;

	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strncmp(base, ".wh.", 4) == 0) {
		*what = "whiteout";
		return whiteout(ap, path, base);
	}
	if (*path == '\0') {
		/* "./": the root's own attributes */
		if (type != AE_IFDIR || hl)
			return *what = "root entry is not a directory", -EINVAL;
		ap->t->root->mode = S_IFDIR | (archive_entry_perm(e) & 07777);
		return set_attrs(e, ap->t->root);
	}
	*what = "parent directory";
	if ((r = ifs_tree_walk_parent(ap->t, path, &dir, &base)) < 0)
		return r;
	if (hl) {
		_cleanup_free_ char *target = NULL;

		*what = "hardlink target";
		if ((r = ifs_path_normalize(hl, &target)) < 0)
			return r;
		if ((r = ifs_tree_resolve(ap->t, target, &n)) < 0)
			return r;
		if (S_ISDIR(n->mode))
			return -EISDIR;
		*what = "hardlink";
		return ifs_tree_link(ap->t, dir, base, n);
	}
	switch (type) {
	case AE_IFREG:
	case AE_IFDIR:
	case AE_IFLNK:
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
	case AE_IFSOCK:
		break;
	default:
		return *what = "unknown file type", -EINVAL;
	}
	n = ifs_bnode_new(type | (archive_entry_perm(e) & 07777));
	if (!n)
		return -ENOMEM;
	*what = "attributes";
	if ((r = set_attrs(e, n)) < 0)
		goto fail;
	if (type == AE_IFLNK) {
		const char *t = archive_entry_symlink(e);

		*what = "symlink target";
		if (!t || !*t) {
			r = -EINVAL;
			goto fail;
		}
		if (!(n->symlink = strdup(t))) {
			r = -ENOMEM;
			goto fail;
		}
	} else if (type == AE_IFCHR || type == AE_IFBLK) {
		n->rdev_major = (uint32_t)archive_entry_rdevmajor(e);
		n->rdev_minor = (uint32_t)archive_entry_rdevminor(e);
	} else if (type == AE_IFREG) {
		*what = "content";
		n->size = (uint64_t)archive_entry_size(e);
		if (archive_entry_size(e) < 0) {
			r = -EINVAL;
			goto fail;
		}
		if ((r = read_content(ap, a, n)) < 0)
			goto fail;
		ap->st->files++;
		ap->st->content_bytes += n->size;
	}
	*what = "link";
	if ((r = ifs_tree_link(ap->t, dir, base, n)) < 0)
		goto fail;
	return 0;
fail:
	ifs_bnode_unref(n);
	return r;
}

static int expected_filter(const char *media_type)
{
	size_t len = strlen(media_type);

	if (strcmp(media_type, "application/vnd.docker.image.rootfs.diff.tar.gzip") == 0 ||
	    strcmp(media_type, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip") == 0)
		return ARCHIVE_FILTER_GZIP;
	if (strncmp(media_type, "application/vnd.oci.image.layer.", 32) != 0)
		return -1;
	if (len > 5 && strcmp(media_type + len - 5, "+gzip") == 0)
		return ARCHIVE_FILTER_GZIP;
	if (len > 5 && strcmp(media_type + len - 5, "+zstd") == 0)
		return ARCHIVE_FILTER_ZSTD;
	if (len > 4 && strcmp(media_type + len - 4, ".tar") == 0)
		return ARCHIVE_FILTER_NONE;
	return -1;
}

static void archive_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static int drain_and_check(struct apply *ap)
{
	struct digest d;
	char got[DIGEST_STRING_SIZE];
	const void *buf;
	int r;

	/* libarchive stops at the tar end marker; the digest covers the whole blob */
	for (;;) {
		la_ssize_t n = read_cb(NULL, &ap->rd, &buf);
		if (n < 0)
			return log_error_errno(ap->rd.err, "layer %s: %m", ap->dstr);
		if (n == 0)
			break;
	}
	if ((r = digest_ctx_final(ap->rd.ctx, &d)) < 0)
		return r;
	if (!digest_equal(&d, &ap->l->digest))
		return log_error_errno(-EBADMSG,
				       "layer %s: content has digest %s: blob corrupt or "
				       "manifest wrong",
				       ap->dstr, digest_format(&d, got));
	if (ap->rd.total != ap->l->size)
		return log_error_errno(-EBADMSG, "layer %s: %llu bytes, the manifest says %llu",
				       ap->dstr, (unsigned long long)ap->rd.total,
				       (unsigned long long)ap->l->size);
	return 0;
}

static int run_archive(struct apply *ap, struct archive *a)
{
	struct archive_entry *e;
	int r;

	for (;;) {
		_cleanup_free_ char *path = NULL;
		const char *what = "entry";

		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return log_error_errno(ap->rd.err ? ap->rd.err : -EBADMSG,
					       "layer %s: corrupt or truncated: %s", ap->dstr,
					       archive_error_string(a) ?: "read error");
		const char *raw = archive_entry_pathname(e);
		if (!raw)
			return log_error_errno(-EBADMSG, "layer %s: entry without a name",
					       ap->dstr);
		r = ifs_path_normalize(raw, &path);
		if (r == -EINVAL)
			return log_error_errno(
			    r, "layer %s: entry '%s': absolute path or '..' component", ap->dstr,
			    raw);
		if (r == -ENAMETOOLONG)
			return log_error_errno(r,
					       "layer %s: entry '%s': a name in its path is longer "
					       "than 255 bytes",
					       ap->dstr, raw);
		if (r < 0)
			return r;
		r = apply_entry(ap, a, e, path, &what);
		if (r == -EINVAL && strcmp(what, "hardlink target") == 0)
			return log_error_errno(r,
					       "layer %s: entry '%s': hardlink target '%s' is "
					       "absolute or has a '..' component",
					       ap->dstr, raw, archive_entry_hardlink(e));
		if (r == -ENAMETOOLONG && strcmp(what, "hardlink target") == 0)
			return log_error_errno(r,
					       "layer %s: entry '%s': hardlink target '%s': a name "
					       "in its path is longer than 255 bytes",
					       ap->dstr, raw, archive_entry_hardlink(e));
		if (r == -ENOENT && strcmp(what, "hardlink target") == 0)
			return log_error_errno(r,
					       "layer %s: entry '%s': hardlink target '%s' does "
					       "not exist",
					       ap->dstr, raw, archive_entry_hardlink(e));
		if (r == -ELOOP)
			return log_error_errno(r, "layer %s: entry '%s': %s goes through a symlink",
					       ap->dstr, raw, what);
		if (r == -EBADMSG)
			return log_error_errno(
			    r, "layer %s: entry '%s': %s: corrupt or truncated: %s", ap->dstr, raw,
			    what, archive_error_string(a) ?: "bad data");
		if (r < 0)
			return log_error_errno(r, "layer %s: entry '%s': %s: %m", ap->dstr, raw,
					       what);
		progress(ap, false);
	}
}

int ifs_layer_apply(struct ifs_tree *t, struct ifs_chunker *c, int blobs_fd,
		    const struct ifs_layer *l, struct imagefs_convert_stats *st, bool show_progress,
		    unsigned layer_no, unsigned n_layers)
{
	_cleanup_(archive_freep) struct archive *a = NULL;
	_cleanup_(digest_ctx_freep) struct digest_ctx *ctx = NULL;
	_cleanup_free_ void *rbuf = NULL;
	_cleanup_free_ uint8_t *chunk = NULL;
	_cleanup_close_ int fd = -EBADF;
	char hex[DIGEST_HEX_SIZE + 1];
	struct apply ap = {
	    .t = t,
	    .c = c,
	    .l = l,
	    .st = st,
	    .progress = show_progress,
	    .no = layer_no,
	    .n = n_layers,
	};
	int filter = expected_filter(l->media_type), r;

	digest_format(&l->digest, ap.dstr);
	if (filter < 0)
		return log_error_errno(-EPROTONOSUPPORT, "layer %s: unknown media type '%s'",
				       ap.dstr, l->media_type);
	fd = openat(blobs_fd, digest_format_hex(&l->digest, hex), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(-errno, "layer %s: %m", ap.dstr);
	if ((r = digest_ctx_new(&ctx)) < 0)
		return r;
	rbuf = malloc(READ_SIZE);
	ap.cs = ifs_chunker_chunk_size(c);
	chunk = malloc(ap.cs);
	a = archive_read_new();
	if (!rbuf || !chunk || !a)
		return -ENOMEM;
	ap.rd = (struct reader){.fd = fd, .ctx = ctx, .buf = rbuf};
	ap.chunk = chunk;
	t->layer = layer_no;
	archive_read_support_format_tar(a);
	if (filter == ARCHIVE_FILTER_GZIP)
		archive_read_support_filter_gzip(a);
	else if (filter == ARCHIVE_FILTER_ZSTD)
		archive_read_support_filter_zstd(a);
	if (archive_read_open(a, &ap.rd, NULL, read_cb, NULL) != ARCHIVE_OK)
		return log_error_errno(
		    ap.rd.err ? ap.rd.err : -EBADMSG,
		    "layer %s: not a readable tar stream (corrupt or truncated?): %s", ap.dstr,
		    archive_error_string(a) ?: "unknown error");
	if (archive_filter_code(a, 0) != filter)
		return log_error_errno(-EBADMSG,
				       "layer %s: compression does not match media type '%s'",
				       ap.dstr, l->media_type);
	if ((r = run_archive(&ap, a)) < 0)
		return r;
	if ((r = drain_and_check(&ap)) < 0)
		return r;
	st->layers++;
	st->layer_bytes += ap.rd.total;
	progress(&ap, true);
	return 0;
}
