/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Full structural validation of an index, in time and memory linear in its size: names and
 * ranges, strict ordering of directory entries and xattrs, chunk lists sorted and inside the
 * file, chunks inside their blobs, and a real tree: every directory but the root is named by
 * exactly one entry of the directory its parent field names, everything is reachable from
 * the root (so walking it terminates), and link counts match the entries.
 *
 * A failure is -EUCLEAN (a digest mismatch is the caller's -EBADMSG: the two are different
 * faults), with an account of which field of which record is wrong in ifs_index_error().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "imagefs-internal.h"

static __thread char index_error[256];

const char *ifs_index_error(void)
{
	return index_error[0] ? index_error : "malformed";
}

int ifs_index_bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(index_error, sizeof(index_error), fmt, ap);
	va_end(ap);
	return -EUCLEAN;
}

/* An accessor's failure while checking WHAT: out of memory stays, anything else is a record
 * pointing outside its section. */
static int bad_access(int r, const char *what, uint64_t n)
{
	if (r == -ENOMEM)
		return r;
	return ifs_index_bad("%s %llu: points outside its section", what, (unsigned long long)n);
}

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
		if (r < 0)
			return bad_access(r, "xattrs of inode", ino);
		if (r == 0)
			return 0;
		if (name_len == 0 || name_len > 255 || memchr(name, '\0', name_len))
			return ifs_index_bad(
			    "inode %u: xattr %u: name of %zu bytes (1-255, no NUL)", ino, i,
			    name_len);
		if (prev && ifs_name_cmp(prev, prev_len, name, name_len) >= 0)
			return ifs_index_bad("inode %u: xattr %u: names not sorted", ino, i);
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

		if ((r = imagefs_index_inline_data(idx, st->ino, &p, &len)) < 0)
			return bad_access(r, "inline data of inode", st->ino);
		return 0;
	}
	if ((r = imagefs_index_file_chunk_count(idx, st->ino, &n)) < 0)
		return bad_access(r, "chunk refs of inode", st->ino);
	for (uint32_t i = 0; i < n; i++) {
		if ((r = imagefs_index_file_chunk(idx, st->ino, i, &c)) < 0)
			return bad_access(r, "chunk ref of inode", st->ino);
		if (c.file_offset < end)
			return ifs_index_bad(
			    "inode %u: chunk ref %u: file offset %llu overlaps the "
			    "one before (refs are sorted, not overlapping)",
			    st->ino, i, (unsigned long long)c.file_offset);
		if (c.file_offset > st->size || c.size > st->size - c.file_offset)
			return ifs_index_bad("inode %u: chunk ref %u: bytes %llu+%u past the file "
					     "size %llu",
					     st->ino, i, (unsigned long long)c.file_offset, c.size,
					     (unsigned long long)st->size);
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
			return bad_access(r, "chunk", i);
		if (c.size == 0 || c.size > imagefs_index_chunk_size(idx))
			return ifs_index_bad("chunk %u: size %u (1 to the chunk size %u)", i,
					     c.size, imagefs_index_chunk_size(idx));
		if (c.compressed_size == 0)
			return ifs_index_bad("chunk %u: compressed size 0", i);
		if (c.compression > IMAGEFS_COMPRESSION_ZSTD)
			return ifs_index_bad("chunk %u: unknown compression %u", i, c.compression);
		if (c.compression == IMAGEFS_COMPRESSION_NONE && c.compressed_size != c.size)
			return ifs_index_bad(
			    "chunk %u: uncompressed, but compressed size %u is not "
			    "its size %u",
			    i, c.compressed_size, c.size);
		if ((r = imagefs_index_blob(idx, c.blob, NULL, &bsize)) < 0)
			return ifs_index_bad("chunk %u: blob %u does not exist (%u blobs)", i,
					     c.blob, imagefs_index_blob_count(idx));
		if (c.blob_offset > bsize || c.compressed_size > bsize - c.blob_offset)
			return ifs_index_bad(
			    "chunk %u: bytes %llu+%u past the end of blob %u (%llu "
			    "bytes)",
			    i, (unsigned long long)c.blob_offset, c.compressed_size, c.blob,
			    (unsigned long long)bsize);
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
			return bad_access(r, "entries of directory inode", dir);
		if (r == 0)
			break;
		if (!name_ok(name, len))
			return ifs_index_bad(
			    "directory inode %u: entry %llu: name of %zu bytes is not "
			    "a file name (1-255 bytes, no '/' or NUL, not . or ..)",
			    dir, (unsigned long long)pos, len);
		if (prev && ifs_name_cmp(prev, prev_len, name, len) >= 0)
			return ifs_index_bad("directory inode %u: entry %llu: names not sorted or "
					     "not unique",
					     dir, (unsigned long long)pos);
		prev = name;
		prev_len = len;
		if (child == IMAGEFS_ROOT_INO)
			return ifs_index_bad("directory inode %u: entry %llu: names the root", dir,
					     (unsigned long long)pos);
		if ((r = imagefs_index_getattr(idx, child, &cst)) < 0)
			return ifs_index_bad("directory inode %u: entry %llu: inode %u does not "
					     "exist",
					     dir, (unsigned long long)pos, child);
		if (links[child] == UINT32_MAX)
			return ifs_index_bad("inode %u: named too many times", child);
		links[child]++;
		if (S_ISDIR(cst.mode)) {
			/* named once, by the directory it points back to */
			if (links[child] != 1)
				return ifs_index_bad("directory inode %u: named by more than one "
						     "entry",
						     child);
			if (cst.parent != dir)
				return ifs_index_bad("directory inode %u: parent field %u, but "
						     "directory %u names it",
						     child, cst.parent, dir);
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
	index_error[0] = '\0';
	if ((r = check_chunks(idx)) < 0)
		return r;
	if ((r = imagefs_index_getattr(idx, IMAGEFS_ROOT_INO, &st)) < 0)
		return bad_access(r, "inode", IMAGEFS_ROOT_INO);
	if (st.parent != IMAGEFS_ROOT_INO)
		return ifs_index_bad("inode 0 (the root): parent field %u, not itself", st.parent);
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
			return bad_access(r, "inode", i);
		if (links[i] == 0)
			return ifs_index_bad("inode %u: not reachable from the root", i);
		switch (st.mode & S_IFMT) {
		case S_IFDIR:
			if (st.nlink != 2 + subdirs[i])
				return ifs_index_bad(
				    "directory inode %u: link count (nlink) %u where "
				    "it has %u subdirectories (2 + subdirectories)",
				    i, st.nlink, subdirs[i]);
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
				return ifs_index_bad(
				    "inode %u: link count (nlink) %u where %u entries "
				    "name it",
				    i, st.nlink, links[i]);
			break;
		default:
			return ifs_index_bad("inode %u: unknown file type in mode 0%o", i, st.mode);
		}
		if (S_ISLNK(st.mode)) {
			const char *t;
			size_t len;

			if ((r = imagefs_index_readlink(idx, i, &t, &len)) < 0)
				return bad_access(r, "symlink target of inode", i);
			if (len == 0 || len != st.size || memchr(t, '\0', len))
				return ifs_index_bad(
				    "symlink inode %u: target of %zu bytes (size field "
				    "%llu; not empty, no NUL)",
				    i, len, (unsigned long long)st.size);
		}
		if ((r = check_xattrs(idx, i)) < 0)
			return r;
	}
	return 0;
}
