/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Full structural validation of an index, in time and memory linear in its size: names and
 * ranges, strict ordering of directory entries and xattrs, chunk lists sorted and inside the
 * file, chunks inside their blobs, and a real tree: every directory but the root is named by
 * exactly one entry of the directory its parent field names, everything is reachable from
 * the root (so walking it terminates), and link counts match the entries.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "imagefs-internal.h"

static bool name_ok(const char *s, size_t len)
{
	if (len == 0 || len > 255)
		return false;
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	return !memchr(s, '/', len) && !memchr(s, '\0', len);
}

static int check_xattrs(const struct imagefs_index *idx, uint32_t ino)
{
	const char *prev = NULL, *name;
	size_t prev_len = 0, name_len, vlen;
	const void *v;
	int r;

	for (uint32_t i = 0;; i++) {
		r = imagefs_index_listxattr(idx, ino, i, &name, &name_len, &v, &vlen);
		if (r <= 0)
			return r;
		if (name_len == 0 || name_len > 255 || memchr(name, '\0', name_len))
			return -EBADMSG;
		if (prev && ifs_name_cmp(prev, prev_len, name, name_len) >= 0)
			return -EBADMSG;
		prev = name;
		prev_len = name_len;
	}
}

static int check_file(const struct imagefs_index *idx, const struct imagefs_stat *st)
{
	struct imagefs_chunk c;
	uint64_t end = 0;
	uint32_t n;
	int r;

	if (st->inline_data) {
		const void *p;
		size_t len;

		return imagefs_index_inline_data(idx, st->ino, &p, &len);
	}
	if ((r = imagefs_index_file_chunk_count(idx, st->ino, &n)) < 0)
		return r;
	for (uint32_t i = 0; i < n; i++) {
		if ((r = imagefs_index_file_chunk(idx, st->ino, i, &c)) < 0)
			return r;
		if (c.file_offset < end || c.file_offset > st->size ||
		    c.size > st->size - c.file_offset)
			return -EBADMSG;
		end = c.file_offset + c.size;
	}
	return 0;
}

static int check_chunks(const struct imagefs_index *idx)
{
	uint32_t n = imagefs_index_chunk_count(idx);
	struct imagefs_chunk c;
	uint64_t bsize;
	int r;

	for (uint32_t i = 0; i < n; i++) {
		if ((r = imagefs_index_chunk(idx, i, &c)) < 0)
			return r;
		if (c.size == 0 || c.size > imagefs_index_chunk_size(idx) || c.compressed_size == 0)
			return -EBADMSG;
		if (c.compression > IMAGEFS_COMPRESSION_ZSTD)
			return -EBADMSG;
		if (c.compression == IMAGEFS_COMPRESSION_NONE && c.compressed_size != c.size)
			return -EBADMSG;
		if ((r = imagefs_index_blob(idx, c.blob, NULL, &bsize)) < 0)
			return r;
		if (c.blob_offset > bsize || c.compressed_size > bsize - c.blob_offset)
			return -EBADMSG;
	}
	return 0;
}

/* One directory's entries: names sorted, children accounted for. */
static int check_dir(const struct imagefs_index *idx, uint32_t dir, uint32_t *links,
		     uint32_t *queue, uint64_t *tail, uint32_t *ret_subdirs)
{
	const char *prev = NULL, *name;
	size_t prev_len = 0, len;
	uint32_t child, subdirs = 0;
	struct imagefs_stat cst;
	int r;

	for (uint64_t pos = 0;; pos++) {
		r = imagefs_index_readdir(idx, dir, pos, &name, &len, &child);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		if (!name_ok(name, len))
			return -EBADMSG;
		if (prev && ifs_name_cmp(prev, prev_len, name, len) >= 0)
			return -EBADMSG;
		prev = name;
		prev_len = len;
		if (child == IMAGEFS_ROOT_INO)
			return -EBADMSG;
		if ((r = imagefs_index_getattr(idx, child, &cst)) < 0)
			return r;
		if (links[child] == UINT32_MAX)
			return -EBADMSG;
		links[child]++;
		if (S_ISDIR(cst.mode)) {
			/* named once, by the directory it points back to */
			if (links[child] != 1 || cst.parent != dir)
				return -EBADMSG;
			queue[(*tail)++] = child;
			subdirs++;
		}
	}
	*ret_subdirs = subdirs;
	return 0;
}

int imagefs_index_check(struct imagefs_index *idx)
{
	uint32_t n = imagefs_index_inode_count(idx);
	_cleanup_free_ uint32_t *links = calloc(n, sizeof(uint32_t));
	_cleanup_free_ uint32_t *queue = calloc(n, sizeof(uint32_t));
	_cleanup_free_ uint32_t *subdirs = calloc(n, sizeof(uint32_t));
	struct imagefs_stat st;
	uint64_t head = 0, tail = 0;
	int r;

	if (!links || !queue || !subdirs)
		return -ENOMEM;
	if ((r = check_chunks(idx)) < 0)
		return r;
	if ((r = imagefs_index_getattr(idx, IMAGEFS_ROOT_INO, &st)) < 0)
		return r;
	if (st.parent != IMAGEFS_ROOT_INO)
		return -EBADMSG;
	/* Breadth-first from the root; a directory enters the queue only when it is named the
	 * first time, so the walk visits each at most once and ends. */
	queue[tail++] = IMAGEFS_ROOT_INO;
	links[IMAGEFS_ROOT_INO] = 1;
	while (head < tail) {
		uint32_t dir = queue[head++];

		if ((r = check_dir(idx, dir, links, queue, &tail, &subdirs[dir])) < 0)
			return r;
	}
	for (uint32_t i = 0; i < n; i++) {
		if ((r = imagefs_index_getattr(idx, i, &st)) < 0)
			return r;
		if (links[i] == 0)
			return -EBADMSG; /* unreachable */
		switch (st.mode & S_IFMT) {
		case S_IFDIR:
			if (st.nlink != 2 + subdirs[i])
				return -EBADMSG;
			break;
		case S_IFREG:
			if ((r = check_file(idx, &st)) < 0)
				return r;
			_fallthrough_;
		case S_IFLNK:
		case S_IFCHR:
		case S_IFBLK:
		case S_IFIFO:
		case S_IFSOCK:
			if (st.nlink != links[i])
				return -EBADMSG;
			break;
		default:
			return -EBADMSG;
		}
		if (S_ISLNK(st.mode)) {
			const char *t;
			size_t len;

			if ((r = imagefs_index_readlink(idx, i, &t, &len)) < 0)
				return r;
			if (len == 0 || len != st.size || memchr(t, '\0', len))
				return -EBADMSG;
		}
		if ((r = check_xattrs(idx, i)) < 0)
			return r;
	}
	return 0;
}
